//! The one error type of the shared-memory ring.

use std::path::PathBuf;
use std::time::Duration;

use sv_core::{ErrorKind, StageError};

use super::layout::LayoutError;

/// Why a frame could not go into, or come out of, a ring. Handle checks
/// (`BadName`, `WrongRing`, `Stale`, `OutOfRange`) are the peer's fault;
/// see [`ShmError::kind`].
#[derive(Debug, thiserror::Error)]
pub enum ShmError {
    /// A file operation on the ring failed.
    #[error("cannot {op} {path}: {source}")]
    Io {
        /// The operation, as a verb phrase (`create`, `open`, `map`, ...).
        op: &'static str,
        /// The ring file.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// A ring name from the wire that the writer could not have made
    /// (it could escape the ring directory).
    #[error("bad frame ring name {name:?}: {reason}")]
    BadName {
        /// The name, cut to 300 characters.
        name: String,
        /// Which rule it breaks.
        reason: &'static str,
    },
    /// The file's header or size does not describe a valid ring.
    #[error("{path} is not a usable frame ring: {source}")]
    BadLayout {
        /// The ring file.
        path: PathBuf,
        /// What does not match.
        #[source]
        source: LayoutError,
    },
    /// A frame is larger than the ring's slots (the ring is sized by the
    /// stream's first frame).
    #[error("a frame of {len} bytes does not fit a {slot_len}-byte ring slot")]
    TooLarge {
        /// The frame's size, in bytes.
        len: usize,
        /// The slot size, in bytes.
        slot_len: usize,
    },
    /// A handle names another ring than the one it was given to.
    #[error("a handle for ring {got:?} was given to ring {expected:?}")]
    WrongRing {
        /// The name of the ring asked to read it.
        expected: String,
        /// The ring the handle names.
        got: String,
    },
    /// The slot no longer holds the handle's frame: already taken (a
    /// replayed or duplicated handle) or reused for a later one.
    #[error(
        "stale handle for slot {slot} of ring {ring}: generation {generation} is gone or taken"
    )]
    Stale {
        /// The ring's file name.
        ring: String,
        /// The slot's index.
        slot: usize,
        /// The generation the handle claims.
        generation: u64,
    },
    /// A handle's offset is not exactly a slot's start, or its length does
    /// not fit the slot.
    #[error("handle (offset {offset}, length {length}) is not a slot of ring {ring}")]
    OutOfRange {
        /// The ring's file name.
        ring: String,
        /// The handle's byte offset.
        offset: u64,
        /// The handle's length, in bytes.
        length: u64,
    },
    /// The consumer went away while the writer waited for a free slot.
    #[error("writing to ring {ring} was cancelled")]
    Cancelled {
        /// The ring's file name.
        ring: String,
    },
    /// The reader released no slot for the whole timeout, while the writer
    /// waited for a free slot or for the ring to drain.
    #[error("the reader of ring {ring} released nothing for {waited:?}")]
    ReaderStalled {
        /// The ring's file name.
        ring: String,
        /// How long the writer waited.
        waited: Duration,
    },
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
