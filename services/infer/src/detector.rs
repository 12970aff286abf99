//! [`Detector`]: the two models the reference miner runs on every frame,
//! the player detector and the pitch keypoint model.

use sv_core::{Frame, FrameDetections};

use crate::error::InferError;
use crate::metadata::Task;
use crate::model::{ModelOutput, YoloModel};

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

    /// Detections and pitch keypoints for each frame, in order.
    pub fn detect(&mut self, frames: &[Frame]) -> Result<Vec<FrameDetections>, InferError> {
        let poses = self.pitch.predict(frames)?;
        let players = self.players.predict(frames)?;
        Ok(frames
            .iter()
            .zip(players.into_iter().zip(poses))
            .map(|(frame, (players, poses))| {
                let detections = match players {
                    ModelOutput::Detections(d) => d,
                    ModelOutput::Poses(p) => p.into_iter().map(|p| p.detection).collect(),
                };
                // The miner sends only the highest-scoring pitch instance.
                let keypoints = match poses {
                    ModelOutput::Poses(p) => p.into_iter().next().map(|p| p.keypoints),
                    ModelOutput::Detections(_) => None,
                };
                FrameDetections {
                    index: frame.index,
                    detections,
                    keypoints,
                }
            })
            .collect())
    }
}
