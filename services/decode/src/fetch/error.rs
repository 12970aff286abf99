//! Why a download failed, and whose fault that was.

use std::path::PathBuf;
use std::time::Duration;

use sv_core::{ErrorKind, StageError};

/// Why a download failed. Every URL in it is credential-free; each variant
/// says whose fault it was ([`FetchError::kind`], [`FetchError::culprit`])
/// and whether another attempt may help ([`FetchError::is_transient`]).
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// The URL does not parse, or names no host.
    #[error("invalid video URL {url:?}: {reason}")]
    InvalidUrl {
        /// The URL, credentials redacted.
        url: String,
        /// What is wrong with it.
        #[source]
        reason: UrlError,
    },
    /// The URL (or a redirect) uses a scheme other than http or https.
    #[error("video URL {url} uses scheme {scheme:?}; only http and https are fetched")]
    UnsupportedScheme {
        /// The URL, credentials redacted.
        url: String,
        /// The scheme it uses.
        scheme: String,
    },
    /// The host is, or resolves only to, loopback, private, link-local or
    /// otherwise non-public addresses: refused so a validator cannot make
    /// the miner probe its own network.
    #[error("refusing to fetch {url}: {host} is a non-public address ({addr})")]
    ForbiddenTarget {
        /// The URL, credentials redacted.
        url: String,
        /// The host as written in the URL.
        host: String,
        /// The refused address (the first, when a name resolved to several).
        addr: std::net::IpAddr,
    },
    /// The server answered with a status other than success or redirect.
    #[error("{url} answered HTTP {status}")]
    Status {
        /// The URL, credentials redacted.
        url: String,
        /// The HTTP status code.
        status: u16,
    },
    /// The server declared a `text/*` content type (an error page, say).
    #[error("{url} is not a video (content-type {content_type:?})")]
    NotAVideo {
        /// The URL, credentials redacted.
        url: String,
        /// The declared `Content-Type`.
        content_type: String,
    },
    /// The first bytes match no video container's signature (checked when
    /// sniffing is on, before anything is written).
    #[error(
        "{url} is not a video: it starts with {start}, which is no video container (MP4/MOV, Matroska/WebM, MPEG-TS/PS, AVI, FLV, Ogg, ASF)"
    )]
    NotAVideoBody {
        /// The URL, credentials redacted.
        url: String,
        /// The first bytes, described for a reader (printable text or hex).
        start: String,
    },
    /// The transfer brought fewer bytes over the last full window than the
    /// minimum rate allows.
    #[error(
        "{url} is too slow: {received} bytes in the last {:.1} s, under the minimum of {min_rate} bytes/s",
        over.as_secs_f64()
    )]
    TooSlow {
        /// The URL, credentials redacted.
        url: String,
        /// Bytes received over that window.
        received: u64,
        /// The window's length.
        over: Duration,
        /// The minimum rate, in bytes per second.
        min_rate: u64,
    },
    /// The body is, or declares to be, larger than the size cap.
    #[error("{url} is larger than the {limit} byte limit{}", declared.map(|n| format!(" ({n} bytes declared)")).unwrap_or_default())]
    TooLarge {
        /// The URL, credentials redacted.
        url: String,
        /// The size cap, in bytes.
        limit: u64,
        /// The `Content-Length`, when the server declared one over the cap
        /// (`None` when the body outgrew the cap while arriving).
        declared: Option<u64>,
    },
    /// The redirect chain is longer than allowed.
    #[error("{url}: more than {max} redirects")]
    TooManyRedirects {
        /// The URL first requested, credentials redacted.
        url: String,
        /// Redirects allowed.
        max: usize,
    },
    /// A redirect status without a `Location` header that resolves to a URL.
    #[error("{url}: redirect without a usable Location header")]
    BadRedirect {
        /// The URL that answered with the redirect, credentials redacted.
        url: String,
    },
    /// The connection could not be made (DNS, refused, TLS, ...).
    #[error("cannot reach {url}: {reason}")]
    Connect {
        /// The URL, credentials redacted.
        url: String,
        /// The client's error with its chain of causes.
        reason: String,
    },
    /// A phase of the download took longer than its timeout.
    #[error("{url}: {what} timed out after {after:?}")]
    Timeout {
        /// The URL, credentials redacted.
        url: String,
        /// The phase: `connect`, `read` (no bytes for the read timeout) or
        /// `download` (the whole download, retries included).
        what: &'static str,
        /// The timeout that ran out.
        after: Duration,
    },
    /// The host took the connection but sent no response headers in time.
    #[error("{url} sent no response within {after:?}")]
    NoResponse {
        /// The URL, credentials redacted.
        url: String,
        /// How long we waited.
        after: Duration,
    },
    /// The connection failed while the body was arriving.
    #[error("{url}: transfer failed after {received} bytes: {reason}")]
    Transfer {
        /// The URL, credentials redacted.
        url: String,
        /// Bytes received before the failure.
        received: u64,
        /// The client's error with its chain of causes.
        reason: String,
    },
    /// Writing the download to its local file failed. The path stays out of
    /// the message (it names our temporary file and PID); the sink logs it.
    #[error("cannot store the download: {source}")]
    Io {
        /// The file being written.
        path: PathBuf,
        /// The write's error.
        source: std::io::Error,
    },
    /// The HTTP client could not be built (its TLS backend, say).
    #[error("cannot build the HTTP client: {source}")]
    Client {
        /// The client builder's error.
        #[source]
        source: reqwest::Error,
    },
}

/// Why a video URL is not one.
#[derive(Debug, thiserror::Error)]
pub enum UrlError {
    /// The text does not parse as a URL.
    #[error(transparent)]
    Parse(#[from] url::ParseError),
    /// The URL parses but names no host to download from.
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
