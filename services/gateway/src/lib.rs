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
//! - [`readiness`]: [`Readiness`], and following the remote stages' health.
//! - [`conn`]: the accept loop: header and idle timeouts per connection, a
//!   cap on open connections, the descriptor limit raised.
//! - [`serve`](mod@serve): serving it on a bound listener until a shutdown
//!   signal, then draining.
//!
//! Embedding: [`serve_after`] the embedded pipeline's warm-up (`scorevision
//! serve`), [`serve_following`] remote track replicas' health
//! (`scorevision gateway`), [`serve()`] a pipeline already warm; or build an
//! [`AppState`] (from config or from parts), keep its [`Readiness`] handle
//! and call [`serve_state`]. [`GatewayConfig::load`] reads the TOML file.

#![warn(missing_docs)]

pub mod auth;
pub mod config;
pub mod conn;
pub mod error;
pub mod hotkey;
pub mod metrics;
pub mod readiness;
pub mod routes;
pub mod serve;
pub mod slots;
pub mod stake;
mod state;

pub use auth::{FiberAuth, FiberAuthLayer};
pub use config::{ConfigFileError, GatewayConfig, HotkeyConfig, StakeConfig};
pub use error::Error;
pub use metrics::Metrics;
pub use readiness::{NotReady, Readiness};
pub use routes::app;
pub use serve::{serve, serve_after, serve_following, serve_state};
pub use state::AppState;
