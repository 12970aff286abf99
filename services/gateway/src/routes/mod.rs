//! The router: validator route families behind fiber auth, ops endpoints
//! beside them.
//!
//! A route family is a set of validator-facing routes sharing fiber auth and
//! the observe layer (arrival time, outcome counting). Today there is one,
//! `soccer` (`POST /soccer/challenge`); the successor protocol's
//! `POST /challenge` would be a second module added in `validator_routes`.

mod ops;
mod soccer;

use axum::Router;
use axum::extract::{Request, State};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use tokio::time::Instant;

use crate::auth::FiberAuthLayer;
use crate::error::Outcome;
use crate::state::AppState;

/// When the request arrived; `processing_time` and the total latency start here.
#[derive(Debug, Clone, Copy)]
pub struct ReceivedAt(pub Instant);

/// The whole gateway router.
pub fn app(state: AppState) -> Router {
    Router::new()
        .merge(validator_routes(&state))
        .route("/availability", get(ops::availability))
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics))
        .with_state(state)
}

fn validator_routes(state: &AppState) -> Router<AppState> {
    Router::new()
        .route("/soccer/challenge", post(soccer::challenge))
        // Auth only on validator routes; observe outside it so rejections
        // are counted and timed too.
        .route_layer(FiberAuthLayer::new(state.inner.auth.clone()))
        .route_layer(middleware::from_fn_with_state(state.clone(), observe))
}

/// Stamps the arrival time, then counts the outcome and total latency.
async fn observe(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let received = Instant::now();
    request.extensions_mut().insert(ReceivedAt(received));
    let response = next.run(request).await;
    let outcome = response
        .extensions()
        .get::<Outcome>()
        .map_or("other", |o| o.0);
    let metrics = &state.inner.metrics;
    metrics.count_outcome(outcome);
    metrics.observe_stage("total", received.elapsed().as_secs_f64());
    response
}

#[cfg(test)]
mod tests;
