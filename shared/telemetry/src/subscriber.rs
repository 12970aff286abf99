//! The one layer stack every binary installs, built without installing it so
//! tests can scope it with `tracing::subscriber::set_default`.

use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing::Subscriber;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::{EnvFilter, Registry, fmt};

use crate::otel::OtelPipeline;
use crate::{LogFormat, TelemetryConfig, TelemetryError};

/// Keeps span export alive; dropping it exports the spans still queued and
/// stops the exporter (bounded, so a dead collector cannot hang exit).
#[must_use = "dropping the guard stops span export"]
pub struct TelemetryGuard {
    otel: Option<OtelPipeline>,
}

impl TelemetryGuard {
    /// Whether spans are being exported (an OTLP endpoint was configured).
    pub fn otel_enabled(&self) -> bool {
        self.otel.is_some()
    }

    /// Exports every finished span now and waits for the collector's answer.
    /// A no-op without an endpoint.
    pub fn force_flush(&self) -> Result<(), TelemetryError> {
        self.otel.as_ref().map_or(Ok(()), OtelPipeline::force_flush)
    }

    /// The SDK provider behind the layer, when exporting.
    pub fn tracer_provider(&self) -> Option<&SdkTracerProvider> {
        self.otel.as_ref().map(OtelPipeline::provider)
    }
}

impl std::fmt::Debug for TelemetryGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TelemetryGuard")
            .field("otel_enabled", &self.otel_enabled())
            .finish()
    }
}

/// Builds the subscriber `init` installs: `EnvFilter` from `config.filter`,
/// plain or JSON logs on stderr, and the OTLP layer when
/// `config.otlp_endpoint` is set. Nothing is installed and nothing connects.
pub fn build(
    config: &TelemetryConfig,
) -> Result<
    (
        impl Subscriber + for<'a> LookupSpan<'a> + Send + Sync + 'static + use<>,
        TelemetryGuard,
    ),
    TelemetryError,
> {
    let filter = EnvFilter::try_new(&config.filter).map_err(|source| TelemetryError::Filter {
        filter: config.filter.clone(),
        source,
    })?;
    // Both formats are typed layers; an absent `Option` layer is a no-op.
    let (plain, json) = match config.format {
        // Colours only on a terminal: log files and collectors get plain text.
        LogFormat::Plain => (
            Some(
                fmt::layer()
                    .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
                    .with_writer(std::io::stderr),
            ),
            None,
        ),
        LogFormat::Json => (None, Some(fmt::layer().json().with_writer(std::io::stderr))),
    };
    let otel = config
        .otlp_endpoint
        .as_deref()
        .map(|endpoint| OtelPipeline::start(endpoint, &config.service_name))
        .transpose()?;
    let subscriber = Registry::default()
        .with(filter)
        .with(plain)
        .with(json)
        .with(otel.as_ref().map(OtelPipeline::layer));
    Ok((subscriber, TelemetryGuard { otel }))
}
