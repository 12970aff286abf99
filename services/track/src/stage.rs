//! [`Stage`]: the track stage over any [`DetectionSource`], as a
//! [`TrackSource`]. One [`ByteTrack`] per challenge, so ids start at 1 for
//! every challenge and concurrent challenges never share state.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures::StreamExt;
use sv_core::{DetectionSource, FrameTracks, TrackSource, TrackStream, VideoRequest};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tracing::Instrument;

use crate::bytetrack::{ByteTrack, ByteTrackConfig};

/// Cumulative time spent inside `ByteTrack::update`.
#[derive(Debug, Default)]
pub struct TrackStats {
    frames: AtomicU64,
    busy_ns: AtomicU64,
}

impl TrackStats {
    pub fn frames(&self) -> u64 {
        self.frames.load(Ordering::Relaxed)
    }
    pub fn busy(&self) -> Duration {
        Duration::from_nanos(self.busy_ns.load(Ordering::Relaxed))
    }
}

pub struct Stage<U> {
    upstream: U,
    config: ByteTrackConfig,
    stats: Arc<TrackStats>,
}

impl<U: DetectionSource> Stage<U> {
    pub fn new(upstream: U, config: ByteTrackConfig) -> Self {
        Self {
            upstream,
            config,
            stats: Arc::default(),
        }
    }

    pub fn stats(&self) -> &TrackStats {
        &self.stats
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
        let mut detections = self.upstream.detect(request);
        let mut tracker = ByteTrack::new(self.config.clone());
        let stats = self.stats.clone();
        let (tx, rx) = mpsc::channel(16);
        let work = async move {
            while let Some(item) = detections.next().await {
                let item = item.map(|frame| {
                    // Microseconds per frame: cheaper inline than a hop to a
                    // blocking thread.
                    let started = Instant::now();
                    let objects = tracker.update(&frame.detections);
                    stats
                        .busy_ns
                        .fetch_add(started.elapsed().as_nanos() as u64, Ordering::Relaxed);
                    stats.frames.fetch_add(1, Ordering::Relaxed);
                    FrameTracks {
                        index: frame.index,
                        objects,
                        keypoints: frame.keypoints,
                    }
                });
                let failed = item.is_err();
                if tx.send(item).await.is_err() || failed {
                    return; // caller left, or upstream failed and the error is passed on
                }
            }
        };
        tokio::spawn(work.instrument(span));
        Box::pin(ReceiverStream::new(rx))
    }
}
