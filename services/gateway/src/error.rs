//! The gateway's one error type and its one HTTP mapping.
//!
//! Every rejection becomes `{"detail": "..."}` with the status PROTOCOL.md's
//! table gives, plus an [`Outcome`] response extension the metrics layer
//! counts, so no handler needs to know about metrics.

use std::path::PathBuf;

use axum::Json;
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use sv_core::{ErrorKind, StageError};

use crate::auth::{NonceError, SignatureError, Ss58Error};
use crate::readiness::NotReady;
use crate::stake::chain_error::ChainError;

/// Everything the gateway can fail at, from a rejected request to a server
/// that cannot start. [`Error::status`] and [`Error::outcome`] map each
/// variant to its HTTP status and metrics label.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    // Authentication (fiber headers).
    /// A fiber header the request must carry is absent (422).
    #[error("missing header '{name}'")]
    MissingHeader {
        /// The header's name, as the validator spells it.
        name: &'static str,
    },
    /// A fiber header holds bytes outside visible ASCII, which no fiber
    /// client sends (401).
    #[error("header '{name}' is not visible ASCII")]
    InvalidHeader {
        /// The header's name.
        name: &'static str,
    },
    /// A hotkey header is not a valid ss58 address (401).
    #[error("malformed {header}: {source}")]
    MalformedHotkey {
        /// Which header held it: `validator-hotkey` (the miner's is only
        /// compared with ours as text).
        header: &'static str,
        /// Why the address does not decode.
        source: Ss58Error,
    },
    /// The sr25519 signature does not verify against the validator's
    /// hotkey (401).
    #[error("bad signature: {0}")]
    Signature(#[from] SignatureError),
    /// The nonce is stale, replayed or malformed (401), or the nonce store
    /// is full (503).
    #[error("bad nonce: {0}")]
    Nonce(#[from] NonceError),
    /// The request is addressed to another miner's hotkey (401).
    #[error("miner-hotkey {got} is not this miner's hotkey")]
    WrongMiner {
        /// The ss58 address the request named.
        got: String,
    },

    // Stake policy.
    /// The validator's hotkey is not registered on the subnet (403).
    #[error("validator {hotkey} is not in the metagraph")]
    UnknownValidator {
        /// The validator's ss58 address.
        hotkey: String,
    },
    /// The validator holds less stake than the configured minimum (403).
    #[error("validator {hotkey} has {stake_tao} TAO staked, below the minimum of {min_tao} TAO")]
    LowStake {
        /// The validator's ss58 address.
        hotkey: String,
        /// Its stake in the current snapshot, in TAO.
        stake_tao: f64,
        /// The configured minimum, in TAO.
        min_tao: f64,
    },
    /// No stake snapshot has been read yet, so no validator can be
    /// admitted (503).
    #[error("the stake snapshot is not loaded yet")]
    StakeNotLoaded,

    // The challenge itself.
    /// The body exceeds the configured size cap (413); the connection is
    /// closed after the reply.
    #[error("request body is larger than {limit} bytes")]
    BodyTooLarge {
        /// The cap, in bytes.
        limit: usize,
    },
    /// The connection failed while the body was being read (400).
    #[error("could not read the request body: {0}")]
    BodyRead(#[source] axum::Error),
    /// The body did not arrive in full within the body timeout (408).
    #[error("the request body did not arrive within {after_s:.1} s")]
    BodyTimeout {
        /// The timeout that ran out, in seconds.
        after_s: f64,
    },
    /// The body is not a challenge this miner can run (400).
    #[error("invalid challenge: {reason}")]
    BadChallenge {
        /// What is wrong with it, for the validator.
        reason: String,
    },
    /// Why: models loading, or which stage has no serving replica.
    #[error("{0}")]
    NotReady(#[from] NotReady),
    /// Every challenge slot is taken and the wait queue is full (503).
    #[error("all {slots} challenge slots are busy and the queue is full")]
    Busy {
        /// How many challenges run at once.
        slots: usize,
    },
    /// The request waited in the queue longer than allowed (503).
    #[error("no challenge slot became free within {waited_s:.1} s")]
    QueueTimeout {
        /// How long it waited, in seconds.
        waited_s: f64,
    },
    /// The pipeline did not answer within the challenge deadline (504).
    #[error("challenge did not finish within {limit_s:.0} s")]
    ChallengeTimeout {
        /// The deadline, in seconds.
        limit_s: f64,
    },
    /// A stage failed; its [`ErrorKind`] picks the status.
    #[error("{0}")]
    Stage(#[from] StageError),

    // Startup and serving.
    /// A setting is out of range, or our wallet cannot be found (no `HOME`
    /// and neither `wallets_dir` nor `ss58` set).
    #[error("invalid gateway config: {reason}")]
    Config {
        /// Which setting, and what is wrong with it.
        reason: String,
    },
    /// The configured hotkey of this miner is not a valid ss58 address.
    #[error("invalid gateway config: our hotkey {address:?}: {source}")]
    OurHotkey {
        /// The address as configured.
        address: String,
        /// Why it does not decode.
        source: Ss58Error,
    },
    /// A file the gateway needs (the static stake file, the wallet's hotkey
    /// file) cannot be read.
    #[error("cannot read {what} {path}: {source}")]
    ReadFile {
        /// What the file is for, as the message names it.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// The I/O failure.
        source: std::io::Error,
    },
    /// A file was read but its contents are not what is expected.
    #[error("{what} {path} is invalid: {reason}")]
    FileFormat {
        /// What the file is for.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// What is wrong in it.
        reason: String,
    },
    /// A file that does not parse as the JSON expected; `problem` says
    /// what was expected.
    #[error("{what} {path} is invalid: {problem} ({source})")]
    FileJson {
        /// What the file is for.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// The JSON shape that was expected.
        problem: &'static str,
        /// The parser's error.
        source: serde_json::Error,
    },
    /// Reading stakes from a subtensor node failed.
    #[error("chain {endpoint}: {source}")]
    Chain {
        /// The node's websocket URL.
        endpoint: String,
        /// What went wrong talking to it.
        source: ChainError,
    },
    /// The HTTP listener failed while serving.
    #[error("HTTP server failed: {0}")]
    Serve(std::io::Error),
    /// The embedded pipeline's warm-up failed; its own error says why.
    #[error(transparent)]
    WarmUp(Box<dyn std::error::Error + Send + Sync>),
}

/// What happened to a request, as the metrics label it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome(
    /// The label value, e.g. `ok`, `unauthorized`, `busy`.
    pub &'static str,
);

impl Error {
    /// The HTTP status this error is answered with (PROTOCOL.md's table).
    pub fn status(&self) -> StatusCode {
        use Error::*;
        match self {
            MissingHeader { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            InvalidHeader { .. } | MalformedHotkey { .. } | Signature(_) | WrongMiner { .. } => {
                StatusCode::UNAUTHORIZED
            }
            Nonce(NonceError::StoreFull(_)) => StatusCode::SERVICE_UNAVAILABLE,
            Nonce(_) => StatusCode::UNAUTHORIZED,
            UnknownValidator { .. } | LowStake { .. } => StatusCode::FORBIDDEN,
            BodyTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            BodyRead(_) | BadChallenge { .. } => StatusCode::BAD_REQUEST,
            BodyTimeout { .. } => StatusCode::REQUEST_TIMEOUT,
            StakeNotLoaded | NotReady(_) | Busy { .. } | QueueTimeout { .. } => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            ChallengeTimeout { .. } => StatusCode::GATEWAY_TIMEOUT,
            Stage(e) => match e.kind {
                ErrorKind::InvalidInput => StatusCode::UNPROCESSABLE_ENTITY,
                // The video's host failed us: an upstream's fault.
                ErrorKind::VideoUnavailable => StatusCode::BAD_GATEWAY,
                // A stage of ours is gone: this miner cannot serve right now.
                ErrorKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
                ErrorKind::DeadlineExceeded => StatusCode::GATEWAY_TIMEOUT,
                ErrorKind::ResourceExhausted => StatusCode::PAYLOAD_TOO_LARGE,
                ErrorKind::Cancelled => StatusCode::SERVICE_UNAVAILABLE,
                // A stage is at its stream limit: busy, not broken.
                ErrorKind::Overloaded => StatusCode::SERVICE_UNAVAILABLE,
                ErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            },
            Config { .. }
            | OurHotkey { .. }
            | ReadFile { .. }
            | FileFormat { .. }
            | FileJson { .. }
            | Chain { .. }
            | Serve(_)
            | WarmUp(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The metrics label for this rejection.
    pub fn outcome(&self) -> Outcome {
        use Error::*;
        Outcome(match self {
            MissingHeader { .. } => "missing_header",
            InvalidHeader { .. } | MalformedHotkey { .. } | Signature(_) | WrongMiner { .. } => {
                "unauthorized"
            }
            Nonce(NonceError::StoreFull(_)) => "busy",
            Nonce(_) => "bad_nonce",
            UnknownValidator { .. } | LowStake { .. } | StakeNotLoaded => "forbidden",
            BodyTooLarge { .. } | BodyRead(_) | BodyTimeout { .. } | BadChallenge { .. } => {
                "bad_request"
            }
            NotReady(_) => "not_ready",
            Busy { .. } | QueueTimeout { .. } => "busy",
            ChallengeTimeout { .. } => "timeout",
            Stage(e) => match e.kind {
                ErrorKind::InvalidInput => "invalid_video",
                ErrorKind::VideoUnavailable => "video_unavailable",
                ErrorKind::Unavailable => "unavailable",
                ErrorKind::DeadlineExceeded => "timeout",
                ErrorKind::ResourceExhausted => "too_large",
                ErrorKind::Cancelled => "cancelled",
                ErrorKind::Overloaded => "busy",
                ErrorKind::Internal => "internal",
            },
            _ => "internal",
        })
    }
}

impl Error {
    /// What the validator reads: the whole message for our own rejections;
    /// for a failed stage, its message without our paths, temporary file
    /// names (they carry PIDs) or URL credentials (logs keep it whole).
    pub fn detail(&self) -> String {
        match self {
            Error::Stage(e) => sv_core::text::public_detail(&e.message),
            other => other.to_string(),
        }
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let status = self.status();
        let outcome = self.outcome();
        let mut response =
            (status, Json(serde_json::json!({ "detail": self.detail() }))).into_response();
        if matches!(self, Error::BodyTooLarge { .. }) {
            // The rest of the body stays unread, so the connection cannot be reused.
            response.headers_mut().insert(
                http::header::CONNECTION,
                http::HeaderValue::from_static("close"),
            );
        }
        response.extensions_mut().insert(outcome);
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_follow_the_protocol_table() {
        assert_eq!(Error::MissingHeader { name: "nonce" }.status(), 422);
        assert_eq!(Error::Signature(SignatureError::Mismatch).status(), 401);
        assert_eq!(Error::Nonce(NonceError::Replayed).status(), 401);
        assert_eq!(Error::Nonce(NonceError::TooLarge).status(), 401);
        assert_eq!(Error::WrongMiner { got: "x".into() }.status(), 401);
        assert_eq!(Error::UnknownValidator { hotkey: "x".into() }.status(), 403);
        assert_eq!(
            Error::BadChallenge {
                reason: "no video_url".into()
            }
            .status(),
            400
        );
        assert_eq!(Error::Stage(StageError::invalid_input("404")).status(), 422);
        assert_eq!(Error::Stage(StageError::unavailable("gone")).status(), 503);
        let host = StageError::new(ErrorKind::VideoUnavailable, "video host: refused");
        assert_eq!(Error::Stage(host).status(), 502);
        // A stage at its stream limit: busy, said so; a too-large video is
        // the video's fault.
        let busy = Error::Stage(StageError::new(
            ErrorKind::Overloaded,
            "infer: 8 streams already open, this stage's limit (--max-streams); try again later",
        ));
        assert_eq!(busy.status(), 503);
        assert_eq!(busy.outcome().0, "busy");
        assert!(
            busy.detail().contains("streams already open"),
            "{}",
            busy.detail()
        );
        let large = StageError::new(ErrorKind::ResourceExhausted, "video: too large");
        assert_eq!(Error::Stage(large).status(), 413);
        assert_eq!(Error::BodyTimeout { after_s: 5.0 }.status(), 408);
    }

    #[test]
    fn stage_details_lose_paths_pids_and_credentials() {
        let e = Error::Stage(StageError::internal(
            "decode: cannot write /tmp/scorevision-77-1-0.video for https://u:pw@h/v.mp4: disk full",
        ));
        assert_eq!(
            e.detail(),
            "decode: cannot write <path> for https://***@h/v.mp4: disk full"
        );
        assert!(e.to_string().contains("/tmp/scorevision-77-1-0.video"));
    }
}
