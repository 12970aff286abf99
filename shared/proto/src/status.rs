//! The one mapping between [`StageError`] and gRPC status codes, both ways.
//!
//! The code says whose fault an error was, so a stage two hops away still
//! knows a bad video (InvalidArgument) from a dead upstream (Unavailable).

use sv_core::{ErrorKind, StageError};
use tonic::{Code, Status};

/// The status a stage's server answers with when its stream fails.
pub fn to_status(error: &StageError) -> Status {
    let code = match error.kind {
        ErrorKind::InvalidInput => Code::InvalidArgument,
        ErrorKind::Unavailable => Code::Unavailable,
        ErrorKind::DeadlineExceeded => Code::DeadlineExceeded,
        ErrorKind::Cancelled => Code::Cancelled,
        ErrorKind::ResourceExhausted => Code::ResourceExhausted,
        ErrorKind::Internal => Code::Internal,
    };
    Status::new(code, error.message.clone())
}

/// The error a client yields for a status from `stage`'s server. Transport
/// failures (a killed process, a reset connection) arrive as Unknown or
/// Unavailable and both mean the upstream went away.
pub fn from_status(stage: &str, status: &Status) -> StageError {
    let kind = match status.code() {
        Code::InvalidArgument | Code::NotFound | Code::FailedPrecondition | Code::OutOfRange => {
            ErrorKind::InvalidInput
        }
        Code::DeadlineExceeded => ErrorKind::DeadlineExceeded,
        Code::Cancelled => ErrorKind::Cancelled,
        Code::ResourceExhausted => ErrorKind::ResourceExhausted,
        Code::Internal | Code::Unimplemented | Code::DataLoss => ErrorKind::Internal,
        Code::Unavailable
        | Code::Unknown
        | Code::Aborted
        | Code::PermissionDenied
        | Code::Unauthenticated
        | Code::AlreadyExists
        | Code::Ok => ErrorKind::Unavailable,
    };
    let message = status.message();
    // Servers already prefix their messages with the stage that failed
    // ("decode: not a video"); transport errors do not.
    if kind == ErrorKind::Unavailable && !message.starts_with(stage) {
        StageError::new(
            kind,
            format!("{stage} stage unreachable or gone: {message}"),
        )
    } else {
        StageError::new(kind, message.to_string())
    }
}

/// A message from `stage` that did not convert: a bug or a version skew on
/// that side, never the video's fault.
pub fn malformed(stage: &str, error: crate::ConvertError) -> StageError {
    StageError::new(ErrorKind::Internal, format!("{stage}: {error}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_survives_a_round_trip() {
        for kind in [
            ErrorKind::InvalidInput,
            ErrorKind::Unavailable,
            ErrorKind::DeadlineExceeded,
            ErrorKind::Cancelled,
            ErrorKind::ResourceExhausted,
            ErrorKind::Internal,
        ] {
            let error = StageError::new(kind, "decode: something");
            let back = from_status("decode", &to_status(&error));
            assert_eq!(back, error, "{kind:?}");
        }
    }

    #[test]
    fn transport_failures_read_as_a_gone_upstream() {
        let e = from_status(
            "infer",
            &Status::unknown("h2 protocol error: connection reset"),
        );
        assert_eq!(e.kind, ErrorKind::Unavailable);
        assert!(
            e.message.starts_with("infer stage unreachable or gone:"),
            "{}",
            e.message
        );
    }
}
