//! Prometheus metrics: what every stage and the gateway share.
//!
//! Each stage crate defines its own series in a `prometheus_client`
//! [`Registry`] prefixed `sv_<stage>` (`sv_decode_frames_total`, ...), the
//! gateway's naming style. This module is what they have in common:
//!
//! - [`Exposition`]: several registries rendered as one OpenMetrics text
//!   (one `# EOF`), so the embedded `serve` shows every stage's series on
//!   the gateway's `/metrics` beside its own.
//! - [`serve`]: `GET /metrics` on a listener of its own, for
//!   a stage server (`--metrics-listen`).
//! - [`Sampled`]: a gauge family read when scraped, for values that live
//!   elsewhere (streams open in a server, GPU memory).
//! - [`seconds_histogram`]: the buckets every time series uses.
//!
//! Labels carry only bounded sets (model, provider, lane, decoder, outcome,
//! kind): never a challenge id or a URL, so the series stay few however many
//! challenges pass.

mod sampled;
mod server;

use std::sync::{Arc, RwLock};

use prometheus_client::encoding::text::{encode_eof, encode_registry};
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

pub use sampled::{Sample, Sampled};
pub use server::serve;

/// The `Content-Type` of the text [`Exposition::render`] writes.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// A histogram of seconds: 15 buckets, each twice the one before, from
/// `smallest` (0.01: 10 ms to 164 s, a challenge's stages; 0.001: 1 ms to
/// 16 s, one inference run; 0.00001: 10 us to 0.16 s, one tracker update).
pub fn seconds_histogram(smallest: f64) -> Histogram {
    Histogram::new(exponential_buckets(smallest, 2.0, 15))
}

/// Registries rendered together, in the order they were included. Cheap to
/// clone; every clone sees what any clone includes.
#[derive(Clone, Default)]
pub struct Exposition {
    registries: Arc<RwLock<Vec<Arc<Registry>>>>,
}

impl Exposition {
    /// An exposition of one registry.
    pub fn new(registry: Arc<Registry>) -> Self {
        let exposition = Self::default();
        exposition.include(registry);
        exposition
    }

    /// Adds `registry` to what [`render`](Self::render) writes.
    pub fn include(&self, registry: Arc<Registry>) {
        if let Ok(mut registries) = self.registries.write() {
            registries.push(registry);
        }
    }

    /// Adds every registry of `other`.
    pub fn include_all(&self, other: &Exposition) {
        let theirs = other
            .registries
            .read()
            .map(|r| r.clone())
            .unwrap_or_default();
        for registry in theirs {
            self.include(registry);
        }
    }

    /// The OpenMetrics text of every registry, ended by one `# EOF`.
    pub fn render(&self) -> String {
        let mut text = String::new();
        if let Ok(registries) = self.registries.read() {
            for registry in registries.iter() {
                // Writing into a String cannot fail.
                let _ = encode_registry(&mut text, registry);
            }
        }
        let _ = encode_eof(&mut text);
        text
    }
}

#[cfg(test)]
mod tests {
    use prometheus_client::metrics::counter::Counter;

    use super::*;

    fn registry(prefix: &str, value: u64) -> Arc<Registry> {
        let counter = Counter::<u64>::default();
        counter.inc_by(value);
        let mut registry = Registry::with_prefix(prefix);
        registry.register("frames", "Frames", counter);
        Arc::new(registry)
    }

    #[test]
    fn several_registries_make_one_text_with_one_eof() {
        let exposition = Exposition::new(registry("sv_a", 3));
        let other = Exposition::new(registry("sv_b", 4));
        exposition.include_all(&other);
        let text = exposition.render();
        assert!(text.contains("sv_a_frames_total 3\n"), "{text}");
        assert!(text.contains("sv_b_frames_total 4\n"), "{text}");
        assert_eq!(text.matches("# EOF").count(), 1, "{text}");
        assert!(text.ends_with("# EOF\n"), "{text}");
        // A clone sees what is included later.
        let clone = other.clone();
        other.include(registry("sv_c", 5));
        assert!(clone.render().contains("sv_c_frames_total 5\n"));
    }

    #[test]
    fn an_empty_exposition_is_valid_openmetrics() {
        assert_eq!(Exposition::default().render(), "# EOF\n");
    }
}
