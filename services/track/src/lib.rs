//! Track stage: one ByteTrack per challenge over infer's detections; pitch
//! keypoints pass through untouched.
//!
//! The surface the binary uses: [`Stage`] (the in-process
//! [`sv_core::TrackSource`] over any `DetectionSource`), [`serve()`] (the
//! stage as a gRPC server over an upstream the caller wires in), and
//! [`grpc::Remote`] (remote track replicas, for the gateway).
//!
//! - [`bytetrack`]: a pure, synchronous port of supervision 0.22.0's
//!   `sv.ByteTrack`, id for id (see docs/PARITY.md section C); public
//!   for the golden tests and the benchmark.
//! - [`fill`]: the frames infer ran no model on (`--infer-interval`),
//!   answered from the keyframes on either side.
//! - [`agreement`]: how closely one answer follows another (an answer at
//!   some interval against the every-frame answer).
//! - [`stage`]: [`Stage`], the `TrackSource` built on them; [`metrics`]:
//!   its Prometheus series.
//! - [`grpc`] and [`serve`](mod@serve): `scorevision.v1.Track`, its server
//!   and [`grpc::Remote`].

#![warn(missing_docs)]

pub mod agreement;
pub mod bytetrack;
pub mod fill;
pub mod grpc;
pub mod metrics;
pub mod serve;
pub mod stage;

pub use agreement::Agreement;
pub use bytetrack::{ByteTrack, ByteTrackConfig};
pub use fill::OneSided;
pub use serve::{ServeConfig, serve};
pub use stage::Stage;
