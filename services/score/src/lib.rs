//! sv-score: the validator's scoring, run on this machine.
//!
//! Score Vision validators score an answer from geometry and OpenCV (the
//! keypoint score) and from CLIP ViT-B/32 (which frames count, and the box
//! score). This crate computes the same figures from the clip and the
//! answer, with OpenCV itself where the validator uses it, so a miner sees
//! what a change of model or setting does to its score before a validator
//! does. What each step does, and every quirk kept, is in the crate README.
//!
//! - [`answer`]: the answer as the validator stores it;
//! - [`video`]: the clip as OpenCV decodes it;
//! - [`keypoints`]: the keypoint score and its terms;
//! - [`boxes`]: the box rules and, with CLIP, the box score;
//! - [`clip`]: the CLIP encoder (ONNX) and prompts, and its preprocessing;
//! - [`pitch_filter`]: which frames count;
//! - [`outcome`]: quality, speed and final;
//! - [`scorer`]: all of it for one answer on one clip;
//! - [`pitch`]: the pitch model.
//!
//! Only `scorevision score` and `scorevision bench` link this crate (and
//! OpenCV); the serving path does not.

#![warn(missing_docs)]

pub mod answer;
pub mod boxes;
pub mod clip;
pub mod error;
pub mod find_homography;
pub mod keypoints;
pub mod outcome;
pub mod pitch;
pub mod pitch_filter;
pub mod report;
pub mod scorer;
pub mod video;

pub use answer::Answer;
pub use clip::Clip;
pub use error::ScoreError;
pub use keypoints::KeypointTerms;
pub use scorer::{Options, Report, score};
pub use video::Decode;
