//! `scorevision annotate CLIP RESULT.json`: every frame of the clip with what
//! the miner answered for it drawn on top (boxes in their class's colour
//! with the tracker id, the pitch keypoints with their indices, the frame
//! number), as an H.264 MP4 (`--out`) and/or one PNG per frame (`--frames`).
//! For an operator checking an answer: a picture beats a JSON diff.
//!
//! Frames come from the decode stage itself ([`sv_decode::Stage`]), so they
//! are exactly the pixels the miner saw.
//!
//! - [`font`]: the embedded 5x7 bitmap font.
//! - [`draw`]: the marks, pure functions over an RGB buffer.
//! - [`pngs`], [`mp4`]: the two outputs.

mod draw;
mod font;
mod mp4;
mod pngs;

use std::borrow::Cow;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Args;
use futures::StreamExt;
use indicatif::{ProgressBar, ProgressStyle};
use serde::Deserialize;
use sv_core::{Frame, FrameResult, FrameSource, FrameStream, PixelFormat, VideoRequest};
use sv_decode::DecodeConfig;
use sv_decode::config::HardwarePreference;

use crate::args::groups::FetchArgs;
use crate::error::ConfigError;

#[derive(Debug, Args)]
pub struct AnnotateArgs {
    /// The clip the answer is for: local path, file://, http:// or https:// URL.
    pub clip: String,
    /// The validator JSON for it (what `scorevision process --out` writes).
    pub result: PathBuf,
    /// Write an H.264 MP4 preview here.
    #[arg(long, value_name = "FILE.mp4", required_unless_present = "frames")]
    pub out: Option<PathBuf>,
    /// Write one PNG per frame into this directory (frame_0000.png, ...).
    #[arg(long, value_name = "DIR")]
    pub frames: Option<PathBuf>,
    /// Use hardware video decoders when present (auto) or never (off), as
    /// the miner that made the answer did.
    #[arg(long, env = "SV_HARDWARE_DECODE", default_value = "auto", value_parser = crate::args::groups::hardware_decode())]
    pub hardware_decode: HardwarePreference,
    #[command(flatten)]
    pub fetch: FetchArgs,
}

/// One annotated frame, packed RGB.
pub struct Picture {
    pub index: u64,
    pub pts_ns: Option<u64>,
    pub width: u32,
    pub height: u32,
    pub rgb: Vec<u8>,
}

pub async fn run(args: AnnotateArgs) -> anyhow::Result<()> {
    let answer = load_result(&args.result)?;
    let mut decode = DecodeConfig {
        hardware: args.hardware_decode,
        warm_up: false,
        ..DecodeConfig::default()
    };
    args.fetch.apply(&mut decode)?;
    // Outputs first: a missing encoder or an unwritable path fails before
    // the clip is downloaded and decoded.
    let outputs = Outputs {
        pngs: (args.frames.as_deref())
            .map(|dir| pngs::PngDir::create(dir, answer.len()))
            .transpose()?,
        mp4: args.out.as_deref().map(mp4::Writer::create).transpose()?,
    };
    let source = sv_decode::Stage::new(decode)?;
    let frames = source.frames(VideoRequest::new("annotate", &args.clip));
    let clip = args.clip.clone();
    let result = args.result.clone();
    let done =
        tokio::task::spawn_blocking(move || annotate(frames, &answer, outputs, &clip, &result))
            .await
            .context("the annotating thread panicked")??;
    eprintln!("scorevision: {done}");
    Ok(())
}

/// Draws and writes every frame (blocking: runs on a thread of its own).
fn annotate(
    mut frames: FrameStream,
    answer: &[FrameResult],
    mut outputs: Outputs,
    clip: &str,
    result: &Path,
) -> anyhow::Result<String> {
    let runtime = tokio::runtime::Handle::current();
    let progress = progress_bar(answer.len() as u64);
    let mut decoded = 0;
    while let Some(frame) = runtime.block_on(frames.next()) {
        let frame = frame.with_context(|| format!("decoding {clip}"))?;
        if frame.index != decoded as u64 {
            bail!(
                "decoding {clip}: frame {} came where frame {decoded} was expected",
                frame.index
            );
        }
        decoded += 1;
        // Past the answer's end, only count (for the message below).
        if let Some(frame_answer) = answer.get(frame.index as usize) {
            outputs.write(annotate_frame(&frame, frame_answer)?)?;
            progress.inc(1);
        }
    }
    progress.finish_and_clear();
    if decoded != answer.len() {
        return Err(ConfigError::Invalid(format!(
            "{} has {} frames but {clip} decodes to {decoded}: is it the answer for this clip?",
            result.display(),
            answer.len()
        ))
        .into());
    }
    outputs.finish(decoded)
}

/// The frame's pixels with its answer drawn on them.
fn annotate_frame(frame: &Frame, answer: &FrameResult) -> anyhow::Result<Picture> {
    let rgb = packed_rgb(frame)?;
    let mut picture = Picture {
        index: frame.index,
        pts_ns: frame.pts_ns,
        width: frame.width,
        height: frame.height,
        rgb,
    };
    let mut canvas = draw::Canvas::new(picture.width, picture.height, &mut picture.rgb)
        .context("a decoded frame of the wrong size")?;
    draw::draw_frame(&mut canvas, &in_picture_pixels(answer, frame));
    Ok(picture)
}

/// Tightly packed RGB rows, whatever stride the decoder used.
fn packed_rgb(frame: &Frame) -> anyhow::Result<Vec<u8>> {
    if frame.format != PixelFormat::Rgb8 || frame.data.len() < frame.expected_len() {
        bail!("frame {} is not whole RGB ({frame:?})", frame.index);
    }
    let (row, stride) = (frame.width as usize * 3, frame.stride as usize);
    let mut rgb = Vec::with_capacity(row * frame.height as usize);
    for line in frame.data.chunks(stride).take(frame.height as usize) {
        rgb.extend_from_slice(&line[..row]);
    }
    Ok(rgb)
}

/// The answer is in source pixels; a decoder that downscaled gives smaller
/// frames, so the marks scale with them.
fn in_picture_pixels<'a>(answer: &'a FrameResult, frame: &Frame) -> Cow<'a, FrameResult> {
    if (frame.width, frame.height) == (frame.source_width, frame.source_height) {
        return Cow::Borrowed(answer);
    }
    let sx = f64::from(frame.width) / f64::from(frame.source_width.max(1));
    let sy = f64::from(frame.height) / f64::from(frame.source_height.max(1));
    let mut scaled = answer.clone();
    for [x, y] in &mut scaled.keypoints {
        (*x, *y) = (*x * sx, *y * sy);
    }
    for object in &mut scaled.objects {
        let [x0, y0, x1, y1] = object.bbox;
        object.bbox = [x0 * sx, y0 * sy, x1 * sx, y1 * sy];
    }
    Cow::Owned(scaled)
}

/// Where the pictures go.
struct Outputs {
    pngs: Option<pngs::PngDir>,
    mp4: Option<mp4::Writer>,
}

impl Outputs {
    fn write(&mut self, picture: Picture) -> anyhow::Result<()> {
        if let Some(pngs) = &mut self.pngs {
            pngs.write(&picture)?;
        }
        if let Some(mp4) = &mut self.mp4 {
            mp4.push(picture)?;
        }
        Ok(())
    }

    /// Completes every output; says what was written.
    fn finish(self, frames: usize) -> anyhow::Result<String> {
        let mut written = Vec::new();
        if let Some(mp4) = self.mp4 {
            let encoder = mp4.encoder();
            let path = mp4.finish()?;
            written.push(format!("{} (H.264, {encoder})", path.display()));
        }
        if let Some(pngs) = self.pngs {
            let dir = pngs.dir().display().to_string();
            written.push(format!("{} PNGs in {dir}", pngs.finish()));
        }
        Ok(format!("{frames} frames annotated: {}", written.join(", ")))
    }
}

/// The answer's frames, checked: a JSON that is not an answer, or whose
/// frames are not numbered 0, 1, 2, ..., is a bad input file (exit 64).
fn load_result(path: &Path) -> Result<Vec<FrameResult>, ConfigError> {
    let bytes = std::fs::read(path)
        .map_err(|e| ConfigError::Invalid(format!("cannot read {}: {e}", path.display())))?;
    parse_result(&bytes).map_err(|e| ConfigError::Invalid(format!("{}: {e}", path.display())))
}

/// Only `frames` matters; `challenge_id` and `processing_time` may be absent.
#[derive(Deserialize)]
struct Answer {
    frames: Vec<FrameResult>,
}

fn parse_result(bytes: &[u8]) -> Result<Vec<FrameResult>, String> {
    let answer: Answer = serde_json::from_slice(bytes).map_err(|e| {
        format!("not a validator answer (the JSON `scorevision process` writes): {e}")
    })?;
    if answer.frames.is_empty() {
        return Err("the answer has no frames".into());
    }
    if let Some((i, f)) =
        (answer.frames.iter().enumerate()).find(|(i, f)| f.frame_number != *i as u64)
    {
        return Err(format!(
            "frames[{i}] has frame_number {}: frame numbers must run 0, 1, 2, ... in order",
            f.frame_number
        ));
    }
    Ok(answer.frames)
}

fn progress_bar(frames: u64) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(frames);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} frames  {per_sec}  eta {eta}")
            .expect("valid template"),
    );
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_frames_of_an_answer() {
        let json = br#"{"challenge_id":"c","frames":[
            {"frame_number":0,"keypoints":[],"objects":[{"id":7,"bbox":[1,2,3,4],"class_id":2}]},
            {"frame_number":1,"keypoints":[[0.0,0.0],[5.5,6.0]],"objects":[]}],
            "processing_time":1.5}"#;
        let frames = parse_result(json).unwrap();
        assert_eq!(frames.len(), 2);
        assert_eq!(frames[0].objects[0].bbox, [1.0, 2.0, 3.0, 4.0]);
        assert_eq!(frames[1].keypoints[1], [5.5, 6.0]);
        assert!(
            parse_result(br#"{"frames":[{"frame_number":0,"keypoints":[],"objects":[]}]}"#).is_ok()
        );
    }

    #[test]
    fn refuses_what_is_not_an_answer() {
        for (json, says) in [
            (&b"not json"[..], "not a validator answer"),
            (br#"{"frames":[]}"#, "no frames"),
            (br#"{"frames":[{"frame_number":0,"keypoints":[]}]}"#, "objects"),
            (
                br#"{"frames":[{"frame_number":0,"keypoints":[],"objects":[]},{"frame_number":2,"keypoints":[],"objects":[]}]}"#,
                "frames[1] has frame_number 2",
            ),
        ] {
            let err = parse_result(json).unwrap_err();
            assert!(err.contains(says), "{err}");
        }
    }

    #[test]
    fn packs_rows_and_draws() {
        // 2x2 RGB with 8-byte rows (2 bytes of padding each).
        let data = vec![1, 1, 1, 2, 2, 2, 0, 0, 3, 3, 3, 4, 4, 4, 0, 0].into();
        let frame = Frame {
            stride: 8,
            ..Frame::rgb(0, 2, 2, data)
        };
        assert_eq!(
            packed_rgb(&frame).unwrap(),
            [1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4]
        );
        let short = Frame::rgb(0, 2, 2, vec![0; 11].into());
        assert!(packed_rgb(&short).is_err());
    }

    #[test]
    fn marks_follow_a_downscaled_frame() {
        let answer = FrameResult {
            frame_number: 0,
            keypoints: vec![[0.0, 0.0], [100.0, 50.0]],
            objects: vec![sv_core::ObjectResult {
                id: 1,
                bbox: [10.0, 20.0, 30.0, 40.0],
                class_id: 0,
            }],
        };
        let frame = Frame {
            source_width: 200,
            source_height: 100,
            ..Frame::rgb(0, 100, 50, vec![0; 100 * 50 * 3].into())
        };
        let scaled = in_picture_pixels(&answer, &frame);
        assert_eq!(scaled.keypoints, [[0.0, 0.0], [50.0, 25.0]]);
        assert_eq!(scaled.objects[0].bbox, [5.0, 10.0, 15.0, 20.0]);
        let same = Frame::rgb(0, 200, 100, Default::default());
        assert!(matches!(
            in_picture_pixels(&answer, &same),
            Cow::Borrowed(_)
        ));
    }
}
