//! Prometheus metrics for the validator API.
//!
//! - `sv_gateway_challenges_total{outcome}`: every validator request, by outcome.
//! - `sv_gateway_stage_duration_seconds{stage}`: `queue` (waiting for a slot),
//!   `first_frame` (slot to first tracked frame), `total` (arrival to answer);
//!   other stages (`download`, `decode`, ...) report through
//!   [`Metrics::observe_stage`], the hook the pipeline calls.
//! - `sv_gateway_frames_total` (rate() of it is frames/s) and
//!   `sv_gateway_challenge_frames_per_second` (the last challenge's).
//! - `sv_gateway_in_flight`, `sv_gateway_queued`: slots in use, waiters.
//!
//! The embedded `serve` adds its stages' series ([`Metrics::include`]), so
//! one scrape of `/metrics` sees decode, infer and track too.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use sv_telemetry::metrics::{Exposition, seconds_histogram};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabel {
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StageLabel {
    stage: String,
}

fn stage_histogram() -> Histogram {
    // 10 ms .. ~164 s.
    seconds_histogram(0.01)
}

/// Cheap to clone; every clone updates the same series.
#[derive(Clone)]
pub struct Metrics {
    /// This registry, then whatever [`Metrics::include`] added.
    exposition: Exposition,
    challenges: Family<OutcomeLabel, Counter>,
    stages: Family<StageLabel, Histogram, fn() -> Histogram>,
    frames: Counter,
    fps: Gauge<f64, AtomicU64>,
    in_flight: Gauge,
    queued: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Registers the gateway's series, all at zero, under the `sv_gateway`
    /// prefix.
    pub fn new() -> Self {
        let challenges = Family::<OutcomeLabel, Counter>::default();
        let stages = Family::<StageLabel, Histogram, fn() -> Histogram>::new_with_constructor(
            stage_histogram,
        );
        let frames = Counter::default();
        let fps = Gauge::<f64, AtomicU64>::default();
        let in_flight = Gauge::default();
        let queued = Gauge::default();
        let mut registry = Registry::with_prefix("sv_gateway");
        registry.register(
            "challenges",
            "Validator challenge requests by outcome",
            challenges.clone(),
        );
        registry.register(
            "stage_duration_seconds",
            "Time spent per stage of a challenge",
            stages.clone(),
        );
        registry.register("frames", "Frames answered", frames.clone());
        registry.register(
            "challenge_frames_per_second",
            "Frames per second of the last answered challenge",
            fps.clone(),
        );
        registry.register("in_flight", "Challenges holding a slot", in_flight.clone());
        registry.register("queued", "Challenges waiting for a slot", queued.clone());
        Self {
            exposition: Exposition::new(Arc::new(registry)),
            challenges,
            stages,
            frames,
            fps,
            in_flight,
            queued,
        }
    }

    /// Counts one validator request with its outcome label (`ok`, or an
    /// [`Outcome`](crate::error::Outcome) of a rejection).
    pub fn count_outcome(&self, outcome: &str) {
        self.challenges
            .get_or_create(&OutcomeLabel {
                outcome: outcome.into(),
            })
            .inc();
    }

    /// Records how long one stage of one challenge took. The hook for stages
    /// the gateway cannot see itself (download, decode, inference).
    pub fn observe_stage(&self, stage: &str, seconds: f64) {
        self.stages
            .get_or_create(&StageLabel {
                stage: stage.into(),
            })
            .observe(seconds);
    }

    /// Counts the frames of one answered challenge, and sets the
    /// frames-per-second gauge from them and its `seconds` (left as it was
    /// when `seconds` is 0).
    pub fn record_frames(&self, frames: u64, seconds: f64) {
        self.frames.inc_by(frames);
        if seconds > 0.0 {
            self.fps.set(frames as f64 / seconds);
        }
    }

    /// Serves `stages`' series with the gateway's own (the embedded
    /// pipeline's decode, infer and track).
    pub fn include(&self, stages: &Exposition) {
        self.exposition.include_all(stages);
    }

    /// Prometheus text exposition, with the slot gauges set to `now`.
    pub fn render(&self, in_flight: usize, queued: usize) -> String {
        self.in_flight.set(in_flight as i64);
        self.queued.set(queued as i64);
        self.exposition.render()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_every_family() {
        let metrics = Metrics::new();
        metrics.count_outcome("ok");
        metrics.observe_stage("download", 0.5);
        metrics.record_frames(750, 5.0);
        let text = metrics.render(1, 2);
        for needle in [
            r#"sv_gateway_challenges_total{outcome="ok"} 1"#,
            r#"sv_gateway_stage_duration_seconds_count{stage="download"} 1"#,
            "sv_gateway_frames_total 750",
            "sv_gateway_challenge_frames_per_second 150",
            "sv_gateway_in_flight 1",
            "sv_gateway_queued 2",
        ] {
            assert!(text.contains(needle), "{needle} not in\n{text}");
        }
    }

    #[test]
    fn included_stage_series_are_served_with_the_gateway_s() {
        let metrics = Metrics::new();
        let frames = Counter::<u64>::default();
        frames.inc_by(50);
        let mut stage = Registry::with_prefix("sv_track");
        stage.register("frames", "Frames tracked", frames);
        metrics.include(&Exposition::new(Arc::new(stage)));
        let text = metrics.render(0, 0);
        assert!(text.contains("sv_gateway_in_flight 0\n"), "{text}");
        assert!(text.contains("sv_track_frames_total 50\n"), "{text}");
        assert_eq!(text.matches("# EOF").count(), 1, "{text}");
    }
}
