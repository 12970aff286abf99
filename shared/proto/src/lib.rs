//! The gRPC contracts between stages (generated from
//! `proto/scorevision/v1/stages.proto`) and their conversions to and from
//! `sv_core` types. Prost types stop here: pipeline code sees core types only.
//!
//! - [`v1`]: the generated messages, clients and servers.
//! - [`convert`]: `From`/`TryFrom` between messages and core types.

pub mod convert;

#[allow(clippy::all, missing_docs)]
pub mod v1 {
    tonic::include_proto!("scorevision.v1");
}

pub use convert::ConvertError;
