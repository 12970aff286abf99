//! Helpers for sv-decode's integration tests: fixture paths, clips made
//! with ffmpeg, and a loopback HTTP server whose answers a test can hold
//! back (to prove a frame came out before the last byte went in) or cut.

#![allow(dead_code)] // each test binary uses its own subset

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use sv_decode::DecodeConfig;
use sv_decode::config::HardwarePreference;
pub use sv_test_http::{Gate, Server};
use sv_test_http::{Pace, Reply};

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

impl Answer {
    /// The reply to the `hit`-th request for its path.
    fn reply(&self, hit: usize) -> Reply {
        match self.clone() {
            Answer::Whole(body) => Reply::video(body),
            Answer::HeldBack {
                body,
                first,
                gate,
                sent_all,
            } => Reply::video(body)
                .hold(first as u64, gate)
                .on_sent_all(sent_all),
            Answer::CutOnce { body, first, gate } if hit == 1 => Reply::video(body)
                .hold(first as u64, gate)
                .cut_after(first as u64),
            Answer::CutOnce { body, .. } => Reply::video(body),
            Answer::Cut { body, first } => Reply::video(body).cut_after(first as u64),
            Answer::Trickle { body, chunk, pause } => {
                Reply::video(body).pace(Pace::Chunks { size: chunk, pause })
            }
            Answer::Status(status) => Reply::status(status),
        }
    }
}

/// A loopback HTTP/1.1 server answering `routes` (404 elsewhere), counting
/// requests per path.
pub async fn serve(routes: HashMap<&'static str, Answer>) -> Server {
    Server::start(move |request| {
        routes
            .get(request.path.as_str())
            .map_or_else(Reply::not_found, |answer| answer.reply(request.hit))
    })
    .await
    .unwrap()
}
