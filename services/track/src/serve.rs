//! [`serve`]: the track stage as a gRPC server (`scorevision track`, and
//! tests on port 0).

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;

use sv_core::{DetectionSource, TrackSource};
use sv_proto::{ServeError, ServerOptions, StageServer};
use tokio::net::TcpListener;
use tonic::service::Routes;

use crate::bytetrack::ByteTrackConfig;
use crate::grpc;
use crate::stage::Stage;

/// Everything [`serve`] needs besides the upstream.
#[derive(Default)]
pub struct ServeConfig {
    /// The tracker arguments; each challenge gets a fresh tracker built
    /// with them.
    pub bytetrack: ByteTrackConfig,
    /// The drain, and the health link to infer this stage follows.
    pub server: ServerOptions,
}

/// Serves `scorevision.v1.Track` over detections from `upstream` on
/// `listener` until `shutdown` resolves, then drains; its series
/// (`sv_track_*`) on `config.server.metrics`. Tracking needs no
/// warm-up: the stage is SERVING at once, or (with
/// `server.upstream_health`) while infer and decode have serving replicas.
/// `upstream` is whatever [`DetectionSource`] the caller wires in (infer's
/// `Remote` in the binary).
pub async fn serve<U: DetectionSource>(
    config: ServeConfig,
    upstream: U,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let stage = Stage::new(upstream, config.bytetrack);
    let metrics = stage.metrics().exposition();
    let stage: Arc<dyn TrackSource> = Arc::new(stage);
    let routes = Routes::new(grpc::service(stage));
    StageServer::new(grpc::SERVICE_NAME, routes, config.server)
        .with_metrics(metrics)
        .serve(listener, async { Ok::<(), Infallible>(()) }, shutdown)
        .await
}
