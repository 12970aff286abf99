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
    /// The decode stage every stream runs.
    pub decode: DecodeConfig,
    /// The shared-memory transport for clients on this host; `None`: inline only.
    pub shm: Option<ShmOptions>,
    /// The drain; decode follows no upstream.
    pub server: ServerOptions,
}

/// Streams decode serves at once unless told (`--max-streams`): two per
/// core, at least 4 and at most 64. Each stream runs a decoder and its
/// converting threads and holds its frames in flight (bounded in bytes, see
/// `DecodeConfig::frames_in_flight_bytes`), so the cores bound what helps
/// and the bound keeps memory flat under a flood of streams.
pub fn default_max_streams() -> usize {
    let cores = std::thread::available_parallelism().map_or(2, usize::from);
    (2 * cores).clamp(4, 64)
}

/// Serves `scorevision.v1.Decode` on `listener` until `shutdown` resolves,
/// then drains; its series (`sv_decode_*`) on `config.server.metrics`. The stage is built first (with `decode.warm_up`, the
/// built-in clip is decoded before the port answers); it is SERVING from
/// then on.
pub async fn serve(
    config: ServeConfig,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let stage = Stage::new(config.decode).map_err(ServeError::stage)?;
    let metrics = stage.metrics().exposition();
    let local: Arc<dyn FrameSource> = Arc::new(stage);
    let routes = Routes::new(grpc::service(local, config.shm));
    let server = config
        .server
        .with_default_max_streams(default_max_streams());
    StageServer::new(grpc::SERVICE_NAME, routes, server)
        .with_metrics(metrics)
        .serve(listener, async { Ok::<(), Infallible>(()) }, shutdown)
        .await
}
