//! The one error type of the shared-memory ring.

use std::path::PathBuf;
use std::time::Duration;

use sv_core::{ErrorKind, StageError};

use super::layout::LayoutError;

#[derive(Debug, thiserror::Error)]
pub enum ShmError {
    #[error("cannot {op} {path}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("bad frame ring name {name:?}: {reason}")]
    BadName { name: String, reason: &'static str },
    #[error("{path} is not a usable frame ring: {source}")]
    BadLayout {
        path: PathBuf,
        #[source]
        source: LayoutError,
    },
    #[error("a frame of {len} bytes does not fit a {slot_len}-byte ring slot")]
    TooLarge { len: usize, slot_len: usize },
    #[error("a handle for ring {got:?} was given to ring {expected:?}")]
    WrongRing { expected: String, got: String },
    #[error(
        "stale handle for slot {slot} of ring {ring}: generation {generation} is gone or taken"
    )]
    Stale {
        ring: String,
        slot: usize,
        generation: u64,
    },
    #[error("handle (offset {offset}, length {length}) is not a slot of ring {ring}")]
    OutOfRange {
        ring: String,
        offset: u64,
        length: u64,
    },
    #[error("writing to ring {ring} was cancelled")]
    Cancelled { ring: String },
    #[error("the reader of ring {ring} released nothing for {waited:?}")]
    ReaderStalled { ring: String, waited: Duration },
}

impl ShmError {
    /// Whose fault it was, in the terms the stages report errors in.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::Io { .. } | Self::BadLayout { .. } | Self::TooLarge { .. } => ErrorKind::Internal,
            // A handle from the wire that does not fit: the peer sent garbage.
            Self::BadName { .. }
            | Self::WrongRing { .. }
            | Self::Stale { .. }
            | Self::OutOfRange { .. } => ErrorKind::InvalidInput,
            Self::Cancelled { .. } => ErrorKind::Cancelled,
            Self::ReaderStalled { .. } => ErrorKind::DeadlineExceeded,
        }
    }

    pub(super) fn io(op: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            op,
            path: path.into(),
            source,
        }
    }
}

impl From<ShmError> for StageError {
    fn from(e: ShmError) -> Self {
        StageError::new(e.kind(), format!("decode: shared memory: {e}"))
    }
}
