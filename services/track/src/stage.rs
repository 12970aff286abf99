//! [`Stage`]: the track stage over any [`DetectionSource`], as a
//! [`TrackSource`]. One [`ByteTrack`] per challenge, so ids start at 1 for
//! every challenge and concurrent challenges never share state; frames
//! infer marked as between keyframes are filled from the keyframes on
//! either side ([`crate::fill`]).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures::StreamExt;
use sv_core::{DetectionSource, FrameTracks, TrackSource, TrackStream, VideoRequest};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tracing::Instrument;

use crate::bytetrack::{ByteTrack, ByteTrackConfig};
use crate::fill::{Filler, OneSided};
use crate::metrics::TrackMetrics;

/// Cumulative time spent tracking and filling.
#[derive(Debug, Default)]
pub struct TrackStats {
    frames: AtomicU64,
    filled: AtomicU64,
    busy_ns: AtomicU64,
}

impl TrackStats {
    /// Frames answered, over every challenge (filled ones included).
    pub fn frames(&self) -> u64 {
        self.frames.load(Ordering::Relaxed)
    }
    /// Frames answered from the keyframes on either side.
    pub fn filled(&self) -> u64 {
        self.filled.load(Ordering::Relaxed)
    }
    /// Time spent updating trackers and filling frames, summed over every
    /// challenge (not wall time: concurrent challenges add up).
    pub fn busy(&self) -> Duration {
        Duration::from_nanos(self.busy_ns.load(Ordering::Relaxed))
    }
}

/// The track stage over the detections from `U`: a [`TrackSource`] that
/// runs one fresh [`ByteTrack`] per challenge.
pub struct Stage<U> {
    upstream: U,
    config: ByteTrackConfig,
    one_sided: OneSided,
    stats: Arc<TrackStats>,
    metrics: TrackMetrics,
}

impl<U: DetectionSource> Stage<U> {
    /// Tracks `upstream`'s detections with trackers built from `config`;
    /// its statistics and series start at zero.
    pub fn new(upstream: U, config: ByteTrackConfig) -> Self {
        Self {
            upstream,
            config,
            one_sided: OneSided::default(),
            stats: Arc::default(),
            metrics: TrackMetrics::new(),
        }
    }

    /// How a track seen in one keyframe only fills the frames near it
    /// (default: [`OneSided::default`], chosen by measurement).
    pub fn with_one_sided(mut self, one_sided: OneSided) -> Self {
        self.one_sided = one_sided;
        self
    }

    /// The stage's running totals (frames, filled frames, busy time).
    pub fn stats(&self) -> &TrackStats {
        &self.stats
    }

    /// The stage's Prometheus series (`sv_track_*`).
    pub fn metrics(&self) -> &TrackMetrics {
        &self.metrics
    }
}

impl<U: DetectionSource> TrackSource for Stage<U> {
    fn track(&self, mut request: VideoRequest) -> TrackStream {
        // One span per challenge, joined to the caller's trace; infer joins
        // this one.
        let span = sv_telemetry::stage_span(
            tracing::info_span!("track", challenge_id = %request.challenge_id),
            &mut request.trace,
        );
        let challenge_id = request.challenge_id.clone();
        let mut detections = self.upstream.detect(request);
        let mut filler = Filler::new(ByteTrack::new(self.config.clone()), self.one_sided);
        let stats = self.stats.clone();
        let metrics = self.metrics.clone();
        let (tx, rx) = mpsc::channel(16);
        let work = async move {
            let mut live = metrics.challenge();
            let mut done: Vec<FrameTracks> = Vec::new();
            loop {
                let next = detections.next().await;
                let ended = next.is_none();
                let received = matches!(next, Some(Ok(_)));
                // Microseconds per frame: cheaper inline than a hop to a
                // blocking thread.
                let started = Instant::now();
                let filled = filler.filled();
                let failure = match next {
                    Some(Ok(frame)) => {
                        filler.push(frame, &mut done);
                        None
                    }
                    Some(Err(e)) => Some(e),
                    None => {
                        filler.finish(&mut done);
                        None
                    }
                };
                let took = started.elapsed();
                let filled = filler.filled() - filled;
                stats
                    .busy_ns
                    .fetch_add(took.as_nanos() as u64, Ordering::Relaxed);
                stats.frames.fetch_add(done.len() as u64, Ordering::Relaxed);
                stats.filled.fetch_add(filled, Ordering::Relaxed);
                // Counted before the frames go: whoever reads them all has
                // the series up to date.
                if received {
                    let tracks = filler.active_tracks();
                    live.frame(took.as_secs_f64(), done.len(), filled, tracks);
                } else {
                    live.finished(done.len(), filled);
                }
                for frame in done.drain(..) {
                    if tx.send(Ok(frame)).await.is_err() {
                        return; // the caller left
                    }
                }
                if let Some(e) = failure {
                    let _ = tx.send(Err(e)).await; // upstream failed: passed on
                    return;
                }
                if ended {
                    if filler.filled() > 0 {
                        tracing::info!(
                            challenge_id = %challenge_id,
                            filled = filler.filled(),
                            "Frames between keyframes filled."
                        );
                    }
                    return;
                }
            }
        };
        tokio::spawn(work.instrument(span));
        Box::pin(ReceiverStream::new(rx))
    }
}
