//! `scorevision gateway`: the validator API in front of remote track
//! replicas. Ready (GET /readyz) once track and every stage below it report
//! SERVING (track relays the statuses of infer and decode, see
//! [`crate::chain`]); not ready again while one does not, with the missing
//! stage named in /readyz and in the 503 challenges get, so Kubernetes and
//! validators stop sending work a broken pipeline cannot answer.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use sv_core::TrackSource;
use sv_gateway::AppState;
use sv_proto::UpstreamConfig;

use crate::args::GatewayArgs;
use crate::chain;
use crate::pipeline::ConfigError;
use crate::serve::load_config;
use crate::signals;

/// How often the gateway asks track whether it is SERVING.
const HEALTH_EVERY: Duration = Duration::from_secs(2);

pub async fn run(args: GatewayArgs) -> anyhow::Result<()> {
    let mut config = load_config(args.config.as_deref(), false)?;
    config.keypoints_when_missing = args.keypoints.or(config.keypoints_when_missing);
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
    let services: Vec<&str> = chain::CHAIN.iter().rev().map(|(_, s)| *s).collect();
    let mut last: Option<Result<(), String>> = None;
    loop {
        let statuses = track.upstream().statuses(&services, HEALTH_EVERY).await;
        let verdict = chain::verdict(&services, statuses);
        if last.as_ref() != Some(&verdict) {
            match &verdict {
                Ok(()) => {
                    readiness.set_ready(true);
                    tracing::info!(
                        track = track.upstream().label(),
                        "Every stage SERVING; ready for challenges."
                    );
                }
                Err(why) => {
                    readiness.set_not_ready(why.clone());
                    tracing::warn!(track = track.upstream().label(), reason = %why, "Not ready.");
                }
            }
            last = Some(verdict);
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
