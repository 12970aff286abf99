//! Pulling frames out of a running pipeline until the video ends, fails,
//! stalls, the consumer stops, or the caller's [`Control`] says stop.

use std::time::{Duration, Instant};

use gstreamer as gst;
use gstreamer::prelude::*;
use sv_core::Frame;

use super::convert::Ordered;
use super::{Built, DecodeSummary};
use crate::error::DecodeError;

/// What the caller says between samples.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    /// Keep decoding. `activity` changes whenever input made progress (a
    /// stream fed more bytes, or is waiting on the network, which has its
    /// own timeouts), so the stall clock only runs while nothing moves.
    Go {
        /// A counter of input progress; only its changes matter.
        activity: u64,
    },
    /// Stop now, for this reason.
    Stop(Interrupt),
}

/// Why a caller stopped a decode before its end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interrupt {
    /// The input starts again from its first byte (a download retry).
    Restart,
    /// The input failed (the download gave up).
    InputFailed,
    /// Nobody wants the frames any more.
    Cancelled,
}

/// How a drained pipeline ended.
#[derive(Debug)]
pub enum Ended {
    /// At the video's end, or where the consumer stopped taking frames
    /// (the summary says `cancelled`).
    Done(DecodeSummary),
    /// The caller's [`Control`] said stop; the summary counts the frames
    /// decoded so far.
    Interrupted(Interrupt, DecodeSummary),
}

/// What one pipeline run needs besides its source.
pub struct Session<'a> {
    /// The video as logs and errors name it (a path, or the URL).
    pub uri: &'a str,
    /// Longest time without a frame or input progress before the decode
    /// fails as stalled.
    pub stall_timeout: Duration,
    /// Frames below this index were emitted by an earlier run on the same
    /// bytes: decoded again (the decoder needs them) but not converted or
    /// emitted.
    pub skip: u64,
    /// Asked between samples whether to go on.
    pub control: &'a dyn Fn() -> Control,
}

/// Longest wait for a sample while nothing is being converted (bus errors
/// and the caller's control are checked in between).
const IDLE_WAIT: Duration = Duration::from_millis(50);
/// Wait while frames are being converted, so each leaves as soon as it is.
const BUSY_WAIT: Duration = Duration::from_millis(1);

/// Pulls frames until end of stream, an error, a stall, the consumer
/// stopping or the control saying stop. Bus errors are checked between
/// samples so a corrupt stream surfaces even while frames keep coming.
pub(super) fn drain(
    built: &Built,
    session: &Session<'_>,
    pool: &mut Ordered,
    emit: &mut dyn FnMut(Frame) -> bool,
) -> Result<Ended, DecodeError> {
    let mut summary = DecodeSummary::default();
    let mut decoded = 0u64;
    let mut last_progress = Instant::now();
    let mut activity = None;
    let mut video_end = gst::ClockTime::ZERO;
    let cancelled = |mut summary: DecodeSummary, decoded| {
        summary.frames = decoded;
        summary.cancelled = true;
        Ok(Ended::Done(summary))
    };
    loop {
        if let Some(message) = bus_error(&built.pipeline) {
            if let Some(refusal) = built.refusal() {
                return Err(refusal.into_error(session.uri));
            }
            return Err(failed(session.uri, decoded, message));
        }
        match (session.control)() {
            Control::Stop(why) => {
                summary.frames = decoded;
                return Ok(Ended::Interrupted(why, summary));
            }
            Control::Go { activity: now } => {
                if activity.replace(now).is_some_and(|before| before != now) {
                    last_progress = Instant::now();
                }
            }
        }
        let wait = if pool.has_pending() {
            BUSY_WAIT
        } else {
            IDLE_WAIT
        };
        match built
            .appsink
            .try_pull_sample(gst::ClockTime::from_nseconds(wait.as_nanos() as u64))
        {
            Some(sample) => {
                let index = decoded;
                decoded += 1;
                last_progress = Instant::now();
                if let Some(buffer) = sample.buffer() {
                    let end =
                        buffer.pts().unwrap_or_default() + buffer.duration().unwrap_or_default();
                    video_end = video_end.max(end);
                }
                if index >= session.skip && !pool.submit(sample, index, emit)? {
                    return cancelled(summary, decoded);
                }
            }
            None if built.appsink.is_eos() => {
                if !pool.finish(emit)? {
                    return cancelled(summary, decoded);
                }
                if decoded == 0 {
                    return Err(DecodeError::NoVideoStream {
                        uri: session.uri.to_owned(),
                    });
                }
                check_complete(&built.pipeline, video_end, session.uri, decoded)?;
                summary.frames = decoded;
                return Ok(Ended::Done(summary));
            }
            None if last_progress.elapsed() > session.stall_timeout => {
                return Err(DecodeError::Stalled {
                    uri: session.uri.to_owned(),
                    seconds: session.stall_timeout.as_secs(),
                });
            }
            None => {
                if !pool.emit_ready(emit)? {
                    return cancelled(summary, decoded);
                }
            }
        }
    }
}

/// A bus error after `frames` frames: not a video at all, or a corrupt one.
pub(super) fn failed(uri: &str, frames: u64, message: String) -> DecodeError {
    if frames == 0 {
        DecodeError::NotAVideo {
            uri: uri.to_owned(),
            message,
        }
    } else {
        DecodeError::Corrupt {
            uri: uri.to_owned(),
            frames,
            message,
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
pub(super) fn bus_error(pipeline: &gst::Pipeline) -> Option<String> {
    let bus = pipeline.bus()?;
    while let Some(message) = bus.pop_filtered(&[gst::MessageType::Error]) {
        if let gst::MessageView::Error(err) = message.view() {
            let detail = err.debug().map(|d| format!(" ({d})")).unwrap_or_default();
            return Some(format!("{}{detail}", err.error()));
        }
    }
    None
}
