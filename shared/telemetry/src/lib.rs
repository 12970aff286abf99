//! Telemetry for every scorevision binary.
//!
//! - [`config`]: what to set up ([`TelemetryConfig`]), read once from the
//!   environment (`RUST_LOG`, `OTEL_EXPORTER_OTLP_ENDPOINT`, `OTEL_SERVICE_NAME`).
//! - [`subscriber`]: the layer stack (an `EnvFilter`, plain or JSON logs on
//!   stderr so stdout stays free for results, and the OpenTelemetry layer only
//!   when an OTLP endpoint is set) and the [`TelemetryGuard`] that flushes the
//!   last spans on drop.
//! - `otel` (private): the OTLP/gRPC span pipeline behind that layer.
//! - [`propagation`]: W3C trace context in and out of the in-band
//!   `TraceContext` map, tonic metadata and HTTP headers, so one trace spans
//!   all four processes; [`stage_span`] is how every stage and the gateway
//!   join a request's trace and pass it on.
//! - [`metrics`]: what every stage's Prometheus series share: one
//!   exposition of several registries, `GET /metrics` on a port of its own,
//!   gauges read when scraped.
//!
//! [`init`] installs the stack process-wide and is for `main` only. Tests never
//! install a global subscriber: they call [`subscriber::build`] and scope the
//! result with `tracing::subscriber::set_default`.

#![warn(missing_docs)]

pub mod config;
pub mod metrics;
mod otel;
pub mod propagation;
pub mod subscriber;

pub use config::{LogFormat, TelemetryConfig};
pub use propagation::{
    carrier_to_metadata, extract_headers, extract_metadata, inject_metadata, inject_span,
    install_propagator, set_parent, stage_span,
};
pub use subscriber::{TelemetryGuard, build};

use tracing_subscriber::util::SubscriberInitExt;

/// Everything that can go wrong while setting telemetry up.
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    /// [`init`] was called in a process that already has a global
    /// subscriber (a second `init`, or another library installed one).
    #[error("a global logger is already installed")]
    AlreadyInstalled,
    /// The log filter (`RUST_LOG` or the default) is not valid
    /// `EnvFilter` syntax.
    #[error("invalid log filter {filter:?}: {source}")]
    Filter {
        /// The directives as given.
        filter: String,
        /// What the parser rejected.
        source: tracing_subscriber::filter::ParseError,
    },
    /// The one-thread Tokio runtime that runs span export could not start.
    #[error("cannot start the OTLP export runtime: {source}")]
    ExportRuntime {
        /// Why the runtime's thread could not be made.
        source: std::io::Error,
    },
    /// The OTLP/gRPC exporter rejected its configuration (for example an
    /// endpoint that is not a URL); nothing is connected yet at this point.
    #[error("cannot build the OTLP exporter for {endpoint:?}: {source}")]
    Exporter {
        /// The collector endpoint as configured.
        endpoint: String,
        /// The exporter's own error.
        source: opentelemetry_otlp::ExporterBuildError,
    },
    /// Spans still queued could not be exported on an explicit flush.
    #[error("cannot flush spans to the OTLP endpoint: {source}")]
    Flush {
        /// The OpenTelemetry SDK's error.
        source: opentelemetry_sdk::error::OTelSdkError,
    },
}

/// Installs the process-wide subscriber and the W3C trace-context propagator.
/// Call once, from `main`, and keep the guard until the process exits: its
/// drop exports the spans still queued.
pub fn init(config: &TelemetryConfig) -> Result<TelemetryGuard, TelemetryError> {
    let (subscriber, guard) = build(config)?;
    subscriber
        .try_init()
        .map_err(|_| TelemetryError::AlreadyInstalled)?;
    install_propagator();
    if let Some(provider) = guard.tracer_provider() {
        // For code that asks OpenTelemetry directly rather than through `tracing`.
        opentelemetry::global::set_tracer_provider(provider.clone());
    }
    Ok(guard)
}

#[cfg(test)]
mod tests;
