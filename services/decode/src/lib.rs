//! Decode stage: turn a challenge's `video_url` into ordered RGB frames.
//!
//! The surface the binary uses: [`Stage`] (the in-process
//! [`sv_core::FrameSource`]), [`serve()`] (the stage as a gRPC server, on a
//! listener it is given, until a shutdown signal), [`grpc::Remote`] (remote
//! decode replicas as a `FrameSource`, for an infer stage), and
//! [`DecodeConfig`] with its [`config::HardwarePreference`] and
//! [`fetch::FetchPolicy`].
//!
//! - [`fetch`]: safe download of http(s) videos (size cap, timeouts, retries,
//!   private-address guard).
//! - [`hardware`]: prefer NVDEC / VA-API decoders when the registry has them.
//! - [`budget`]: decoded frames waiting for their consumer, bounded in bytes.
//! - [`colour`]: YUV to RGB exactly as the reference miner's OpenCV (swscale) does it.
//! - [`pipeline`]: the GStreamer pipeline, the thread that drains it and the
//!   threads that convert its pictures ([`decode_file`]).
//! - [`progressive`]: decoding a download while it arrives.
//! - [`stage`]: [`Stage`], the decode stage in process; [`stats`]: what
//!   one video cost; [`metrics`]: its Prometheus series.
//! - [`grpc`] and [`serve`](mod@serve): `scorevision.v1.Decode`, its
//!   server and [`grpc::Remote`]; frames inline or through [`shm`], the
//!   shared-memory frame ring for decode and infer on one host.
//! - [`warm`]: a tiny built-in clip decoded once per process at start-up.
//!
//! Private: where a URL's bytes come from (a path or a download), the
//! GstContexts (NVDEC's CUDA context) every pipeline shares, and the sweep
//! of downloads and rings a process that died left behind. The other
//! modules stay public for the tests and benchmarks that check them on
//! their own (bit-exact colour, fetch limits, progressive layouts).
//!
//! GStreamer runs on a dedicated thread per video; frames reach tokio through
//! a bounded channel, so a slow consumer pauses decoding (appsink blocks) and
//! a consumer that goes away stops it.

#![warn(missing_docs)]

pub mod budget;
pub mod colour;
pub mod config;
mod context;
pub mod error;
pub mod fetch;
pub mod grpc;
pub mod hardware;
pub mod metrics;
pub mod pipeline;
pub mod progressive;
pub mod serve;
pub mod shm;
mod source;
pub mod stage;
pub mod stats;
mod sweep;
pub mod warm;

pub use config::DecodeConfig;
pub use error::DecodeError;
pub use pipeline::{DecodeSummary, decode_file};
pub use serve::{ServeConfig, serve};
pub use stage::Stage;
