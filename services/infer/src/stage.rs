//! [`Stage`]: the infer stage over any [`FrameSource`], as a
//! [`DetectionSource`].

use futures::StreamExt;
use sv_core::{DetectionSource, DetectionStream, Frame, FrameSource, StageError, VideoRequest};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

use crate::config::InferConfig;
use crate::detector::Detector;
use crate::engine::{OrtEngine, SessionOptions};
use crate::error::InferError;
use crate::model::YoloModel;
use crate::runtime::{self, Provider};
use crate::worker::{InferStats, Worker};

pub struct Stage<U> {
    upstream: U,
    worker: Worker,
    batch_size: usize,
    provider: Provider,
}

impl<U: FrameSource> Stage<U> {
    /// Loads both models (ONNX Runtime, the configured providers) and starts
    /// the inference thread.
    pub fn new(upstream: U, config: &InferConfig) -> Result<Self, InferError> {
        let options = SessionOptions {
            library: runtime::find_library(config.ort_library.as_deref())?,
            providers: config.providers.clone(),
            intra_threads: config.intra_threads,
            engine_cache: config.engine_cache.clone(),
        };
        let open = |path: &std::path::Path, imgsz: u32| -> Result<YoloModel, InferError> {
            let engine = OrtEngine::open(path, &options)?;
            let (info, fixed) = (engine.info.clone(), engine.fixed_size);
            let name = path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            Ok(YoloModel::new(name, Box::new(engine), info, imgsz, fixed))
        };
        let players = open(&config.player_model, config.player_imgsz)?;
        let pitch = open(&config.pitch_model, config.pitch_imgsz)?;
        let provider = players.engine().provider();
        Ok(Self::with_detector(
            upstream,
            Detector::new(players, pitch)?,
            config.batch_size,
            provider,
        ))
    }

    /// Builds the stage around a ready detector (tests inject engines here).
    pub fn with_detector(
        upstream: U,
        detector: Detector,
        batch_size: usize,
        provider: Provider,
    ) -> Self {
        let batch_size = batch_size.max(1);
        Self {
            upstream,
            worker: Worker::spawn(detector, 2),
            batch_size,
            provider,
        }
    }

    /// Runs one grey frame through both models so the first challenge does
    /// not pay for lazy initialisation (and TensorRT engine builds).
    pub async fn warm_up(&self, width: u32, height: u32) -> Result<(), InferError> {
        let data = vec![114u8; (width * height * 3) as usize];
        self.worker
            .run(vec![Frame::rgb(0, width, height, data.into())])
            .await
            .map(|_| ())
    }

    pub fn provider(&self) -> Provider {
        self.provider
    }

    pub fn stats(&self) -> &InferStats {
        &self.worker.stats
    }
}

impl<U: FrameSource> DetectionSource for Stage<U> {
    fn detect(&self, request: VideoRequest) -> DetectionStream {
        let frames = self.upstream.frames(request);
        let worker = self.worker.clone();
        let (tx, rx) = mpsc::channel(self.batch_size * 2);
        // Takes whatever frames are ready, up to a batch: full batches when
        // decode is ahead, no waiting when it is behind.
        let mut batches = frames.ready_chunks(self.batch_size);
        tokio::spawn(async move {
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
                    match worker.run(batch).await {
                        Ok(detections) => {
                            for d in detections {
                                if tx.send(Ok(d)).await.is_err() {
                                    return; // the caller left: dropping `batches` stops decode
                                }
                            }
                        }
                        Err(e) => failure = Some(e.into()),
                    }
                }
                if let Some(e) = failure {
                    let _ = tx.send(Err(e)).await;
                    return;
                }
            }
        });
        Box::pin(ReceiverStream::new(rx))
    }
}
