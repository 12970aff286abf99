//! `scorevision decode|infer|track`: the arguments of one stage, its
//! upstream wired remote, and a call to the stage crate's `serve` (see
//! `sv_proto::StageServer` for health, warm-up, the drain on SIGTERM and
//! the metrics port).

use std::time::Duration;

use anyhow::Context;
use sv_decode::DecodeConfig;
use sv_decode::grpc::{RemoteConfig, ShmOptions};
use sv_proto::{ServerOptions, Upstream, UpstreamConfig};
use tokio::net::TcpListener;

use crate::args::{DecodeArgs, InferArgs, StageServerArgs, TrackArgs};
use crate::error::ConfigError;
use crate::metrics::{self, MetricsListen};
use crate::signals;

/// The listeners and the drain every stage server takes; `upstream`: the
/// addresses of the stage it pulls from, whose health it follows;
/// `metrics`: where its series go unless `--metrics-listen` says.
async fn server(
    args: &StageServerArgs,
    upstream: Option<&[String]>,
    metrics: &'static str,
) -> anyhow::Result<(TcpListener, ServerOptions)> {
    if !(args.grace_s.is_finite() && args.grace_s >= 0.0) {
        return Err(
            ConfigError::Invalid(format!("--grace-s {} is not a duration", args.grace_s)).into(),
        );
    }
    let upstream_health = upstream.map(health_link).transpose()?;
    let listener = TcpListener::bind(&args.listen)
        .await
        .with_context(|| format!("binding {}", args.listen))?;
    let options = ServerOptions {
        grace: Duration::from_secs_f64(args.grace_s),
        upstream_health,
        max_streams: args.max_streams,
        metrics: MetricsListen::bind(args.metrics_listen.as_ref(), Some(metrics)).await?,
    };
    Ok((listener, options))
}

/// A second connection to an upstream, for health checks only.
fn health_link(addrs: &[String]) -> anyhow::Result<Upstream> {
    Upstream::new(&UpstreamConfig::new(addrs)).map_err(|e| ConfigError::refused(e).into())
}

pub async fn decode(args: DecodeArgs) -> anyhow::Result<()> {
    let mut decode = DecodeConfig {
        hardware: args.hardware_decode,
        local_files: args.allow_local_files,
        ..DecodeConfig::default()
    };
    args.fetch.apply(&mut decode)?;
    let shm = args.shm_dir.map(|dir| ShmOptions {
        slots: args.shm_slots.max(2),
        ..ShmOptions::new(dir)
    });
    let (listener, server) = server(&args.server, None, metrics::DECODE_DEFAULT).await?;
    let config = sv_decode::ServeConfig {
        decode,
        shm,
        server,
    };
    Ok(sv_decode::serve(config, listener, signals::shutdown()).await?)
}

pub async fn infer(args: InferArgs) -> anyhow::Result<()> {
    let infer = args.models.infer_config(None)?;
    let mut remote = RemoteConfig::new(&args.decode_addrs);
    remote.transport = args.frame_transport;
    remote.shm_dir = args.shm_dir.clone();
    let decode = sv_decode::grpc::Remote::connect(&remote).map_err(ConfigError::refused)?;
    let (listener, server) = server(
        &args.server,
        Some(&args.decode_addrs),
        metrics::INFER_DEFAULT,
    )
    .await?;
    let config = sv_infer::ServeConfig { infer, server };
    Ok(sv_infer::serve(config, decode, listener, signals::shutdown()).await?)
}

pub async fn track(args: TrackArgs) -> anyhow::Result<()> {
    let infer = sv_infer::grpc::Remote::connect(&UpstreamConfig::new(&args.infer_addrs))
        .map_err(ConfigError::refused)?;
    let (listener, server) = server(
        &args.server,
        Some(&args.infer_addrs),
        metrics::TRACK_DEFAULT,
    )
    .await?;
    let config = sv_track::ServeConfig {
        server,
        ..Default::default()
    };
    Ok(sv_track::serve(config, infer, listener, signals::shutdown()).await?)
}
