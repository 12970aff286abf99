//! Domain types and the stage traits every scorevision crate shares.
//!
//! Data flows one way (decode -> infer -> track -> gateway) and is pulled from
//! the end: each stage asks its upstream for a stream through one of the
//! traits in [`stage`] and transforms it. Every trait has an in-process
//! implementation (the stage itself) and a gRPC client implementation, so the
//! binary alone decides whether a stage is local or remote.
//!
//! - [`frame`]: decoded video frames.
//! - [`detection`]: detector and keypoint outputs, tracked objects.
//! - [`response`]: the validator-facing JSON, byte-compatible with the
//!   reference miner.
//! - [`error`]: the one error type that crosses stage boundaries.
//! - [`text`]: what logs and validators may see of URLs and error messages.

#![warn(missing_docs)]

pub mod detection;
pub mod error;
pub mod frame;
pub mod response;
pub mod stage;
pub mod text;

pub use detection::{Detection, FrameDetections, FrameTracks, Keypoint, TrackedObject};
pub use error::{ErrorKind, StageError};
pub use frame::{Frame, PixelFormat};
pub use response::{
    ChallengeResponse, FrameResult, MissingKeypoints, ObjectResult, PITCH_KEYPOINTS,
};
pub use stage::{
    DetectionSource, DetectionStream, FrameSource, FrameStream, TraceContext, TrackSource,
    TrackStream, VideoRequest,
};
