//! [`Detector`]: the two models the reference miner runs on every frame,
//! the player detector and the pitch keypoint model.

use std::path::Path;

use sv_core::{Frame, FrameDetections};

use crate::config::InferConfig;
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

    /// Opens both models with ONNX Runtime as `config` says (providers,
    /// threads, inference sizes).
    pub fn open(config: &InferConfig) -> Result<Self, InferError> {
        let options = SessionOptions {
            library: runtime::find_library(config.ort_library.as_deref())?,
            providers: config.providers.clone(),
            intra_threads: config.intra_threads,
            engine_cache: config.engine_cache.clone(),
        };
        let open = |path: &Path, imgsz: u32| -> Result<YoloModel, InferError> {
            let engine = OrtEngine::open_with(path, &options, config.threading)?;
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

    /// Detections and pitch keypoints for each frame, in order, every step
    /// on this thread (the pipeline in [`crate::worker`] overlaps them).
    pub fn detect(&mut self, frames: &[Frame]) -> Result<Vec<FrameDetections>, InferError> {
        let poses = self.pitch.predict(frames)?;
        let players = self.players.predict(frames)?;
        let indices: Vec<u64> = frames.iter().map(|f| f.index).collect();
        Ok(assemble(&indices, players, poses))
    }
}
