//! [`Stage`]: the infer stage over any [`FrameSource`], as a
//! [`DetectionSource`].

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
use crate::runtime::Provider;
use crate::worker::{InferStats, Pending, Worker};

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
}

/// What the forwarding task receives, in frame order.
enum Next {
    /// A batch in the pipeline, with its span (open from submission to answer).
    Batch(Pending, tracing::Span),
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
        if resolved.pad_batches {
            stage.batch_wait = Some(config.batch_wait);
        }
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
        }
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
            pending.push(self.worker.submit(vec![frame]).await?);
        }
        for answer in pending {
            answer.await?;
        }
        Ok(())
    }

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

    pub fn stats(&self) -> &InferStats {
        &self.worker.stats
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
        let (tx, rx) = mpsc::channel(self.batch_size * 2);
        // Answers are awaited by a second task, so up to `in_flight` batches
        // of this video are in the pipeline at once.
        let (next_tx, mut next_rx) = mpsc::channel::<Next>(self.in_flight);
        let forward = async move {
            while let Some(next) = next_rx.recv().await {
                let answer = match next {
                    Next::Batch(pending, span) => {
                        pending.instrument(span).await.map_err(StageError::from)
                    }
                    Next::Failed(e) => Err(e),
                };
                match answer {
                    Ok(detections) => {
                        for d in detections {
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
        // Takes whatever frames are ready, up to a batch: full batches when
        // decode is ahead, no waiting when it is behind. Padded batches wait
        // a little for their frames instead (see `batch_wait`).
        let mut batches: Pin<Box<dyn Stream<Item = Vec<_>> + Send>> = match self.batch_wait {
            Some(wait) => Box::pin(tokio_stream::StreamExt::chunks_timeout(
                frames,
                self.batch_size,
                wait,
            )),
            None => Box::pin(frames.ready_chunks(self.batch_size)),
        };
        let submit = async move {
            while let Some(items) = batches.next().await {
                let mut batch = Vec::with_capacity(items.len());
                let mut failure: Option<StageError> = None;
                for item in items {
                    match item {
                        Ok(frame) => batch.push(frame),
                        Err(e) => {
                            failure = Some(e);
                            break;
                        }
                    }
                }
                if !batch.is_empty() {
                    let batch_span = tracing::info_span!(
                        "infer_batch",
                        challenge_id = %challenge_id,
                        frames = batch.len()
                    );
                    let next = match worker.submit(batch).await {
                        Ok(pending) => Next::Batch(pending, batch_span),
                        Err(e) => Next::Failed(e.into()),
                    };
                    if next_tx.send(next).await.is_err() {
                        return; // the caller left: dropping `batches` stops decode
                    }
                }
                if let Some(e) = failure {
                    let _ = next_tx.send(Next::Failed(e)).await;
                    return;
                }
            }
        };
        tokio::spawn(submit.instrument(span));
        Box::pin(ReceiverStream::new(rx))
    }
}
