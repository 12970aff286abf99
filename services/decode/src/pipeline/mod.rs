//! The GStreamer pipeline: `SOURCE ! decodebin ! videoconvert ! appsink`
//! (I420 or NV12), built in one function and drained by another; each
//! picture is turned into RGB by [`crate::colour`] on a few threads.
//!
//! - [`decode_file`]: a file on disk (`filesrc`).
//! - [`run`]: any source element; the download path feeds an `appsrc`
//!   while the clip arrives ([`crate::progressive`]).
//! - `drain`: pulling samples, bus errors, stalls, the caller's [`Control`].
//! - `convert`: the ordered pool of conversion threads.
//!
//! Colour: the reference miner reads frames with OpenCV (FFmpeg + swscale),
//! which converts YUV with BT.601 coefficients whatever the stream signals
//! and with its own fixed-point rounding. videoconvert honours the caps
//! (BT.709 for an unsignalled HD stream: 7.6 levels mean error) and even
//! forced to BT.601 stays about a level off, which moved detections of real
//! models. So GStreamer only decodes: a decoder's I420 (avdec) or NV12
//! (NVDEC) passes videoconvert untouched (anything else is repacked to
//! I420), and the conversion is ours, bit-exact with swscale
//! (docs/PARITY.md A0).

mod convert;
mod drain;

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;
use gstreamer_video as gst_video;
use sv_core::Frame;

use crate::config::{DecodeConfig, PictureSize};
use crate::context::ContextCache;
use crate::error::DecodeError;
use crate::hardware;

pub use convert::threads as convert_threads;
pub use drain::{Control, Ended, Interrupt, Session};

/// What a finished decode reports.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DecodeSummary {
    /// Frames decoded (the one the consumer refused included).
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
    init(config)?;
    if !path.is_file() {
        return Err(DecodeError::NotFound {
            path: path.to_owned(),
        });
    }
    let uri = path.display().to_string();
    let src = make("filesrc")?;
    src.set_property("location", path.to_string_lossy().as_ref());
    let session = Session {
        uri: &uri,
        stall_timeout: config.stall_timeout,
        skip: 0,
        control: &|| Control::Go { activity: 0 },
    };
    match run(src, &session, config, || {}, &mut emit)? {
        Ended::Done(summary) | Ended::Interrupted(_, summary) => Ok(summary),
    }
}

/// GStreamer initialised and the decoder preference applied.
pub(crate) fn init(config: &DecodeConfig) -> Result<(), DecodeError> {
    hardware::init(config.hardware).map_err(|e| DecodeError::Gstreamer {
        message: e.to_string(),
    })
}

/// Decodes what `source` produces (its src pad gives the container's
/// bytes). `started` runs once the pipeline is playing (an `appsrc` accepts
/// buffers from then on); the pipeline is stopped and released before this
/// returns, however it ends.
pub fn run(
    source: gst::Element,
    session: &Session<'_>,
    config: &DecodeConfig,
    started: impl FnOnce(),
    emit: &mut dyn FnMut(Frame) -> bool,
) -> Result<Ended, DecodeError> {
    let built = build(source, config.max_picture)?;
    let pipeline = NullOnDrop(built.pipeline.clone());
    let contexts = ContextCache::global();
    contexts.apply(&built.pipeline);
    if let Some(bus) = built.pipeline.bus() {
        // Runs on GStreamer's threads. Only errors are read (by the drain
        // loop); everything else is dropped here rather than queued for
        // the life of the pipeline. Holds no pipeline reference: no cycle.
        let contexts = contexts.clone();
        bus.set_sync_handler(move |_, message| {
            if contexts.handle(message) || message.type_() != gst::MessageType::Error {
                gst::BusSyncReply::Drop
            } else {
                gst::BusSyncReply::Pass
            }
        });
    }
    pipeline.0.set_state(gst::State::Playing).map_err(|_| {
        let message = drain::bus_error(&built.pipeline)
            .unwrap_or_else(|| "could not start the pipeline".into());
        DecodeError::NotAVideo {
            uri: session.uri.to_owned(),
            message,
        }
    })?;
    started();
    let threads = convert::threads(config.convert_threads);
    let ended = convert::with_pool(threads, session.uri, |pool| {
        drain::drain(&built, session, pool, emit)
    })?;
    let decoder = built.decoder.lock().ok().and_then(|d| d.clone());
    let ended = match ended {
        Ended::Done(summary) => Ended::Done(DecodeSummary { decoder, ..summary }),
        Ended::Interrupted(why, summary) => {
            Ended::Interrupted(why, DecodeSummary { decoder, ..summary })
        }
    };
    if let Ended::Done(summary) = &ended {
        tracing::debug!(uri = session.uri, frames = summary.frames, decoder = ?summary.decoder, "Video decoded.");
    }
    Ok(ended)
}

struct Built {
    pipeline: gst::Pipeline,
    appsink: gst_app::AppSink,
    decoder: Arc<Mutex<Option<String>>>,
    /// Why decodebin was stopped before any frame, when it was.
    refused: Arc<Mutex<Option<Refusal>>>,
}

/// A clip refused as soon as decodebin knows what it holds, before a
/// decoder or a frame buffer is made for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// Its pictures are larger than the limit.
    TooLarge {
        width: u32,
        height: u32,
        max: PictureSize,
    },
    /// Every stream is known and none is video (an audio-only MP4).
    NoVideo,
}

impl Refusal {
    pub(crate) fn into_error(self, uri: &str) -> DecodeError {
        let uri = uri.to_owned();
        match self {
            Self::TooLarge { width, height, max } => DecodeError::PictureTooLarge {
                uri,
                width,
                height,
                max,
            },
            Self::NoVideo => DecodeError::NoVideoStream { uri },
        }
    }
}

impl Built {
    fn refusal(&self) -> Option<Refusal> {
        self.refused.lock().ok().and_then(|r| *r)
    }
}

/// Records the first refusal and ends the pipeline with a bus error, so the
/// drain stops at once (it reports the refusal, not the error's text).
fn refuse(slot: &Mutex<Option<Refusal>>, element: &gst::Element, refusal: Refusal) {
    if let Ok(mut slot) = slot.lock() {
        slot.get_or_insert(refusal);
    }
    let _ = element.post_message(
        gst::message::Error::builder(gst::StreamError::Format, "clip refused")
            .src(element)
            .build(),
    );
}

/// The width and height a caps structure declares, if it is video.
fn picture_size(caps: &gst::CapsRef) -> Option<(u32, u32)> {
    let s = caps.structure(0)?;
    if !s.name().starts_with("video/") {
        return None;
    }
    let width = u32::try_from(s.get::<i32>("width").ok()?).ok()?;
    let height = u32::try_from(s.get::<i32>("height").ok()?).ok()?;
    Some((width, height))
}

fn make(factory: &'static str) -> Result<gst::Element, DecodeError> {
    gst::ElementFactory::make(factory)
        .build()
        .map_err(|_| DecodeError::MissingElement { element: factory })
}

fn build(src: gst::Element, max_picture: PictureSize) -> Result<Built, DecodeError> {
    let gst_err = |e: gst::glib::BoolError| DecodeError::Gstreamer {
        message: e.to_string(),
    };
    let pipeline = gst::Pipeline::new();
    count_live(&pipeline);
    let decodebin = make("decodebin")?;
    let convert = make("videoconvert")?;
    let appsink = gst_app::AppSink::builder()
        .caps(
            &gst_video::VideoCapsBuilder::new()
                .format_list([gst_video::VideoFormat::I420, gst_video::VideoFormat::Nv12])
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
    let refused = Arc::new(Mutex::new(None));
    // Every stream decodebin finds (the demuxer's, then the parser's, which
    // reads the sizes from the bitstream itself) passes here before a
    // decoder is plugged for it.
    let slot = refused.clone();
    decodebin.connect("autoplug-continue", false, move |values| {
        let element = values.first()?.get::<gst::Element>().ok()?;
        let caps = values.get(2)?.get::<gst::Caps>().ok()?;
        if let Some((width, height)) = picture_size(&caps)
            && !max_picture.fits(width, height)
        {
            let max = max_picture;
            refuse(&slot, &element, Refusal::TooLarge { width, height, max });
            return Some(false.to_value());
        }
        Some(true.to_value())
    });
    let (slot, linked) = (refused.clone(), video_sink.clone());
    decodebin.connect_no_more_pads(move |decodebin| {
        if !linked.is_linked() {
            refuse(&slot, decodebin, Refusal::NoVideo);
        }
    });
    let bin = pipeline.downgrade();
    let skip = refused.clone();
    decodebin.connect_pad_added(move |_, pad| {
        if skip.lock().is_ok_and(|r| r.is_some()) {
            return;
        }
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
        refused,
    })
}
