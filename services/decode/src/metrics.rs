//! [`DecodeMetrics`]: decode's Prometheus series, `sv_decode_*`.
//!
//! - `clips_total{outcome}`: videos finished (`ok`), stopped because their
//!   consumer left (`cancelled`) or failed (`failed`);
//!   `failures_total{kind}`: the failures by cause ([`DecodeError::label`]).
//! - `frames_total{decoder, hardware}`: frames handed on, by the GStreamer
//!   decoder that made them (`nvh264dec`, `avdec_h264`, ...) and whether
//!   it is a hardware one (NVDEC, VA-API, ...).
//! - `duration_seconds{hardware}`: time decoding a video (not waiting for
//!   bytes or for the consumer); `first_frame_seconds`: request to first
//!   frame; `download_seconds` and `first_byte_seconds`: request to the
//!   last and the first byte; `download_bytes_total`;
//!   `download_retries_total`. Times are of videos that finished.
//! - `in_flight`: videos being fetched or decoded now.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use sv_telemetry::metrics::{Exposition, Sample, Sampled, seconds_histogram};

use crate::error::DecodeError;
use crate::hardware;
use crate::stats::DecodeStats;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabel {
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabel {
    kind: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DecoderLabels {
    decoder: String,
    hardware: bool,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HardwareLabel {
    hardware: bool,
}

fn stage_seconds() -> Histogram {
    seconds_histogram(0.01)
}

/// Cheap to clone; every clone updates the same series.
#[derive(Clone)]
pub struct DecodeMetrics {
    registry: Arc<Registry>,
    clips: Family<OutcomeLabel, Counter>,
    failures: Family<KindLabel, Counter>,
    frames: Family<DecoderLabels, Counter>,
    duration: Family<HardwareLabel, Histogram, fn() -> Histogram>,
    first_frame: Histogram,
    download: Histogram,
    first_byte: Histogram,
    download_bytes: Counter,
}

impl DecodeMetrics {
    /// `retries`: the fetcher's count of download attempts retried;
    /// `in_flight`: the stage's count of videos in progress.
    pub fn new(retries: Counter, in_flight: Arc<AtomicUsize>) -> Self {
        let clips = Family::<OutcomeLabel, Counter>::default();
        let failures = Family::<KindLabel, Counter>::default();
        let frames = Family::<DecoderLabels, Counter>::default();
        let duration = Family::<HardwareLabel, Histogram, fn() -> Histogram>::new_with_constructor(
            stage_seconds,
        );
        let (first_frame, download, first_byte) =
            (stage_seconds(), stage_seconds(), stage_seconds());
        let download_bytes = Counter::default();
        let mut registry = Registry::with_prefix("sv_decode");
        registry.register("clips", "Videos by outcome", clips.clone());
        registry.register("failures", "Failed videos by cause", failures.clone());
        registry.register(
            "frames",
            "Frames handed on, by the decoder that made them",
            frames.clone(),
        );
        registry.register(
            "duration_seconds",
            "Time decoding a video, without waiting for bytes or the consumer",
            duration.clone(),
        );
        registry.register(
            "first_frame_seconds",
            "From the request to the first frame handed on",
            first_frame.clone(),
        );
        registry.register(
            "download_seconds",
            "From the request to the download's last byte",
            download.clone(),
        );
        registry.register(
            "first_byte_seconds",
            "From the request to the download's first byte",
            first_byte.clone(),
        );
        registry.register(
            "download_bytes",
            "Bytes of videos downloaded",
            download_bytes.clone(),
        );
        registry.register(
            "download_retries",
            "Download attempts retried after a transient failure",
            retries,
        );
        registry.register_collector(Box::new(Sampled::new(
            "in_flight",
            "Videos being fetched or decoded",
            move || vec![Sample::plain(in_flight.load(Ordering::SeqCst) as f64)],
        )));
        Self {
            registry: Arc::new(registry),
            clips,
            failures,
            frames,
            duration,
            first_frame,
            download,
            first_byte,
            download_bytes,
        }
    }

    /// The series, to serve.
    pub fn exposition(&self) -> Exposition {
        Exposition::new(self.registry.clone())
    }

    /// A video that ended without an error: decoded to its end, or
    /// stopped because its consumer left (`cancelled`; its times are not
    /// observed, they would say when the consumer left).
    pub fn finished(&self, stats: &DecodeStats, cancelled: bool) {
        let outcome = if cancelled { "cancelled" } else { "ok" };
        self.clips.get_or_create(&OutcomeLabel { outcome }).inc();
        let decoder = stats.decoder.clone().unwrap_or_else(|| "unknown".into());
        let hardware = hardware::is_hardware_decoder(&decoder);
        self.frames
            .get_or_create(&DecoderLabels { decoder, hardware })
            .inc_by(stats.frames);
        self.download_bytes.inc_by(stats.bytes);
        if cancelled {
            return;
        }
        self.duration
            .get_or_create(&HardwareLabel { hardware })
            .observe(stats.busy.as_secs_f64());
        if let Some(first) = stats.first_frame {
            self.first_frame.observe(first.as_secs_f64());
        }
        if let Some(first) = stats.first_byte {
            self.first_byte.observe(first.as_secs_f64());
            self.download.observe(stats.download.as_secs_f64());
        }
    }

    /// A video that failed, and why.
    pub fn failed(&self, error: &DecodeError) {
        let outcome = "failed";
        self.clips.get_or_create(&OutcomeLabel { outcome }).inc();
        let kind = error.label();
        self.failures.get_or_create(&KindLabel { kind }).inc();
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::fetch::FetchError;

    #[test]
    fn a_video_s_figures_land_in_their_series() {
        crate::pipeline::init(&crate::DecodeConfig::default()).expect("GStreamer");
        let in_flight = Arc::new(AtomicUsize::new(1));
        let retries = Counter::default();
        let metrics = DecodeMetrics::new(retries.clone(), in_flight);
        let stats = DecodeStats {
            frames: 50,
            bytes: 1000,
            download: Duration::from_millis(300),
            first_byte: Some(Duration::from_millis(20)),
            first_frame: Some(Duration::from_millis(80)),
            busy: Duration::from_millis(900),
            decoder: Some("avdec_h264".into()),
            ..DecodeStats::default()
        };
        metrics.finished(&stats, false);
        metrics.finished(&stats, true);
        metrics.failed(&DecodeError::Fetch(FetchError::TooLarge {
            url: "http://example.com/a.mp4".into(),
            limit: 1,
            declared: None,
        }));
        retries.inc();
        let text = metrics.exposition().render();
        for line in [
            "sv_decode_clips_total{outcome=\"ok\"} 1\n",
            "sv_decode_clips_total{outcome=\"cancelled\"} 1\n",
            "sv_decode_clips_total{outcome=\"failed\"} 1\n",
            "sv_decode_failures_total{kind=\"download_too_large\"} 1\n",
            "sv_decode_frames_total{decoder=\"avdec_h264\",hardware=\"false\"} 100\n",
            "sv_decode_duration_seconds_count{hardware=\"false\"} 1\n",
            "sv_decode_duration_seconds_sum{hardware=\"false\"} 0.9\n",
            "sv_decode_first_frame_seconds_count 1\n",
            "sv_decode_download_seconds_sum 0.3\n",
            "sv_decode_first_byte_seconds_count 1\n",
            "sv_decode_download_bytes_total 2000\n",
            "sv_decode_download_retries_total 1\n",
            "sv_decode_in_flight 1.0\n",
        ] {
            assert!(text.contains(line), "{line:?} not in\n{text}");
        }
        // Nothing names the video.
        assert!(!text.contains("example.com"), "{text}");
    }
}
