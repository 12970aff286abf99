//! [`serve`]: the decode stage as a gRPC server (`scorevision decode`, and
//! tests on port 0).

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;

use sv_core::FrameSource;
use sv_proto::{ServeError, ServerOptions, StageServer};
use tokio::net::TcpListener;
use tonic::service::Routes;

use crate::config::DecodeConfig;
use crate::grpc::{self, ShmOptions};
use crate::stage::Stage;

/// Everything [`serve`] needs.
pub struct ServeConfig {
    pub decode: DecodeConfig,
    /// The shared-memory transport for clients on this host; `None`: inline only.
    pub shm: Option<ShmOptions>,
    /// The drain; decode follows no upstream.
    pub server: ServerOptions,
}

/// Serves `scorevision.v1.Decode` on `listener` until `shutdown` resolves,
/// then drains. The stage is built first (with `decode.warm_up`, the
/// built-in clip is decoded before the port answers); it is SERVING from
/// then on.
pub async fn serve(
    config: ServeConfig,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let local: Arc<dyn FrameSource> =
        Arc::new(Stage::new(config.decode).map_err(ServeError::stage)?);
    let routes = Routes::new(grpc::service(local, config.shm));
    StageServer::new(grpc::SERVICE_NAME, routes, config.server)
        .serve(listener, async { Ok::<(), Infallible>(()) }, shutdown)
        .await
}
