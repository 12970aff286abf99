//! Decoding a download while it arrives.
//!
//! - [`growing`]: the download's file while it grows ([`Progress`], and
//!   [`GrowingFile`], the fetcher's sink that writes it).
//! - [`layout`]: whether an MP4 can be decoded as it arrives (its `moov`
//!   index before the media data), from its top-level box headers.
//! - `feed`: one pipeline fed through `appsrc` from the growing file.
//!
//! [`decode_download`] waits for the first bytes, reads the layout, and
//! either decodes as bytes arrive (index first) or waits for the whole file
//! (index at the end, not an MP4, streaming off), logging which and why.
//! The fetcher's guards (size cap, address guard, timeouts, retries) are
//! the same either way: it writes the file, this only reads it. A retry
//! after bytes reached a decoder starts a new pipeline from the first byte
//! and skips the frames already emitted (decoding is deterministic, so the
//! consumer sees every frame exactly once, in order).

mod feed;
pub mod growing;
pub mod layout;

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::time::{Duration, Instant};

use sv_core::Frame;

pub use growing::{GrowingFile, Progress, Snapshot};
pub use layout::Layout;

use crate::config::DecodeConfig;
use crate::error::DecodeError;
use crate::pipeline::{self, Control, DecodeSummary, Ended, Interrupt, Session};

/// How a download's decode ended.
#[derive(Debug)]
pub enum Outcome {
    /// The decode finished: at the video's end, or where the consumer
    /// stopped taking frames (then the summary says `cancelled`).
    Done(DecodeSummary),
    /// The download gave up (the fetcher's error says why).
    DownloadFailed(DecodeSummary),
    /// The consumer left.
    Cancelled(DecodeSummary),
}

/// What happened on the way, for the stage's statistics.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Report {
    /// Frames were decoded while the download was still running.
    pub streamed: bool,
    /// Pipelines started again because the download did.
    pub restarts: u32,
    /// Time spent waiting for bytes before a pipeline could start.
    pub waited: Duration,
}

/// How long to wait for the download between looks at it.
const LOOK: Duration = Duration::from_millis(100);

/// Decodes the download at `path` (written under `progress`) and hands
/// every frame, in order, to `emit`. Blocking: run it on a thread of its own.
pub fn decode_download(
    progress: &Progress,
    path: &Path,
    uri: &str,
    config: &DecodeConfig,
    emit: &mut dyn FnMut(Frame) -> bool,
) -> Result<(Outcome, Report), DecodeError> {
    pipeline::init(config)?;
    let mut report = Report::default();
    let mut emitted = 0u64;
    loop {
        let waiting = Instant::now();
        let (start, generation) = wait_for_start(progress, path, uri, config.stream_downloads)?;
        report.waited += waiting.elapsed();
        let skip = emitted;
        let mut counting = |frame: Frame| {
            emitted = emitted.max(frame.index + 1);
            emit(frame)
        };
        let ended = match start {
            Start::Cancelled => return Ok((Outcome::Cancelled(DecodeSummary::default()), report)),
            Start::Failed => {
                return Ok((Outcome::DownloadFailed(DecodeSummary::default()), report));
            }
            Start::Stream => {
                report.streamed = true;
                let file = File::open(path)?;
                feed::stream(
                    progress,
                    &file,
                    generation,
                    uri,
                    config,
                    skip,
                    &mut counting,
                )?
            }
            Start::Whole => whole(progress, path, uri, config, skip, &mut counting)?,
        };
        match ended {
            Ended::Done(summary) => return Ok((Outcome::Done(summary), report)),
            Ended::Interrupted(Interrupt::Restart, _) => {
                report.restarts += 1;
                tracing::info!(
                    uri,
                    frames_sent = emitted,
                    "The download started again; decoding again from its first byte, skipping the frames already sent."
                );
            }
            Ended::Interrupted(Interrupt::InputFailed, summary) => {
                return Ok((Outcome::DownloadFailed(summary), report));
            }
            Ended::Interrupted(Interrupt::Cancelled, summary) => {
                return Ok((Outcome::Cancelled(summary), report));
            }
        }
    }
}

/// How decoding can start.
enum Start {
    /// Feed the pipeline as bytes arrive.
    Stream,
    /// The download is complete: decode the file.
    Whole,
    Failed,
    Cancelled,
}

/// Waits until decoding can start: the layout allows streaming, or the
/// download is complete (or failed, or nobody wants it any more). Logs the
/// choice once, with its reason.
fn wait_for_start(
    progress: &Progress,
    path: &Path,
    uri: &str,
    stream_allowed: bool,
) -> Result<(Start, u32), DecodeError> {
    let mut file: Option<File> = None;
    let mut waiting_for: Option<(u32, &'static str)> = None;
    loop {
        let now = progress.snapshot();
        if now.cancelled {
            return Ok((Start::Cancelled, now.generation));
        }
        match now.finished {
            Some(false) => return Ok((Start::Failed, now.generation)),
            Some(true) => {
                if waiting_for.is_none() {
                    tracing::info!(
                        uri,
                        reason = "the download was complete first",
                        "Decoding after the download."
                    );
                }
                return Ok((Start::Whole, now.generation));
            }
            None => {}
        }
        let undecided = waiting_for.is_none_or(|(generation, _)| generation != now.generation);
        if !stream_allowed && waiting_for.is_none() {
            waiting_for = Some((u32::MAX, "decoding while downloading is off"));
            tracing::info!(
                uri,
                reason = "decoding while downloading is off",
                "Decoding after the download."
            );
        } else if stream_allowed && undecided && now.written > 0 {
            if file.is_none() {
                file = Some(File::open(path)?);
            }
            let reader = file.as_ref().expect("opened above");
            let mut read_at = |offset: u64, buf: &mut [u8]| reader.read_exact_at(buf, offset);
            let layout = layout::layout(now.written, false, &mut read_at)?;
            if progress.snapshot().generation != now.generation {
                continue; // read bytes of a newer attempt
            }
            match layout {
                Some(Layout::IndexFirst) => {
                    tracing::info!(
                        uri,
                        reason = Layout::IndexFirst.reason(),
                        "Decoding while downloading."
                    );
                    return Ok((Start::Stream, now.generation));
                }
                Some(other) => {
                    waiting_for = Some((now.generation, other.reason()));
                    tracing::info!(uri, reason = other.reason(), "Decoding after the download.");
                }
                None => {}
            }
        }
        progress.wait_change(&now, LOOK);
    }
}

/// Decodes the complete download from the file (`filesrc`, the demuxer
/// reading where it likes), skipping `skip` frames already emitted.
fn whole(
    progress: &Progress,
    path: &Path,
    uri: &str,
    config: &DecodeConfig,
    skip: u64,
    emit: &mut dyn FnMut(Frame) -> bool,
) -> Result<Ended, DecodeError> {
    let source = gstreamer::ElementFactory::make("filesrc")
        .property("location", path.to_string_lossy().as_ref())
        .build()
        .map_err(|_| DecodeError::MissingElement { element: "filesrc" })?;
    let control = || {
        if progress.snapshot().cancelled {
            Control::Stop(Interrupt::Cancelled)
        } else {
            Control::Go { activity: 0 }
        }
    };
    let session = Session {
        uri,
        stall_timeout: config.stall_timeout,
        skip,
        control: &control,
    };
    pipeline::run(source, &session, config, || {}, emit)
}
