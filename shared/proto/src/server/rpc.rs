//! The server half of a stage RPC: the request in as a core request, the
//! stage's stream out as checked wire messages.

use futures::{Stream, StreamExt};
use sv_core::{StageError, VideoRequest};
use tonic::Status;

use crate::envelope::Envelope;
use crate::streaming::{StreamStamp, respond};
use crate::v1;

/// The incoming request as a core request; the metadata's trace context
/// wins over the message's when both are present.
pub fn incoming(request: tonic::Request<v1::VideoRequest>) -> VideoRequest {
    let metadata_trace = sv_telemetry::extract_metadata(request.metadata());
    let mut request = VideoRequest::from(request.into_inner());
    request.trace.extend(metadata_trace);
    request
}

/// `items` (the stage's stream for `request`) as checked wire messages.
pub fn answer<E, T, S>(
    request: &VideoRequest,
    items: S,
) -> tokio_stream::wrappers::ReceiverStream<Result<E, Status>>
where
    E: Envelope,
    T: Into<E::Item> + Send + 'static,
    S: Stream<Item = Result<T, StageError>> + Send + 'static,
{
    let stamp = StreamStamp {
        challenge_id: request.challenge_id.clone(),
        trace: request.trace.clone(),
    };
    respond(items.map(|item| item.map(Into::into)), stamp)
}
