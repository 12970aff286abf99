//! The OTLP/gRPC span pipeline: a tonic exporter behind a batch span
//! processor, and the `tracing` layer that feeds it.
//!
//! The exporter's gRPC channel runs on a small runtime of its own rather than
//! the caller's. Three reasons: `main` sets telemetry up before it builds its
//! runtime; the guard flushes after that runtime is gone; and a flush that
//! blocks a runtime thread (a test, a shutdown hook) cannot starve the very
//! channel it is waiting on.

use std::time::Duration;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{SpanExporter, WithExportConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing::Subscriber;
use tracing_subscriber::Layer;
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::registry::LookupSpan;

use crate::TelemetryError;

/// Instrumentation scope of every span this crate exports.
const TRACER_NAME: &str = "scorevision";

/// How long the guard's final flush may hold up process exit when the
/// collector is slow or gone.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(5);

/// A running span pipeline. Dropping it exports what is queued, then stops.
pub(crate) struct OtelPipeline {
    provider: SdkTracerProvider,
    runtime: Option<tokio::runtime::Runtime>,
}

impl OtelPipeline {
    /// Builds the exporter without connecting: the channel is lazy, so a
    /// collector that is down never delays start-up.
    pub(crate) fn start(endpoint: &str, service_name: &str) -> Result<Self, TelemetryError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("sv-otel-export")
            .enable_all()
            .build()
            .map_err(|source| TelemetryError::ExportRuntime { source })?;
        let exporter = {
            // tonic spawns the channel's worker onto the current runtime.
            let _entered = runtime.enter();
            SpanExporter::builder()
                .with_tonic()
                .with_endpoint(endpoint)
                .build()
        }
        .map_err(|source| TelemetryError::Exporter {
            endpoint: endpoint.to_owned(),
            source,
        })?;
        let resource = Resource::builder()
            .with_service_name(service_name.to_owned())
            .build();
        let provider = SdkTracerProvider::builder()
            .with_batch_exporter(exporter)
            .with_resource(resource)
            .build();
        Ok(Self {
            provider,
            runtime: Some(runtime),
        })
    }

    pub(crate) fn provider(&self) -> &SdkTracerProvider {
        &self.provider
    }

    /// The `tracing` layer that turns spans into OpenTelemetry spans.
    pub(crate) fn layer<S>(&self) -> impl Layer<S> + Send + Sync + use<S>
    where
        S: Subscriber + for<'a> LookupSpan<'a> + Send + Sync,
    {
        tracing_opentelemetry::layer()
            .with_tracer(self.provider.tracer(TRACER_NAME))
            .with_filter(not_the_exporter())
    }

    pub(crate) fn force_flush(&self) -> Result<(), TelemetryError> {
        self.provider
            .force_flush()
            .map_err(|source| TelemetryError::Flush { source })
    }
}

impl Drop for OtelPipeline {
    fn drop(&mut self) {
        // Errors were already reported by the SDK's own diagnostics; a
        // collector that is gone must not turn exit into a failure.
        let _ = self.provider.shutdown_with_timeout(SHUTDOWN_TIMEOUT);
        if let Some(runtime) = self.runtime.take() {
            // Plain drop panics inside an async context (tests, async main).
            runtime.shutdown_background();
        }
    }
}

/// Spans from the exporter's own transport must not be exported: each export
/// would create spans that need exporting, forever, once `RUST_LOG` is verbose.
fn not_the_exporter() -> Targets {
    Targets::new()
        .with_default(LevelFilter::TRACE)
        .with_target("h2", LevelFilter::OFF)
        .with_target("hyper", LevelFilter::OFF)
        .with_target("hyper_util", LevelFilter::OFF)
        .with_target("tower", LevelFilter::OFF)
        .with_target("tonic", LevelFilter::OFF)
        .with_target("opentelemetry", LevelFilter::OFF)
        .with_target("opentelemetry_sdk", LevelFilter::OFF)
        .with_target("opentelemetry_otlp", LevelFilter::OFF)
}
