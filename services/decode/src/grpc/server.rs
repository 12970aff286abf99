//! `scorevision.v1.Decode`: frames of one video, inline or by shared-memory
//! handle.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use futures::{Stream, StreamExt};
use sv_core::{ErrorKind, Frame, FrameSource, StageError};
use sv_proto::server::incoming;
use sv_proto::v1::decode_server::{Decode, DecodeServer};
use sv_proto::v1::{self, FrameMessage};
use sv_proto::{StreamStamp, respond};
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

use super::{FrameTransport, MAX_MESSAGE, TRANSPORT_HEADER};
use crate::shm::RingWriter;

/// Where and how big the per-stream rings are.
#[derive(Debug, Clone)]
pub struct ShmOptions {
    /// A memory-backed directory both containers mount (`/dev/shm`).
    pub dir: PathBuf,
    /// Frames in flight per stream, at most; the reader frees a slot when
    /// infer has preprocessed its frame.
    pub slots: usize,
    /// Bytes of slots per stream's ring, at most (but two slots always):
    /// sixteen 720p frames, two 4K ones. A ring is made when its stream's
    /// first frame is written, never ahead of it.
    pub ring_bytes: usize,
    /// How long the writer waits for the reader to free a slot.
    pub reader_timeout: Duration,
}

impl ShmOptions {
    /// Defaults, with rings in `dir`.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self {
            dir: dir.into(),
            slots: 16,
            ring_bytes: 16 * 1280 * 720 * 3,
            reader_timeout: Duration::from_secs(30),
        }
    }

    /// Slots of a ring for frames of `frame_len` bytes: `slots`, fewer when
    /// `ring_bytes` says so, two at least (one being read, one written).
    pub fn ring_slots(&self, frame_len: usize) -> usize {
        let by_bytes = self.ring_bytes / frame_len.max(1);
        self.slots.min(by_bytes).max(2)
    }
}

/// `scorevision.v1.Decode` over `source`; `shm` enables the shared-memory
/// transport for clients that ask for it, after removing the rings that
/// writers which died left in its directory (the `sweep` module).
pub fn service(
    source: Arc<dyn FrameSource>,
    shm: Option<ShmOptions>,
) -> DecodeServer<DecodeService> {
    if let Some(options) = &shm {
        crate::sweep::once(&options.dir, crate::sweep::Leftover::Ring);
    }
    DecodeServer::new(DecodeService { source, shm }).max_encoding_message_size(MAX_MESSAGE)
}

/// The `scorevision.v1.Decode` service: each call decodes one video from
/// the source and streams its frames, inline or by ring handle.
pub struct DecodeService {
    source: Arc<dyn FrameSource>,
    shm: Option<ShmOptions>,
}

#[tonic::async_trait]
impl Decode for DecodeService {
    type FramesStream = ReceiverStream<Result<FrameMessage, Status>>;

    async fn frames(
        &self,
        request: Request<v1::VideoRequest>,
    ) -> Result<Response<Self::FramesStream>, Status> {
        let wanted = request
            .metadata()
            .get(TRANSPORT_HEADER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok())
            .unwrap_or_default();
        let request = incoming(request);
        let stamp = StreamStamp {
            challenge_id: request.challenge_id.clone(),
            trace: request.trace.clone(),
        };
        let frames = self.source.frames(request);
        let response = match (&self.shm, wanted) {
            (Some(options), FrameTransport::SharedMemory) => respond(
                through_ring(frames, options.clone(), stamp.challenge_id.clone()),
                stamp,
            ),
            _ => respond(frames.map(|f| f.map(v1::Frame::from)), stamp),
        };
        Ok(Response::new(response))
    }
}

/// Writes each frame into this stream's ring and yields the frame with a
/// handle in place of its pixels. The ring is made when the first frame's
/// size is known, and removed once the reader has freed every slot (so it
/// has opened the ring and is done with it) or the stream is dropped.
fn through_ring(
    frames: sv_core::FrameStream,
    options: ShmOptions,
    challenge_id: String,
) -> impl Stream<Item = Result<v1::Frame, StageError>> + Send + 'static {
    struct State {
        frames: sv_core::FrameStream,
        ring: Option<RingWriter>,
        options: ShmOptions,
        challenge_id: String,
        finished: bool,
    }
    let state = State {
        frames,
        ring: None,
        options,
        challenge_id,
        finished: false,
    };
    futures::stream::unfold(state, |mut state| async move {
        if state.finished {
            return None;
        }
        match state.frames.next().await {
            Some(Ok(frame)) => {
                let item =
                    write_frame(&mut state.ring, &state.options, &state.challenge_id, frame).await;
                state.finished = item.is_err();
                Some((item, state))
            }
            Some(Err(e)) => {
                state.finished = true;
                Some((Err(e), state))
            }
            None => {
                if let Some(ring) = state.ring.take()
                    && ring.drain(state.options.reader_timeout).await.is_err()
                {
                    tracing::warn!(challenge_id = %state.challenge_id, "The reader did not free every ring slot; removing the ring anyway.");
                }
                None
            }
        }
    })
}

async fn write_frame(
    ring: &mut Option<RingWriter>,
    options: &ShmOptions,
    challenge_id: &str,
    frame: Frame,
) -> Result<v1::Frame, StageError> {
    let failed = |what: &str, e: crate::shm::ShmError| {
        let kind = match e {
            crate::shm::ShmError::ReaderStalled { .. } => ErrorKind::DeadlineExceeded,
            _ => ErrorKind::Internal,
        };
        StageError::new(kind, format!("decode: shared-memory ring: {what}: {e}"))
    };
    if ring.is_none() {
        let slots = options.ring_slots(frame.data.len());
        let created = RingWriter::create(&options.dir, challenge_id, slots, frame.data.len())
            .map_err(|e| failed("creating", e))?;
        *ring = Some(created);
    }
    let writer = ring
        .as_mut()
        .ok_or_else(|| StageError::new(ErrorKind::Internal, "decode: ring missing"))?;
    if frame.data.len() > writer.slot_len() {
        // A resolution change mid-video (rare): this frame goes inline.
        return Ok(v1::Frame::from(frame));
    }
    let handle = writer
        .write(&frame.data, || false, options.reader_timeout)
        .await
        .map_err(|e| failed("writing", e))?;
    let mut wire = v1::Frame::from(Frame {
        data: bytes::Bytes::new(),
        ..frame
    });
    wire.pixels = Some(v1::frame::Pixels::Shared(v1::SharedMemorySlot {
        ring: handle.ring,
        offset: handle.offset,
        length: handle.length,
        generation: handle.generation,
    }));
    Ok(wire)
}

#[cfg(test)]
mod tests {
    use super::ShmOptions;

    #[test]
    fn rings_are_bounded_in_bytes_with_two_slots_at_least() {
        let options = ShmOptions::new("/dev/shm");
        assert_eq!(options.ring_slots(1280 * 720 * 3), 16);
        assert_eq!(
            options.ring_slots(640 * 360 * 3),
            16,
            "the slot count caps it"
        );
        assert_eq!(options.ring_slots(1920 * 1080 * 3), 7);
        assert_eq!(options.ring_slots(3840 * 2160 * 3), 2);
        assert_eq!(options.ring_slots(8192 * 8192 * 3), 2);
    }
}
