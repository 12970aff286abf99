//! Track stage: one ByteTrack per challenge over infer's detections; pitch
//! keypoints pass through untouched.
//!
//! - [`bytetrack`]: a pure, synchronous port of supervision 0.22.0's
//!   `sv.ByteTrack`, id for id (see ../shared/PARITY.md section C).
//! - [`stage`]: [`Stage`], the [`sv_core::TrackSource`] built on it.

pub mod bytetrack;
pub mod grpc;
pub mod serve;
pub mod stage;

pub use bytetrack::{ByteTrack, ByteTrackConfig};
pub use serve::{ServeConfig, serve};
pub use stage::Stage;
