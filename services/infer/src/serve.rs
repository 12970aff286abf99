//! [`serve`]: the infer stage as a gRPC server (`scorevision infer`, and
//! tests on port 0).

use std::future::Future;
use std::sync::Arc;

use sv_core::{DetectionSource, FrameSource};
use sv_proto::{ServeError, ServerOptions, StageServer};
use tokio::net::TcpListener;
use tonic::service::Routes;

use crate::config::InferConfig;
use crate::error::InferError;
use crate::grpc;
use crate::stage::Stage;

/// A 720p frame: the size of the clips validators send. The stage runs one
/// through every lane before it turns SERVING, so the first challenge does
/// not pay for the allocations of a new input size.
pub const WARM_UP_SIZE: (u32, u32) = (1280, 720);

/// Everything [`serve`] needs besides the upstream.
pub struct ServeConfig {
    /// The models, providers and batching the stage opens with.
    pub infer: InferConfig,
    /// The drain, and the health link to decode this stage follows.
    pub server: ServerOptions,
}

/// Streams infer serves at once unless told (`--max-streams`): four per
/// lane, at least 8. Frames of every live stream share the lanes' batches,
/// so a few streams per lane keep them full; more would only queue frames
/// (and their memory) behind the same lanes.
pub fn default_max_streams(lanes: usize) -> usize {
    (4 * lanes).max(8)
}

/// Why the stage never turned SERVING.
#[derive(Debug, thiserror::Error)]
#[error("warming up the models")]
struct WarmUpError(#[source] InferError);

/// Serves `scorevision.v1.Infer` over frames from `upstream` on `listener`
/// until `shutdown` resolves, then drains; its series (`sv_infer_*`) on
/// `config.server.metrics`. The models are loaded first;
/// health answers NOT_SERVING until a [`WARM_UP_SIZE`] frame went through
/// every lane (and, with `server.upstream_health`, while decode has no
/// serving replica). `upstream` is whatever [`FrameSource`] the caller
/// wires in (decode's `Remote` in the binary): this crate knows no other
/// stage.
pub async fn serve<U: FrameSource>(
    config: ServeConfig,
    upstream: U,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let stage = Arc::new(Stage::new(upstream, &config.infer).map_err(ServeError::stage)?);
    let source: Arc<dyn DetectionSource> = stage.clone();
    let routes = Routes::new(grpc::service(source));
    let warm_up = async {
        let (width, height) = WARM_UP_SIZE;
        stage.warm_up(width, height).await.map_err(WarmUpError)?;
        tracing::info!(provider = stage.provider().name(), "Models warm.");
        Ok::<(), WarmUpError>(())
    };
    let lanes = stage
        .profile()
        .map_or(1, |p| p.lanes.max(1) * p.devices.len().max(1));
    let server = config
        .server
        .with_default_max_streams(default_max_streams(lanes));
    StageServer::new(grpc::SERVICE_NAME, routes, server)
        .with_metrics(stage.metrics().exposition().clone())
        .serve(listener, warm_up, shutdown)
        .await
}
