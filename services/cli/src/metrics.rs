//! `--metrics-listen`: where a process answers Prometheus' `GET /metrics`
//! with its stages' series. Each stage server (`decode`, `infer`, `track`)
//! serves on a port of its own unless told `off`: loopback, a port per
//! stage, so the three run side by side on one host. `process` serves only
//! when given an address. The gateway and `serve` answer `/metrics` on the
//! validator API's port instead (every embedded stage's series with the
//! gateway's).

use anyhow::Context;
use sv_telemetry::metrics::Exposition;
use tokio::net::TcpListener;

/// `--metrics-listen ADDR|off`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MetricsListen {
    Off,
    At(String),
}

impl std::str::FromStr for MetricsListen {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim() {
            "" => Err("empty: give host:port, or off".into()),
            "off" => Ok(Self::Off),
            addr => Ok(Self::At(addr.to_owned())),
        }
    }
}

/// A stage server's port unless told (`--metrics-listen`).
pub const DECODE_DEFAULT: &str = "127.0.0.1:9461";
pub const INFER_DEFAULT: &str = "127.0.0.1:9462";
pub const TRACK_DEFAULT: &str = "127.0.0.1:9463";

impl MetricsListen {
    /// The listener asked for (`default` when nothing was), or `None` for
    /// `off` (and for nothing asked without a default).
    pub async fn bind(
        asked: Option<&Self>,
        default: Option<&str>,
    ) -> anyhow::Result<Option<TcpListener>> {
        let addr = match (asked, default) {
            (Some(Self::Off), _) | (None, None) => return Ok(None),
            (Some(Self::At(addr)), _) => addr.as_str(),
            (None, Some(default)) => default,
        };
        let listener = TcpListener::bind(addr)
            .await
            .with_context(|| format!("binding {addr} (--metrics-listen)"))?;
        Ok(Some(listener))
    }
}

/// Serves `exposition` on `listener` until the returned guard is dropped
/// (`process`: for as long as the clip runs).
pub fn serve_while(listener: TcpListener, exposition: Exposition) -> ServingMetrics {
    let forever = std::future::pending::<()>();
    let task = tokio::spawn(async move {
        if let Err(e) = sv_telemetry::metrics::serve(listener, exposition, forever).await {
            tracing::error!(error = %e, "The metrics server stopped.");
        }
    });
    ServingMetrics(task)
}

/// Stops the metrics server when dropped.
pub struct ServingMetrics(tokio::task::JoinHandle<()>);

impl Drop for ServingMetrics {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn off_or_an_address() {
        assert_eq!("off".parse(), Ok(MetricsListen::Off));
        assert_eq!(
            "0.0.0.0:9462".parse(),
            Ok(MetricsListen::At("0.0.0.0:9462".into()))
        );
        assert!("".parse::<MetricsListen>().is_err());
    }

    #[tokio::test]
    async fn off_or_no_default_binds_nothing_and_a_bad_address_is_an_error() {
        let any = Some("127.0.0.1:0");
        let off = MetricsListen::bind(Some(&MetricsListen::Off), any).await;
        assert!(off.expect("no error").is_none());
        let unasked = MetricsListen::bind(None, None).await;
        assert!(unasked.expect("no error").is_none());
        let default = MetricsListen::bind(None, any).await;
        assert!(default.expect("bound").is_some());
        let bad = MetricsListen::At("no-such-host.invalid:x".into());
        assert!(MetricsListen::bind(Some(&bad), any).await.is_err());
    }
}
