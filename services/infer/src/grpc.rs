//! The infer stage over gRPC: [`service`] answers `scorevision.v1.Infer`
//! from any [`DetectionSource`] (the [`crate::Stage`] in `scorevision
//! infer`), and [`Remote`] is the [`DetectionSource`] a track stage uses to
//! ask remote infer replicas. The envelope, checks and balancing are
//! `sv_proto`'s; this file only names the RPC.

use std::sync::Arc;

use sv_core::{DetectionSource, DetectionStream, FrameDetections, VideoRequest};
use sv_proto::client::RemoteStage;
use sv_proto::server::{answer, incoming};
use sv_proto::v1::infer_client::InferClient;
use sv_proto::v1::infer_server::{Infer, InferServer};
use sv_proto::v1::{self, DetectionMessage};
use sv_proto::{UpstreamConfig, UpstreamError};
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

/// The gRPC name health and reflection report this stage under.
pub const SERVICE_NAME: &str = sv_proto::chain::INFER;

/// Detections are small: a generous cap that still refuses garbage.
const MAX_MESSAGE: usize = 16 << 20;

/// `scorevision.v1.Infer` over `source`.
pub fn service(source: Arc<dyn DetectionSource>) -> InferServer<InferService> {
    InferServer::new(InferService { source }).max_encoding_message_size(MAX_MESSAGE)
}

/// The gRPC handler: streams each request's detections from its
/// [`DetectionSource`] (the local stage or remote replicas).
pub struct InferService {
    source: Arc<dyn DetectionSource>,
}

#[tonic::async_trait]
impl Infer for InferService {
    type DetectStream = ReceiverStream<Result<DetectionMessage, Status>>;

    async fn detect(
        &self,
        request: Request<v1::VideoRequest>,
    ) -> Result<Response<Self::DetectStream>, Status> {
        let request = incoming(request);
        let items = self.source.detect(request.clone());
        Ok(Response::new(
            answer::<DetectionMessage, FrameDetections, _>(&request, items),
        ))
    }
}

/// Remote infer replicas, balanced.
pub struct Remote(RemoteStage);

impl Remote {
    /// The replicas `config` names, dialled lazily and balanced per
    /// request; fails on an empty or malformed address list. Must be called
    /// inside a tokio runtime.
    pub fn connect(config: &UpstreamConfig) -> Result<Self, UpstreamError> {
        RemoteStage::connect(config).map(Self)
    }

    /// The replica addresses and connection settings in use.
    pub fn upstream(&self) -> &sv_proto::Upstream {
        self.0.upstream()
    }
}

impl DetectionSource for Remote {
    fn detect(&self, request: VideoRequest) -> DetectionStream {
        self.0.call("infer", &request, |channel, wire| async move {
            InferClient::new(channel)
                .max_decoding_message_size(MAX_MESSAGE)
                .detect(wire)
                .await
        })
    }
}
