//! [`Stage`]: the infer stage over any [`FrameSource`], as a
//! [`DetectionSource`]. With an infer interval of 2 or more it runs the
//! models on keyframes only ([`crate::keyframes`]) and marks the frames
//! between them for track to fill.

use std::pin::Pin;
use std::time::Duration;

use futures::{Stream, StreamExt};
use sv_core::{DetectionSource, DetectionStream, Frame, FrameSource, StageError, VideoRequest};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tracing::Instrument;

use crate::config::{InferConfig, Resolved, WorkerConfig};
use crate::detector::{Detector, ProviderReport};
use crate::error::InferError;
use crate::fit::{self, BatchFit, WarmUp};
use crate::keyframes::{Keyframes, SCENE_CUT_THRESHOLD};
use crate::metrics::{InferMetrics, gpu};
use crate::runtime::Provider;
use crate::worker::{InferStats, Pending, Worker};
use submit::{Order, in_order, submissions};

mod submit;
#[cfg(test)]
mod tests;

/// The infer stage: pulls frames from the upstream `U` (decode, in
/// process or remote), batches them through the worker's lanes, and
/// streams each frame's detections and pitch keypoints in frame order.
pub struct Stage<U> {
    upstream: U,
    worker: Worker,
    batch_size: usize,
    in_flight: usize,
    lanes: usize,
    provider: Provider,
    /// The device profile the stage runs with (`None` when built around
    /// injected detectors).
    resolved: Option<Resolved>,
    report: ProviderReport,
    /// How long a batch waits to fill once its first frame is in (padded
    /// batches only: a GPU computes the padding too, so a frame or two
    /// padded to eight wastes most of a run). `None`: whatever is ready.
    batch_wait: Option<Duration>,
    /// The models run on one frame in this many ([`InferConfig::infer_interval`]).
    infer_interval: u32,
}

/// Most frames taken from decode at once beyond one batch (a batch's worth
/// of keyframes at a long interval; the chunkers allocate room for this
/// many up front).
const MAX_CHUNK: usize = 256;

/// What the forwarding task receives, in frame order.
enum Next {
    /// Consecutive frames: the keyframes' answers come from `batch` (in the
    /// pipeline, with its span, open from submission to answer), the
    /// frames between keyframes are marked; `order` says which is which.
    Frames {
        batch: Option<(Pending, tracing::Span)>,
        order: Vec<Order>,
    },
    Failed(StageError),
}

impl<U: FrameSource> Stage<U> {
    /// Loads both models once per lane (ONNX Runtime, the configured
    /// providers; see [`InferConfig::lanes`]) and starts the pipeline
    /// threads.
    pub fn new(upstream: U, config: &InferConfig) -> Result<Self, InferError> {
        let mut resolved = config.resolve()?;
        tracing::info!(profile = %resolved, "Device profile.");
        let mut lanes = Detector::open_lanes(config, &resolved)?;
        let report = match config.warm_up {
            Some(size) => {
                let plan = WarmUp {
                    size,
                    batch: resolved.batch_size,
                    lane_devices: resolved.lane_devices(),
                    memory_limit_mb: resolved.memory_limit_mb,
                };
                let (report, fit) = fit::warm_up(&mut lanes, &plan)?;
                resolved.fit = Some(fit);
                report
            }
            None => lanes
                .first_mut()
                .map(Detector::provider_report)
                .unwrap_or_default(),
        };
        if let Some(fit) = resolved.fit.as_ref().filter(|f| f.lowered()) {
            tracing::warn!(profile = %resolved, %fit, "Memory held batches below the profile's.");
        }
        tracing::info!(providers = %report, "Models ready.");
        let provider = lanes
            .first()
            .map_or(resolved.provider, |d| d.players.engine().provider());
        // Batches no larger than the largest any lane runs at once: a
        // bigger one would only wait for frames to be split.
        let batch = resolved
            .fit
            .as_ref()
            .and_then(BatchFit::largest)
            .map_or(resolved.batch_size, |b| b.min(resolved.batch_size));
        let worker = WorkerConfig {
            prep_threads: resolved.prep_threads,
            pad_to: resolved.pad_batches.then_some(batch),
            ..config.worker
        };
        let mut stage = Self::with_lanes(upstream, lanes, batch, worker, provider);
        if provider.is_gpu()
            && let Some(source) = gpu::open(&resolved.devices)
        {
            let registry = gpu::registry(source, &resolved.devices);
            stage.worker.metrics.include(registry);
        }
        if resolved.pad_batches {
            stage.batch_wait = Some(config.batch_wait);
        }
        stage.infer_interval = config.infer_interval.max(1);
        stage.resolved = Some(resolved);
        stage.report = report;
        Ok(stage)
    }

    /// Builds the stage around a ready detector (tests inject engines here).
    pub fn with_detector(
        upstream: U,
        detector: Detector,
        batch_size: usize,
        provider: Provider,
    ) -> Self {
        Self::with_lanes(
            upstream,
            vec![detector],
            batch_size,
            WorkerConfig::default(),
            provider,
        )
    }

    /// Builds the stage around ready detectors, one ONNX Runtime lane each.
    pub fn with_lanes(
        upstream: U,
        lanes: Vec<Detector>,
        batch_size: usize,
        worker: WorkerConfig,
        provider: Provider,
    ) -> Self {
        let count = lanes.len();
        Self {
            upstream,
            worker: Worker::spawn(lanes, worker),
            batch_size: batch_size.max(1),
            in_flight: worker.in_flight.max(1),
            lanes: count,
            provider,
            resolved: None,
            report: ProviderReport::default(),
            batch_wait: None,
            infer_interval: 1,
        }
    }

    /// Runs the models on one frame in `interval` (see
    /// [`InferConfig::infer_interval`]); 1 (or 0): every frame.
    pub fn with_infer_interval(mut self, interval: u32) -> Self {
        self.infer_interval = interval.max(1);
        self
    }

    /// Batches wait up to `wait` after their first frame to fill (see
    /// [`InferConfig::batch_wait`]); `None` takes whatever is ready.
    pub fn with_batch_wait(mut self, wait: Option<Duration>) -> Self {
        self.batch_wait = wait;
        self
    }

    /// Runs a grey frame of another size through the pipeline (the stage
    /// already warmed every lane at [`InferConfig::warm_up`]).
    pub async fn warm_up(&self, width: u32, height: u32) -> Result<(), InferError> {
        let data: bytes::Bytes = vec![114u8; (width * height * 3) as usize].into();
        let mut pending = Vec::with_capacity(self.lanes);
        for _ in 0..self.lanes {
            let frame = Frame::rgb(0, width, height, data.clone());
            pending.push(self.worker.submit_warm_up(vec![frame]).await?);
        }
        for answer in pending {
            answer.await?;
        }
        Ok(())
    }

    /// The execution provider the first lane's player model runs on (on
    /// a GPU the stage adds the `sv_infer_gpu_*` series).
    pub fn provider(&self) -> Provider {
        self.provider
    }

    /// The device profile in effect (batch size, lanes, precision, ...).
    pub fn profile(&self) -> Option<&Resolved> {
        self.resolved.as_ref()
    }

    /// Which provider each model runs on, with its node placement when
    /// the warm-up recorded it.
    pub fn provider_report(&self) -> &ProviderReport {
        &self.report
    }

    /// Counters and step times of the pipeline, since the stage started.
    pub fn stats(&self) -> &InferStats {
        &self.worker.stats
    }

    /// The stage's Prometheus series (`sv_infer_*`).
    pub fn metrics(&self) -> &InferMetrics {
        &self.worker.metrics
    }
}

impl<U: FrameSource> DetectionSource for Stage<U> {
    fn detect(&self, mut request: VideoRequest) -> DetectionStream {
        // One span per challenge, joined to the caller's trace; decode joins
        // this one, and every batch is a child.
        let span = sv_telemetry::stage_span(
            tracing::info_span!("infer", challenge_id = %request.challenge_id),
            &mut request.trace,
        );
        let challenge_id = request.challenge_id.clone();
        let frames = self.upstream.frames(request);
        let worker = self.worker.clone();
        let metrics = self.worker.metrics.clone();
        let (tx, rx) = mpsc::channel(self.batch_size * 2);
        // Answers are awaited by a second task, so up to `in_flight` batches
        // of this video are in the pipeline at once.
        let (next_tx, mut next_rx) = mpsc::channel::<Next>(self.in_flight);
        let forward = async move {
            while let Some(next) = next_rx.recv().await {
                let answer = match next {
                    Next::Frames { batch, order } => match batch {
                        Some((pending, span)) => pending
                            .instrument(span)
                            .await
                            .map_err(StageError::from)
                            .and_then(|answers| in_order(answers, order)),
                        None => in_order(Vec::new(), order),
                    },
                    Next::Failed(e) => Err(e),
                };
                match answer {
                    Ok(detections) => {
                        for d in detections {
                            metrics.answered(d.between_keyframes);
                            if tx.send(Ok(d)).await.is_err() {
                                return; // the caller left; dropping next_rx stops the submitter
                            }
                        }
                    }
                    Err(e) => {
                        let _ = tx.send(Err(e)).await;
                        return;
                    }
                }
            }
        };
        tokio::spawn(forward.instrument(span.clone()));
        // Takes whatever frames are ready, up to a batch of keyframes: full
        // batches when decode is ahead, no waiting when it is behind. Padded
        // batches wait a little for their frames instead (see `batch_wait`).
        let interval = self.infer_interval;
        let chunk =
            (self.batch_size.saturating_mul(interval as usize)).min(MAX_CHUNK.max(self.batch_size));
        let mut chunks: Pin<Box<dyn Stream<Item = Vec<_>> + Send>> = match self.batch_wait {
            Some(wait) => Box::pin(tokio_stream::StreamExt::chunks_timeout(frames, chunk, wait)),
            None => Box::pin(frames.ready_chunks(chunk)),
        };
        let batch_size = self.batch_size;
        // A padded run costs a full batch: between keyframes, a short batch
        // waits for the next chunk's keyframes instead of running half empty.
        let hold_short = self.batch_wait.is_some() && interval > 1;
        let stats = self.worker.stats.clone();
        let submit = async move {
            let mut keyframes = Keyframes::new(interval, SCENE_CUT_THRESHOLD);
            let mut slots = Vec::new();
            let mut ended = false;
            while !ended {
                let mut failure: Option<StageError> = None;
                match chunks.next().await {
                    Some(items) => {
                        for item in items {
                            match item {
                                Ok(frame) => keyframes.push(frame, &mut slots),
                                Err(e) => {
                                    failure = Some(e);
                                    break;
                                }
                            }
                        }
                    }
                    None => {
                        keyframes.finish(&mut slots);
                        ended = true;
                    }
                }
                let mut ready = submissions(slots.drain(..), batch_size);
                if hold_short
                    && !ended
                    && let Some(short) = ready.pop_if(|s| s.keyframes.len() < batch_size)
                {
                    slots.extend(short.into_slots());
                }
                for submission in ready {
                    let batch = match submission.keyframes.len() {
                        0 => None,
                        frames => {
                            let span = tracing::info_span!(
                                "infer_batch",
                                challenge_id = %challenge_id,
                                frames
                            );
                            match worker.submit(submission.keyframes).await {
                                Ok(pending) => Some((pending, span)),
                                Err(e) => {
                                    failure = Some(e.into());
                                    break;
                                }
                            }
                        }
                    };
                    let next = Next::Frames {
                        batch,
                        order: submission.order,
                    };
                    if next_tx.send(next).await.is_err() {
                        return; // the caller left: dropping `chunks` stops decode
                    }
                }
                if let Some(e) = failure {
                    let _ = next_tx.send(Next::Failed(e)).await;
                    return;
                }
            }
            let counts = keyframes.counts();
            stats.add_between_keyframes(counts.between, counts.cuts);
            worker.metrics.scene_cuts(counts.cuts);
            if interval > 1 {
                tracing::info!(
                    challenge_id = %challenge_id,
                    keyframes = counts.keyframes,
                    between = counts.between,
                    cuts = counts.cuts,
                    "Keyframes chosen."
                );
            }
        };
        tokio::spawn(submit.instrument(span));
        Box::pin(ReceiverStream::new(rx))
    }
}
