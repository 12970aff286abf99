//! Unauthenticated endpoints: availability, health, readiness, metrics.
//! None of them does work a caller could abuse.

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::{StatusCode, header};
use serde_json::json;

use crate::state::AppState;

/// `{"available": bool}`: true while ready and a slot is free.
pub async fn availability(State(state): State<AppState>) -> Json<serde_json::Value> {
    let available = state.inner.readiness.is_ready() && state.inner.slots.available();
    Json(json!({ "available": available }))
}

pub async fn healthz() -> &'static str {
    "ok"
}

/// `{"ready": true}`, or 503 with `{"ready": false, "reason": ...}`.
pub async fn readyz(State(state): State<AppState>) -> Response {
    match state.inner.readiness.state() {
        Ok(()) => (StatusCode::OK, Json(json!({ "ready": true }))).into_response(),
        Err(reason) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "ready": false, "reason": reason.to_string() })),
        )
            .into_response(),
    }
}

pub async fn metrics(State(state): State<AppState>) -> Response {
    let slots = &state.inner.slots;
    let text = state
        .inner
        .metrics
        .render(slots.in_flight(), slots.queued());
    (
        [(header::CONTENT_TYPE, sv_telemetry::metrics::CONTENT_TYPE)],
        text,
    )
        .into_response()
}
