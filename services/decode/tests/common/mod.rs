//! Helpers for sv-decode's integration tests: fixture paths, clips made
//! with ffmpeg, and a loopback HTTP server whose answers a test can hold
//! back (to prove a frame came out before the last byte went in) or cut.

#![allow(dead_code)] // each test binary uses its own subset

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sv_decode::DecodeConfig;
use sv_decode::config::HardwarePreference;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// `tests/fixtures/<rel>` of the workspace.
pub fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures")
        .join(rel)
}

/// The bundled 50-frame 1280x720 H.264 clip (its `moov` comes first).
pub fn sample_clip() -> PathBuf {
    fixture("clip/sample_720p.mp4")
}

/// Software decoding, loopback allowed: what every test here runs with.
pub fn config() -> DecodeConfig {
    let mut config = DecodeConfig {
        hardware: HardwarePreference::Off,
        ..DecodeConfig::default()
    };
    config.fetch.allow_nets = vec!["127.0.0.1/32".parse().unwrap()];
    config.fetch.backoff = Duration::from_millis(10);
    config
}

/// Runs ffmpeg with `args`; panics with its message when it fails.
pub fn ffmpeg(args: &[&str]) {
    let out = std::process::Command::new("ffmpeg")
        .args(["-loglevel", "error", "-y"])
        .args(args)
        .output()
        .expect("ffmpeg runs (scripts/install-deps.sh installs it)");
    assert!(
        out.status.success(),
        "ffmpeg {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The sample clip remuxed (same coded pictures) with its `moov` box after
/// `mdat`, ffmpeg's default layout, which cannot be decoded progressively.
pub fn moov_at_end(dir: &Path) -> PathBuf {
    let out = dir.join("moov-at-end.mp4");
    let clip = sample_clip();
    ffmpeg(&[
        "-i",
        clip.to_str().unwrap(),
        "-c",
        "copy",
        out.to_str().unwrap(),
    ]);
    out
}

/// A gate a test opens; a held-back response waits for it.
#[derive(Clone)]
pub struct Gate(Arc<watch::Sender<bool>>);

impl Default for Gate {
    fn default() -> Self {
        Self(Arc::new(watch::channel(false).0))
    }
}

impl Gate {
    pub fn open(&self) {
        self.0.send_replace(true);
    }

    /// Waits until opened, or `limit` passes (so a broken decoder fails the
    /// test instead of hanging it). True when it was opened.
    async fn wait(&self, limit: Duration) -> bool {
        let mut rx = self.0.subscribe();
        tokio::time::timeout(limit, rx.wait_for(|open| *open))
            .await
            .is_ok()
    }
}

/// How a path answers.
#[derive(Clone)]
pub enum Answer {
    /// 200 with the whole body at once.
    Whole(Arc<Vec<u8>>),
    /// 200; `first` bytes, then the rest only once `gate` opens. `sent_all`
    /// becomes true after the last byte was written.
    HeldBack {
        body: Arc<Vec<u8>>,
        first: usize,
        gate: Gate,
        sent_all: Arc<AtomicBool>,
    },
    /// First request: `first` bytes, then (once `gate` opens) the
    /// connection is cut short of its Content-Length. Later requests: whole.
    CutOnce {
        body: Arc<Vec<u8>>,
        first: usize,
        gate: Gate,
    },
    /// 200 and a Content-Length, but the connection closes after `first`
    /// bytes, every time.
    Cut { body: Arc<Vec<u8>>, first: usize },
    /// 200, `chunk` bytes every `pause`.
    Trickle {
        body: Arc<Vec<u8>>,
        chunk: usize,
        pause: Duration,
    },
    /// A bare status line, e.g. "404 Not Found".
    Status(&'static str),
}

/// A loopback HTTP/1.1 server (`Connection: close`), counting requests per path.
pub struct Server {
    pub addr: SocketAddr,
    hits: Arc<Mutex<HashMap<String, usize>>>,
}

impl Server {
    pub async fn start(routes: HashMap<&'static str, Answer>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let hits = Arc::new(Mutex::new(HashMap::new()));
        let routes = Arc::new(routes);
        let counter = hits.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(answer(stream, routes.clone(), counter.clone()));
            }
        });
        Self { addr, hits }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn hits(&self, path: &str) -> usize {
        self.hits.lock().unwrap().get(path).copied().unwrap_or(0)
    }
}

const LIVENESS: Duration = Duration::from_secs(30);

async fn answer(
    mut stream: TcpStream,
    routes: Arc<HashMap<&'static str, Answer>>,
    hits: Arc<Mutex<HashMap<String, usize>>>,
) {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    let head = String::from_utf8_lossy(&head);
    let path = head.split_whitespace().nth(1).unwrap_or("/").to_owned();
    let hit = {
        let mut hits = hits.lock().unwrap();
        let n = hits.entry(path.clone()).or_insert(0);
        *n += 1;
        *n
    };
    let ok = |len: usize| {
        format!(
            "HTTP/1.1 200 OK\r\nContent-Type: video/mp4\r\nContent-Length: {len}\r\nConnection: close\r\n\r\n"
        )
        .into_bytes()
    };
    match routes.get(path.as_str()).cloned() {
        Some(Answer::Whole(body)) => {
            let _ = stream.write_all(&ok(body.len())).await;
            let _ = stream.write_all(&body).await;
        }
        Some(Answer::HeldBack {
            body,
            first,
            gate,
            sent_all,
        }) => {
            let _ = stream.write_all(&ok(body.len())).await;
            let _ = stream.write_all(&body[..first]).await;
            let _ = stream.flush().await;
            gate.wait(LIVENESS).await;
            if stream.write_all(&body[first..]).await.is_ok() {
                sent_all.store(true, Ordering::SeqCst);
            }
        }
        Some(Answer::CutOnce { body, first, gate }) if hit == 1 => {
            let _ = stream.write_all(&ok(body.len())).await;
            let _ = stream.write_all(&body[..first]).await;
            let _ = stream.flush().await;
            gate.wait(LIVENESS).await;
        }
        Some(Answer::CutOnce { body, .. }) => {
            let _ = stream.write_all(&ok(body.len())).await;
            let _ = stream.write_all(&body).await;
        }
        Some(Answer::Cut { body, first }) => {
            let _ = stream.write_all(&ok(body.len())).await;
            let _ = stream.write_all(&body[..first]).await;
        }
        Some(Answer::Trickle { body, chunk, pause }) => {
            let _ = stream.write_all(&ok(body.len())).await;
            for part in body.chunks(chunk.max(1)) {
                if stream.write_all(part).await.is_err() {
                    return;
                }
                tokio::time::sleep(pause).await;
            }
        }
        Some(Answer::Status(status)) => {
            let _ = stream
                .write_all(
                    format!("HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                        .as_bytes(),
                )
                .await;
        }
        None => {
            let _ = stream
                .write_all(
                    b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                )
                .await;
        }
    }
    let _ = stream.shutdown().await;
}
