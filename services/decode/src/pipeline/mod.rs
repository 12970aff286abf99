//! The GStreamer pipeline: `filesrc ! decodebin ! videoconvert ! appsink(I420)`,
//! built in one function and drained by another; each picture is turned into
//! RGB by [`crate::colour`].
//!
//! Colour: the reference miner reads frames with OpenCV (FFmpeg + swscale),
//! which converts YUV with BT.601 coefficients whatever the stream signals
//! and with its own fixed-point rounding. videoconvert honours the caps
//! (BT.709 for an unsignalled HD stream: 7.6 levels mean error) and even
//! forced to BT.601 stays about a level off, which moved detections of real
//! models. So GStreamer only decodes (videoconvert passes I420 through and
//! repacks anything else, e.g. a hardware decoder's NV12, to I420) and the
//! conversion is ours, bit-exact with swscale (../shared/PARITY.md A0).

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;
use gstreamer_video as gst_video;
use gstreamer_video::prelude::VideoFrameExt;
use sv_core::Frame;

use crate::colour;
use crate::config::DecodeConfig;
use crate::error::DecodeError;
use crate::hardware;

/// What a finished decode reports.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DecodeSummary {
    pub frames: u64,
    /// The factory name of the video decoder decodebin picked.
    pub decoder: Option<String>,
    /// True when the consumer stopped asking for frames before the end.
    pub cancelled: bool,
}

/// Pipelines built and not yet disposed, in this process.
static LIVE: AtomicUsize = AtomicUsize::new(0);

/// How many decode pipelines exist right now (built and not yet freed by
/// GStreamer). Zero whenever no video is decoding; a leak shows here.
pub fn live_pipelines() -> usize {
    LIVE.load(Ordering::SeqCst)
}

/// Counts `pipeline` in [`live_pipelines`] until GObject disposes it.
fn count_live(pipeline: &gst::Pipeline) {
    LIVE.fetch_add(1, Ordering::SeqCst);
    // The notification stays registered when the returned guard is dropped.
    let _ = pipeline.add_weak_ref_notify(|| {
        LIVE.fetch_sub(1, Ordering::SeqCst);
    });
}

/// Sets the pipeline to Null however the decode ends, so no pipeline (and no
/// GStreamer thread) outlives its video.
struct NullOnDrop(gst::Pipeline);

impl Drop for NullOnDrop {
    fn drop(&mut self) {
        let _ = self.0.set_state(gst::State::Null);
    }
}

/// Decodes `path` and hands every frame, in order, to `emit`. `emit` returns
/// false to stop early (the consumer went away). Blocking: run it on a thread
/// of its own, never on an async runtime's worker.
pub fn decode_file(
    path: &Path,
    config: &DecodeConfig,
    mut emit: impl FnMut(Frame) -> bool,
) -> Result<DecodeSummary, DecodeError> {
    hardware::init(config.hardware).map_err(|e| DecodeError::Gstreamer {
        message: e.to_string(),
    })?;
    if !path.is_file() {
        return Err(DecodeError::NotFound {
            path: path.to_owned(),
        });
    }
    let uri = path.display().to_string();
    let built = build(path)?;
    let pipeline = NullOnDrop(built.pipeline.clone());
    pipeline.0.set_state(gst::State::Playing).map_err(|_| {
        let message =
            bus_error(&built.pipeline).unwrap_or_else(|| "could not start the pipeline".into());
        DecodeError::NotAVideo {
            uri: uri.clone(),
            message,
        }
    })?;

    let mut summary = drain(&built, &uri, config.stall_timeout, &mut emit)?;
    summary.decoder = built.decoder.lock().ok().and_then(|d| d.clone());
    tracing::debug!(uri, frames = summary.frames, decoder = ?summary.decoder, "Video decoded.");
    Ok(summary)
}

struct Built {
    pipeline: gst::Pipeline,
    appsink: gst_app::AppSink,
    decoder: Arc<Mutex<Option<String>>>,
}

fn make(factory: &'static str) -> Result<gst::Element, DecodeError> {
    gst::ElementFactory::make(factory)
        .build()
        .map_err(|_| DecodeError::MissingElement { element: factory })
}

fn build(path: &Path) -> Result<Built, DecodeError> {
    let gst_err = |e: gst::glib::BoolError| DecodeError::Gstreamer {
        message: e.to_string(),
    };
    let pipeline = gst::Pipeline::new();
    count_live(&pipeline);
    let src = make("filesrc")?;
    src.set_property("location", path.to_string_lossy().as_ref());
    let decodebin = make("decodebin")?;
    let convert = make("videoconvert")?;
    let appsink = gst_app::AppSink::builder()
        .caps(
            &gst_video::VideoCapsBuilder::new()
                .format(gst_video::VideoFormat::I420)
                .build(),
        )
        // A small queue: backpressure reaches the decoder instead of RAM.
        .max_buffers(2)
        .drop(false)
        .sync(false)
        .build();

    pipeline
        .add_many([&src, &decodebin, &convert, appsink.upcast_ref()])
        .map_err(gst_err)?;
    src.link(&decodebin).map_err(gst_err)?;
    convert.link(&appsink).map_err(gst_err)?;

    // The first video pad goes to the converter; anything else (audio,
    // a second video track) is discarded so it cannot stall the demuxer.
    let video_sink = convert
        .static_pad("sink")
        .expect("videoconvert has a sink pad");
    // Weak: decodebin keeps this closure, and the pipeline keeps decodebin;
    // a strong reference here would be a cycle that setting the pipeline to
    // Null does not break (every clip leaked its pipeline, its threads and
    // its bus's descriptors).
    let bin = pipeline.downgrade();
    decodebin.connect_pad_added(move |_, pad| {
        let is_video = pad
            .current_caps()
            .or_else(|| Some(pad.query_caps(None)))
            .and_then(|caps| caps.structure(0).map(|s| s.name().starts_with("video/")))
            .unwrap_or(false);
        if is_video && !video_sink.is_linked() {
            if let Err(e) = pad.link(&video_sink) {
                tracing::warn!(error = ?e, "Linking the video pad failed.");
            }
            return;
        }
        let Some(bin) = bin.upgrade() else { return };
        if let Ok(fakesink) = gst::ElementFactory::make("fakesink")
            .property("sync", false)
            .build()
        {
            let _ = bin.add(&fakesink);
            let _ = fakesink.sync_state_with_parent();
            if let Some(sink) = fakesink.static_pad("sink") {
                let _ = pad.link(&sink);
            }
        }
    });

    let decoder = Arc::new(Mutex::new(None));
    let seen = decoder.clone();
    pipeline.connect_deep_element_added(move |_, _, element| {
        if hardware::is_video_decoder(element)
            && let Some(factory) = element.factory()
            && let Ok(mut slot) = seen.lock()
        {
            slot.get_or_insert_with(|| factory.name().to_string());
        }
    });
    Ok(Built {
        pipeline,
        appsink,
        decoder,
    })
}

/// Pulls frames until end of stream, an error, a stall, or the consumer
/// stopping. Bus errors are checked between samples so a corrupt stream
/// surfaces even while frames keep coming.
fn drain(
    built: &Built,
    uri: &str,
    stall_timeout: Duration,
    emit: &mut impl FnMut(Frame) -> bool,
) -> Result<DecodeSummary, DecodeError> {
    let mut summary = DecodeSummary::default();
    let mut last_progress = Instant::now();
    let mut video_end = gst::ClockTime::ZERO;
    loop {
        if let Some(message) = bus_error(&built.pipeline) {
            return Err(if summary.frames == 0 {
                DecodeError::NotAVideo {
                    uri: uri.to_owned(),
                    message,
                }
            } else {
                DecodeError::Corrupt {
                    uri: uri.to_owned(),
                    frames: summary.frames,
                    message,
                }
            });
        }
        match built
            .appsink
            .try_pull_sample(gst::ClockTime::from_mseconds(100))
        {
            Some(sample) => {
                let frame = to_frame(&sample, summary.frames, uri)?;
                if let Some(buffer) = sample.buffer() {
                    let end =
                        buffer.pts().unwrap_or_default() + buffer.duration().unwrap_or_default();
                    video_end = video_end.max(end);
                }
                summary.frames += 1;
                last_progress = Instant::now();
                if !emit(frame) {
                    summary.cancelled = true;
                    return Ok(summary);
                }
            }
            None if built.appsink.is_eos() => {
                if summary.frames == 0 {
                    return Err(DecodeError::NoVideoStream {
                        uri: uri.to_owned(),
                    });
                }
                check_complete(&built.pipeline, video_end, uri, summary.frames)?;
                return Ok(summary);
            }
            None if last_progress.elapsed() > stall_timeout => {
                return Err(DecodeError::Stalled {
                    uri: uri.to_owned(),
                    seconds: stall_timeout.as_secs(),
                });
            }
            None => {}
        }
    }
}

/// A truncated MP4 whose index survived decodes without any error: the
/// demuxer just reaches end of stream early. Compare where the video ended
/// with the duration the container declares. A video track may end a little
/// before an audio track (the container duration covers both), hence the
/// margin: only a clearly short video is an error.
fn check_complete(
    pipeline: &gst::Pipeline,
    video_end: gst::ClockTime,
    uri: &str,
    frames: u64,
) -> Result<(), DecodeError> {
    let Some(declared) = pipeline.query_duration::<gst::ClockTime>() else {
        return Ok(());
    };
    if video_end.nseconds() < declared.nseconds() / 10 * 9 {
        return Err(DecodeError::Corrupt {
            uri: uri.to_owned(),
            frames,
            message: format!(
                "the video stops at {:.2} s but the container declares {:.2} s (truncated file?)",
                video_end.nseconds() as f64 / 1e9,
                declared.nseconds() as f64 / 1e9
            ),
        });
    }
    Ok(())
}

/// The first error message on the bus, if any, with GStreamer's debug detail.
fn bus_error(pipeline: &gst::Pipeline) -> Option<String> {
    let bus = pipeline.bus()?;
    while let Some(message) = bus.pop_filtered(&[gst::MessageType::Error]) {
        if let gst::MessageView::Error(err) = message.view() {
            let detail = err.debug().map(|d| format!(" ({d})")).unwrap_or_default();
            return Some(format!("{}{detail}", err.error()));
        }
    }
    None
}

/// Converts a sample's I420 picture into an RGB frame.
fn to_frame(sample: &gst::Sample, index: u64, uri: &str) -> Result<Frame, DecodeError> {
    let corrupt = |message: &str| DecodeError::Corrupt {
        uri: uri.to_owned(),
        frames: index,
        message: message.into(),
    };
    let caps = sample
        .caps()
        .ok_or_else(|| corrupt("sample without caps"))?;
    let info =
        gst_video::VideoInfo::from_caps(caps).map_err(|_| corrupt("caps are not raw video"))?;
    let buffer = sample
        .buffer_owned()
        .ok_or_else(|| corrupt("sample without buffer"))?;
    let pts_ns = buffer.pts().map(|t| t.nseconds());
    let picture = gst_video::VideoFrame::from_buffer_readable(buffer, &info)
        .map_err(|_| corrupt("buffer smaller than its caps say"))?;
    let plane = |i: u32| -> Result<colour::Plane<'_>, DecodeError> {
        let data = picture
            .plane_data(i)
            .map_err(|_| corrupt("picture without its planes"))?;
        let stride = usize::try_from(picture.plane_stride()[i as usize])
            .map_err(|_| corrupt("negative stride"))?;
        Ok(colour::Plane { data, stride })
    };
    let yuv = colour::I420 {
        width: info.width() as usize,
        height: info.height() as usize,
        y: plane(0)?,
        u: plane(1)?,
        v: plane(2)?,
    };
    let rgb_full_range = full_range(caps);
    let rgb = colour::i420_to_rgb(&yuv, &colour::Coefficients::bt601(rgb_full_range))
        .map_err(|e| corrupt(&e.to_string()))?;
    let mut frame = Frame::rgb(index, info.width(), info.height(), Bytes::from(rgb));
    frame.pts_ns = pts_ns;
    Ok(frame)
}

/// Whether the stream says full range (JPEG levels, e.g. H.264's
/// `video_full_range_flag`): swscale then converts it as yuvj420p. Read from
/// the caps string, because `VideoInfo` replaces a colorimetry with an
/// unknown matrix (`1:0:0:0`, what avdec gives for such a stream) by the
/// format's default, which is limited range.
fn full_range(caps: &gst::CapsRef) -> bool {
    caps.structure(0)
        .and_then(|s| s.get::<&str>("colorimetry").ok())
        .and_then(|c| c.parse::<gst_video::VideoColorimetry>().ok())
        .is_some_and(|c| c.range() == gst_video::VideoColorRange::Range0_255)
}
