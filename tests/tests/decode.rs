//! Decode stage on real files: every frame exactly once, exactly the pixels
//! the reference miner sees, and a typed error, never a hang, for every kind
//! of bad input.

use std::io::Write;
use std::path::Path;

use futures::StreamExt;
use sv_core::{ErrorKind, Frame, FrameSource, PixelFormat, StageError, VideoRequest};
use sv_decode::config::HardwarePreference;
use sv_decode::{DecodeConfig, DecodeError, Stage, decode_file};
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

/// The first pixel where two RGB frames differ: (x, y, ours, theirs).
fn first_difference(ours: &Frame, reference: &[u8]) -> Option<(usize, usize, [u8; 3], [u8; 3])> {
    let (w, h) = (ours.width as usize, ours.height as usize);
    for y in 0..h {
        let a = &ours.data[y * ours.stride as usize..][..w * 3];
        let b = &reference[y * w * 3..][..w * 3];
        if a != b {
            let x = (0..w).find(|x| a[x * 3..x * 3 + 3] != b[x * 3..x * 3 + 3])?;
            let px = |s: &[u8]| [s[x * 3], s[x * 3 + 1], s[x * 3 + 2]];
            return Some((x, y, px(a), px(b)));
        }
    }
    None
}

/// Tightly packed RGB bytes of a frame.
fn packed(frame: &Frame) -> Vec<u8> {
    let row = frame.width as usize * 3;
    (0..frame.height as usize)
        .flat_map(|y| &frame.data[y * frame.stride as usize..][..row])
        .copied()
        .collect()
}

#[test]
fn pixels_equal_the_frames_opencv_decoded() {
    // The reference miner's frames, saved losslessly by the fixture script
    // from `cv2.VideoCapture.read()` (OpenCV 4.8.1.78, swscale 6.7).
    let frames = decode_all(&sample_clip()).unwrap();
    for (index, frame) in frames.iter().enumerate() {
        let reference =
            load_png(&fixture(&format!("frames/{index:04}.png")), index as u64).unwrap();
        assert_eq!(
            first_difference(frame, &packed(&reference)),
            None,
            "frame {index}"
        );
    }
}

/// Encodes a 3-frame test pattern with libx264, then returns it and the
/// frames FFmpeg's swscale makes of it the way OpenCV asks (BGR24, bicubic
/// flags), as RGB.
fn encode_with_oracle(dir: &Path, size: &str, pix_fmt: &str) -> (std::path::PathBuf, Vec<Vec<u8>>) {
    let clip = dir.join(format!("{size}-{pix_fmt}.mp4"));
    let run = |args: &[&str]| {
        let out = std::process::Command::new("ffmpeg")
            .args(["-loglevel", "error", "-y"])
            .args(args)
            .output()
            .expect("ffmpeg runs (scripts/install-deps.sh installs it)");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    };
    let source = format!("testsrc2=size={size}:rate=25");
    run(&[
        "-f",
        "lavfi",
        "-i",
        &source,
        "-frames:v",
        "3",
        "-c:v",
        "libx264",
    ]
    .into_iter()
    .chain(["-pix_fmt", pix_fmt, clip.to_str().unwrap()])
    .collect::<Vec<_>>());
    let bgr = run(&[
        "-i",
        clip.to_str().unwrap(),
        "-f",
        "rawvideo",
        "-pix_fmt",
        "bgr24",
        "-sws_flags",
        "bicubic",
        "-",
    ]);
    let (w, h) = size.split_once('x').unwrap();
    let frame_len = w.parse::<usize>().unwrap() * h.parse::<usize>().unwrap() * 3;
    assert_eq!(bgr.len(), 3 * frame_len);
    let rgb = bgr
        .chunks(frame_len)
        .map(|f| f.chunks(3).flat_map(|p| [p[2], p[1], p[0]]).collect())
        .collect();
    (clip, rgb)
}

#[test]
fn pixels_equal_swscale_for_other_sizes_and_full_range() {
    // A saturated test pattern reaches the corners of the arithmetic (luma
    // below 16, chroma extremes); a width that is not a multiple of 8 and a
    // full-range (yuvj420p) stream take other paths through swscale.
    let dir = tempfile::tempdir().unwrap();
    for (size, pix_fmt) in [
        ("1920x1080", "yuv420p"),
        ("1004x562", "yuv420p"),
        ("1000x562", "yuvj420p"),
    ] {
        let (clip, expected) = encode_with_oracle(dir.path(), size, pix_fmt);
        let frames = decode_all(&clip).unwrap();
        assert_eq!(frames.len(), expected.len(), "{size} {pix_fmt}");
        for (frame, want) in frames.iter().zip(&expected) {
            assert_eq!(
                first_difference(frame, want),
                None,
                "{size} {pix_fmt} frame {}",
                frame.index
            );
        }
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

async fn collect(local: &Stage, url: &str) -> (usize, Option<StageError>) {
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
    let local = Stage::new(software()).unwrap();
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
    let local = Stage::new(config).unwrap();
    let (frames, err) = collect(&local, &format!("http://127.0.0.1:{port}/clip.mp4")).await;
    let err = err.expect("an unreachable URL must fail");
    assert_eq!(
        (frames, err.kind),
        (0, ErrorKind::VideoUnavailable),
        "{}",
        err.message
    );
}

#[tokio::test]
async fn unsupported_schemes_and_private_targets_are_refused() {
    let local = Stage::new(software()).unwrap();
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
    let local = Stage::new(software()).unwrap();
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
