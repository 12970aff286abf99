//! Decode stage: turn a challenge's `video_url` into ordered RGB frames.
//!
//! - [`fetch`]: safe download of http(s) videos (size cap, timeouts, retries,
//!   private-address guard).
//! - [`source`]: where a URL's bytes come from (a local path or a download).
//! - [`hardware`]: prefer NVDEC / VA-API decoders when the registry has them.
//! - [`colour`]: YUV to RGB exactly as the reference miner's OpenCV (swscale) does it.
//! - [`context`]: GstContexts (NVDEC's CUDA context) shared by every pipeline.
//! - [`pipeline`]: the GStreamer pipeline, the thread that drains it and the
//!   threads that convert its pictures.
//! - [`progressive`]: decoding a download while it arrives.
//! - [`stage`]: [`Stage`], the decode stage in process, as a
//!   [`sv_core::FrameSource`].
//! - [`warm`]: a tiny built-in clip decoded once per process at start-up.
//! - [`shm`]: the shared-memory frame ring for decode and infer on one host.
//! - [`sweep`]: downloads and rings left by a process that died, removed at
//!   start.
//!
//! GStreamer runs on a dedicated thread per video; frames reach tokio through
//! a bounded channel, so a slow consumer pauses decoding (appsink blocks) and
//! a consumer that goes away stops it.

pub mod colour;
pub mod config;
pub mod context;
pub mod error;
pub mod fetch;
pub mod grpc;
pub mod hardware;
pub mod pipeline;
pub mod progressive;
pub mod serve;
pub mod shm;
pub mod source;
pub mod stage;
pub mod sweep;
pub mod warm;

pub use config::DecodeConfig;
pub use error::DecodeError;
pub use pipeline::{DecodeSummary, decode_file};
pub use serve::{ServeConfig, serve};
pub use stage::Stage;
