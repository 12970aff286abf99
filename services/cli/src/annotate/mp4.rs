//! `--out preview.mp4`: H.264 in MP4 through GStreamer,
//! `appsrc ! videoconvert ! ENCODER ! h264parse ! mp4mux ! filesink`.
//!
//! The pipeline is built in one function and fed by [`Writer::push`];
//! the frame rate comes from the first two frames' timestamps, so the first
//! frame waits for the second. The file is written as `NAME.partial` and
//! renamed when the muxer has finished, so a failed run leaves no preview
//! that looks whole.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;
use gstreamer_video as gst_video;

use super::Picture;

/// H.264 encoders in order of preference: x264 (gst-plugins-ugly) when
/// installed, else OpenH264 (gst-plugins-bad, which scripts/install-deps.sh
/// installs).
const ENCODERS: &[&str] = &["x264enc", "openh264enc"];
/// The rate when the clip gives fewer than two timestamps.
const DEFAULT_FPS: i32 = 25;
/// Longest wait for the encoder and muxer to finish after the last frame.
const FINISH_TIMEOUT: Duration = Duration::from_secs(120);
/// Target bits per pixel per frame: thin lines and small digits stay sharp.
const BITS_PER_PIXEL: f64 = 0.15;

pub struct Writer {
    path: PathBuf,
    partial: PathBuf,
    encoder: &'static str,
    first: Option<Picture>,
    running: Option<Running>,
    finished: bool,
}

/// A playing pipeline; set to Null however the writer ends.
struct Running {
    pipeline: gst::Pipeline,
    src: gst_app::AppSrc,
    info: gst_video::VideoInfo,
    pushed: u64,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.pipeline.set_state(gst::State::Null);
    }
}

impl Writer {
    /// Checks that GStreamer has an H.264 encoder before any frame is decoded.
    pub fn create(path: &Path) -> anyhow::Result<Self> {
        gst::init().context("initialising GStreamer")?;
        let encoder = ENCODERS
            .iter()
            .copied()
            .find(|name| gst::ElementFactory::find(name).is_some())
            .ok_or_else(|| {
                anyhow!(
                    "no H.264 encoder in GStreamer (looked for {}); install gstreamer1.0-plugins-bad \
                     (scripts/install-deps.sh) or write PNGs with --frames DIR",
                    ENCODERS.join(", ")
                )
            })?;
        let mut partial = path.as_os_str().to_owned();
        partial.push(".partial");
        Ok(Self {
            path: path.to_owned(),
            partial: partial.into(),
            encoder,
            first: None,
            running: None,
            finished: false,
        })
    }

    pub fn encoder(&self) -> &'static str {
        self.encoder
    }

    pub fn push(&mut self, picture: Picture) -> anyhow::Result<()> {
        if self.running.is_none() {
            let Some(first) = self.first.take() else {
                self.first = Some(picture);
                return Ok(());
            };
            let fps = rate(first.pts_ns, picture.pts_ns);
            self.start(&first, fps)?;
            self.feed(first)?;
        }
        self.feed(picture)
    }

    /// Ends the stream, waits for the muxer to write the index, and puts the
    /// file in place.
    pub fn finish(mut self) -> anyhow::Result<PathBuf> {
        if let Some(first) = self.first.take() {
            self.start(&first, gst::Fraction::new(DEFAULT_FPS, 1))?;
            self.feed(first)?;
        }
        let running = self.running.take().context("no frame to encode")?;
        running
            .src
            .end_of_stream()
            .map_err(|e| pipeline_error(&running.pipeline, e))?;
        let bus = running.pipeline.bus().context("the pipeline has no bus")?;
        let ended = bus.timed_pop_filtered(
            gst::ClockTime::from_nseconds(FINISH_TIMEOUT.as_nanos() as u64),
            &[gst::MessageType::Eos, gst::MessageType::Error],
        );
        let Some(msg) = ended else {
            bail!(
                "encoding the preview: the encoder did not finish within {} s",
                FINISH_TIMEOUT.as_secs()
            );
        };
        if let gst::MessageView::Error(err) = msg.view() {
            bail!("encoding the preview: {}", err.error());
        }
        drop(running);
        std::fs::rename(&self.partial, &self.path)
            .with_context(|| format!("moving the preview to {}", self.path.display()))?;
        self.finished = true;
        Ok(self.path.clone())
    }

    fn start(&mut self, first: &Picture, fps: gst::Fraction) -> anyhow::Result<()> {
        let info =
            gst_video::VideoInfo::builder(gst_video::VideoFormat::Rgb, first.width, first.height)
                .fps(fps)
                .build()
                .context("describing the preview's frames")?;
        let (pipeline, src) = build(&self.partial, self.encoder, &info)?;
        self.running = Some(Running {
            pipeline,
            src,
            info,
            pushed: 0,
        });
        Ok(())
    }

    fn feed(&mut self, picture: Picture) -> anyhow::Result<()> {
        let running = self
            .running
            .as_mut()
            .context("the encoder is not running")?;
        let info = &running.info;
        if (picture.width, picture.height) != (info.width(), info.height()) {
            bail!(
                "frame {} is {}x{}, the first was {}x{}: the preview cannot change size",
                picture.index,
                picture.width,
                picture.height,
                info.width(),
                info.height()
            );
        }
        let mut buffer = gst::Buffer::from_mut_slice(with_stride(picture.rgb, info));
        let fps = info.fps();
        let at = |n: u64| {
            gst::ClockTime::SECOND
                .mul_div_floor(n * fps.denom() as u64, fps.numer() as u64)
                .unwrap_or(gst::ClockTime::ZERO)
        };
        {
            let buffer = buffer.get_mut().context("a fresh buffer is writable")?;
            let n = running.pushed;
            buffer.set_pts(at(n));
            buffer.set_duration(at(n + 1) - at(n));
        }
        running
            .src
            .push_buffer(buffer)
            .map_err(|e| pipeline_error(&running.pipeline, e))?;
        running.pushed += 1;
        Ok(())
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        self.running.take();
        if !self.finished {
            let _ = std::fs::remove_file(&self.partial);
        }
    }
}

fn build(
    path: &Path,
    encoder: &str,
    info: &gst_video::VideoInfo,
) -> anyhow::Result<(gst::Pipeline, gst_app::AppSrc)> {
    let make = |factory: &str| {
        gst::ElementFactory::make(factory)
            .build()
            .with_context(|| format!("GStreamer element {factory} is missing"))
    };
    let caps = info.to_caps().context("caps for the preview")?;
    let src = gst_app::AppSrc::builder()
        .caps(&caps)
        .format(gst::Format::Time)
        // A few frames in flight: the decoder waits for the encoder.
        .block(true)
        .max_bytes(4 * info.size() as u64)
        .build();
    let convert = make("videoconvert")?;
    let enc = make(encoder)?;
    configure(&enc, encoder, info);
    let parse = make("h264parse")?;
    let mux = make("mp4mux")?;
    let sink = make("filesink")?;
    sink.set_property("location", path.to_string_lossy().as_ref());

    let pipeline = gst::Pipeline::new();
    let elements = [src.upcast_ref(), &convert, &enc, &parse, &mux, &sink];
    pipeline.add_many(elements)?;
    gst::Element::link_many(elements).context("linking the preview pipeline")?;
    if let Err(e) = pipeline.set_state(gst::State::Playing) {
        let _ = pipeline.set_state(gst::State::Null);
        bail!("starting the preview pipeline: {e}");
    }
    Ok((pipeline, src))
}

/// Bit rate from the picture size; x264 counts kbit/s, OpenH264 bit/s.
fn configure(enc: &gst::Element, encoder: &str, info: &gst_video::VideoInfo) {
    let fps = info.fps();
    let rate = f64::from(fps.numer()) / f64::from(fps.denom().max(1));
    let bits = f64::from(info.width()) * f64::from(info.height()) * rate * BITS_PER_PIXEL;
    match encoder {
        "x264enc" => {
            enc.set_property("bitrate", (bits / 1000.0).clamp(256.0, 100_000.0) as u32);
            enc.set_property_from_str("speed-preset", "veryfast");
        }
        "openh264enc" => {
            enc.set_property("bitrate", bits.clamp(256_000.0, 100_000_000.0) as u32);
        }
        _ => {}
    }
}

/// The frame rate two consecutive timestamps imply; 25/1 without them.
fn rate(first: Option<u64>, second: Option<u64>) -> gst::Fraction {
    let fallback = gst::Fraction::new(DEFAULT_FPS, 1);
    let (Some(a), Some(b)) = (first, second) else {
        return fallback;
    };
    let fps = 1e9 / b.saturating_sub(a).max(1) as f64;
    if !(1.0..=480.0).contains(&fps) {
        return fallback;
    }
    gst::Fraction::approximate_f64(fps).unwrap_or(fallback)
}

/// Packed RGB rows padded to GStreamer's stride (rows of 4-byte multiples).
fn with_stride(rgb: Vec<u8>, info: &gst_video::VideoInfo) -> Vec<u8> {
    let (row, stride) = (info.width() as usize * 3, info.stride()[0] as usize);
    if row == stride {
        return rgb;
    }
    let mut padded = vec![0; info.size()];
    for (src, dst) in rgb.chunks_exact(row).zip(padded.chunks_exact_mut(stride)) {
        dst[..row].copy_from_slice(src);
    }
    padded
}

/// What the bus says went wrong, when a push or the end of stream fails.
fn pipeline_error(pipeline: &gst::Pipeline, flow: gst::FlowError) -> anyhow::Error {
    let detail = pipeline
        .bus()
        .and_then(|bus| bus.pop_filtered(&[gst::MessageType::Error]))
        .and_then(|msg| match msg.view() {
            gst::MessageView::Error(err) => Some(err.error().to_string()),
            _ => None,
        });
    match detail {
        Some(detail) => anyhow!("encoding the preview: {detail}"),
        None => anyhow!("encoding the preview: {flow:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_comes_from_two_timestamps() {
        gst::init().unwrap();
        assert_eq!(rate(Some(0), Some(40_000_000)), gst::Fraction::new(25, 1));
        let ntsc = rate(Some(1_000), Some(1_000 + 33_366_667));
        assert!((f64::from(ntsc.numer()) / f64::from(ntsc.denom()) - 29.97).abs() < 0.01);
        assert_eq!(rate(None, Some(5)), gst::Fraction::new(25, 1));
        assert_eq!(
            rate(Some(5), Some(5)),
            gst::Fraction::new(25, 1),
            "no time passed"
        );
    }

    #[test]
    fn rows_are_padded_to_the_stride() {
        gst::init().unwrap();
        let info = gst_video::VideoInfo::builder(gst_video::VideoFormat::Rgb, 3, 2)
            .build()
            .unwrap();
        assert_eq!(info.stride()[0], 12);
        let padded = with_stride((1..=18).collect(), &info);
        assert_eq!(padded.len(), info.size());
        assert_eq!(&padded[..12], &[1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 0, 0]);
        assert_eq!(&padded[12..21], &[10, 11, 12, 13, 14, 15, 16, 17, 18]);
    }
}
