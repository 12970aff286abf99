//! The validator-facing gateway: fiber-signed `POST /soccer/challenge` in
//! front of the track stage, plus availability, health, readiness and
//! metrics endpoints.
//!
//! - [`config`]: typed config (port 7999, slots, stake source, hotkey).
//! - [`auth`]: fiber authentication ([`FiberAuthLayer`]): ss58, sr25519, nonces.
//! - [`stake`]: the stake policy and its sources (static file, chain).
//! - [`slots`]: the concurrency limit and its bounded queue.
//! - [`routes`]: the router ([`app`]) and handlers.
//! - [`metrics`]: Prometheus series; [`Metrics::observe_stage`] is the hook
//!   for stage timings the gateway cannot see.
//! - [`error`]: the one error enum and its HTTP mapping.
//!
//! Embedding: build an [`AppState`] (from config or from parts), keep its
//! [`Readiness`] handle, call [`serve_state`]; or call [`serve`] once the
//! pipeline is warm.

pub mod auth;
pub mod config;
pub mod error;
pub mod hotkey;
pub mod metrics;
pub mod routes;
pub mod slots;
pub mod stake;
mod state;

use std::future::Future;
use std::sync::Arc;

use sv_core::TrackSource;
use tokio::net::TcpListener;
use tracing::{info, warn};

pub use auth::{FiberAuth, FiberAuthLayer};
pub use config::{GatewayConfig, HotkeyConfig, StakeConfig};
pub use error::Error;
pub use metrics::Metrics;
pub use routes::app;
pub use state::{AppState, Readiness};

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

/// Serves a prepared state. On `shutdown`: readiness goes false, intake
/// stops, in-flight challenges get `shutdown_grace_s` to finish, then the
/// rest are dropped (which cancels their upstream streams).
pub async fn serve_state(
    state: AppState,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), Error> {
    let readiness = state.readiness();
    let grace = state.inner.shutdown_grace;
    let (stopping_tx, mut stopping_rx) = tokio::sync::watch::channel(false);
    let signal = async move {
        shutdown.await;
        readiness.set_ready(false);
        info!(
            grace_s = grace.as_secs_f64(),
            "Shutting down; finishing in-flight challenges."
        );
        let _ = stopping_tx.send(true);
    };
    if let Ok(addr) = listener.local_addr() {
        info!(%addr, hotkey = state.our_hotkey(), "Gateway listening.");
    }
    let server = axum::serve(listener, app(state)).with_graceful_shutdown(signal);
    let grace_over = async move {
        // Resolves only once shutdown has started and the grace period passed.
        if stopping_rx.wait_for(|stopping| *stopping).await.is_err() {
            std::future::pending::<()>().await;
        }
        tokio::time::sleep(grace).await;
    };
    tokio::select! {
        result = server => result.map_err(Error::Serve),
        () = grace_over => {
            warn!("Grace period over; dropping unfinished challenges.");
            Ok(())
        }
    }
}
