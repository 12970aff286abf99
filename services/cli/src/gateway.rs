//! `scorevision gateway`: the validator API in front of remote track
//! replicas. Ready (GET /readyz) once a track replica reports SERVING; not
//! ready again while none does, so Kubernetes stops sending validators to a
//! gateway whose pipeline is gone.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use sv_core::TrackSource;
use sv_gateway::AppState;
use sv_proto::UpstreamConfig;

use crate::args::GatewayArgs;
use crate::pipeline::ConfigError;
use crate::serve::load_config;
use crate::signals;

/// How often the gateway asks track whether it is SERVING.
const HEALTH_EVERY: Duration = Duration::from_secs(2);

pub async fn run(args: GatewayArgs) -> anyhow::Result<()> {
    let config = load_config(args.config.as_deref(), false)?;
    config.validate().map_err(|e| ConfigError(e.to_string()))?;
    let track = Arc::new(
        sv_track::grpc::Remote::connect(&UpstreamConfig::new(&args.track_addrs))
            .map_err(|e| ConfigError(e.to_string()))?,
    );
    let listener = tokio::net::TcpListener::bind(config.listen_addr())
        .await
        .with_context(|| format!("binding {}", config.listen_addr()))?;
    let tracks: Arc<dyn TrackSource> = track.clone();
    let state = AppState::from_config(&config, tracks).await?;
    let readiness = state.readiness();
    let mut server = tokio::spawn(sv_gateway::serve_state(
        state,
        listener,
        signals::shutdown(),
    ));
    let mut was_ready = false;
    loop {
        let ready = track
            .upstream()
            .is_serving(sv_track::grpc::SERVICE_NAME, HEALTH_EVERY)
            .await;
        if ready != was_ready {
            readiness.set_ready(ready);
            if ready {
                tracing::info!(
                    track = track.upstream().label(),
                    "Track stage SERVING; ready for challenges."
                );
            } else {
                tracing::warn!(
                    track = track.upstream().label(),
                    "No track replica SERVING; not ready."
                );
            }
            was_ready = ready;
        }
        tokio::select! {
            result = &mut server => {
                result.context("gateway task")??;
                return Ok(());
            }
            () = tokio::time::sleep(HEALTH_EVERY) => {}
        }
    }
}
