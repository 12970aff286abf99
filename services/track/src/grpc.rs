//! The track stage over gRPC: [`service`] answers `scorevision.v1.Track`
//! from any [`TrackSource`] (the [`crate::Stage`] in `scorevision track`),
//! and [`Remote`] is the [`TrackSource`] the gateway uses to ask remote
//! track replicas. The envelope, checks and balancing are `sv_proto`'s.

use std::sync::Arc;

use sv_core::{FrameTracks, TrackSource, TrackStream, VideoRequest};
use sv_proto::client::RemoteStage;
use sv_proto::server::{answer, incoming};
use sv_proto::v1::track_client::TrackClient;
use sv_proto::v1::track_server::{Track, TrackServer};
use sv_proto::v1::{self, TrackMessage};
use sv_proto::{UpstreamConfig, UpstreamError};
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

/// The gRPC name health and reflection report this stage under.
pub const SERVICE_NAME: &str = sv_proto::chain::TRACK;

/// A frame's tracks are a few kilobytes.
const MAX_MESSAGE: usize = 16 << 20;

/// `scorevision.v1.Track` over `source`.
pub fn service(source: Arc<dyn TrackSource>) -> TrackServer<TrackService> {
    TrackServer::new(TrackService { source }).max_encoding_message_size(MAX_MESSAGE)
}

/// The `scorevision.v1.Track` implementation [`service`] wraps: each call
/// streams its source's [`TrackSource::track`] back as `TrackMessage`s.
pub struct TrackService {
    source: Arc<dyn TrackSource>,
}

#[tonic::async_trait]
impl Track for TrackService {
    type TrackStream = ReceiverStream<Result<TrackMessage, Status>>;

    async fn track(
        &self,
        request: Request<v1::VideoRequest>,
    ) -> Result<Response<Self::TrackStream>, Status> {
        let request = incoming(request);
        let items = self.source.track(request.clone());
        Ok(Response::new(answer::<TrackMessage, FrameTracks, _>(
            &request, items,
        )))
    }
}

/// Remote track replicas, balanced.
pub struct Remote(RemoteStage);

impl Remote {
    /// Starts resolving `config`'s replica addresses; connects on first use,
    /// so a replica that is not up yet does not fail this call.
    pub fn connect(config: &UpstreamConfig) -> Result<Self, UpstreamError> {
        RemoteStage::connect(config).map(Self)
    }

    /// The balanced channel to the replicas (its label names them in
    /// logs).
    pub fn upstream(&self) -> &sv_proto::Upstream {
        self.0.upstream()
    }
}

impl TrackSource for Remote {
    fn track(&self, request: VideoRequest) -> TrackStream {
        self.0.call("track", &request, |channel, wire| async move {
            TrackClient::new(channel)
                .max_decoding_message_size(MAX_MESSAGE)
                .track(wire)
                .await
        })
    }
}
