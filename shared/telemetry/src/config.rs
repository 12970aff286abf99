//! What telemetry to set up, resolved from the environment once so the rest
//! of the crate (and its tests) never read environment variables.

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// Human-readable lines (`tracing`'s default format), coloured only
    /// when stderr is a terminal. Also accepted as `text`.
    #[default]
    Plain,
    /// One JSON object per event, for log collectors.
    Json,
}

impl std::str::FromStr for LogFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "plain" | "text" => Ok(Self::Plain),
            "json" => Ok(Self::Json),
            other => Err(format!("unknown log format {other:?} (plain, json)")),
        }
    }
}

/// Environment variable read by [`TelemetryConfig::from_env`]: the log
/// filter ([`TelemetryConfig::filter`]).
pub const RUST_LOG: &str = "RUST_LOG";
/// Environment variable read by [`TelemetryConfig::from_env`]: where to
/// export spans ([`TelemetryConfig::otlp_endpoint`]); unset or empty turns
/// export off.
pub const OTEL_EXPORTER_OTLP_ENDPOINT: &str = "OTEL_EXPORTER_OTLP_ENDPOINT";
/// Environment variable read by [`TelemetryConfig::from_env`]: the
/// exported spans' service name ([`TelemetryConfig::service_name`]).
pub const OTEL_SERVICE_NAME: &str = "OTEL_SERVICE_NAME";

/// Everything [`crate::build`] needs, already resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TelemetryConfig {
    /// How log lines on stderr are written.
    pub format: LogFormat,
    /// `EnvFilter` directives, e.g. `info,ort=warn`.
    pub filter: String,
    /// The `service.name` resource attribute of exported spans.
    pub service_name: String,
    /// OTLP/gRPC collector, e.g. `http://otel-collector:4317`. `None` turns
    /// span export off entirely: no exporter, no thread, no connection.
    pub otlp_endpoint: Option<String>,
}

impl TelemetryConfig {
    /// Logs only, with the given filter; no span export.
    pub fn new(format: LogFormat, filter: &str, service_name: &str) -> Self {
        Self {
            format,
            filter: filter.to_owned(),
            service_name: service_name.to_owned(),
            otlp_endpoint: None,
        }
    }

    /// Reads `RUST_LOG` (else `default_filter`), `OTEL_SERVICE_NAME` (else
    /// `default_service`) and `OTEL_EXPORTER_OTLP_ENDPOINT` (else no export).
    pub fn from_env(format: LogFormat, default_filter: &str, default_service: &str) -> Self {
        Self::from_lookup(format, default_filter, default_service, |key| {
            std::env::var(key).ok()
        })
    }

    /// [`Self::from_env`] over any lookup, so the rules are testable without
    /// touching the process environment. Empty values count as unset, as the
    /// OpenTelemetry specification asks.
    pub fn from_lookup(
        format: LogFormat,
        default_filter: &str,
        default_service: &str,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Self {
        let get = |key: &str| lookup(key).filter(|v| !v.trim().is_empty());
        Self {
            format,
            filter: get(RUST_LOG).unwrap_or_else(|| default_filter.to_owned()),
            service_name: get(OTEL_SERVICE_NAME).unwrap_or_else(|| default_service.to_owned()),
            otlp_endpoint: get(OTEL_EXPORTER_OTLP_ENDPOINT),
        }
    }

    /// Same settings, exporting spans to `endpoint`.
    pub fn with_otlp_endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.otlp_endpoint = Some(endpoint.into());
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn lookup(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |key| vars.get(key).cloned()
    }

    #[test]
    fn defaults_apply_when_nothing_is_set() {
        let c = TelemetryConfig::from_lookup(LogFormat::Json, "info", "scorevision", lookup(&[]));
        assert_eq!(
            c,
            TelemetryConfig::new(LogFormat::Json, "info", "scorevision")
        );
        assert_eq!(c.otlp_endpoint, None);
    }

    #[test]
    fn environment_overrides_defaults() {
        let c = TelemetryConfig::from_lookup(
            LogFormat::Plain,
            "info",
            "scorevision-decode",
            lookup(&[
                (RUST_LOG, "debug"),
                (OTEL_SERVICE_NAME, "decode-canary"),
                (OTEL_EXPORTER_OTLP_ENDPOINT, "http://collector:4317"),
            ]),
        );
        assert_eq!(c.filter, "debug");
        assert_eq!(c.service_name, "decode-canary");
        assert_eq!(c.otlp_endpoint.as_deref(), Some("http://collector:4317"));
    }

    #[test]
    fn empty_endpoint_means_no_export() {
        let c = TelemetryConfig::from_lookup(
            LogFormat::Plain,
            "info",
            "scorevision",
            lookup(&[(OTEL_EXPORTER_OTLP_ENDPOINT, " "), (OTEL_SERVICE_NAME, "")]),
        );
        assert_eq!(c.otlp_endpoint, None);
        assert_eq!(c.service_name, "scorevision");
    }

    #[test]
    fn log_format_parses() {
        assert_eq!("text".parse::<LogFormat>(), Ok(LogFormat::Plain));
        assert_eq!("json".parse::<LogFormat>(), Ok(LogFormat::Json));
        assert!("xml".parse::<LogFormat>().is_err());
    }
}
