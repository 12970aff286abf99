//! `scorevision serve`: the validator API in front of the embedded pipeline.
//!
//! The port is bound first so probes get answers at once; readiness turns
//! true only after both models are loaded and a warm-up frame went through.
//! SIGTERM or Ctrl-C: readiness false, intake stops, in-flight challenges get
//! the configured grace period.

use std::sync::Arc;

use anyhow::Context;
use sv_core::TrackSource;
use sv_decode::DecodeConfig;
use sv_gateway::{AppState, GatewayConfig};

use crate::args::ServeArgs;
use crate::pipeline::{ConfigError, Embedded};

/// A 720p frame: the size of the clips validators send.
pub(crate) const WARM_UP_SIZE: (u32, u32) = (1280, 720);

pub async fn run(args: ServeArgs) -> anyhow::Result<()> {
    let mut config = load_config(args.config.as_deref(), true)?;
    config.keypoints_when_missing = args.keypoints.or(config.keypoints_when_missing);
    config.validate().map_err(|e| ConfigError(e.to_string()))?;
    let listener = tokio::net::TcpListener::bind(config.listen_addr())
        .await
        .with_context(|| format!("binding {}", config.listen_addr()))?;

    // The gateway takes only http(s) URLs; the decode stage refuses local
    // files too, should that check ever be bypassed.
    let mut decode = DecodeConfig {
        local_files: false,
        ..DecodeConfig::default()
    };
    args.fetch.apply(&mut decode.fetch)?;
    let pipeline = Embedded::build(&args.pipeline, decode, args.config.as_deref())?;
    let tracks: Arc<dyn TrackSource> = pipeline.track.clone();
    let state = AppState::from_config(&config, tracks).await?;
    let readiness = state.readiness();
    let server = tokio::spawn(sv_gateway::serve_state(
        state,
        listener,
        crate::signals::shutdown(),
    ));

    pipeline
        .infer
        .warm_up(WARM_UP_SIZE.0, WARM_UP_SIZE.1)
        .await
        .context("warming up the models")?;
    readiness.set_ready(true);
    tracing::info!(
        provider = pipeline.infer.provider().name(),
        "Models warm; ready for challenges."
    );
    server.await.context("gateway task")??;
    Ok(())
}

/// Defaults, then the TOML file when given (unknown keys are an error).
/// `serve` also reads the infer settings from the file's `[infer]` table;
/// for the gateway alone (`infer_table` false) that table is an error.
pub(crate) fn load_config(
    path: Option<&std::path::Path>,
    infer_table: bool,
) -> anyhow::Result<GatewayConfig> {
    let Some(path) = path else {
        return Ok(GatewayConfig::default());
    };
    let bad = |e: &dyn std::fmt::Display| ConfigError(format!("{}: {e}", path.display()));
    let text = std::fs::read_to_string(path)
        .map_err(|e| ConfigError(format!("reading {}: {e}", path.display())))?;
    let mut table: toml::Table = toml::from_str(&text).map_err(|e| bad(&e))?;
    if infer_table {
        table.remove("infer");
    }
    table
        .try_into()
        .map_err(|e: toml::de::Error| bad(&e).into())
}
