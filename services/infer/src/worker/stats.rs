//! [`InferStats`]: what the inference pipeline has done, for summaries and
//! benchmarks. Step times are summed over threads, so with the steps
//! overlapping they add up to more than the wall time; `busy` is wall time.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Counters and summed step times, updated lock-free by the pipeline's
/// threads (the busy clock alone takes a lock, once per batch).
#[derive(Debug, Default)]
pub struct InferStats {
    frames: AtomicU64,
    /// Frames between keyframes (`--infer-interval`): no model ran on them.
    between_keyframes: AtomicU64,
    scene_cuts: AtomicU64,
    batches: AtomicU64,
    runs: AtomicU64,
    host_runs: AtomicU64,
    retried_runs: AtomicU64,
    preprocess_ns: AtomicU64,
    inference_ns: AtomicU64,
    postprocess_ns: AtomicU64,
    busy: Mutex<Busy>,
}

/// Wall time with at least one batch inside the pipeline.
#[derive(Debug, Default)]
struct Busy {
    in_flight: usize,
    since: Option<Instant>,
    total: Duration,
}

fn add(counter: &AtomicU64, time: Duration) {
    counter.fetch_add(
        u64::try_from(time.as_nanos()).unwrap_or(u64::MAX),
        Ordering::Relaxed,
    );
}

fn read(counter: &AtomicU64) -> Duration {
    Duration::from_nanos(counter.load(Ordering::Relaxed))
}

impl InferStats {
    /// Frames the models ran on, counted as their batch finishes
    /// (warm-up and failed batches included).
    pub fn frames(&self) -> u64 {
        self.frames.load(Ordering::Relaxed)
    }

    /// Frames between keyframes, answered by track without inference.
    pub fn between_keyframes(&self) -> u64 {
        self.between_keyframes.load(Ordering::Relaxed)
    }

    /// Scene cuts the keyframe decision found.
    pub fn scene_cuts(&self) -> u64 {
        self.scene_cuts.load(Ordering::Relaxed)
    }

    /// One video's frames between keyframes and scene cuts.
    pub(crate) fn add_between_keyframes(&self, frames: u64, cuts: u64) {
        self.between_keyframes.fetch_add(frames, Ordering::Relaxed);
        self.scene_cuts.fetch_add(cuts, Ordering::Relaxed);
    }

    /// Batches through the pipeline; a batch holds frames of any number of
    /// streams.
    pub fn batches(&self) -> u64 {
        self.batches.load(Ordering::Relaxed)
    }

    /// ONNX Runtime runs, both models, all lanes.
    pub fn runs(&self) -> u64 {
        self.runs.load(Ordering::Relaxed)
    }

    /// Runs whose input the letterbox wrote into the engine's own memory
    /// (page-locked beside a GPU, with I/O binding).
    pub fn host_runs(&self) -> u64 {
        self.host_runs.load(Ordering::Relaxed)
    }

    /// Runs that failed (out of memory, or any engine error) and were
    /// rerun in halves, the lane's batch lowered for the rest of the
    /// process (`crate::fit`). Nothing was lost to them unless a single
    /// image failed too.
    pub fn retried_runs(&self) -> u64 {
        self.retried_runs.load(Ordering::Relaxed)
    }

    /// Wall time during which the pipeline held at least one batch.
    pub fn busy(&self) -> Duration {
        let Ok(busy) = self.busy.lock() else {
            return Duration::ZERO;
        };
        busy.total + busy.since.map_or(Duration::ZERO, |s| s.elapsed())
    }

    /// Batches between the letterbox and their answer now.
    pub fn batches_in_pipeline(&self) -> usize {
        self.busy.lock().map_or(0, |busy| busy.in_flight)
    }

    /// Letterboxing time, summed over the preprocessing threads.
    pub fn preprocess(&self) -> Duration {
        read(&self.preprocess_ns)
    }

    /// ONNX Runtime `run` time, summed over the lanes.
    pub fn inference(&self) -> Duration {
        read(&self.inference_ns)
    }

    /// NMS and mapping back to frame pixels.
    pub fn postprocess(&self) -> Duration {
        read(&self.postprocess_ns)
    }

    pub(super) fn add_preprocess(&self, time: Duration) {
        add(&self.preprocess_ns, time);
    }

    /// One input run in `time`: `runs` engine runs, `host_runs` of them
    /// from the engine's own memory, `retried` failed and rerun in halves.
    pub(super) fn add_inference(
        &self,
        time: Duration,
        runs: usize,
        host_runs: usize,
        retried: usize,
    ) {
        add(&self.inference_ns, time);
        let count = |counter: &AtomicU64, n: usize| {
            counter.fetch_add(n as u64, Ordering::Relaxed);
        };
        count(&self.runs, runs);
        count(&self.host_runs, host_runs);
        count(&self.retried_runs, retried);
    }

    pub(super) fn add_postprocess(&self, time: Duration) {
        add(&self.postprocess_ns, time);
    }

    pub(super) fn batch_started(&self) {
        if let Ok(mut busy) = self.busy.lock() {
            if busy.in_flight == 0 {
                busy.since = Some(Instant::now());
            }
            busy.in_flight += 1;
        }
    }

    pub(super) fn batch_done(&self, frames: usize) {
        self.frames.fetch_add(frames as u64, Ordering::Relaxed);
        self.batches.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut busy) = self.busy.lock() {
            busy.in_flight = busy.in_flight.saturating_sub(1);
            if busy.in_flight == 0
                && let Some(since) = busy.since.take()
            {
                busy.total += since.elapsed();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn busy_stops_when_the_last_batch_leaves() {
        let stats = InferStats::default();
        stats.batch_started();
        stats.batch_started();
        stats.batch_done(3);
        // One batch is still inside: the clock runs.
        assert!(stats.busy.lock().unwrap().since.is_some());
        stats.batch_done(4);
        let end = stats.busy();
        // Nothing inside: the total is frozen.
        assert!(stats.busy.lock().unwrap().since.is_none());
        assert_eq!(stats.busy(), end);
        assert_eq!((stats.frames(), stats.batches()), (7, 2));
    }
}
