//! Decoded pictures to RGB frames on a small pool of threads, handed out in
//! decode order.
//!
//! The drain thread pulls each sample from the appsink and queues it; a
//! worker maps the sample's buffer (the decoder's own memory, read in
//! place: no copy of the YUV) and converts it straight into the buffer the
//! frame carries. Each job has its own reply channel, kept in submission
//! order, so frames leave in order whichever worker finishes first. At
//! most `limit` pictures are in flight: memory stays bounded, and a slow
//! consumer still stops the decoder (the drain thread blocks in `emit`).

use std::collections::VecDeque;
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, sync_channel};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use gstreamer as gst;
use gstreamer_video as gst_video;
use gstreamer_video::prelude::VideoFrameExt;
use sv_core::Frame;

use crate::colour;
use crate::error::DecodeError;

/// Conversion threads for a `configured` value (0: automatic). Automatic:
/// a third of the cores, at most 4 (4 convert well over 1000 720p frames a
/// second); on up to 5 cores one, which is the decode thread itself: there
/// a hand-off to other threads only competes with the decoder's own
/// threads (measured 5-10% slower on 2 cores).
pub fn threads(configured: usize) -> usize {
    if configured > 0 {
        return configured;
    }
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    (cores / 3).clamp(1, 4)
}

struct Job {
    sample: gst::Sample,
    index: u64,
    reply: SyncSender<Result<Frame, DecodeError>>,
}

/// Runs `f` with a pool of `threads` conversion threads, joined before
/// this returns. One thread: no pool, the caller converts each picture
/// itself.
pub(super) fn with_pool<R>(threads: usize, uri: &str, f: impl FnOnce(&mut Ordered) -> R) -> R {
    let uri: Arc<str> = Arc::from(uri);
    if threads <= 1 {
        return f(&mut Ordered {
            jobs: None,
            uri,
            pending: VecDeque::new(),
            limit: 1,
        });
    }
    std::thread::scope(|scope| {
        let (jobs, queue) = sync_channel::<Job>(threads);
        let queue = Arc::new(Mutex::new(queue));
        for n in 0..threads {
            let (queue, uri) = (queue.clone(), uri.clone());
            let spawned = std::thread::Builder::new()
                .name(format!("sv-convert-{n}"))
                .spawn_scoped(scope, move || work(&queue, &uri));
            if let Err(e) = spawned {
                tracing::warn!(error = %e, "Could not start a conversion thread.");
            }
        }
        let mut ordered = Ordered {
            jobs: Some(jobs),
            uri,
            pending: VecDeque::new(),
            limit: threads + 2,
        };
        f(&mut ordered)
        // `ordered` drops here: the queue closes, every worker returns and
        // the scope joins them.
    })
}

fn work(queue: &Mutex<Receiver<Job>>, uri: &str) {
    loop {
        let job = match queue.lock() {
            Ok(queue) => queue.recv(),
            Err(_) => return,
        };
        let Ok(job) = job else { return };
        // The consumer may be gone (the frame is no longer wanted).
        let _ = job.reply.send(to_frame(job.sample, job.index, uri));
    }
}

/// Frames being converted, oldest first.
pub(super) struct Ordered {
    /// None: convert on the calling thread.
    jobs: Option<SyncSender<Job>>,
    uri: Arc<str>,
    pending: VecDeque<Receiver<Result<Frame, DecodeError>>>,
    limit: usize,
}

/// What `emit` said: keep going, or the consumer left.
pub(super) type Open = bool;

/// The oldest frame: emitted (and what `emit` said), or still converting.
enum Front {
    Emitted(Open),
    Converting,
}

impl Ordered {
    /// Queues `sample` (frame `index`), first emitting the oldest frames
    /// while `limit` are in flight, then every frame already converted.
    pub fn submit(
        &mut self,
        sample: gst::Sample,
        index: u64,
        emit: &mut dyn FnMut(Frame) -> bool,
    ) -> Result<Open, DecodeError> {
        if self.jobs.is_none() {
            return Ok(emit(to_frame(sample, index, &self.uri)?));
        }
        while self.pending.len() >= self.limit {
            if let Front::Emitted(false) = self.emit_front(emit, None)? {
                return Ok(false);
            }
        }
        let (reply, result) = sync_channel(1);
        let job = Job {
            sample,
            index,
            reply,
        };
        let sent = self
            .jobs
            .as_ref()
            .is_some_and(|jobs| jobs.send(job).is_ok());
        if !sent {
            return Err(gone());
        }
        self.pending.push_back(result);
        self.emit_ready(emit)
    }

    pub fn has_pending(&self) -> bool {
        !self.pending.is_empty()
    }

    /// Emits the frames already converted, in order, without waiting.
    pub fn emit_ready(&mut self, emit: &mut dyn FnMut(Frame) -> bool) -> Result<Open, DecodeError> {
        while self.has_pending() {
            match self.emit_front(emit, Some(Duration::ZERO))? {
                Front::Converting => break,
                Front::Emitted(false) => return Ok(false),
                Front::Emitted(true) => {}
            }
        }
        Ok(true)
    }

    /// Waits for every frame in flight and emits them.
    pub fn finish(&mut self, emit: &mut dyn FnMut(Frame) -> bool) -> Result<Open, DecodeError> {
        while self.has_pending() {
            if let Front::Emitted(false) = self.emit_front(emit, None)? {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Emits the oldest frame, waiting at most `wait` for its conversion
    /// (None: as long as it takes).
    fn emit_front(
        &mut self,
        emit: &mut dyn FnMut(Frame) -> bool,
        wait: Option<Duration>,
    ) -> Result<Front, DecodeError> {
        let Some(front) = self.pending.front() else {
            return Ok(Front::Emitted(true));
        };
        let result = match wait {
            None => front.recv().map_err(|_| RecvTimeoutError::Disconnected),
            Some(wait) => front.recv_timeout(wait),
        };
        match result {
            Ok(frame) => {
                self.pending.pop_front();
                Ok(Front::Emitted(emit(frame?)))
            }
            Err(RecvTimeoutError::Timeout) => Ok(Front::Converting),
            Err(RecvTimeoutError::Disconnected) => {
                self.pending.pop_front();
                Err(gone())
            }
        }
    }
}

fn gone() -> DecodeError {
    DecodeError::Gstreamer {
        message: "a frame conversion thread stopped".into(),
    }
}

/// Converts a sample's I420 or NV12 picture into an RGB frame.
pub(super) fn to_frame(sample: gst::Sample, index: u64, uri: &str) -> Result<Frame, DecodeError> {
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
    let rgb_full_range = full_range(caps);
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
    let (width, height) = (info.width() as usize, info.height() as usize);
    let coefficients = colour::Coefficients::bt601(rgb_full_range);
    let rgb = match info.format() {
        gst_video::VideoFormat::I420 => colour::i420_to_rgb(
            &colour::I420 {
                width,
                height,
                y: plane(0)?,
                u: plane(1)?,
                v: plane(2)?,
            },
            &coefficients,
        ),
        gst_video::VideoFormat::Nv12 => colour::nv12_to_rgb(
            &colour::Nv12 {
                width,
                height,
                y: plane(0)?,
                uv: plane(1)?,
            },
            &coefficients,
        ),
        other => return Err(corrupt(&format!("unexpected picture format {other:?}"))),
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A sample of `format` holding `planes`, each tightly packed rows of
    /// the given length, copied into GStreamer's (padded) layout.
    fn sample(
        format: gst_video::VideoFormat,
        width: u32,
        height: u32,
        planes: &[(Vec<u8>, usize)],
    ) -> gst::Sample {
        gst::init().unwrap();
        let info = gst_video::VideoInfo::builder(format, width, height)
            .build()
            .unwrap();
        let mut buffer = gst::Buffer::with_size(info.size()).unwrap();
        {
            let buffer = buffer.get_mut().unwrap();
            let mut frame =
                gst_video::VideoFrameRef::from_buffer_ref_writable(buffer, &info).unwrap();
            for (i, (plane, row_len)) in planes.iter().enumerate() {
                let stride = frame.plane_stride()[i] as usize;
                let data = frame.plane_data_mut(i as u32).unwrap();
                for (r, row) in plane.chunks_exact(*row_len).enumerate() {
                    data[r * stride..][..*row_len].copy_from_slice(row);
                }
            }
        }
        gst::Sample::builder()
            .buffer(&buffer)
            .caps(&info.to_caps().unwrap())
            .build()
    }

    #[test]
    fn nv12_and_i420_samples_of_one_picture_give_one_frame() {
        // An odd width and height: GStreamer pads the strides, chroma
        // rounds up.
        let (w, h) = (37u32, 21u32);
        let (cw, ch) = (w.div_ceil(2) as usize, h.div_ceil(2) as usize);
        let noise =
            |n: usize, k: usize| -> Vec<u8> { (0..n).map(|i| ((i * k + 7) % 253) as u8).collect() };
        let y = noise((w * h) as usize, 31);
        let (u, v) = (noise(cw * ch, 17), noise(cw * ch, 13));
        let uv: Vec<u8> = u.iter().zip(&v).flat_map(|(&u, &v)| [u, v]).collect();
        let wy = w as usize;
        let i420 = sample(
            gst_video::VideoFormat::I420,
            w,
            h,
            &[(y.clone(), wy), (u, cw), (v, cw)],
        );
        let nv12 = sample(gst_video::VideoFormat::Nv12, w, h, &[(y, wy), (uv, 2 * cw)]);
        let a = to_frame(i420, 3, "test").unwrap();
        let b = to_frame(nv12, 3, "test").unwrap();
        assert_eq!((a.index, a.width, a.height), (3, w, h));
        assert!(a.data == b.data, "same samples, same RGB");
        let gray = sample(gst_video::VideoFormat::Gray8, 8, 8, &[(vec![0; 64], 8)]);
        assert!(matches!(
            to_frame(gray, 0, "test"),
            Err(DecodeError::Corrupt { .. })
        ));
    }
}
