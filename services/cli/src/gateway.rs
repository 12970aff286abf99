//! `scorevision gateway`: the validator API in front of remote track
//! replicas; ready while track and every stage below it serve
//! (`sv_gateway::serve_following`).

use std::sync::Arc;

use anyhow::Context;
use sv_core::TrackSource;
use sv_proto::{Upstream, UpstreamConfig};

use crate::args::GatewayArgs;
use crate::error::ConfigError;
use crate::serve::gateway_config;
use crate::signals;

pub async fn run(args: GatewayArgs) -> anyhow::Result<()> {
    let config = gateway_config(args.config.as_deref(), &[], &args.keypoints)?;
    let upstream = UpstreamConfig::new(&args.track_addrs);
    let track = sv_track::grpc::Remote::connect(&upstream).map_err(ConfigError::refused)?;
    // A second connection to track, for health checks only.
    let health = Upstream::new(&upstream).map_err(ConfigError::refused)?;
    let listener = tokio::net::TcpListener::bind(config.listen_addr())
        .await
        .with_context(|| format!("binding {}", config.listen_addr()))?;
    let tracks: Arc<dyn TrackSource> = Arc::new(track);
    sv_gateway::serve_following(config, listener, tracks, health, signals::shutdown()).await?;
    Ok(())
}
