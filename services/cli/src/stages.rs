//! `scorevision decode|infer|track`: one stage each, served over gRPC with
//! its upstream remote. Each binds, answers health NOT_SERVING while it
//! warms, then SERVING; SIGTERM drains (see `sv_proto::server`).

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use sv_core::{DetectionSource, FrameSource, TrackSource};
use sv_decode::config::HardwarePreference;
use sv_decode::grpc::{RemoteConfig, ShmOptions};
use sv_decode::{DecodeConfig, Local};
use sv_proto::server::{StageHealth, router, serve};
use sv_proto::{Upstream, UpstreamConfig};
use sv_track::ByteTrackConfig;
use tokio::net::TcpListener;

use crate::args::{DecodeArgs, InferArgs, StageServerArgs, TrackArgs};
use crate::chain;
use crate::pipeline::ConfigError;
use crate::serve::WARM_UP_SIZE;
use crate::signals;

async fn bind(args: &StageServerArgs) -> anyhow::Result<(TcpListener, Duration)> {
    if !(args.grace_s.is_finite() && args.grace_s >= 0.0) {
        return Err(ConfigError(format!("--grace-s {} is not a duration", args.grace_s)).into());
    }
    let listener = TcpListener::bind(&args.listen)
        .await
        .with_context(|| format!("binding {}", args.listen))?;
    tracing::info!(addr = %listener.local_addr()?, "Listening (gRPC).");
    Ok((listener, Duration::from_secs_f64(args.grace_s)))
}

/// Serves until SIGTERM. Health turns SERVING once `warm_up` is done and,
/// for a stage with an upstream (`follow`: a health connection to it and
/// this stage's gRPC service), while every stage below has a serving
/// replica (see [`chain`]).
async fn run_until_stopped(
    router: tonic::transport::server::Router,
    health: StageHealth,
    listener: TcpListener,
    grace: Duration,
    warm_up: impl std::future::Future<Output = anyhow::Result<()>>,
    follow: Option<(Upstream, &'static str)>,
) -> anyhow::Result<()> {
    let server = tokio::spawn(serve(
        router,
        listener,
        health.clone(),
        signals::shutdown(),
        grace,
    ));
    let (warm, warm_rx) = tokio::sync::watch::channel(false);
    let has_upstream = follow.is_some();
    if let Some((upstream, service)) = follow {
        tokio::spawn(chain::follow(health.clone(), warm_rx, upstream, service));
    }
    warm_up.await?;
    if has_upstream {
        let _ = warm.send(true);
    } else {
        health.set_serving(true).await;
    }
    tracing::info!("Warm; SERVING while the stages below are.");
    server.await.context("gRPC server task")??;
    drop(warm);
    Ok(())
}

/// A second connection to an upstream, for health checks only.
fn health_link(addrs: &[String]) -> anyhow::Result<Upstream> {
    Upstream::new(&UpstreamConfig::new(addrs)).map_err(|e| ConfigError(e.to_string()).into())
}

pub async fn decode(args: DecodeArgs) -> anyhow::Result<()> {
    let mut config = DecodeConfig {
        hardware: if args.hardware_decode == "off" {
            HardwarePreference::Off
        } else {
            HardwarePreference::Auto
        },
        local_files: args.allow_local_files,
        ..DecodeConfig::default()
    };
    args.fetch.apply(&mut config.fetch)?;
    let local: Arc<dyn FrameSource> = Arc::new(Local::new(config)?);
    let shm = args.shm_dir.map(|dir| ShmOptions {
        slots: args.shm_slots.max(2),
        ..ShmOptions::new(dir)
    });
    let (listener, grace) = bind(&args.server).await?;
    let (router, health) = router(sv_decode::grpc::SERVICE_NAME).await?;
    let router = router.add_service(sv_decode::grpc::service(local, shm));
    run_until_stopped(router, health, listener, grace, async { Ok(()) }, None).await
}

pub async fn infer(args: InferArgs) -> anyhow::Result<()> {
    let config = args.models.infer_config(None)?;
    let mut remote = RemoteConfig::new(&args.decode_addrs);
    remote.transport = args.frame_transport;
    remote.shm_dir = args.shm_dir.clone();
    let decode =
        sv_decode::grpc::Remote::connect(&remote).map_err(|e| ConfigError(e.to_string()))?;
    let stage = Arc::new(sv_infer::Stage::new(decode, &config)?);
    let (listener, grace) = bind(&args.server).await?;
    let (router, health) = router(sv_infer::grpc::SERVICE_NAME).await?;
    let source: Arc<dyn DetectionSource> = stage.clone();
    let router = router.add_service(sv_infer::grpc::service(source));
    let warm_up = async {
        stage
            .warm_up(WARM_UP_SIZE.0, WARM_UP_SIZE.1)
            .await
            .context("warming up the models")?;
        tracing::info!(provider = stage.provider().name(), "Models warm.");
        Ok(())
    };
    let follow = (
        health_link(&args.decode_addrs)?,
        sv_infer::grpc::SERVICE_NAME,
    );
    run_until_stopped(router, health, listener, grace, warm_up, Some(follow)).await
}

pub async fn track(args: TrackArgs) -> anyhow::Result<()> {
    let infer = sv_infer::grpc::Remote::connect(&UpstreamConfig::new(&args.infer_addrs))
        .map_err(|e| ConfigError(e.to_string()))?;
    let stage: Arc<dyn TrackSource> =
        Arc::new(sv_track::Stage::new(infer, ByteTrackConfig::default()));
    let (listener, grace) = bind(&args.server).await?;
    let (router, health) = router(sv_track::grpc::SERVICE_NAME).await?;
    let router = router.add_service(sv_track::grpc::service(stage));
    let follow = (
        health_link(&args.infer_addrs)?,
        sv_track::grpc::SERVICE_NAME,
    );
    run_until_stopped(
        router,
        health,
        listener,
        grace,
        async { Ok(()) },
        Some(follow),
    )
    .await
}
