//! Serving the gateway: ready at once ([`serve`]), once the embedded
//! pipeline is warm ([`serve_after`]), while remote stages serve
//! ([`serve_following`]), or from a prepared state ([`serve_state`]).

use std::error::Error as StdError;
use std::future::Future;
use std::sync::Arc;

use sv_core::TrackSource;
use sv_proto::Upstream;
use sv_telemetry::metrics::Exposition;
use tokio::net::TcpListener;
use tracing::{info, warn};

use crate::config::GatewayConfig;
use crate::conn::{fds, serve_connections};
use crate::error::Error;
use crate::readiness::follow_chain;
use crate::routes::app;
use crate::state::{AbortOnDrop, AppState};

/// Serves the gateway until `shutdown` resolves. The caller calls this once
/// its pipeline is loaded and warmed, so the gateway is ready at once; to
/// bind first and flip readiness later, use [`AppState::from_config`] and
/// [`serve_state`].
pub async fn serve(
    config: GatewayConfig,
    listener: TcpListener,
    tracks: Arc<dyn TrackSource>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), Error> {
    let state = AppState::from_config(&config, tracks).await?;
    state.readiness().set_ready(true);
    serve_state(state, listener, shutdown).await
}

/// Serves a prepared state. The descriptor limit is raised first and caps
/// the open connections ([`crate::conn`]). On `shutdown`: readiness goes
/// false, intake stops, in-flight challenges get `shutdown_grace_s` to
/// finish, then the rest are dropped (which cancels their upstream streams).
pub async fn serve_state(
    state: AppState,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), Error> {
    let readiness = state.readiness();
    let grace = state.inner.shutdown_grace;
    let mut limits = state.inner.connections;
    limits.max_connections =
        fds::connection_cap(limits.max_connections, fds::raise_descriptor_limit());
    let (stopping_tx, stopping_rx) = tokio::sync::watch::channel(false);
    let mut grace_rx = stopping_rx.clone();
    let signal = async move {
        shutdown.await;
        readiness.set_ready(false);
        info!(
            grace_s = grace.as_secs_f64(),
            "Shutting down; finishing in-flight challenges."
        );
        let _ = stopping_tx.send(true);
        // Keeps the sender, so the receivers see the flag and never a close.
        std::future::pending::<()>().await;
    };
    if let Ok(addr) = listener.local_addr() {
        info!(
            %addr,
            hotkey = state.our_hotkey(),
            max_connections = limits.max_connections,
            header_read_timeout_s = limits.header_read_timeout.as_secs_f64(),
            idle_timeout_s = limits.idle_timeout.as_secs_f64(),
            "Gateway listening."
        );
    }
    let server = serve_connections(listener, app(state), limits, stopping_rx);
    let grace_over = async move {
        // Resolves only once shutdown has started and the grace period passed.
        let _ = grace_rx.wait_for(|stopping| *stopping).await;
        tokio::time::sleep(grace).await;
    };
    tokio::select! {
        () = server => Ok(()),
        () = signal => Ok(()),
        () = grace_over => {
            warn!("Grace period over; dropping unfinished challenges.");
            Ok(())
        }
    }
}

/// The embedded mode (`scorevision serve`): binds at once so probes get
/// answers, and turns ready once `warm_up` (the pipeline's) resolves. A
/// failed warm-up stops the gateway and is returned. `stage_metrics`, the
/// embedded stages' series, are served on `/metrics` with the gateway's.
pub async fn serve_after<E>(
    config: GatewayConfig,
    listener: TcpListener,
    tracks: Arc<dyn TrackSource>,
    stage_metrics: &Exposition,
    warm_up: impl Future<Output = Result<(), E>>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), Error>
where
    E: Into<Box<dyn StdError + Send + Sync>>,
{
    let state = AppState::from_config(&config, tracks).await?;
    state.metrics().include(stage_metrics);
    let readiness = state.readiness();
    let server = AbortOnDrop(tokio::spawn(serve_state(state, listener, shutdown)));
    warm_up.await.map_err(|e| Error::WarmUp(e.into()))?;
    readiness.set_ready(true);
    server.join().await
}

/// The distributed mode (`scorevision gateway`): challenges go to `tracks`
/// (remote track replicas); ready while track and every stage below it
/// report SERVING through `track_health`, a health link to the same
/// replicas ([`follow_chain`]).
pub async fn serve_following(
    config: GatewayConfig,
    listener: TcpListener,
    tracks: Arc<dyn TrackSource>,
    track_health: Upstream,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), Error> {
    let state = AppState::from_config(&config, tracks).await?;
    let follower = AbortOnDrop(tokio::spawn(follow_chain(state.readiness(), track_health)));
    let result = serve_state(state, listener, shutdown).await;
    drop(follower);
    result
}

impl AbortOnDrop<Result<(), Error>> {
    async fn join(mut self) -> Result<(), Error> {
        (&mut self.0)
            .await
            .map_err(|e| Error::Serve(std::io::Error::other(e)))?
    }
}
