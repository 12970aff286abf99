//! What every stage's gRPC server shares.
//!
//! - [`StageServer`]: one stage's service behind `grpc.health.v1` (NOT_SERVING
//!   until the stage's warm-up resolves and, for a stage with an upstream,
//!   while the stages below have no serving replica), server reflection,
//!   HTTP/2 settings sized for frames, and the drain on shutdown. Every
//!   stage crate's `serve(config, listener, shutdown)` is built on it.
//! - [`StageHealth`]: the stage's health entry; [`follow`]: the chain
//!   follower that keeps it current for a stage with an upstream.
//! - Metrics: with [`ServerOptions::metrics`], the stage's Prometheus
//!   series ([`StageServer::with_metrics`]) and the server's own (streams
//!   open, the limit, refusals) on `GET /metrics` of a port of its own.
//! - [`incoming`] and [`answer`]: the two ends of a stage RPC's server half.

mod cut;
mod follow;
mod health;
mod limit;
mod metrics;
mod rpc;

use std::error::Error as StdError;
use std::future::Future;
use std::time::Duration;

use sv_telemetry::metrics::Exposition;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tonic::service::Routes;
use tonic::transport::Server;
use tonic::transport::server::Router;
use tower::layer::util::{Identity, Stack};

use crate::chain;
use crate::upstream::Upstream;

pub use follow::follow;
pub use health::StageHealth;
pub use limit::StreamLimitLayer;
pub use rpc::{answer, incoming};

/// A failure to serve a stage, or to start it.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The reflection service could not be built from the descriptors.
    #[error("reflection: {0}")]
    Reflection(#[from] tonic_reflection::server::Error),
    /// The gRPC server could not bind or failed while serving.
    #[error("gRPC server: {0}")]
    Transport(#[from] tonic::transport::Error),
    /// The stage itself could not start or warm up; its own error says why.
    #[error(transparent)]
    Stage(Box<dyn StdError + Send + Sync>),
    /// The task running the server panicked or was cancelled.
    #[error("the gRPC server task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
}

impl ServeError {
    /// The stage's own start-up error.
    pub fn stage(error: impl Into<Box<dyn StdError + Send + Sync>>) -> Self {
        Self::Stage(error.into())
    }
}

/// How a stage server runs, beyond its own stage's settings.
pub struct ServerOptions {
    /// How long in-flight streams may finish after shutdown starts.
    pub grace: Duration,
    /// A health-only link to the stage this one pulls from: the stage is
    /// SERVING only while every stage below has a serving replica, and
    /// relays their statuses ([`follow`]). `None` for decode, which
    /// pulls from no stage.
    pub upstream_health: Option<Upstream>,
    /// Stage streams open at once in this server; beyond it a new one is
    /// refused with RESOURCE_EXHAUSTED ([`StreamLimitLayer`]). 0: the
    /// stage's own default, sized to its hardware (decode and infer), else
    /// [`DEFAULT_MAX_STREAMS`].
    pub max_streams: usize,
    /// Where to answer `GET /metrics` (`--metrics-listen`); `None`: the
    /// series are kept but served nowhere.
    pub metrics: Option<TcpListener>,
}

/// Stage streams per server when neither the operator nor the stage says:
/// the gateway's default slots and queue (2 + 4) many times over, for a
/// stage whose streams cost little (track).
pub const DEFAULT_MAX_STREAMS: usize = 64;

impl ServerOptions {
    /// `max_streams`, or `stage_default` when it is 0 (automatic).
    pub fn with_default_max_streams(mut self, stage_default: usize) -> Self {
        if self.max_streams == 0 {
            self.max_streams = stage_default;
        }
        self
    }
}

impl Default for ServerOptions {
    /// The 20 s drain the binary defaults to (`--grace-s`), no upstream,
    /// the stage's own stream limit.
    fn default() -> Self {
        Self {
            grace: Duration::from_secs(20),
            upstream_health: None,
            max_streams: 0,
            metrics: None,
        }
    }
}

/// HTTP/2 streams one connection may open beyond the stage streams: health
/// checks and reflection, which the stream limit does not count.
const CONTROL_STREAMS: usize = 8;

/// One stage's gRPC server. Build it with the stage's routes, then
/// [`serve`](Self::serve) it on a bound listener.
pub struct StageServer {
    service: &'static str,
    routes: Routes,
    options: ServerOptions,
    metrics: Exposition,
}

impl StageServer {
    /// `service` is the stage's full gRPC name ([`chain::DECODE`], ...), the
    /// name its health entry answers under; `routes` holds its service
    /// (`Routes::new(DecodeServer::new(..))`).
    pub fn new(service: &'static str, routes: Routes, options: ServerOptions) -> Self {
        Self {
            service,
            routes,
            options,
            metrics: Exposition::default(),
        }
    }

    /// The stage's own Prometheus series, served with the server's on
    /// [`ServerOptions::metrics`].
    pub fn with_metrics(mut self, metrics: Exposition) -> Self {
        self.metrics = metrics;
        self
    }

    /// Serves until `shutdown` resolves, then drains: NOT_SERVING, no new
    /// connections or streams, [`ServerOptions::grace`] for the streams in
    /// flight, then the rest are cut.
    ///
    /// Health answers from the first moment, NOT_SERVING; it turns SERVING
    /// once `warm_up` resolves (and, with an upstream, while the stages
    /// below serve). A failed warm-up stops the server and is returned.
    pub async fn serve<E>(
        self,
        listener: TcpListener,
        warm_up: impl Future<Output = Result<(), E>>,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), ServeError>
    where
        E: Into<Box<dyn StdError + Send + Sync>>,
    {
        let (health, health_service) = StageHealth::new(self.service).await;
        let reflection = tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(crate::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
            .build_v1()?;
        let routes = self
            .routes
            .add_service(health_service)
            .add_service(reflection);
        let max_streams = match self.options.max_streams {
            0 => DEFAULT_MAX_STREAMS,
            n => n,
        };
        let limit = StreamLimitLayer::new(stage_name(self.service), max_streams);
        // Serves from the start (warm-up included) until this call returns.
        let _metrics = self.options.metrics.map(|listener| {
            let exposition = Exposition::default();
            exposition.include_all(&self.metrics);
            exposition.include(metrics::registry(stage_name(self.service), &limit));
            AbortOnDrop(tokio::spawn(serve_metrics(listener, exposition)))
        });
        // One connection cannot open more HTTP/2 streams than the whole
        // server would serve (hyper's default is 200 per connection).
        let per_connection = u32::try_from(max_streams + CONTROL_STREAMS).unwrap_or(u32::MAX);
        let router = Server::builder()
            .tcp_nodelay(true)
            .initial_stream_window_size(Some(8 << 20))
            .initial_connection_window_size(Some(16 << 20))
            .http2_keepalive_interval(Some(Duration::from_secs(10)))
            .max_concurrent_streams(Some(per_connection))
            .layer(limit)
            .add_routes(routes);
        if let Ok(addr) = listener.local_addr() {
            tracing::info!(%addr, max_streams, "Listening (gRPC).");
        }
        let server = tokio::spawn(drain(
            router,
            listener,
            health.clone(),
            shutdown,
            self.options.grace,
        ));
        // Aborts the server should this future be dropped or the warm-up
        // fail: nothing outlives the call.
        let mut server = AbortOnDrop(server);
        let (warm, warm_rx) = tokio::sync::watch::channel(false);
        let follows = self.options.upstream_health.is_some();
        if let Some(upstream) = self.options.upstream_health {
            tokio::spawn(follow(health.clone(), warm_rx, upstream, self.service));
        }
        tokio::select! {
            warmed = warm_up => warmed.map_err(ServeError::stage)?,
            // Shut down (or failed) before it was warm.
            result = server.join() => return result,
        }
        if follows {
            let _ = warm.send(true);
        } else {
            health.set_serving(true).await;
        }
        tracing::info!("Warm; SERVING while the stages below are.");
        let result = server.join().await;
        // The follower polls the upstream until this sender goes.
        drop(warm);
        result
    }
}

/// The short name of a stage's gRPC service ("decode" for
/// `scorevision.v1.Decode`), for messages.
fn stage_name(service: &str) -> &'static str {
    chain::CHAIN
        .iter()
        .find(|(_, s)| *s == service)
        .map_or("stage", |(name, _)| *name)
}

struct AbortOnDrop<T = Result<(), ServeError>>(tokio::task::JoinHandle<T>);

impl AbortOnDrop {
    async fn join(&mut self) -> Result<(), ServeError> {
        (&mut self.0).await?
    }
}

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// `GET /metrics` until aborted. A failure there is logged and leaves the
/// stage serving: its answers matter more than its series.
async fn serve_metrics(listener: TcpListener, exposition: Exposition) {
    let forever = std::future::pending::<()>();
    if let Err(e) = sv_telemetry::metrics::serve(listener, exposition, forever).await {
        tracing::error!(error = %e, "The metrics server stopped.");
    }
}

/// Serves until `shutdown` resolves, then drains: health goes NOT_SERVING,
/// new connections and streams are refused (HTTP/2 GOAWAY), and in-flight
/// streams get `grace` to finish before their connections are cut.
async fn drain(
    router: Router<Stack<StreamLimitLayer, Identity>>,
    listener: TcpListener,
    health: StageHealth,
    shutdown: impl Future<Output = ()>,
    grace: Duration,
) -> Result<(), ServeError> {
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let cut = CancellationToken::new();
    // Cut on every way out, a panic or an abort included.
    let _cut_on_return = cut.clone().drop_guard();
    let server = router.serve_with_incoming_shutdown(cut::incoming(listener, cut), async {
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
    health.end_watches();
    let _ = stop.send(());
    match tokio::time::timeout(grace, server).await {
        Ok(result) => result.map_err(Into::into),
        Err(_) => {
            tracing::warn!("Grace period over; cutting the streams still open.");
            Ok(())
        }
    }
}
