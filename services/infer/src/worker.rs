//! The inference thread. ONNX Runtime's `run` blocks for tens of
//! milliseconds, so it never runs on a tokio worker: one dedicated thread
//! owns the [`Detector`] and serves batches from every live challenge
//! through a bounded queue (a full queue is the backpressure).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use sv_core::{Frame, FrameDetections};
use tokio::sync::{mpsc, oneshot};

use crate::detector::Detector;
use crate::error::InferError;

type Reply = oneshot::Sender<Result<Vec<FrameDetections>, InferError>>;

struct Job {
    frames: Vec<Frame>,
    reply: Reply,
}

/// Cumulative work done by the inference thread.
#[derive(Debug, Default)]
pub struct InferStats {
    frames: AtomicU64,
    batches: AtomicU64,
    busy_ns: AtomicU64,
}

impl InferStats {
    pub fn frames(&self) -> u64 {
        self.frames.load(Ordering::Relaxed)
    }
    pub fn batches(&self) -> u64 {
        self.batches.load(Ordering::Relaxed)
    }
    /// Time spent preprocessing, running and postprocessing.
    pub fn busy(&self) -> Duration {
        Duration::from_nanos(self.busy_ns.load(Ordering::Relaxed))
    }
}

/// A handle to the inference thread; cheap to clone. The thread ends when
/// the last handle is dropped.
#[derive(Clone)]
pub struct Worker {
    jobs: mpsc::Sender<Job>,
    pub stats: Arc<InferStats>,
}

impl Worker {
    pub fn spawn(mut detector: Detector, queue: usize) -> Self {
        let (jobs, mut rx) = mpsc::channel::<Job>(queue.max(1));
        let stats = Arc::new(InferStats::default());
        let counters = stats.clone();
        std::thread::Builder::new()
            .name("sv-infer".into())
            .spawn(move || {
                while let Some(job) = rx.blocking_recv() {
                    if job.reply.is_closed() {
                        continue; // the challenge was cancelled while queued
                    }
                    let started = Instant::now();
                    let result = detector.detect(&job.frames);
                    counters
                        .busy_ns
                        .fetch_add(started.elapsed().as_nanos() as u64, Ordering::Relaxed);
                    counters
                        .frames
                        .fetch_add(job.frames.len() as u64, Ordering::Relaxed);
                    counters.batches.fetch_add(1, Ordering::Relaxed);
                    let _ = job.reply.send(result);
                }
            })
            .expect("spawning the inference thread");
        Self { jobs, stats }
    }

    /// Detects objects and keypoints in `frames` (one batch).
    pub async fn run(&self, frames: Vec<Frame>) -> Result<Vec<FrameDetections>, InferError> {
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send(Job { frames, reply })
            .await
            .map_err(|_| InferError::WorkerGone)?;
        answer.await.map_err(|_| InferError::WorkerGone)?
    }
}
