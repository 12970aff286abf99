//! One pipeline fed from a growing file through `appsrc` (demuxer in push
//! mode), as the bytes of one download attempt arrive.
//!
//! A feeder thread reads what the file holds beyond what it has pushed and
//! pushes it; `appsrc` blocks it once a few MiB wait in its queue, so a slow
//! decoder slows the feeder, never the download. After each read it checks
//! that the attempt is still the current one (the fetcher moves to a new
//! generation before it truncates the file), so bytes of a retry never
//! reach a pipeline started on an earlier attempt.

use std::cell::Cell;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;
use sv_core::Frame;

use super::growing::Progress;
use crate::config::DecodeConfig;
use crate::error::DecodeError;
use crate::pipeline::{self, Control, Ended, Interrupt, Session};

/// Bytes read and pushed at a time.
const CHUNK: u64 = 256 << 10;
/// Bytes `appsrc` queues before the feeder waits.
const QUEUED: u64 = 4 << 20;
/// How often a waiting feeder looks at the stop flag.
const POLL: Duration = Duration::from_millis(20);

/// What the decode thread watches while the feeder runs.
#[derive(Default)]
struct Shared {
    stop: AtomicBool,
    fed: AtomicU64,
    /// Everything written so far is pushed; more must come from the network.
    waiting: AtomicBool,
}

/// Decodes `generation` of the download in `file` while it arrives.
/// `skip`: frames an earlier pipeline already emitted.
pub fn stream(
    progress: &Progress,
    file: &File,
    generation: u32,
    uri: &str,
    config: &DecodeConfig,
    skip: u64,
    emit: &mut dyn FnMut(Frame) -> bool,
) -> Result<Ended, DecodeError> {
    let appsrc = gst_app::AppSrc::builder()
        .stream_type(gst_app::AppStreamType::Stream)
        .format(gst::Format::Bytes)
        .is_live(false)
        .block(true)
        .max_bytes(QUEUED)
        .build();
    let shared = Shared::default();
    let tick = Cell::new(0u64);
    let control = || {
        let now = progress.snapshot();
        if now.cancelled {
            return Control::Stop(Interrupt::Cancelled);
        }
        if now.generation != generation {
            return Control::Stop(Interrupt::Restart);
        }
        if now.finished == Some(false) {
            return Control::Stop(Interrupt::InputFailed);
        }
        // Waiting on the network is the fetcher's to time out (it has read
        // and total timeouts), not a decoder stall.
        if shared.waiting.load(Ordering::Relaxed) && now.finished.is_none() {
            tick.set(tick.get() + 1);
            return Control::Go {
                activity: tick.get(),
            };
        }
        Control::Go {
            activity: shared.fed.load(Ordering::Relaxed),
        }
    };
    let session = Session {
        uri,
        stall_timeout: config.stall_timeout,
        skip,
        control: &control,
    };
    std::thread::scope(|scope| {
        let (source, shared) = (&appsrc, &shared);
        let ended = pipeline::run(
            appsrc.clone().upcast(),
            &session,
            config,
            || {
                let spawned = std::thread::Builder::new()
                    .name("sv-feed".into())
                    .spawn_scoped(scope, move || {
                        feed(source, file, progress, generation, shared)
                    });
                if let Err(e) = spawned {
                    tracing::warn!(error = %e, "Could not start the feeder thread.");
                }
            },
            emit,
        );
        // The pipeline is stopped, so a blocked push has returned; a feeder
        // waiting for bytes sees this within `POLL`, and the scope joins it.
        shared.stop.store(true, Ordering::SeqCst);
        ended
    })
}

fn feed(
    appsrc: &gst_app::AppSrc,
    file: &File,
    progress: &Progress,
    generation: u32,
    shared: &Shared,
) {
    let mut pushed = 0u64;
    while !shared.stop.load(Ordering::SeqCst) {
        let now = progress.snapshot();
        if now.generation != generation || now.cancelled || now.finished == Some(false) {
            return;
        }
        if pushed < now.written {
            let len = (now.written - pushed).min(CHUNK) as usize;
            let mut bytes = vec![0u8; len];
            if let Err(e) = file.read_exact_at(&mut bytes, pushed) {
                tracing::warn!(error = %e, "Reading the download back failed.");
                return;
            }
            if progress.snapshot().generation != generation {
                return; // those bytes may be the next attempt's
            }
            if appsrc
                .push_buffer(gst::Buffer::from_mut_slice(bytes))
                .is_err()
            {
                return; // flushing: the pipeline is stopping
            }
            pushed += len as u64;
            shared.fed.store(pushed, Ordering::Relaxed);
        } else if now.finished == Some(true) {
            let _ = appsrc.end_of_stream();
            return;
        } else {
            shared.waiting.store(true, Ordering::Relaxed);
            progress.wait_change(&now, POLL);
            shared.waiting.store(false, Ordering::Relaxed);
        }
    }
}
