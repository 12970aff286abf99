//! [`Detector`]: the two models the reference miner runs on every frame,
//! the player detector and the pitch keypoint model.

use std::path::Path;

use sv_core::{Frame, FrameDetections};

use crate::config::{InferConfig, Resolved};
use crate::engine::{OrtEngine, SessionOptions};
use crate::error::InferError;
use crate::metadata::Task;
use crate::model::YoloModel;
use crate::runtime;
use crate::worker::assemble;

pub struct Detector {
    pub players: YoloModel,
    pub pitch: YoloModel,
}

impl Detector {
    pub fn new(players: YoloModel, pitch: YoloModel) -> Result<Self, InferError> {
        let wrong = |model: &str, want: &str| InferError::Metadata {
            model: model.into(),
            key: "task".into(),
            why: format!("must be {want}"),
        };
        if players.info().task != Task::Detect {
            return Err(wrong("player model", "detect"));
        }
        if pitch.info().task != Task::Pose {
            return Err(wrong("pitch model", "pose"));
        }
        Ok(Self { players, pitch })
    }

    /// One detector per ONNX Runtime lane, as `config` says (providers,
    /// inference sizes), laid out as `resolved` says (lanes, threads).
    pub fn open_lanes(config: &InferConfig, resolved: &Resolved) -> Result<Vec<Self>, InferError> {
        let options = SessionOptions {
            library: runtime::find_library(config.ort_library.as_deref())?,
            providers: config.providers.clone(),
            intra_threads: resolved.intra_threads,
            engine_cache: config.engine_cache.clone(),
        };
        (0..resolved.lanes)
            .map(|_| Self::open(config, &options))
            .collect()
    }

    /// Opens both models of `config` with these session options.
    pub fn open(config: &InferConfig, options: &SessionOptions) -> Result<Self, InferError> {
        let open = |path: &Path, imgsz: u32| -> Result<YoloModel, InferError> {
            let engine = OrtEngine::open_with(path, options, config.threading)?;
            let (info, fixed) = (engine.info.clone(), engine.fixed_size);
            let name = path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            Ok(YoloModel::new(name, Box::new(engine), info, imgsz, fixed))
        };
        Self::new(
            open(&config.player_model, config.player_imgsz)?,
            open(&config.pitch_model, config.pitch_imgsz)?,
        )
    }

    /// Runs every detector once on a full batch of grey `width` x `height`
    /// frames, the lanes in parallel.
    pub fn warm_up(
        detectors: &mut [Self],
        batch: usize,
        (width, height): (u32, u32),
    ) -> Result<(), InferError> {
        let data: bytes::Bytes = vec![114u8; width as usize * height as usize * 3].into();
        let frames: Vec<Frame> = (0..batch.max(1) as u64)
            .map(|i| Frame::rgb(i, width, height, data.clone()))
            .collect();
        std::thread::scope(|scope| {
            let runs: Vec<_> = detectors
                .iter_mut()
                .map(|d| scope.spawn(|| d.detect(&frames).map(|_| ())))
                .collect();
            runs.into_iter()
                .try_for_each(|run| run.join().unwrap_or(Err(InferError::WorkerGone)))
        })
    }

    /// Detections and pitch keypoints for each frame, in order, every step
    /// on this thread (the pipeline in [`crate::worker`] overlaps them).
    pub fn detect(&mut self, frames: &[Frame]) -> Result<Vec<FrameDetections>, InferError> {
        let poses = self.pitch.predict(frames)?;
        let players = self.players.predict(frames)?;
        let indices: Vec<u64> = frames.iter().map(|f| f.index).collect();
        Ok(assemble(&indices, players, poses))
    }
}
