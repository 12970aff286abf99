//! The gRPC contracts between stages (generated from
//! `proto/scorevision/v1/stages.proto`), their conversions to and from
//! `sv_core` types, and the transport every stage shares. Prost types stop
//! at the stage crates' `grpc` modules: pipeline code sees core types only.
//!
//! - [`v1`]: the generated messages, clients and servers.
//! - [`convert`]: `From`/`TryFrom` between messages and core types.
//! - [`envelope`] and [`streaming`]: headers, sequence numbers and the
//!   explicit end of every stream, sent and checked in one place.
//! - [`status`]: `StageError` <-> gRPC status.
//! - [`upstream`]: a balanced client channel over every replica, kept
//!   current by DNS re-resolution.
//! - [`client`]: the request with its trace metadata, the bounded wait for
//!   an answer, the checked stream.
//! - [`server`]: [`StageServer`], what every stage's gRPC server shares
//!   (health, reflection, warm-up, the shutdown drain), and the server half
//!   of a stage RPC.
//! - [`chain`]: the stages' gRPC names in pull order, and readiness through
//!   the chain (each stage SERVING only while the ones below are).

pub mod chain;
pub mod client;
pub mod convert;
pub mod envelope;
pub mod health_watch;
pub mod server;
pub mod status;
pub mod streaming;
pub mod upstream;

#[allow(clippy::all, missing_docs)]
pub mod v1 {
    tonic::include_proto!("scorevision.v1");
}

/// The encoded descriptors of `stages.proto`, for server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    tonic::include_file_descriptor_set!("scorevision_descriptor");

pub use convert::ConvertError;
pub use envelope::{Body, Envelope};
pub use server::{ServeError, ServerOptions, StageHealth, StageServer};
pub use streaming::{StreamStamp, receive, respond};
pub use upstream::{Upstream, UpstreamConfig, UpstreamError};
