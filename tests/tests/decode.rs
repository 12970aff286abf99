//! Decode stage on real files: every frame exactly once, the pixels the
//! reference miner sees (within a level or two), and a typed error, never a
//! hang, for every kind of bad input.

use std::io::Write;
use std::path::Path;

use futures::StreamExt;
use sv_core::{ErrorKind, Frame, FrameSource, PixelFormat, StageError, VideoRequest};
use sv_decode::config::HardwarePreference;
use sv_decode::{DecodeConfig, DecodeError, Local, decode_file};
use sv_tests::{ffprobe_frame_count, fixture, png_frames::load_png, sample_clip};

fn software() -> DecodeConfig {
    // Software decoding: the machine has no GPU, and parity is measured
    // against FFmpeg's software decoder.
    DecodeConfig {
        hardware: HardwarePreference::Off,
        ..DecodeConfig::default()
    }
}

fn decode_all(path: &Path) -> Result<Vec<Frame>, DecodeError> {
    let mut frames = Vec::new();
    decode_file(path, &software(), |f| {
        frames.push(f);
        true
    })?;
    Ok(frames)
}

#[test]
fn every_frame_exactly_once_in_order() {
    let clip = sample_clip();
    let frames = decode_all(&clip).unwrap();
    assert_eq!(frames.len() as u64, ffprobe_frame_count(&clip).unwrap());
    for (i, f) in frames.iter().enumerate() {
        assert_eq!(f.index, i as u64);
        assert_eq!(
            (f.source_width, f.source_height, f.width, f.height),
            (1280, 720, 1280, 720)
        );
        assert_eq!(f.format, PixelFormat::Rgb8);
        assert!(f.data.len() >= f.expected_len());
    }
    let pts: Vec<u64> = frames
        .iter()
        .map(|f| f.pts_ns.expect("mp4 frames have timestamps"))
        .collect();
    assert!(
        pts.windows(2).all(|w| w[0] < w[1]),
        "timestamps not increasing: {pts:?}"
    );
}

/// Mean absolute difference, in levels, between a decoded frame and the
/// frame OpenCV decoded (saved losslessly by the fixture script).
fn mean_abs_diff(ours: &Frame, reference: &Frame) -> f64 {
    let (w, h) = (ours.width as usize, ours.height as usize);
    let mut total = 0u64;
    for y in 0..h {
        let a = &ours.data[y * ours.stride as usize..][..w * 3];
        let b = &reference.data[y * reference.stride as usize..][..w * 3];
        total += a
            .iter()
            .zip(b)
            .map(|(x, y)| u64::from(x.abs_diff(*y)))
            .sum::<u64>();
    }
    total as f64 / (w * h * 3) as f64
}

#[test]
fn pixels_match_opencv_within_about_a_level() {
    let frames = decode_all(&sample_clip()).unwrap();
    for index in [0usize, 17, 49] {
        let reference =
            load_png(&fixture(&format!("frames/{index:04}.png")), index as u64).unwrap();
        let diff = mean_abs_diff(&frames[index], &reference);
        // BT.709 (GStreamer's default guess for HD) would be ~7 levels off;
        // BT.601 like swscale leaves chroma-siting and rounding (~1 level).
        assert!(diff < 2.0, "frame {index}: mean |diff| {diff:.3} levels");
    }
}

#[test]
fn a_missing_file_is_not_found() {
    let err = decode_all(Path::new("/nonexistent/clip.mp4")).unwrap_err();
    assert!(matches!(err, DecodeError::NotFound { .. }), "{err}");
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
}

fn temp_file(name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!("sv-decode-test-{}-{name}", std::process::id()));
    std::fs::File::create(&path)
        .unwrap()
        .write_all(bytes)
        .unwrap();
    path
}

#[test]
fn a_text_file_is_not_a_video() {
    let path = temp_file(
        "notes.mp4",
        b"this is not a video, just some text\n"
            .repeat(100)
            .as_slice(),
    );
    let err = decode_all(&path).unwrap_err();
    std::fs::remove_file(&path).ok();
    assert!(matches!(err, DecodeError::NotAVideo { .. }), "{err}");
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
}

#[test]
fn a_truncated_file_is_an_error_not_a_short_answer() {
    let bytes = std::fs::read(sample_clip()).unwrap();
    let path = temp_file("truncated.mp4", &bytes[..bytes.len() / 2]);
    let result = decode_all(&path);
    std::fs::remove_file(&path).ok();
    let err = result.expect_err("half a file must not decode as a complete video");
    assert!(
        matches!(
            err,
            DecodeError::NotAVideo { .. } | DecodeError::Corrupt { .. }
        ),
        "{err}"
    );
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
}

#[test]
fn an_empty_file_is_not_a_video() {
    let path = temp_file("empty.mp4", b"");
    let err = decode_all(&path).unwrap_err();
    std::fs::remove_file(&path).ok();
    assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
}

async fn collect(local: &Local, url: &str) -> (usize, Option<StageError>) {
    let mut stream = local.frames(VideoRequest::new("test", url));
    let mut frames = 0;
    while let Some(item) = stream.next().await {
        match item {
            Ok(_) => frames += 1,
            Err(e) => return (frames, Some(e)),
        }
    }
    (frames, None)
}

#[tokio::test]
async fn the_stage_streams_local_paths_and_file_urls() {
    let local = Local::new(software()).unwrap();
    let clip = sample_clip();
    let (frames, err) = collect(&local, clip.to_str().unwrap()).await;
    assert!(err.is_none(), "{err:?}");
    assert_eq!(frames, 50);
    let (frames, err) = collect(&local, &format!("file://{}", clip.display())).await;
    assert_eq!((frames, err), (50, None));
    assert_eq!(local.last_stats().frames, 50);
}

#[tokio::test]
async fn an_unreachable_url_is_unavailable() {
    // A port on loopback nobody listens on (bound, then released).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut config = software();
    config.fetch.allow_private = true;
    config.fetch.retries = 0;
    let local = Local::new(config).unwrap();
    let (frames, err) = collect(&local, &format!("http://127.0.0.1:{port}/clip.mp4")).await;
    let err = err.expect("an unreachable URL must fail");
    assert_eq!(
        (frames, err.kind),
        (0, ErrorKind::Unavailable),
        "{}",
        err.message
    );
}

#[tokio::test]
async fn unsupported_schemes_and_private_targets_are_refused() {
    let local = Local::new(software()).unwrap();
    let (_, err) = collect(&local, "ftp://example.com/clip.mp4").await;
    assert_eq!(err.unwrap().kind, ErrorKind::InvalidInput);
    // Loopback is refused by default: a challenge cannot make us fetch
    // from our own network.
    let (_, err) = collect(&local, "http://127.0.0.1:9/clip.mp4").await;
    let err = err.unwrap();
    assert_eq!(err.kind, ErrorKind::InvalidInput, "{}", err.message);
}

#[tokio::test]
async fn a_consumer_that_leaves_stops_decoding() {
    let local = Local::new(software()).unwrap();
    let mut stream = local.frames(VideoRequest::new("test", sample_clip().to_str().unwrap()));
    assert!(stream.next().await.unwrap().is_ok());
    drop(stream);
    // The decode thread notices the closed channel and records a short run.
    for _ in 0..100 {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        let stats = local.last_stats();
        if stats.frames > 0 {
            assert!(
                stats.frames < 50,
                "decoded {} frames for a consumer that left",
                stats.frames
            );
            return;
        }
    }
    panic!("the decode thread never stopped");
}
