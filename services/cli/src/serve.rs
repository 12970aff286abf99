//! `scorevision serve`: the validator API in front of the embedded pipeline.
//!
//! The port is bound first so probes get answers at once; readiness turns
//! true only after both models are loaded and a warm-up frame went through
//! (`sv_gateway::serve_after`). SIGTERM or Ctrl-C: readiness false, intake
//! stops, in-flight challenges get the configured grace period. The
//! gateway's `/metrics` carries the three stages' series too.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use sv_core::TrackSource;
use sv_decode::DecodeConfig;
use sv_gateway::GatewayConfig;

use crate::args::{KeypointArgs, ServeArgs};
use crate::error::ConfigError;
use crate::pipeline::Embedded;

pub async fn run(args: ServeArgs) -> anyhow::Result<()> {
    // The file's [infer] table is the infer stage's (see `Embedded::build`).
    let config = gateway_config(args.config.as_deref(), &["infer"], &args.keypoints)?;
    let listener = tokio::net::TcpListener::bind(config.listen_addr())
        .await
        .with_context(|| format!("binding {}", config.listen_addr()))?;

    // The gateway takes only http(s) URLs; the decode stage refuses local
    // files too, should that check ever be bypassed.
    let mut decode = DecodeConfig {
        local_files: false,
        ..DecodeConfig::default()
    };
    args.fetch.apply(&mut decode)?;
    let pipeline = Embedded::build(&args.pipeline, decode, args.config.as_deref())?;
    let tracks: Arc<dyn TrackSource> = pipeline.track.clone();
    let infer = pipeline.infer.clone();
    let warm_up = async move {
        let (width, height) = sv_infer::serve::WARM_UP_SIZE;
        infer
            .warm_up(width, height)
            .await
            .context("warming up the models")?;
        tracing::info!(
            provider = infer.provider().name(),
            "Models warm; ready for challenges."
        );
        anyhow::Ok(())
    };
    sv_gateway::serve_after(
        config,
        listener,
        tracks,
        &pipeline.metrics(),
        warm_up,
        crate::signals::shutdown(),
    )
    .await?;
    Ok(())
}

/// The gateway's settings: the TOML file (tables in `owned_elsewhere` are
/// other readers'), `--keypoints-when-missing` over it, validated. Every
/// problem is a configuration error (exit 64).
pub(crate) fn gateway_config(
    path: Option<&Path>,
    owned_elsewhere: &[&str],
    keypoints: &KeypointArgs,
) -> Result<GatewayConfig, ConfigError> {
    let mut config = GatewayConfig::load(path, owned_elsewhere).map_err(ConfigError::refused)?;
    config.keypoints_when_missing = keypoints.or(config.keypoints_when_missing);
    config.validate().map_err(ConfigError::refused)?;
    Ok(config)
}
