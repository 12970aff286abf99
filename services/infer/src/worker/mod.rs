//! The inference pipeline. ONNX Runtime's `run` blocks for tens of
//! milliseconds, so nothing here runs on a tokio worker: dedicated threads
//! letterbox, infer and postprocess concurrently (see `steps`), and batches
//! from every live challenge enter through one bounded queue (a full queue is
//! the backpressure).
//!
//! - [`Worker`]: the handle; [`Worker::submit`] queues a batch and returns
//!   its [`Pending`] answer, so a caller can keep several batches in flight.
//! - [`InferStats`] (`stats`): frames, batches and time per step; the
//!   Prometheus series are [`crate::metrics`]'s.

pub(crate) mod stats;
mod steps;
#[cfg(test)]
pub(crate) mod tests;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use sv_core::{Frame, FrameDetections};
use tokio::sync::{mpsc, oneshot};

pub use stats::InferStats;

use crate::config::WorkerConfig;
use crate::detector::Detector;
use crate::error::InferError;
use crate::metrics::InferMetrics;
use steps::Job;

/// A handle to the pipeline; cheap to clone. Its threads end when the last
/// handle is dropped, and that drop waits for them: the lanes release their
/// ONNX Runtime sessions (and GPU memory) before the process moves on, so
/// nothing of CUDA is still running while the process exits.
#[derive(Clone)]
pub struct Worker {
    // Field order matters: the queue closes before the threads are joined.
    jobs: mpsc::Sender<Job>,
    /// Counters and step times every thread of the pipeline adds to.
    pub stats: Arc<InferStats>,
    /// The pipeline's Prometheus series (`sv_infer_*`).
    pub metrics: InferMetrics,
    _threads: Arc<Threads>,
}

/// Joins the pipeline's threads when the last [`Worker`] goes.
struct Threads(Vec<std::thread::JoinHandle<()>>);

impl Drop for Threads {
    fn drop(&mut self) {
        for thread in self.0.drain(..) {
            if thread.join().is_err() {
                tracing::error!("An inference thread panicked.");
            }
        }
    }
}

impl Worker {
    /// Starts the pipeline with one ONNX Runtime lane per detector (each
    /// lane runs whichever model's input comes next).
    pub fn spawn(detectors: Vec<Detector>, config: WorkerConfig) -> Self {
        let (jobs, rx) = mpsc::channel::<Job>(config.queue.max(1));
        let stats = Arc::new(InferStats::default());
        let metrics = InferMetrics::new(&detectors, stats.clone());
        let threads = match steps::spawn(detectors, config, rx, stats.clone(), metrics.clone()) {
            Ok(threads) => threads,
            Err(e) => {
                // The queue's receiver is gone with the thread that failed
                // to start, so every request answers WorkerGone.
                tracing::error!(error = %e, "Starting the inference threads failed.");
                Vec::new()
            }
        };
        Self {
            jobs,
            stats,
            metrics,
            _threads: Arc::new(Threads(threads)),
        }
    }

    /// Queues `frames` (one batch), waiting while the queue is full, and
    /// returns the answer to await.
    pub async fn submit(&self, frames: Vec<Frame>) -> Result<Pending, InferError> {
        self.submit_job(frames, false).await
    }

    /// [`submit`](Self::submit) for a warm-up: its runs stay out of the
    /// metrics.
    pub async fn submit_warm_up(&self, frames: Vec<Frame>) -> Result<Pending, InferError> {
        self.submit_job(frames, true).await
    }

    async fn submit_job(&self, frames: Vec<Frame>, warm_up: bool) -> Result<Pending, InferError> {
        let (reply, answer) = oneshot::channel();
        let count = frames.len();
        self.metrics.queued(count);
        let job = Job {
            frames,
            reply,
            warm_up,
        };
        if self.jobs.send(job).await.is_err() {
            self.metrics.dequeued(count);
            return Err(InferError::WorkerGone);
        }
        Ok(Pending(answer))
    }

    /// Detects objects and keypoints in `frames` (one batch).
    pub async fn run(&self, frames: Vec<Frame>) -> Result<Vec<FrameDetections>, InferError> {
        self.submit(frames).await?.await
    }
}

/// A submitted batch's detections, in frame order.
pub struct Pending(oneshot::Receiver<Result<Vec<FrameDetections>, InferError>>);

impl Future for Pending {
    type Output = Result<Vec<FrameDetections>, InferError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.0)
            .poll(cx)
            .map(|answer| answer.unwrap_or(Err(InferError::WorkerGone)))
    }
}
