//! [`Remote`]: remote decode replicas as a [`FrameSource`]. Frames that come
//! by shared-memory handle are read in place: the pixels stay in the ring
//! until infer drops the frame, which frees the slot for the writer.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use sv_core::{ErrorKind, Frame, FrameSource, FrameStream, StageError, VideoRequest};
use sv_proto::client::{outgoing, remote_stream};
use sv_proto::status::malformed;
use sv_proto::v1::decode_client::DecodeClient;
use sv_proto::v1::{self, frame::Pixels};
use sv_proto::{Upstream, UpstreamConfig, UpstreamError};
use tonic::metadata::MetadataValue;

use super::{FrameTransport, MAX_MESSAGE, TRANSPORT_HEADER};
use crate::shm::{RingCache, SlotHandle};

/// Where the decode replicas are and how their frames should travel.
#[derive(Debug, Clone)]
pub struct RemoteConfig {
    /// The replicas' addresses and the connection settings.
    pub upstream: UpstreamConfig,
    /// Ask for frames by shared-memory handle (decode on the same host).
    pub transport: FrameTransport,
    /// Where the rings are; the same directory decode writes them to.
    pub shm_dir: PathBuf,
}

impl RemoteConfig {
    /// Replicas at `addrs`, frames inline, rings (if switched on later)
    /// under `/dev/shm`.
    pub fn new(addrs: impl IntoIterator<Item = impl Into<String>>) -> Self {
        Self {
            upstream: UpstreamConfig::new(addrs),
            transport: FrameTransport::Inline,
            shm_dir: PathBuf::from("/dev/shm"),
        }
    }
}

/// Frames received and the encoded size of their messages, over all streams.
#[derive(Debug, Default)]
pub struct WireStats {
    /// Frame messages received.
    pub frames: AtomicU64,
    /// Their encoded size, in bytes (small for frames sent by handle).
    pub message_bytes: AtomicU64,
}

/// Remote decode replicas as a [`FrameSource`]: each video is one
/// `Decode.Frames` call on the balanced channel.
pub struct Remote {
    upstream: Upstream,
    transport: FrameTransport,
    shm_dir: PathBuf,
    answer_within: Duration,
    stats: Arc<WireStats>,
}

impl Remote {
    /// Sets up the balanced channel to the replicas (inside a tokio
    /// runtime); fails when no address is given or one is not `host:port`.
    pub fn connect(config: &RemoteConfig) -> Result<Self, UpstreamError> {
        Ok(Self {
            upstream: Upstream::new(&config.upstream)?,
            transport: config.transport,
            shm_dir: config.shm_dir.clone(),
            answer_within: config.upstream.connect_timeout * 2,
            stats: Arc::default(),
        })
    }

    /// The balanced channel and its replica set.
    pub fn upstream(&self) -> &Upstream {
        &self.upstream
    }

    /// Frames received and the encoded size of their messages so far.
    pub fn wire_stats(&self) -> &WireStats {
        &self.stats
    }
}

impl FrameSource for Remote {
    fn frames(&self, request: VideoRequest) -> FrameStream {
        let mut client =
            DecodeClient::new(self.upstream.channel()).max_decoding_message_size(MAX_MESSAGE);
        let mut wire = outgoing(&request);
        if self.transport == FrameTransport::SharedMemory {
            wire.metadata_mut()
                .insert(TRANSPORT_HEADER, MetadataValue::from_static("shm"));
        }
        let call = async move { client.frames(wire).await };
        let challenge_id = request.challenge_id;
        let items = remote_stream("decode", challenge_id.clone(), self.answer_within, call);
        let rings = Arc::new(Mutex::new(RingCache::default()));
        let dir = self.shm_dir.clone();
        let stats = self.stats.clone();
        let mut report = WireReport {
            challenge_id,
            transport: self.transport,
            frames: 0,
            bytes: 0,
        };
        Box::pin(items.map(move |item| {
            let frame = item?;
            let bytes = prost::Message::encoded_len(&frame) as u64;
            report.add(bytes);
            stats.frames.fetch_add(1, Ordering::Relaxed);
            stats.message_bytes.fetch_add(bytes, Ordering::Relaxed);
            into_frame(frame, &rings, &dir)
        }))
    }
}

/// Logs, once per stream (when it ends or is dropped), how many bytes each
/// frame's message took on the wire: the pixels inline, a handle with shm.
struct WireReport {
    challenge_id: String,
    transport: FrameTransport,
    frames: u64,
    bytes: u64,
}

impl WireReport {
    fn add(&mut self, bytes: u64) {
        self.frames += 1;
        self.bytes += bytes;
    }
}

impl Drop for WireReport {
    fn drop(&mut self) {
        if self.frames == 0 {
            return;
        }
        tracing::info!(
            challenge_id = %self.challenge_id,
            frames = self.frames,
            transport = %self.transport.name(),
            wire_bytes_per_frame = self.bytes / self.frames,
            "Frames received from decode."
        );
    }
}

/// A wire frame as a core frame, reading shared-memory pixels in place.
fn into_frame(
    mut frame: v1::Frame,
    rings: &Mutex<RingCache>,
    dir: &std::path::Path,
) -> Result<Frame, StageError> {
    if let Some(Pixels::Shared(slot)) = frame.pixels.clone() {
        let shm_error = |e: crate::shm::ShmError| {
            StageError::new(
                ErrorKind::Internal,
                format!("decode: shared-memory frame {}: {e}", frame.index),
            )
        };
        let reader = rings
            .lock()
            .map_err(|_| StageError::new(ErrorKind::Internal, "decode: ring cache poisoned"))?
            .get(dir, &slot.ring)
            .map_err(shm_error)?;
        let handle = SlotHandle {
            ring: slot.ring,
            offset: slot.offset,
            length: slot.length,
            generation: slot.generation,
        };
        let data = reader.take(&handle).map_err(shm_error)?;
        frame.pixels = Some(Pixels::Data(data));
    }
    Frame::try_from(frame).map_err(|e| malformed("decode", e))
}
