//! What every stage's gRPC server shares: `grpc.health.v1` (NOT_SERVING
//! until the stage says it is warm, and again from the first moment of a
//! shutdown), server reflection, HTTP/2 settings sized for frames, and the
//! drain on shutdown.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::transport::Server;
use tonic::transport::server::Router;
use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;

/// The stage's entry in `grpc.health.v1`; cheap to clone.
#[derive(Clone)]
pub struct StageHealth {
    reporter: HealthReporter,
    service: &'static str,
    /// Set for good at the first moment of a shutdown: nothing turns the
    /// stage SERVING again while it drains.
    draining: Arc<AtomicBool>,
}

impl StageHealth {
    /// Whether the stage (and the server as a whole, service "") can take
    /// work. Ignored once the server is draining.
    pub async fn set_serving(&self, serving: bool) {
        let serving = serving && !self.draining.load(Ordering::Acquire);
        let status = status(serving);
        self.reporter.set_service_status("", status).await;
        self.reporter.set_service_status(self.service, status).await;
    }

    /// Relays the status of a stage further up the chain (as this stage
    /// sees its upstream), so a caller asking this server alone learns which
    /// stage below is missing.
    /// `None`: unknown (the stage between cannot be reached).
    pub async fn set_relayed(&self, service: &str, serving: Option<bool>) {
        let status = serving.map_or(ServingStatus::Unknown, status);
        self.reporter.set_service_status(service, status).await;
    }

    fn drain(&self) {
        self.draining.store(true, Ordering::Release);
    }
}

fn status(serving: bool) -> ServingStatus {
    if serving {
        ServingStatus::Serving
    } else {
        ServingStatus::NotServing
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("reflection: {0}")]
    Reflection(#[from] tonic_reflection::server::Error),
    #[error("gRPC server: {0}")]
    Transport(#[from] tonic::transport::Error),
}

/// A router with health (starting NOT_SERVING) and reflection; the caller
/// adds its stage service. `service` is the stage's full gRPC name
/// (`scorevision.v1.Decode`).
pub async fn router(service: &'static str) -> Result<(Router, StageHealth), ServeError> {
    let (reporter, health_service) = tonic_health::server::health_reporter();
    let health = StageHealth {
        reporter,
        service,
        draining: Arc::default(),
    };
    health.set_serving(false).await;
    let reflection = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(crate::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()?;
    let router = Server::builder()
        .tcp_nodelay(true)
        .initial_stream_window_size(Some(8 << 20))
        .initial_connection_window_size(Some(16 << 20))
        .http2_keepalive_interval(Some(Duration::from_secs(10)))
        .add_service(health_service)
        .add_service(reflection);
    Ok((router, health))
}

/// Serves until `shutdown` resolves, then drains: health goes NOT_SERVING,
/// new connections and streams are refused (HTTP/2 GOAWAY), and in-flight
/// streams get `grace` to finish before they are cut.
pub async fn serve(
    router: Router,
    listener: TcpListener,
    health: StageHealth,
    shutdown: impl Future<Output = ()>,
    grace: Duration,
) -> Result<(), ServeError> {
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = router.serve_with_incoming_shutdown(TcpListenerStream::new(listener), async {
        let _ = stopped.await;
    });
    let mut server = std::pin::pin!(server);
    tokio::select! {
        result = &mut server => return result.map_err(Into::into),
        () = shutdown => {}
    }
    tracing::info!(
        grace_s = grace.as_secs_f32(),
        "Shutting down: NOT_SERVING, draining in-flight streams."
    );
    health.drain();
    health.set_serving(false).await;
    let _ = stop.send(());
    match tokio::time::timeout(grace, server).await {
        Ok(result) => result.map_err(Into::into),
        Err(_) => {
            tracing::warn!("Grace period over; cutting the streams still open.");
            Ok(())
        }
    }
}
