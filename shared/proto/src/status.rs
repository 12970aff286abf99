//! The one mapping between [`StageError`] and gRPC status codes, both ways.
//!
//! The code says whose fault an error was, so a stage two hops away still
//! knows a bad video (InvalidArgument) from a dead upstream (Unavailable).
//! Every status a stage's server sends also names its [`ErrorKind`] in the
//! `sv-error-kind` metadata: a client reading it knows the error was
//! reported by a stage (and passes it on unchanged, however many hops
//! away it started), while a status without it comes from the transport:
//! the upstream itself is unreachable or gone. So an unreachable video host
//! reaches the gateway as "video host: ...", not as "track stage
//! unreachable or gone: infer stage unreachable or gone: ...".

use sv_core::{ErrorKind, StageError};
use tonic::metadata::MetadataValue;
use tonic::{Code, Status};

/// Metadata key of the kind a stage reported.
pub const KIND_KEY: &str = "sv-error-kind";

/// The status a stage's server answers with when its stream fails. The
/// message never carries URL credentials (`scheme://user:password@`), in
/// any scheme, whatever error built it: it leaves the process.
pub fn to_status(error: &StageError) -> Status {
    let code = match error.kind {
        ErrorKind::InvalidInput => Code::InvalidArgument,
        // The video's host, not this service, is unavailable; the metadata
        // tells our clients which.
        ErrorKind::Unavailable | ErrorKind::VideoUnavailable => Code::Unavailable,
        ErrorKind::DeadlineExceeded => Code::DeadlineExceeded,
        ErrorKind::Cancelled => Code::Cancelled,
        // Both are RESOURCE_EXHAUSTED on the wire; the metadata tells a
        // too-large video from a stage at its stream limit.
        ErrorKind::ResourceExhausted | ErrorKind::Overloaded => Code::ResourceExhausted,
        ErrorKind::Internal => Code::Internal,
    };
    let message = sv_core::text::redact_credentials(&error.message).into_owned();
    let mut status = Status::new(code, message);
    status
        .metadata_mut()
        .insert(KIND_KEY, MetadataValue::from_static(kind_name(error.kind)));
    status
}

fn kind_name(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::InvalidInput => "invalid-input",
        ErrorKind::Unavailable => "unavailable",
        ErrorKind::VideoUnavailable => "video-unavailable",
        ErrorKind::DeadlineExceeded => "deadline-exceeded",
        ErrorKind::Cancelled => "cancelled",
        ErrorKind::ResourceExhausted => "resource-exhausted",
        ErrorKind::Overloaded => "overloaded",
        ErrorKind::Internal => "internal",
    }
}

/// The kind a stage reported in `status`, if a stage reported it.
fn reported_kind(status: &Status) -> Option<ErrorKind> {
    let name = status.metadata().get(KIND_KEY)?.to_str().ok()?;
    ErrorKind::ALL.into_iter().find(|&k| kind_name(k) == name)
}

/// The error a client yields for a status from `stage`'s server. A status a
/// stage reported keeps its kind and message; any other (a killed process,
/// a reset connection, arriving as Unknown or Unavailable) means the
/// upstream went away.
pub fn from_status(stage: &str, status: &Status) -> StageError {
    if let Some(kind) = reported_kind(status) {
        return StageError::new(kind, status.message());
    }
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
    if kind == ErrorKind::Unavailable {
        StageError::new(
            kind,
            format!("{stage} stage unreachable or gone: {message}"),
        )
    } else {
        StageError::new(kind, format!("{stage}: {message}"))
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
        for kind in ErrorKind::ALL {
            let error = StageError::new(kind, "decode: something");
            let back = from_status("decode", &to_status(&error));
            assert_eq!(back, error, "{kind:?}");
        }
    }

    #[test]
    fn credentials_never_cross_the_wire_in_any_scheme() {
        for (url, shown) in [
            ("ftp://user:pw@h/v.mp4", "ftp://***@h/v.mp4"),
            (
                "rtsp://admin:admin@10.0.0.1/live",
                "rtsp://***@10.0.0.1/live",
            ),
            ("https://token@h/v.mp4", "https://***@h/v.mp4"),
        ] {
            for kind in ErrorKind::ALL {
                let error = StageError::new(kind, format!("decode: unsupported URL {url:?}"));
                let status = to_status(&error);
                assert!(!status.message().contains("pw@"), "{}", status.message());
                assert!(!status.message().contains("admin@"), "{}", status.message());
                assert!(!status.message().contains("token@"), "{}", status.message());
                assert!(status.message().contains(shown), "{}", status.message());
            }
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

    #[test]
    fn a_reported_error_crosses_every_hop_unchanged() {
        // decode reports the video host; infer and track pass it on.
        let host = StageError::new(
            ErrorKind::VideoUnavailable,
            "video host: cannot reach http://h/v.mp4: connection refused",
        );
        let at_infer = from_status("decode", &to_status(&host));
        let at_track = from_status("infer", &to_status(&at_infer));
        let at_gateway = from_status("track", &to_status(&at_track));
        assert_eq!(at_gateway, host);
        // A stage gone two hops down is named once, as the one gone.
        let gone = from_status("decode", &Status::unavailable("tcp connect error"));
        let at_gateway = from_status(
            "track",
            &to_status(&from_status("infer", &to_status(&gone))),
        );
        assert_eq!(at_gateway.kind, ErrorKind::Unavailable);
        assert_eq!(
            at_gateway.message,
            "decode stage unreachable or gone: tcp connect error"
        );
    }
}
