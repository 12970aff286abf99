//! The series a stage server adds to its stage's own, under the same
//! `sv_<stage>` prefix: streams open, the limit, and streams refused at it.

use std::sync::Arc;

use prometheus_client::registry::Registry;
use sv_telemetry::metrics::{Sample, Sampled};

use super::limit::StreamLimitLayer;

/// The server's registry for `stage` ("decode", ...), reading `limit`.
pub(super) fn registry(stage: &str, limit: &StreamLimitLayer) -> Arc<Registry> {
    let mut registry = Registry::with_prefix(format!("sv_{stage}"));
    let open = limit.clone();
    registry.register_collector(Box::new(Sampled::new(
        "streams",
        "Stage streams open in this server",
        move || vec![Sample::plain(open.open() as f64)],
    )));
    let max = limit.max() as f64;
    registry.register_collector(Box::new(Sampled::new(
        "max_streams",
        "Stage streams this server serves at once (--max-streams)",
        move || vec![Sample::plain(max)],
    )));
    registry.register(
        "streams_refused",
        "Stage streams refused at the limit (RESOURCE_EXHAUSTED)",
        limit.refused().clone(),
    );
    Arc::new(registry)
}
