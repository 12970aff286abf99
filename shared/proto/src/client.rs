//! The client half every stage's `Remote` shares: the request with its trace
//! context in gRPC metadata, a bound on how long a replica may take to
//! answer, and the checked response stream.

use std::future::Future;
use std::time::Duration;

use futures::{Stream, StreamExt};
use sv_core::{ErrorKind, StageError, VideoRequest};
use tonic::{Response, Status, Streaming};

use crate::envelope::Envelope;
use crate::status::{from_status, malformed};
use crate::streaming::receive;
use crate::upstream::{Upstream, UpstreamConfig, UpstreamError};
use crate::{ConvertError, v1};

/// The outgoing request: the message plus its trace context as metadata,
/// where tracing-aware proxies and collectors look for it.
pub fn outgoing(request: &VideoRequest) -> tonic::Request<v1::VideoRequest> {
    let mut outgoing = tonic::Request::new(v1::VideoRequest::from(request.clone()));
    sv_telemetry::carrier_to_metadata(&request.trace, outgoing.metadata_mut());
    outgoing
}

/// Runs `call` (a server-streaming RPC to `stage`) and yields its checked
/// items. A replica that does not answer within `answer_within` is an
/// Unavailable error, never a hang.
pub fn remote_stream<E, F>(
    stage: &'static str,
    challenge_id: String,
    answer_within: Duration,
    call: F,
) -> impl Stream<Item = Result<E::Item, StageError>> + Send + 'static
where
    E: Envelope,
    F: Future<Output = Result<Response<Streaming<E>>, Status>> + Send + 'static,
{
    futures::stream::once(async move {
        match tokio::time::timeout(answer_within, call).await {
            Ok(Ok(response)) => receive(response.into_inner(), challenge_id, stage).boxed(),
            Ok(Err(status)) => futures::stream::iter([Err(from_status(stage, &status))]).boxed(),
            Err(_) => futures::stream::iter([Err(StageError::new(
                ErrorKind::Unavailable,
                format!(
                    "no {stage} replica answered within {:.1} s",
                    answer_within.as_secs_f32()
                ),
            ))])
            .boxed(),
        }
    })
    .flatten()
}

/// The client half: a stage's replicas behind one balanced channel. Each
/// stage crate's `Remote` wraps one and names its RPC.
pub struct RemoteStage {
    upstream: Upstream,
    answer_within: Duration,
}

impl RemoteStage {
    /// Starts resolving the addresses; connects on first use.
    pub fn connect(config: &UpstreamConfig) -> Result<Self, UpstreamError> {
        Ok(Self {
            upstream: Upstream::new(config)?,
            answer_within: config.connect_timeout * 2,
        })
    }

    /// The balanced channel to the replicas, e.g. to follow their health.
    pub fn upstream(&self) -> &Upstream {
        &self.upstream
    }

    /// Calls `stage`'s streaming RPC with `request` (`rpc` gets the channel
    /// and the wire request) and yields its items as core values.
    pub fn call<E, T, F, Fut>(
        &self,
        stage: &'static str,
        request: &VideoRequest,
        rpc: F,
    ) -> std::pin::Pin<Box<dyn Stream<Item = Result<T, StageError>> + Send>>
    where
        E: Envelope,
        T: TryFrom<E::Item, Error = ConvertError> + Send + 'static,
        F: FnOnce(tonic::transport::Channel, tonic::Request<v1::VideoRequest>) -> Fut,
        Fut: Future<Output = Result<Response<Streaming<E>>, Status>> + Send + 'static,
    {
        let call = rpc(self.upstream.channel(), outgoing(request));
        let items = remote_stream(
            stage,
            request.challenge_id.clone(),
            self.answer_within,
            call,
        );
        Box::pin(
            items.map(move |item| {
                item.and_then(|i| T::try_from(i).map_err(|e| malformed(stage, e)))
            }),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use tonic::metadata::MetadataValue;

    #[test]
    fn trace_context_travels_in_metadata_and_wins() {
        // What `sv_telemetry::init` installs in every binary.
        sv_telemetry::install_propagator();
        let mut request = VideoRequest::new("c1", "file:///x.mp4");
        request.trace.insert(
            "traceparent".into(),
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01".into(),
        );
        let wire = outgoing(&request);
        assert_eq!(
            wire.metadata().get("traceparent").unwrap(),
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
        );
        let mut wire = wire;
        wire.metadata_mut().insert(
            "traceparent",
            MetadataValue::from_static("00-11111111111111111111111111111111-2222222222222222-01"),
        );
        let back = crate::server::incoming(wire);
        assert_eq!(back.challenge_id, "c1");
        assert_eq!(
            back.trace["traceparent"],
            "00-11111111111111111111111111111111-2222222222222222-01"
        );
    }
}
