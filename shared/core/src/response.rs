//! The validator-facing response, in exactly the reference miner's shape.
//!
//! The reference serialises f32 values widened to f64 (numpy `tolist()`), so
//! coordinates are widened here too: `serde_json` then prints the same
//! shortest round-trip digits Python's `repr` does.
//!
//! One deliberate deviation, on by default: a frame without a pitch instance
//! carries 32 `[0.0, 0.0]` pairs where the reference sends `[]`
//! ([`MissingKeypoints`]). The validator's keypoint consistency check scores
//! a frame 0 when it or the previous frame does not carry exactly 32 points,
//! and that factor multiplies the whole keypoint score; `[0.0, 0.0]` is what
//! both miners send for an undetected point, so the pairs claim no point.
//! [`MissingKeypoints::Empty`] gives the reference's bytes back (parity tests).

use std::fmt;
use std::str::FromStr;
use std::time::Instant;

use futures::StreamExt;
use serde::{Deserialize, Serialize};

use crate::{FrameTracks, StageError, TrackStream};

/// Points the validator expects in every frame's `keypoints`.
pub const PITCH_KEYPOINTS: usize = 32;

/// What a frame without a pitch instance carries in `keypoints`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MissingKeypoints {
    /// 32 `[0.0, 0.0]` pairs: the frame keeps the validator's keypoint
    /// consistency factor (our default).
    #[default]
    Zeros,
    /// `[]`, as the reference miner sends (byte parity with its JSON).
    Empty,
}

impl MissingKeypoints {
    /// Every value, as flags and config files spell them.
    pub const NAMES: [&'static str; 2] = ["zeros", "empty"];

    /// The value as flags and config files spell it (one of [`Self::NAMES`]).
    pub fn name(self) -> &'static str {
        match self {
            Self::Zeros => "zeros",
            Self::Empty => "empty",
        }
    }
}

impl fmt::Display for MissingKeypoints {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for MissingKeypoints {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "zeros" => Ok(Self::Zeros),
            "empty" => Ok(Self::Empty),
            other => Err(format!(
                "{other:?} is not one of {}",
                Self::NAMES.join(", ")
            )),
        }
    }
}

/// One tracked object in a frame of the answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ObjectResult {
    /// The tracker id; the same object keeps it across frames.
    pub id: u64,
    /// `[x1, y1, x2, y2]` in source pixels, the f32 box widened to f64 so it
    /// prints as the reference's numpy values do.
    pub bbox: [f64; 4],
    /// Player model class: 0 ball, 1 goalkeeper, 2 player, 3 referee.
    pub class_id: u32,
}

/// One frame of the answer: its pitch keypoints and tracked objects.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FrameResult {
    /// 0-based frame index in decode order; the answer has every frame once,
    /// in order.
    pub frame_number: u64,
    /// 32 `[x, y]` pairs, `[0.0, 0.0]` for invisible points. A frame with no
    /// pitch instance: 32 `[0.0, 0.0]` pairs, or `[]` like the reference
    /// ([`MissingKeypoints`]).
    pub keypoints: Vec<[f64; 2]>,
    /// The objects tracked in this frame (possibly none).
    pub objects: Vec<ObjectResult>,
}

/// The whole JSON answer to one validator challenge.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChallengeResponse {
    /// The id the validator gave the challenge, echoed back.
    pub challenge_id: String,
    /// One entry per decoded frame, from frame 0 in order.
    pub frames: Vec<FrameResult>,
    /// Seconds from receiving the challenge to having the answer.
    pub processing_time: f64,
}

impl From<&FrameTracks> for FrameResult {
    /// The default answer ([`MissingKeypoints::Zeros`]).
    fn from(tracks: &FrameTracks) -> Self {
        Self::new(tracks, MissingKeypoints::default())
    }
}

impl FrameResult {
    /// One frame of the answer; `missing` says what a frame without a pitch
    /// instance carries. Frames with one are the same either way.
    pub fn new(tracks: &FrameTracks, missing: MissingKeypoints) -> Self {
        let found = tracks.keypoints.as_deref().unwrap_or_default();
        let keypoints = if found.is_empty() && missing == MissingKeypoints::Zeros {
            vec![[0.0, 0.0]; PITCH_KEYPOINTS]
        } else {
            found
                .iter()
                .map(|k| [f64::from(k.x), f64::from(k.y)])
                .collect()
        };
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
    /// an error rather than a silently short answer). `missing` says what a
    /// frame without a pitch instance carries. `on_frame` sees every frame as
    /// it arrives (progress bars, metrics).
    pub async fn assemble(
        challenge_id: &str,
        mut tracks: TrackStream,
        started: Instant,
        missing: MissingKeypoints,
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
            frames.push(FrameResult::new(&frame, missing));
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
        let response = ChallengeResponse::assemble(
            "c1",
            tracks,
            Instant::now(),
            MissingKeypoints::Zeros,
            |_| seen += 1,
        )
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
            ChallengeResponse::assemble("c", gap, Instant::now(), MissingKeypoints::Zeros, |_| {})
                .await
                .unwrap_err()
                .message
                .contains("frame 2")
        );
        let failed = stream(vec![
            Ok(empty_frame(0)),
            Err(StageError::unavailable("infer went away")),
        ]);
        let err = ChallengeResponse::assemble(
            "c",
            failed,
            Instant::now(),
            MissingKeypoints::Zeros,
            |_| {},
        )
        .await
        .unwrap_err();
        assert_eq!(err.kind, crate::ErrorKind::Unavailable);
        let empty = stream(vec![]);
        assert!(
            ChallengeResponse::assemble(
                "c",
                empty,
                Instant::now(),
                MissingKeypoints::Zeros,
                |_| {}
            )
            .await
            .is_err()
        );
    }

    #[test]
    fn no_pitch_instance_gives_empty_keypoints_like_the_reference() {
        let result = FrameResult::new(&empty_frame(0), MissingKeypoints::Empty);
        assert!(result.keypoints.is_empty());
        assert_eq!(
            serde_json::to_string(&result).unwrap(),
            r#"{"frame_number":0,"keypoints":[],"objects":[]}"#
        );
    }

    #[test]
    fn no_pitch_instance_gives_32_zero_pairs_by_default() {
        let zeros = format!(
            r#"{{"frame_number":0,"keypoints":[{}],"objects":[]}}"#,
            vec!["[0.0,0.0]"; 32].join(",")
        );
        let by_default = FrameResult::from(&empty_frame(0));
        assert_eq!(serde_json::to_string(&by_default).unwrap(), zeros);
        assert_eq!(
            FrameResult::new(&empty_frame(0), MissingKeypoints::Zeros),
            by_default
        );
        // A pitch instance that came through as no points at all (a remote
        // stage's empty list) is no pitch instance either.
        let no_points = FrameTracks {
            keypoints: Some(vec![]),
            ..empty_frame(0)
        };
        assert_eq!(FrameResult::from(&no_points), by_default);
    }

    fn pitch_frame(index: u64) -> FrameTracks {
        FrameTracks {
            index,
            objects: vec![TrackedObject {
                id: 4,
                bbox: [1.0, 2.0, 3.0, 4.0],
                class_id: 1,
            }],
            keypoints: Some(
                (0..32)
                    .map(|i| Keypoint {
                        x: if i % 3 == 0 { 0.0 } else { 100.25 + i as f32 },
                        y: if i % 3 == 0 { 0.0 } else { 7.5 * i as f32 },
                        confidence: if i % 3 == 0 { 0.2 } else { 0.9 },
                    })
                    .collect(),
            ),
        }
    }

    #[tokio::test]
    async fn frames_with_a_pitch_instance_are_the_same_either_way() {
        let frames = || {
            stream(vec![
                Ok(pitch_frame(0)),
                Ok(empty_frame(1)),
                Ok(pitch_frame(2)),
            ])
        };
        let zeros = ChallengeResponse::assemble(
            "c",
            frames(),
            Instant::now(),
            MissingKeypoints::Zeros,
            |_| {},
        )
        .await
        .unwrap();
        let empty = ChallengeResponse::assemble(
            "c",
            frames(),
            Instant::now(),
            MissingKeypoints::Empty,
            |_| {},
        )
        .await
        .unwrap();
        let expected: Vec<[f64; 2]> = pitch_frame(0)
            .keypoints
            .unwrap()
            .iter()
            .map(|k| [f64::from(k.x), f64::from(k.y)])
            .collect();
        for response in [&zeros, &empty] {
            for i in [0, 2] {
                assert_eq!(response.frames[i].keypoints, expected, "frame {i}");
                assert_eq!(response.frames[i].objects.len(), 1);
            }
        }
        assert_eq!(zeros.frames[1].keypoints, vec![[0.0, 0.0]; 32]);
        assert!(empty.frames[1].keypoints.is_empty());
        // Every frame of the default answer passes the validator's length check.
        assert!(zeros.frames.iter().all(|f| f.keypoints.len() == 32));
    }

    #[test]
    fn missing_keypoints_parses_and_serialises_by_name() {
        assert_eq!(MissingKeypoints::default(), MissingKeypoints::Zeros);
        for (name, value) in [
            ("zeros", MissingKeypoints::Zeros),
            ("empty", MissingKeypoints::Empty),
        ] {
            assert_eq!(name.parse::<MissingKeypoints>(), Ok(value));
            assert_eq!(value.to_string(), name);
            assert_eq!(serde_json::to_string(&value).unwrap(), format!("{name:?}"));
            assert_eq!(
                serde_json::from_str::<MissingKeypoints>(&format!("{name:?}")).unwrap(),
                value
            );
        }
        assert_eq!(" Empty ".parse(), Ok(MissingKeypoints::Empty));
        let err = "none".parse::<MissingKeypoints>().unwrap_err();
        assert!(err.contains("zeros, empty"), "{err}");
        assert!(serde_json::from_str::<MissingKeypoints>(r#""none""#).is_err());
    }
}
