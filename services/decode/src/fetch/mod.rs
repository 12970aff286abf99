//! Safe download of challenge videos over http(s).
//!
//! - [`FetchPolicy`]: size cap, timeouts, redirects, retries, address guard.
//! - [`Fetcher`]: one reqwest client built from a policy; [`Fetcher::download`]
//!   into a file, [`Fetcher::download_into`] into any [`BodySink`] (the
//!   decode stage's sink also feeds the decoder as bytes arrive).
//! - [`guard`]: which addresses may be connected to (checked after DNS
//!   resolution and on every redirect hop).
//! - [`rewrite_drive_url`]: Google Drive share link -> direct download.
//! - [`BodySink`] / [`FileSink`]: where a body goes (`sink`).
//! - [`sniff`]: whether a body's first bytes are a video container.
//! - [`floor`]: the slowest transfer worth waiting for ([`MinRate`]).
//! - [`FetchError`]: what went wrong, with [`FetchError::kind`] for the status.
//!
//! Redirects are followed by hand so each hop is checked again. Retries (with
//! exponential backoff) happen only for transient failures: connect errors,
//! timeouts, 5xx, a transfer cut short; never for 4xx, refused targets,
//! oversized, too slow or non-video bodies. `total_timeout` bounds
//! everything, retries included.

mod drive;
mod error;
pub mod floor;
pub mod guard;
mod sink;
pub mod sniff;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ipnet::IpNet;
use prometheus_client::metrics::counter::Counter;
use reqwest::header::{CONTENT_TYPE, LOCATION};
use sv_core::text::redact_credentials;
use tracing::{debug, warn};
use url::Url;

pub use drive::rewrite_drive_url;
pub use error::{FetchError, UrlError};
pub use floor::MinRate;
use floor::RateFloor;
use guard::{Forbidden, Guard, GuardedResolver};
pub use sink::{BodySink, FileSink};
use sniff::Sniffed;

/// Limits for one download.
#[derive(Debug, Clone, PartialEq)]
pub struct FetchPolicy {
    /// Largest accepted video, checked against Content-Length and while streaming.
    pub max_bytes: u64,
    /// Longest wait for a TCP (and TLS) connection, per attempt.
    pub connect_timeout: Duration,
    /// Longest wait for the response headers once connected. Not retried:
    /// a host that accepts connections and never answers would otherwise
    /// hold the challenge for every attempt's read timeout (91.6 s seen).
    pub first_byte_timeout: Duration,
    /// Longest wait for the next body bytes.
    pub read_timeout: Duration,
    /// Bound on the whole download, retries and backoff included.
    pub total_timeout: Duration,
    /// Redirects followed per attempt, each hop checked by the guard.
    pub max_redirects: usize,
    /// Extra attempts after a transient failure.
    pub retries: u32,
    /// First backoff; doubled each retry.
    pub backoff: Duration,
    /// Allow every non-public address (development only).
    pub allow_private: bool,
    /// Non-public networks allowed anyway (tests: `127.0.0.1/32`).
    pub allow_nets: Vec<IpNet>,
    /// Give up a body arriving slower than this (None: no floor).
    pub min_rate: Option<MinRate>,
    /// Refuse a body whose first bytes are no video container before
    /// downloading the rest ([`sniff`]).
    pub sniff_video: bool,
}

impl Default for FetchPolicy {
    fn default() -> Self {
        Self {
            max_bytes: 1 << 30,
            connect_timeout: Duration::from_secs(5),
            first_byte_timeout: Duration::from_secs(10),
            read_timeout: Duration::from_secs(30),
            total_timeout: Duration::from_secs(120),
            max_redirects: 5,
            retries: 2,
            backoff: Duration::from_millis(500),
            allow_private: false,
            allow_nets: Vec::new(),
            min_rate: Some(MinRate::DEFAULT),
            sniff_video: true,
        }
    }
}

/// Downloads videos under a [`FetchPolicy`]. Cheap to share (`Arc` it);
/// connections are pooled.
#[derive(Debug)]
pub struct Fetcher {
    policy: FetchPolicy,
    guard: Arc<Guard>,
    client: reqwest::Client,
    /// Attempts retried (`sv_decode_download_retries_total`).
    retries: Counter,
}

impl Fetcher {
    /// A fetcher enforcing `policy`; its HTTP client resolves names through
    /// the private-address guard and follows no redirect on its own.
    pub fn new(policy: FetchPolicy) -> Result<Self, FetchError> {
        let guard = Arc::new(Guard {
            allow_private: policy.allow_private,
            allow_nets: policy.allow_nets.clone(),
        });
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            // A proxy would connect on our behalf and bypass the guard.
            .no_proxy()
            .dns_resolver(Arc::new(GuardedResolver {
                guard: guard.clone(),
            }))
            .connect_timeout(policy.connect_timeout)
            .read_timeout(policy.read_timeout)
            .user_agent(concat!("scorevision/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|source| FetchError::Client { source })?;
        Ok(Self {
            policy,
            guard,
            client,
            retries: Counter::default(),
        })
    }

    /// The limits this fetcher enforces.
    pub fn policy(&self) -> &FetchPolicy {
        &self.policy
    }

    /// Download attempts retried so far, as a Prometheus counter.
    pub fn retries(&self) -> &Counter {
        &self.retries
    }

    /// Downloads `url` (Drive links rewritten) into `dest`, returning its
    /// size. On failure `dest` is removed.
    pub async fn download(&self, url: &str, dest: &Path) -> Result<u64, FetchError> {
        let result = self.download_into(url, &mut FileSink::new(dest)).await;
        if result.is_err() {
            let _ = tokio::fs::remove_file(dest).await;
        }
        result
    }

    /// Downloads `url` (Drive links rewritten) into `sink`, returning its
    /// size. Every attempt that gets a body starts it with
    /// [`BodySink::begin`]; a retry after a cut transfer starts again from
    /// the first byte.
    pub async fn download_into(
        &self,
        url: &str,
        sink: &mut impl BodySink,
    ) -> Result<u64, FetchError> {
        let url = rewrite_drive_url(url.trim());
        let parsed = Url::parse(&url).map_err(|e| FetchError::InvalidUrl {
            url: redact_credentials(&url).into_owned(),
            reason: e.into(),
        })?;
        let total = self.policy.total_timeout;
        match tokio::time::timeout(total, self.with_retries(&parsed, sink)).await {
            Ok(result) => result,
            Err(_) => Err(FetchError::Timeout {
                url: shown(&parsed),
                what: "download",
                after: total,
            }),
        }
    }

    async fn with_retries(&self, url: &Url, sink: &mut impl BodySink) -> Result<u64, FetchError> {
        let mut attempt = 0;
        loop {
            match self.attempt(url, sink).await {
                Err(e) if e.is_transient() && attempt < self.policy.retries => {
                    let backoff = self.policy.backoff.saturating_mul(1 << attempt.min(16));
                    warn!(url = %shown(url), attempt, error = %e, backoff_ms = backoff.as_millis() as u64, "Download failed; retrying.");
                    self.retries.inc();
                    tokio::time::sleep(backoff).await;
                    attempt += 1;
                }
                result => return result,
            }
        }
    }

    /// One attempt: follow redirects (each hop checked), then stream the body.
    async fn attempt(&self, url: &Url, sink: &mut impl BodySink) -> Result<u64, FetchError> {
        let mut current = url.clone();
        for _hop in 0..=self.policy.max_redirects {
            self.check_target(&current)?;
            let wait = self.policy.connect_timeout + self.policy.first_byte_timeout;
            let response =
                match tokio::time::timeout(wait, self.client.get(current.clone()).send()).await {
                    Ok(Ok(response)) => response,
                    // The client's own read timeout, while waiting for the
                    // headers: the same silent host.
                    Ok(Err(e)) if e.is_timeout() && !e.is_connect() => {
                        return Err(FetchError::NoResponse {
                            url: shown(&current),
                            after: self.policy.read_timeout.min(wait),
                        });
                    }
                    Ok(Err(e)) => return Err(self.classify(e, &current, 0)),
                    Err(_) => {
                        return Err(FetchError::NoResponse {
                            url: shown(&current),
                            after: wait,
                        });
                    }
                };
            let status = response.status();
            if status.is_redirection() {
                let next = response
                    .headers()
                    .get(LOCATION)
                    .and_then(|l| l.to_str().ok())
                    .and_then(|l| current.join(l).ok())
                    .ok_or_else(|| FetchError::BadRedirect {
                        url: shown(&current),
                    })?;
                debug!(from = %shown(&current), to = %shown(&next), "Following redirect.");
                current = next;
                continue;
            }
            if !status.is_success() {
                return Err(FetchError::Status {
                    url: shown(&current),
                    status: status.as_u16(),
                });
            }
            return self.save(response, &current, sink).await;
        }
        Err(FetchError::TooManyRedirects {
            url: shown(url),
            max: self.policy.max_redirects,
        })
    }

    /// Scheme and IP-literal checks (names are checked by the resolver).
    fn check_target(&self, url: &Url) -> Result<(), FetchError> {
        if !matches!(url.scheme(), "http" | "https") {
            return Err(FetchError::UnsupportedScheme {
                url: shown(url),
                scheme: url.scheme().into(),
            });
        }
        let literal = match url.host() {
            Some(url::Host::Ipv4(v4)) => Some(v4.into()),
            Some(url::Host::Ipv6(v6)) => Some(v6.into()),
            Some(url::Host::Domain(_)) => None,
            None => {
                return Err(FetchError::InvalidUrl {
                    url: shown(url),
                    reason: UrlError::NoHost,
                });
            }
        };
        match literal {
            Some(addr) if !self.guard.allows(addr) => Err(FetchError::ForbiddenTarget {
                url: shown(url),
                host: addr.to_string(),
                addr,
            }),
            _ => Ok(()),
        }
    }

    async fn save(
        &self,
        mut response: reqwest::Response,
        url: &Url,
        sink: &mut impl BodySink,
    ) -> Result<u64, FetchError> {
        let limit = self.policy.max_bytes;
        let content_type = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        // Drive's "can't scan for viruses" or login pages come back as HTML.
        if content_type
            .trim()
            .to_ascii_lowercase()
            .starts_with("text/")
        {
            return Err(FetchError::NotAVideo {
                url: shown(url),
                content_type: content_type.into(),
            });
        }
        if let Some(declared) = response.content_length().filter(|&n| n > limit) {
            return Err(FetchError::TooLarge {
                url: shown(url),
                limit,
                declared: Some(declared),
            });
        }
        // While sniffing, the first bytes wait here; the sink starts once
        // they are known to be a video.
        let mut head: Option<Vec<u8>> = self.policy.sniff_video.then(Vec::new);
        if head.is_none() {
            sink.begin().await?;
        }
        let mut floor = self
            .policy
            .min_rate
            .map(|min| RateFloor::new(min, Instant::now()));
        let mut received = 0u64;
        let mut last_bytes = Instant::now();
        loop {
            // Wake for the rate check even when nothing arrives.
            let read_by = last_bytes + self.policy.read_timeout;
            let wake = floor
                .as_ref()
                .map_or(read_by, |f| f.next_check().min(read_by));
            let chunk = match tokio::time::timeout_at(wake.into(), response.chunk()).await {
                Ok(Ok(Some(chunk))) => Some(chunk),
                Ok(Ok(None)) => break,
                Ok(Err(e)) => return Err(self.classify(e, url, received)),
                Err(_) if Instant::now() >= read_by => {
                    return Err(FetchError::Timeout {
                        url: shown(url),
                        what: "read",
                        after: self.policy.read_timeout,
                    });
                }
                Err(_) => None,
            };
            if let Some(floor) = floor.as_mut()
                && let Err(slow) = floor.check(Instant::now(), received)
            {
                return Err(FetchError::TooSlow {
                    url: shown(url),
                    received: slow.received,
                    over: slow.over,
                    min_rate: self.policy.min_rate.map_or(0, |m| m.bytes_per_s),
                });
            }
            let Some(chunk) = chunk else { continue };
            last_bytes = Instant::now();
            received += chunk.len() as u64;
            if received > limit {
                return Err(FetchError::TooLarge {
                    url: shown(url),
                    limit,
                    declared: None,
                });
            }
            match head.as_mut() {
                None => sink.write(&chunk).await?,
                Some(first) => {
                    first.extend_from_slice(&chunk);
                    if self.sniffed(first, false, url, sink).await? {
                        head = None;
                    }
                }
            }
        }
        if let Some(first) = head {
            self.sniffed(&first, true, url, sink).await?;
        }
        sink.end().await?;
        Ok(received)
    }

    /// Decides on the first bytes `head` (`complete`: the whole body): a
    /// video starts the sink with them (true), too few bytes wait for more
    /// (false), anything else is refused.
    async fn sniffed(
        &self,
        head: &[u8],
        complete: bool,
        url: &Url,
        sink: &mut impl BodySink,
    ) -> Result<bool, FetchError> {
        match sniff::sniff(&head[..head.len().min(sniff::SNIFF_LEN)], complete) {
            Sniffed::NeedMore if head.len() < sniff::SNIFF_LEN => Ok(false),
            Sniffed::Video(container) => {
                debug!(url = %shown(url), container, "The body is a video.");
                sink.begin().await?;
                sink.write(head).await?;
                Ok(true)
            }
            Sniffed::NotVideo | Sniffed::NeedMore => Err(FetchError::NotAVideoBody {
                url: shown(url),
                start: sniff::describe(head),
            }),
        }
    }

    fn classify(&self, e: reqwest::Error, url: &Url, received: u64) -> FetchError {
        let url_s = shown(url);
        // reqwest's own text repeats the URL, credentials and all.
        let e = e.without_url();
        if let Some(forbidden) = find_source::<Forbidden>(&e) {
            return FetchError::ForbiddenTarget {
                url: url_s,
                host: forbidden.host.clone(),
                addr: forbidden.addr,
            };
        }
        if e.is_timeout() {
            let (what, after) = if e.is_connect() {
                ("connect", self.policy.connect_timeout)
            } else {
                ("read", self.policy.read_timeout)
            };
            return FetchError::Timeout {
                url: url_s,
                what,
                after,
            };
        }
        let reason = error_chain(&e);
        if e.is_connect() || (received == 0 && e.is_request()) {
            FetchError::Connect { url: url_s, reason }
        } else {
            FetchError::Transfer {
                url: url_s,
                received,
                reason,
            }
        }
    }
}

fn find_source<'a, T: std::error::Error + 'static>(
    e: &'a (dyn std::error::Error + 'static),
) -> Option<&'a T> {
    let mut current = Some(e);
    while let Some(err) = current {
        if let Some(found) = err.downcast_ref::<T>() {
            return Some(found);
        }
        current = err.source();
    }
    None
}

/// `url` as logs and messages show it: without `user:password@`.
fn shown(url: &Url) -> String {
    redact_credentials(url.as_str()).into_owned()
}

/// "outer: inner: innermost", since reqwest's Display hides the cause.
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut current = e.source();
    while let Some(err) = current {
        text.push_str(": ");
        text.push_str(&err.to_string());
        current = err.source();
    }
    text
}

#[cfg(test)]
mod tests;
