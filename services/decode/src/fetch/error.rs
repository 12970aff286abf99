//! Why a download failed, and whose fault that was.

use std::path::PathBuf;
use std::time::Duration;

use sv_core::{ErrorKind, StageError};

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("invalid video URL {url:?}: {reason}")]
    InvalidUrl {
        url: String,
        #[source]
        reason: UrlError,
    },
    #[error("video URL {url} uses scheme {scheme:?}; only http and https are fetched")]
    UnsupportedScheme { url: String, scheme: String },
    #[error("refusing to fetch {url}: {host} is a non-public address ({addr})")]
    ForbiddenTarget {
        url: String,
        host: String,
        addr: std::net::IpAddr,
    },
    #[error("{url} answered HTTP {status}")]
    Status { url: String, status: u16 },
    #[error("{url} is not a video (content-type {content_type:?})")]
    NotAVideo { url: String, content_type: String },
    #[error(
        "{url} is not a video: it starts with {start}, which is no video container (MP4/MOV, Matroska/WebM, MPEG-TS/PS, AVI, FLV, Ogg, ASF)"
    )]
    NotAVideoBody { url: String, start: String },
    #[error(
        "{url} is too slow: {received} bytes in the last {:.1} s, under the minimum of {min_rate} bytes/s",
        over.as_secs_f64()
    )]
    TooSlow {
        url: String,
        received: u64,
        over: Duration,
        min_rate: u64,
    },
    #[error("{url} is larger than the {limit} byte limit{}", declared.map(|n| format!(" ({n} bytes declared)")).unwrap_or_default())]
    TooLarge {
        url: String,
        limit: u64,
        declared: Option<u64>,
    },
    #[error("{url}: more than {max} redirects")]
    TooManyRedirects { url: String, max: usize },
    #[error("{url}: redirect without a usable Location header")]
    BadRedirect { url: String },
    #[error("cannot reach {url}: {reason}")]
    Connect { url: String, reason: String },
    #[error("{url}: {what} timed out after {after:?}")]
    Timeout {
        url: String,
        what: &'static str,
        after: Duration,
    },
    #[error("{url} sent no response within {after:?}")]
    NoResponse { url: String, after: Duration },
    #[error("{url}: transfer failed after {received} bytes: {reason}")]
    Transfer {
        url: String,
        received: u64,
        reason: String,
    },
    /// The path stays out of the message (it names our temporary file and
    /// PID); the sink logs it.
    #[error("cannot store the download: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot build the HTTP client: {source}")]
    Client {
        #[source]
        source: reqwest::Error,
    },
}

/// Why a video URL is not one.
#[derive(Debug, thiserror::Error)]
pub enum UrlError {
    #[error(transparent)]
    Parse(#[from] url::ParseError),
    #[error("no host")]
    NoHost,
}

impl FetchError {
    /// Whose fault it was, for the status the validator sees.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::InvalidUrl { .. }
            | Self::UnsupportedScheme { .. }
            | Self::ForbiddenTarget { .. }
            | Self::NotAVideo { .. }
            | Self::NotAVideoBody { .. }
            | Self::TooManyRedirects { .. }
            | Self::BadRedirect { .. } => ErrorKind::InvalidInput,
            Self::Status { status, .. } if *status < 500 => ErrorKind::InvalidInput,
            Self::Status { .. } | Self::Connect { .. } | Self::Transfer { .. } => {
                ErrorKind::VideoUnavailable
            }
            Self::TooLarge { .. } => ErrorKind::ResourceExhausted,
            Self::Timeout { .. } | Self::NoResponse { .. } | Self::TooSlow { .. } => {
                ErrorKind::DeadlineExceeded
            }
            Self::Io { .. } | Self::Client { .. } => ErrorKind::Internal,
        }
    }

    /// Who to blame, as the message to the validator starts: the URL it
    /// sent, the host serving it, the bytes served, or us.
    pub fn culprit(&self) -> &'static str {
        match self {
            Self::InvalidUrl { .. }
            | Self::UnsupportedScheme { .. }
            | Self::ForbiddenTarget { .. }
            | Self::TooManyRedirects { .. }
            | Self::BadRedirect { .. } => "video URL",
            Self::Status { .. }
            | Self::Connect { .. }
            | Self::Timeout { .. }
            | Self::NoResponse { .. }
            | Self::TooSlow { .. }
            | Self::Transfer { .. } => "video host",
            Self::NotAVideo { .. } | Self::NotAVideoBody { .. } | Self::TooLarge { .. } => "video",
            Self::Io { .. } | Self::Client { .. } => "decode",
        }
    }

    /// The failure's name in `sv_decode_failures_total{kind}` (one per
    /// variant, a bounded set: never the URL or the host).
    pub fn label(&self) -> &'static str {
        match self {
            Self::InvalidUrl { .. } => "download_invalid_url",
            Self::UnsupportedScheme { .. } => "download_unsupported_scheme",
            Self::ForbiddenTarget { .. } => "download_forbidden_target",
            Self::Status { .. } => "download_status",
            Self::NotAVideo { .. } | Self::NotAVideoBody { .. } => "download_not_a_video",
            Self::TooSlow { .. } => "download_too_slow",
            Self::TooLarge { .. } => "download_too_large",
            Self::TooManyRedirects { .. } | Self::BadRedirect { .. } => "download_redirect",
            Self::Connect { .. } => "download_connect",
            Self::Timeout { .. } | Self::NoResponse { .. } => "download_timeout",
            Self::Transfer { .. } => "download_transfer",
            Self::Io { .. } | Self::Client { .. } => "download_internal",
        }
    }

    /// Worth another attempt: the host may answer next time. Never a 4xx,
    /// nor a host too slow (another window of trickle helps nobody), nor
    /// one that took the connection and never answered (another wait as
    /// long would eat the validator's whole budget).
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Status { status, .. } => *status >= 500,
            Self::Connect { .. } | Self::Timeout { .. } | Self::Transfer { .. } => true,
            _ => false,
        }
    }
}

impl From<FetchError> for StageError {
    fn from(e: FetchError) -> Self {
        StageError::new(e.kind(), format!("{}: {e}", e.culprit()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_culprit_and_no_temporary_path() {
        let host: StageError = FetchError::Connect {
            url: "http://h/v.mp4".into(),
            reason: "connection refused".into(),
        }
        .into();
        assert_eq!(host.kind, ErrorKind::VideoUnavailable);
        assert_eq!(
            host.message,
            "video host: cannot reach http://h/v.mp4: connection refused"
        );
        let ours: StageError = FetchError::Io {
            path: "/tmp/scorevision-42-1-0.video".into(),
            source: std::io::Error::other("disk full"),
        }
        .into();
        assert_eq!(ours.kind, ErrorKind::Internal);
        assert_eq!(ours.message, "decode: cannot store the download: disk full");
    }

    #[test]
    fn kinds_say_whose_fault() {
        let url = || "http://h/v".to_owned();
        assert_eq!(
            FetchError::Status {
                url: url(),
                status: 404
            }
            .kind(),
            ErrorKind::InvalidInput
        );
        assert_eq!(
            FetchError::Status {
                url: url(),
                status: 503
            }
            .kind(),
            ErrorKind::VideoUnavailable
        );
        assert_eq!(
            FetchError::TooLarge {
                url: url(),
                limit: 1,
                declared: None
            }
            .kind(),
            ErrorKind::ResourceExhausted
        );
        let addr = std::net::IpAddr::from([10, 0, 0, 1]);
        assert_eq!(
            FetchError::ForbiddenTarget {
                url: url(),
                host: "h".into(),
                addr
            }
            .kind(),
            ErrorKind::InvalidInput
        );
        let timeout = FetchError::Timeout {
            url: url(),
            what: "connect",
            after: Duration::from_secs(5),
        };
        assert_eq!(timeout.kind(), ErrorKind::DeadlineExceeded);
        assert!(timeout.is_transient());
        assert!(
            !FetchError::Status {
                url: url(),
                status: 404
            }
            .is_transient()
        );
    }
}
