//! The decode stage over gRPC.
//!
//! - `server`: [`service()`], `scorevision.v1.Decode` over any
//!   [`sv_core::FrameSource`], sending pixels inline or through a
//!   shared-memory ring.
//! - `remote`: [`Remote`], the [`sv_core::FrameSource`] an infer stage
//!   uses to ask remote decode replicas.
//!
//! The transport is chosen by the client (it knows whether it shares a host
//! with decode) with the `sv-frame-transport` request header; a server
//! without a ring directory, or one that cannot create the ring, answers
//! inline, which every client reads.

mod remote;
mod server;

pub use remote::{Remote, RemoteConfig};
pub use server::{DecodeService, ShmOptions, service};

/// The gRPC name health and reflection report this stage under.
pub const SERVICE_NAME: &str = sv_proto::chain::DECODE;

/// Request header a client sets to `shm` to ask for frames by handle.
pub const TRANSPORT_HEADER: &str = "sv-frame-transport";

/// A 4K RGB frame is 25 MB; anything far beyond is garbage.
pub(crate) const MAX_MESSAGE: usize = 64 << 20;

/// How frames travel from decode to infer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FrameTransport {
    /// Pixels in the message (any two hosts).
    #[default]
    Inline,
    /// Pixels in a shared-memory ring, handles in the message (same host).
    SharedMemory,
}

impl FrameTransport {
    /// The name flags and the transport header use (`inline` or `shm`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Inline => "inline",
            Self::SharedMemory => "shm",
        }
    }
}

impl std::str::FromStr for FrameTransport {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "inline" => Ok(Self::Inline),
            "shm" | "shared-memory" => Ok(Self::SharedMemory),
            other => Err(format!("unknown frame transport {other:?} (inline, shm)")),
        }
    }
}
