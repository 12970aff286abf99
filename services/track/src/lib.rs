//! Track stage: one ByteTrack per challenge over infer's detections; pitch
//! keypoints pass through untouched.
//!
//! - [`bytetrack`]: a pure, synchronous port of supervision 0.22.0's
//!   `sv.ByteTrack`, id for id (see ../shared/PARITY.md section C).

pub mod bytetrack;
