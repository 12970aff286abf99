//! The validator-facing response, in exactly the reference miner's shape.
//!
//! The reference serialises f32 values widened to f64 (numpy `tolist()`), so
//! coordinates are widened here too: `serde_json` then prints the same
//! shortest round-trip digits Python's `repr` does.

use std::time::Instant;

use futures::StreamExt;
use serde::{Deserialize, Serialize};

use crate::{FrameTracks, StageError, TrackStream};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ObjectResult {
    pub id: u64,
    pub bbox: [f64; 4],
    pub class_id: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FrameResult {
    pub frame_number: u64,
    /// 32 `[x, y]` pairs, `[0.0, 0.0]` for invisible points; empty when the
    /// frame has no pitch instance.
    pub keypoints: Vec<[f64; 2]>,
    pub objects: Vec<ObjectResult>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChallengeResponse {
    pub challenge_id: String,
    pub frames: Vec<FrameResult>,
    /// Seconds from receiving the challenge to having the answer.
    pub processing_time: f64,
}

impl From<&FrameTracks> for FrameResult {
    fn from(tracks: &FrameTracks) -> Self {
        let keypoints = tracks
            .keypoints
            .as_deref()
            .unwrap_or_default()
            .iter()
            .map(|k| [f64::from(k.x), f64::from(k.y)])
            .collect();
        let objects = tracks
            .objects
            .iter()
            .map(|o| ObjectResult {
                id: o.id,
                bbox: o.bbox.map(f64::from),
                class_id: o.class_id,
            })
            .collect();
        Self {
            frame_number: tracks.index,
            keypoints,
            objects,
        }
    }
}

impl ChallengeResponse {
    /// Drains a track stream into the response, checking that frames arrive
    /// once each, in order, from 0 (a missing frame scores zero, so a gap is
    /// an error rather than a silently short answer). `on_frame` sees every
    /// frame as it arrives (progress bars, metrics).
    pub async fn assemble(
        challenge_id: &str,
        mut tracks: TrackStream,
        started: Instant,
        mut on_frame: impl FnMut(&FrameTracks),
    ) -> Result<Self, StageError> {
        let mut frames = Vec::new();
        while let Some(item) = tracks.next().await {
            let frame = item?;
            let expected = frames.len() as u64;
            if frame.index != expected {
                return Err(StageError::internal(format!(
                    "frame {} arrived where frame {expected} was expected",
                    frame.index
                )));
            }
            on_frame(&frame);
            frames.push(FrameResult::from(&frame));
        }
        if frames.is_empty() {
            return Err(StageError::invalid_input("the video has no frames"));
        }
        Ok(Self {
            challenge_id: challenge_id.to_owned(),
            frames,
            processing_time: started.elapsed().as_secs_f64(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Keypoint, TrackedObject};

    #[test]
    fn serialises_like_the_reference_miner() {
        let tracks = FrameTracks {
            index: 3,
            objects: vec![TrackedObject {
                id: 7,
                bbox: [1.5, 2.25, 100.1, 50.0],
                class_id: 2,
            }],
            keypoints: Some(vec![
                Keypoint {
                    x: 10.5,
                    y: 20.0,
                    confidence: 0.9,
                },
                Keypoint {
                    x: 0.0,
                    y: 0.0,
                    confidence: 0.1,
                },
            ]),
        };
        let json = serde_json::to_string(&FrameResult::from(&tracks)).unwrap();
        // 100.1f32 widened to f64 prints as Python prints float(np.float32(100.1)).
        assert_eq!(
            json,
            r#"{"frame_number":3,"keypoints":[[10.5,20.0],[0.0,0.0]],"objects":[{"id":7,"bbox":[1.5,2.25,100.0999984741211,50.0],"class_id":2}]}"#
        );
    }

    fn stream(items: Vec<Result<FrameTracks, StageError>>) -> TrackStream {
        Box::pin(futures::stream::iter(items))
    }

    fn empty_frame(index: u64) -> FrameTracks {
        FrameTracks {
            index,
            objects: vec![],
            keypoints: None,
        }
    }

    #[tokio::test]
    async fn assembles_consecutive_frames() {
        let tracks = stream(vec![Ok(empty_frame(0)), Ok(empty_frame(1))]);
        let mut seen = 0;
        let response = ChallengeResponse::assemble("c1", tracks, Instant::now(), |_| seen += 1)
            .await
            .unwrap();
        assert_eq!(
            (response.challenge_id.as_str(), response.frames.len(), seen),
            ("c1", 2, 2)
        );
        assert_eq!(response.frames[1].frame_number, 1);
    }

    #[tokio::test]
    async fn rejects_gaps_errors_and_empty_videos() {
        let gap = stream(vec![Ok(empty_frame(0)), Ok(empty_frame(2))]);
        assert!(
            ChallengeResponse::assemble("c", gap, Instant::now(), |_| {})
                .await
                .unwrap_err()
                .message
                .contains("frame 2")
        );
        let failed = stream(vec![
            Ok(empty_frame(0)),
            Err(StageError::unavailable("infer went away")),
        ]);
        let err = ChallengeResponse::assemble("c", failed, Instant::now(), |_| {})
            .await
            .unwrap_err();
        assert_eq!(err.kind, crate::ErrorKind::Unavailable);
        let empty = stream(vec![]);
        assert!(
            ChallengeResponse::assemble("c", empty, Instant::now(), |_| {})
                .await
                .is_err()
        );
    }

    #[test]
    fn no_pitch_instance_gives_empty_keypoints() {
        let tracks = FrameTracks {
            index: 0,
            objects: vec![],
            keypoints: None,
        };
        let result = FrameResult::from(&tracks);
        assert!(result.keypoints.is_empty());
        assert_eq!(
            serde_json::to_string(&result).unwrap(),
            r#"{"frame_number":0,"keypoints":[],"objects":[]}"#
        );
    }
}
