//! The error that crosses stage boundaries (in-process or over gRPC).
//!
//! Each crate has its own `thiserror` enum with context; at the stage trait
//! boundary it becomes a [`StageError`], whose [`ErrorKind`] says whose fault
//! it was so the gateway and the gRPC layer can pick a status code.

use std::fmt;

/// Whose fault an error was; maps 1:1 onto gRPC codes and HTTP statuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The video (or request) is bad: missing, not a video, corrupt.
    InvalidInput,
    /// A stage of ours (an upstream of the one reporting) could not be
    /// reached or went away.
    Unavailable,
    /// The video's host could not be reached, failed (5xx) or cut the
    /// transfer: the challenge's video is unavailable, every stage is fine.
    VideoUnavailable,
    /// The work did not finish in time.
    DeadlineExceeded,
    /// The caller went away; nobody is waiting for the result.
    Cancelled,
    /// A resource limit was hit by the request itself (video too large).
    ResourceExhausted,
    /// A stage is at its limit of concurrent streams: the request is fine,
    /// the miner is busy; try again later.
    Overloaded,
    /// A bug or an environment problem on our side.
    Internal,
}

impl ErrorKind {
    /// Every kind, for exhaustive round trips.
    pub const ALL: [ErrorKind; 8] = [
        Self::InvalidInput,
        Self::Unavailable,
        Self::VideoUnavailable,
        Self::DeadlineExceeded,
        Self::Cancelled,
        Self::ResourceExhausted,
        Self::Overloaded,
        Self::Internal,
    ];

    /// The kind's lowercase name in words (`"video unavailable"`): what
    /// `Display` writes and `FromStr` reads back.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidInput => "invalid input",
            Self::Unavailable => "unavailable",
            Self::VideoUnavailable => "video unavailable",
            Self::DeadlineExceeded => "deadline exceeded",
            Self::Cancelled => "cancelled",
            Self::ResourceExhausted => "resource exhausted",
            Self::Overloaded => "overloaded",
            Self::Internal => "internal",
        }
    }
}

impl std::str::FromStr for ErrorKind {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        Self::ALL.into_iter().find(|k| k.as_str() == s).ok_or(())
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error as seen by the next stage downstream: a kind and a message that
/// already says what went wrong and where (`"decode: no video stream in ..."`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct StageError {
    /// Whose fault it was; picks the gRPC code and HTTP status.
    pub kind: ErrorKind,
    /// The whole human-readable message, already prefixed with the stage
    /// that failed; it is the error's `Display`.
    pub message: String,
}

impl StageError {
    /// An error of any kind.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }

    /// The video or request is bad ([`ErrorKind::InvalidInput`]).
    pub fn invalid_input(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidInput, message)
    }

    /// An upstream stage of ours could not be reached
    /// ([`ErrorKind::Unavailable`]).
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Unavailable, message)
    }

    /// A bug or environment problem on our side ([`ErrorKind::Internal`]).
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Internal, message)
    }
}
