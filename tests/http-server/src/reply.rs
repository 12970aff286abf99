//! [`Reply`]: what the server answers one request with, and how it sends it.

use std::borrow::Cow;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::sync::watch;

/// Longest a held-back reply waits for its [`Gate`], so a test whose code
/// never opens it fails instead of hanging.
const GATE_LIMIT: Duration = Duration::from_secs(30);

/// Bytes written per write when the pace does not say otherwise.
const PIECE: usize = 64 << 10;

/// A reply's body.
#[derive(Debug, Clone)]
pub enum Body {
    /// These bytes, shared between replies without copying.
    Bytes(Arc<Vec<u8>>),
    /// `pattern` over and over, `len` bytes in all: a huge body that is
    /// never held in memory.
    Repeat {
        /// The bytes repeated; an empty pattern gives zeros.
        pattern: Arc<Vec<u8>>,
        /// The body's length in bytes.
        len: u64,
    },
}

impl Body {
    /// The body's length in bytes.
    pub fn len(&self) -> u64 {
        match self {
            Self::Bytes(bytes) => bytes.len() as u64,
            Self::Repeat { len, .. } => *len,
        }
    }

    /// Whether the body has no bytes.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes `from..to` (both within the body).
    fn range(&self, from: u64, to: u64) -> Cow<'_, [u8]> {
        match self {
            Self::Bytes(bytes) => Cow::Borrowed(&bytes[from as usize..to as usize]),
            Self::Repeat { pattern, .. } if pattern.is_empty() => {
                Cow::Owned(vec![0; (to - from) as usize])
            }
            Self::Repeat { pattern, .. } => Cow::Owned(
                (from..to)
                    .map(|at| pattern[(at % pattern.len() as u64) as usize])
                    .collect(),
            ),
        }
    }
}

impl From<Vec<u8>> for Body {
    fn from(bytes: Vec<u8>) -> Self {
        Self::Bytes(Arc::new(bytes))
    }
}

impl From<Arc<Vec<u8>>> for Body {
    fn from(bytes: Arc<Vec<u8>>) -> Self {
        Self::Bytes(bytes)
    }
}

impl From<&[u8]> for Body {
    fn from(bytes: &[u8]) -> Self {
        Self::Bytes(Arc::new(bytes.to_vec()))
    }
}

/// The Content-Length header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Length {
    /// The body's length.
    Body,
    /// This length, whatever is sent (a transfer cut short, a size claim).
    Declared(u64),
    /// None: the body ends when the connection does.
    Absent,
}

/// How fast the body goes out.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Pace {
    /// As fast as the client takes it.
    Full,
    /// `size` bytes, then `pause`, over and over.
    Chunks {
        /// Bytes per chunk.
        size: usize,
        /// The wait after each chunk.
        pause: Duration,
    },
    /// Paced to this many bytes a second from the first body byte.
    Rate {
        /// Bytes per second.
        bytes_per_s: f64,
    },
}

/// A gate a test opens; a reply held back with [`Reply::hold`] waits for it.
#[derive(Debug, Clone)]
pub struct Gate(Arc<watch::Sender<bool>>);

impl Default for Gate {
    fn default() -> Self {
        Self(Arc::new(watch::channel(false).0))
    }
}

impl Gate {
    /// Lets every reply held on this gate (and any later one) go on.
    pub fn open(&self) {
        self.0.send_replace(true);
    }

    /// Waits until opened, or `limit` passes. True when it was opened.
    async fn wait(&self, limit: Duration) -> bool {
        let mut rx = self.0.subscribe();
        tokio::time::timeout(limit, rx.wait_for(|open| *open))
            .await
            .is_ok()
    }
}

/// What one request is answered with. Built from [`Reply::video`],
/// [`Reply::status`], [`Reply::redirect`] or [`Reply::silent`], then
/// adjusted.
#[derive(Debug, Clone)]
pub struct Reply {
    status: String,
    content_type: Option<&'static str>,
    location: Option<String>,
    body: Body,
    length: Length,
    /// Nothing is written at all (after the delay the connection closes).
    silent: bool,
    delay: Duration,
    pace: Pace,
    hold: Option<(u64, Gate)>,
    cut_after: Option<u64>,
    linger: Duration,
    sent: Option<Arc<AtomicU64>>,
    sent_all: Option<Arc<AtomicBool>>,
}

impl Reply {
    /// `status` (e.g. "404 Not Found") with an empty body and no Content-Type.
    pub fn status(status: impl Into<String>) -> Self {
        Self {
            status: status.into(),
            content_type: None,
            location: None,
            body: Body::from(Vec::new()),
            length: Length::Body,
            silent: false,
            delay: Duration::ZERO,
            pace: Pace::Full,
            hold: None,
            cut_after: None,
            linger: Duration::ZERO,
            sent: None,
            sent_all: None,
        }
    }

    /// 200 with `body` as `video/mp4`.
    pub fn video(body: impl Into<Body>) -> Self {
        Self::status("200 OK")
            .content_type(Some("video/mp4"))
            .body(body)
    }

    /// 404 with an empty body.
    pub fn not_found() -> Self {
        Self::status("404 Not Found")
    }

    /// 302 to `location` (a path, or a whole URL).
    pub fn redirect(location: impl Into<String>) -> Self {
        Self {
            location: Some(location.into()),
            ..Self::status("302 Found")
        }
    }

    /// Takes the request and never answers; the connection closes after
    /// [`Reply::delay`].
    pub fn silent() -> Self {
        Self {
            silent: true,
            ..Self::status("200 OK")
        }
    }

    /// Sends `body` (Content-Length follows it unless [`Reply::length`]
    /// says otherwise).
    pub fn body(mut self, body: impl Into<Body>) -> Self {
        self.body = body.into();
        self
    }

    /// The Content-Type header, or none.
    pub fn content_type(mut self, content_type: Option<&'static str>) -> Self {
        self.content_type = content_type;
        self
    }

    /// What the Content-Length header says.
    pub fn length(mut self, length: Length) -> Self {
        self.length = length;
        self
    }

    /// Waits this long after the request before answering.
    pub fn delay(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }

    /// How fast the body is written.
    pub fn pace(mut self, pace: Pace) -> Self {
        self.pace = pace;
        self
    }

    /// Sends the first `first` body bytes, then the rest only once `gate`
    /// opens (or 30 s pass).
    pub fn hold(mut self, first: u64, gate: Gate) -> Self {
        self.hold = Some((first, gate));
        self
    }

    /// Closes the connection after `n` body bytes (the Content-Length
    /// still says the whole body).
    pub fn cut_after(mut self, n: u64) -> Self {
        self.cut_after = Some(n);
        self
    }

    /// Keeps the connection open this long after the last byte sent.
    pub fn linger(mut self, linger: Duration) -> Self {
        self.linger = linger;
        self
    }

    /// Adds every body byte written to `sent`.
    pub fn count_into(mut self, sent: Arc<AtomicU64>) -> Self {
        self.sent = Some(sent);
        self
    }

    /// Sets `sent_all` once the whole body was written.
    pub fn on_sent_all(mut self, sent_all: Arc<AtomicBool>) -> Self {
        self.sent_all = Some(sent_all);
        self
    }

    fn head(&self) -> String {
        let mut head = format!("HTTP/1.1 {}\r\n", self.status);
        if let Some(content_type) = self.content_type {
            head.push_str(&format!("Content-Type: {content_type}\r\n"));
        }
        if let Some(location) = &self.location {
            head.push_str(&format!("Location: {location}\r\n"));
        }
        match self.length {
            Length::Body => head.push_str(&format!("Content-Length: {}\r\n", self.body.len())),
            Length::Declared(n) => head.push_str(&format!("Content-Length: {n}\r\n")),
            Length::Absent => {}
        }
        head.push_str("Connection: close\r\n\r\n");
        head
    }

    /// Writes the reply to `stream`, then closes it. A client that goes
    /// away ends the reply early.
    pub(crate) async fn send(self, mut stream: TcpStream) {
        tokio::time::sleep(self.delay).await;
        if self.silent {
            return;
        }
        if stream.write_all(self.head().as_bytes()).await.is_err() {
            return;
        }
        let len = self.body.len();
        let end = self.cut_after.map_or(len, |n| n.min(len));
        let mut body = Sending {
            stream: &mut stream,
            reply: &self,
            started: Instant::now(),
            written: 0,
        };
        if let Some((first, gate)) = &self.hold {
            let first = (*first).min(end);
            if body.write(first).await.is_err() || body.stream.flush().await.is_err() {
                return;
            }
            gate.wait(GATE_LIMIT).await;
        }
        if body.write(end).await.is_err() {
            return;
        }
        if end == len
            && let Some(sent_all) = &self.sent_all
        {
            sent_all.store(true, Ordering::SeqCst);
        }
        let _ = stream.flush().await;
        tokio::time::sleep(self.linger).await;
        let _ = stream.shutdown().await;
    }
}

/// A body on its way out: what was written so far, at the reply's pace.
struct Sending<'a> {
    stream: &'a mut TcpStream,
    reply: &'a Reply,
    started: Instant,
    written: u64,
}

impl Sending<'_> {
    /// Writes the body up to byte `to`.
    async fn write(&mut self, to: u64) -> std::io::Result<()> {
        let piece = match self.reply.pace {
            Pace::Chunks { size, .. } => size.max(1),
            Pace::Full | Pace::Rate { .. } => PIECE,
        } as u64;
        while self.written < to {
            let next = (self.written + piece).min(to);
            let bytes = self.reply.body.range(self.written, next);
            self.stream.write_all(&bytes).await?;
            if let Some(sent) = &self.reply.sent {
                sent.fetch_add(bytes.len() as u64, Ordering::SeqCst);
            }
            self.written = next;
            match self.reply.pace {
                Pace::Full => {}
                Pace::Chunks { pause, .. } => tokio::time::sleep(pause).await,
                Pace::Rate { bytes_per_s } => {
                    let due = Duration::from_secs_f64(self.written as f64 / bytes_per_s);
                    if let Some(wait) = due.checked_sub(self.started.elapsed()) {
                        tokio::time::sleep(wait).await;
                    }
                }
            }
        }
        Ok(())
    }
}
