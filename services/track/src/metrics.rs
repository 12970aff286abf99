//! [`TrackMetrics`]: track's Prometheus series, `sv_track_*`.
//!
//! - `frames_total`: frames answered; `filled_frames_total`: those answered
//!   from the keyframes on either side (`--infer-interval`).
//! - `frame_seconds`: time per frame received from infer (the tracker's
//!   update, and filling the frames it completes).
//! - `active_tracks`: tracks being followed now, over every live challenge;
//!   `in_flight`: challenges being tracked now.

use std::sync::Arc;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use sv_telemetry::metrics::{Exposition, seconds_histogram};

/// Cheap to clone; every clone updates the same series.
#[derive(Clone)]
pub struct TrackMetrics {
    registry: Arc<Registry>,
    frames: Counter,
    filled: Counter,
    frame_seconds: Histogram,
    active_tracks: Gauge,
    in_flight: Gauge,
}

impl Default for TrackMetrics {
    fn default() -> Self {
        Self::new()
    }
}

impl TrackMetrics {
    /// Fresh series at zero, in a registry of their own (`sv_track_*`).
    pub fn new() -> Self {
        let (frames, filled) = (Counter::default(), Counter::default());
        // 10 us .. 0.16 s: an update takes microseconds.
        let frame_seconds = seconds_histogram(0.00001);
        let (active_tracks, in_flight) = (Gauge::default(), Gauge::default());
        let mut registry = Registry::with_prefix("sv_track");
        registry.register("frames", "Frames answered", frames.clone());
        registry.register(
            "filled_frames",
            "Frames answered from the keyframes on either side",
            filled.clone(),
        );
        registry.register(
            "frame_seconds",
            "Time per frame received from infer",
            frame_seconds.clone(),
        );
        registry.register(
            "active_tracks",
            "Tracks followed now, over every live challenge",
            active_tracks.clone(),
        );
        registry.register("in_flight", "Challenges being tracked", in_flight.clone());
        Self {
            registry: Arc::new(registry),
            frames,
            filled,
            frame_seconds,
            active_tracks,
            in_flight,
        }
    }

    /// The series, to serve.
    pub fn exposition(&self) -> Exposition {
        Exposition::new(self.registry.clone())
    }

    /// One challenge's share of the gauges, for as long as it lives.
    pub(crate) fn challenge(&self) -> Challenge {
        self.in_flight.inc();
        Challenge {
            metrics: self.clone(),
            tracks: 0,
        }
    }
}

/// A live challenge: counted in `in_flight`, its tracks in `active_tracks`
/// until it is dropped.
pub(crate) struct Challenge {
    metrics: TrackMetrics,
    tracks: i64,
}

impl Challenge {
    /// One frame from infer took `seconds`; it completed `answered`
    /// frames, `filled` of them from keyframes, and the tracker now
    /// follows `tracks`.
    pub fn frame(&mut self, seconds: f64, answered: usize, filled: u64, tracks: usize) {
        let m = &self.metrics;
        m.frame_seconds.observe(seconds);
        m.frames.inc_by(answered as u64);
        m.filled.inc_by(filled);
        let tracks = i64::try_from(tracks).unwrap_or(i64::MAX);
        m.active_tracks.inc_by(tracks - self.tracks);
        self.tracks = tracks;
    }

    /// Frames answered when the stream ended (those still waiting for a
    /// keyframe), `filled` of them from keyframes.
    pub fn finished(&self, answered: usize, filled: u64) {
        self.metrics.frames.inc_by(answered as u64);
        self.metrics.filled.inc_by(filled);
    }
}

impl Drop for Challenge {
    fn drop(&mut self) {
        self.metrics.active_tracks.dec_by(self.tracks);
        self.metrics.in_flight.dec();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_challenge_s_tracks_leave_the_gauge_with_it() {
        let metrics = TrackMetrics::new();
        let mut a = metrics.challenge();
        let mut b = metrics.challenge();
        a.frame(0.001, 1, 0, 5);
        b.frame(0.002, 1, 0, 3);
        a.frame(0.001, 3, 2, 4);
        a.finished(1, 1);
        let text = metrics.exposition().render();
        for line in [
            "sv_track_active_tracks 7\n",
            "sv_track_in_flight 2\n",
            "sv_track_frames_total 6\n",
            "sv_track_filled_frames_total 3\n",
            "sv_track_frame_seconds_count 3\n",
        ] {
            assert!(text.contains(line), "{line:?} not in\n{text}");
        }
        drop(a);
        let text = metrics.exposition().render();
        assert!(text.contains("sv_track_active_tracks 3\n"), "{text}");
        assert!(text.contains("sv_track_in_flight 1\n"), "{text}");
        drop(b);
        assert!(
            metrics
                .exposition()
                .render()
                .contains("sv_track_active_tracks 0\n")
        );
    }
}
