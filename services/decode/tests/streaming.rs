//! Decoding while downloading, against a loopback server: the first frame
//! comes out before the server has sent the last byte; a clip whose index
//! sits at the end still decodes (after the download, and the choice is
//! logged with its reason); a retry after frames were sent starts the
//! decoder again without repeating or losing a frame; and in every case the
//! frames are the ones the file gives, to the bit.

mod common;

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use common::{Answer, Gate, config, moov_at_end, sample_clip, serve};
use futures::StreamExt;
use sv_core::{ErrorKind, Frame, FrameSource, StageError, VideoRequest};
use sv_decode::fetch::Fetcher;
use sv_decode::progressive::{self, GrowingFile, Outcome, Progress};
use sv_decode::{DecodeConfig, Stage, decode_file};

/// Every frame of `path` as the file path decodes it.
fn from_file(path: &Path, config: &DecodeConfig) -> Vec<Frame> {
    let mut frames = Vec::new();
    decode_file(path, config, |f| {
        frames.push(f);
        true
    })
    .unwrap();
    frames
}

fn assert_same_frames(got: &[Frame], want: &[Frame]) {
    assert_eq!(got.len(), want.len(), "frame count");
    for (g, w) in got.iter().zip(want) {
        assert_eq!(
            (g.index, g.pts_ns, g.width, g.height, g.stride),
            (w.index, w.pts_ns, w.width, w.height, w.stride),
            "frame {}",
            w.index
        );
        assert!(g.data == w.data, "frame {}: pixels differ", w.index);
    }
}

/// All frames of `url`, calling `on_frame` with each count so far.
async fn collect(
    local: &Stage,
    url: &str,
    mut on_frame: impl FnMut(usize),
) -> (Vec<Frame>, Option<StageError>) {
    let mut stream = local.frames(VideoRequest::new("streaming", url));
    let mut frames = Vec::new();
    while let Some(item) = stream.next().await {
        match item {
            Ok(frame) => {
                frames.push(frame);
                on_frame(frames.len());
            }
            Err(e) => return (frames, Some(e)),
        }
    }
    (frames, None)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_frame_comes_out_before_the_last_byte_goes_in() {
    let bytes = std::fs::read(sample_clip()).unwrap();
    let gate = Gate::default();
    let sent_all = Arc::new(AtomicBool::new(false));
    let server = serve(HashMap::from([(
        "/clip.mp4",
        Answer::HeldBack {
            body: Arc::new(bytes.clone()),
            first: bytes.len() * 2 / 5,
            gate: gate.clone(),
            sent_all: sent_all.clone(),
        },
    )]))
    .await;
    let local = Stage::new(config()).unwrap();
    let mut before_last_byte = None;
    let (frames, err) = collect(&local, &server.url("/clip.mp4"), |n| {
        if n == 1 {
            before_last_byte = Some(!sent_all.load(Ordering::SeqCst));
            gate.open(); // now the server may send the rest
        }
    })
    .await;
    assert!(err.is_none(), "{err:?}");
    assert_eq!(
        before_last_byte,
        Some(true),
        "the first frame must arrive while the server still holds the rest back"
    );
    assert_same_frames(&frames, &from_file(&sample_clip(), &config()));
    let stats = local.last_stats();
    assert!(stats.streamed, "{stats:?}");
    assert_eq!((stats.frames, stats.restarts), (50, 0));
    let (first_byte, first_frame) = (stats.first_byte.unwrap(), stats.first_frame.unwrap());
    assert!(
        first_byte <= first_frame && first_frame <= stats.download,
        "{stats:?}"
    );
    assert_eq!(
        stats.first_frame_after_first_byte(),
        Some(first_frame - first_byte)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clip_with_its_index_at_the_end_decodes_after_the_download() {
    let dir = tempfile::tempdir().unwrap();
    let clip = moov_at_end(dir.path());
    let bytes = std::fs::read(&clip).unwrap();
    let server = serve(HashMap::from([(
        "/late-index.mp4",
        Answer::Trickle {
            body: Arc::new(bytes),
            chunk: 16 << 10,
            pause: std::time::Duration::from_millis(2),
        },
    )]))
    .await;
    let local = Stage::new(config()).unwrap();
    let (frames, err) = collect(&local, &server.url("/late-index.mp4"), |_| {}).await;
    assert!(err.is_none(), "{err:?}");
    assert_same_frames(&frames, &from_file(&clip, &config()));
    assert_same_frames(&frames, &from_file(&sample_clip(), &config()));
    assert!(!local.last_stats().streamed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_after_frames_were_sent_neither_repeats_nor_loses_a_frame() {
    let bytes = std::fs::read(sample_clip()).unwrap();
    let gate = Gate::default();
    let server = serve(HashMap::from([(
        "/flaky.mp4",
        Answer::CutOnce {
            body: Arc::new(bytes.clone()),
            first: bytes.len() / 2,
            gate: gate.clone(),
        },
    )]))
    .await;
    let local = Stage::new(config()).unwrap();
    // The first connection is cut once the consumer holds 5 frames.
    let (frames, err) = collect(&local, &server.url("/flaky.mp4"), |n| {
        if n == 5 {
            gate.open();
        }
    })
    .await;
    assert!(err.is_none(), "{err:?}");
    assert_eq!(server.hits("/flaky.mp4"), 2, "one cut attempt, one retry");
    assert_same_frames(&frames, &from_file(&sample_clip(), &config()));
    let stats = local.last_stats();
    assert_eq!((stats.streamed, stats.restarts), (true, 1), "{stats:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_download_that_fails_mid_stream_is_a_clear_error() {
    let bytes = std::fs::read(sample_clip()).unwrap();
    let server = serve(HashMap::from([(
        "/cut.mp4",
        Answer::Cut {
            body: Arc::new(bytes.clone()),
            first: bytes.len() / 2,
        },
    )]))
    .await;
    let mut config = config();
    config.fetch.retries = 1;
    let local = Stage::new(config).unwrap();
    let (frames, err) = collect(&local, &server.url("/cut.mp4"), |_| {}).await;
    let err = err.expect("a cut download fails");
    assert_eq!(err.kind, ErrorKind::VideoUnavailable, "{}", err.message);
    assert!(err.message.contains("transfer failed"), "{}", err.message);
    assert!(frames.len() < 50);
    assert_eq!(server.hits("/cut.mp4"), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_streaming_off_the_frames_are_the_same() {
    let bytes = std::fs::read(sample_clip()).unwrap();
    let server = serve(HashMap::from([(
        "/clip.mp4",
        Answer::Whole(Arc::new(bytes)),
    )]))
    .await;
    let config = DecodeConfig {
        stream_downloads: false,
        ..config()
    };
    let local = Stage::new(config.clone()).unwrap();
    let (frames, err) = collect(&local, &server.url("/clip.mp4"), |_| {}).await;
    assert!(err.is_none(), "{err:?}");
    assert_same_frames(&frames, &from_file(&sample_clip(), &config));
    assert!(!local.last_stats().streamed);
}

/// Log lines written during a closure on this thread.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Downloads `url` with the fetcher into a growing file while
/// `decode_download` reads it on this thread; returns the outcome, the
/// frames and the INFO log of the decode thread.
fn download_and_decode(url: String) -> (Outcome, Vec<Frame>, String) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("video");
    let progress = Arc::new(Progress::default());
    let fetcher = Fetcher::new(config().fetch).unwrap();
    let mut sink = GrowingFile::new(&path, progress.clone());
    let downloading = progress.clone();
    runtime.spawn(async move {
        let result = fetcher.download_into(&url, &mut sink).await;
        downloading.finish(result.is_ok());
    });
    let log = Captured::default();
    let writer = log.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::INFO)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let mut frames = Vec::new();
    let (outcome, _report) = tracing::subscriber::with_default(subscriber, || {
        progressive::decode_download(&progress, &path, "test clip", &config(), &mut |f| {
            frames.push(f);
            true
        })
        .unwrap()
    });
    let log = String::from_utf8(log.0.lock().unwrap().clone()).unwrap();
    (outcome, frames, log)
}

#[test]
fn the_choice_is_logged_with_its_reason() {
    let dir = tempfile::tempdir().unwrap();
    let late = std::fs::read(moov_at_end(dir.path())).unwrap();
    let first = std::fs::read(sample_clip()).unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let server = runtime.block_on(serve(HashMap::from([
        (
            "/late.mp4",
            Answer::Trickle {
                body: Arc::new(late),
                chunk: 32 << 10,
                pause: std::time::Duration::from_millis(5),
            },
        ),
        (
            "/first.mp4",
            Answer::Trickle {
                body: Arc::new(first),
                chunk: 32 << 10,
                pause: std::time::Duration::from_millis(5),
            },
        ),
    ])));

    let (outcome, frames, log) = download_and_decode(server.url("/late.mp4"));
    assert!(matches!(outcome, Outcome::Done(_)), "{outcome:?}");
    assert_eq!(frames.len(), 50);
    assert!(
        log.contains("Decoding after the download.")
            && log.contains("moov) comes after the media data (mdat)"),
        "{log}"
    );

    let (outcome, frames, log) = download_and_decode(server.url("/first.mp4"));
    assert!(matches!(outcome, Outcome::Done(_)), "{outcome:?}");
    assert_eq!(frames.len(), 50);
    assert!(
        log.contains("Decoding while downloading.") && log.contains("moov) comes first"),
        "{log}"
    );
}
