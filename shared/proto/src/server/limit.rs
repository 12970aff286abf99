//! [`StreamLimitLayer`]: at most so many stage streams open in one server;
//! beyond that a new one is refused at once with RESOURCE_EXHAUSTED (kind
//! [`ErrorKind::Overloaded`], so the gateway answers 503 and says why).
//!
//! Why: every stream holds frames in flight (channels, HTTP/2 windows,
//! shared-memory slots); 200 unread Decode streams took decode to 2.55 GB
//! in 5 s. A stream's permit is held until its response body is dropped,
//! which is when the client has read it to the end or gone away. Health and
//! reflection calls are never limited: probes must answer under load.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures::future::BoxFuture;
use http_body::{Body, Frame, SizeHint};
use prometheus_client::metrics::counter::Counter;
use sv_core::{ErrorKind, StageError};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tower::{Layer, Service};

use crate::status::to_status;

/// Paths never limited: `grpc.health.v1` and server reflection.
const EXEMPT: [&str; 2] = ["/grpc.health.v1.", "/grpc.reflection."];

/// Limits a server's streams to `max`, shared by every connection.
#[derive(Clone)]
pub struct StreamLimitLayer {
    permits: Arc<Semaphore>,
    max: usize,
    stage: &'static str,
    refused: Counter,
}

impl StreamLimitLayer {
    /// `stage` names the server in the refusal ("decode", ...).
    pub fn new(stage: &'static str, max: usize) -> Self {
        let max = max.max(1);
        Self {
            permits: Arc::new(Semaphore::new(max)),
            max,
            stage,
            refused: Counter::default(),
        }
    }

    /// Streams open right now.
    pub fn open(&self) -> usize {
        self.max - self.permits.available_permits()
    }

    /// The most streams open at once.
    pub fn max(&self) -> usize {
        self.max
    }

    /// Streams refused so far (shared by every clone; registered as
    /// `sv_<stage>_streams_refused_total`).
    pub fn refused(&self) -> &Counter {
        &self.refused
    }
}

impl<S> Layer<S> for StreamLimitLayer {
    type Service = StreamLimit<S>;

    fn layer(&self, inner: S) -> StreamLimit<S> {
        StreamLimit {
            inner,
            limit: self.clone(),
        }
    }
}

/// The service [`StreamLimitLayer`] makes.
#[derive(Clone)]
pub struct StreamLimit<S> {
    inner: S,
    limit: StreamLimitLayer,
}

impl<S, ReqBody, ResBody> Service<http::Request<ReqBody>> for StreamLimit<S>
where
    S: Service<http::Request<ReqBody>, Response = http::Response<ResBody>>,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    ResBody: Default + Send + 'static,
{
    type Response = http::Response<Permitted<ResBody>>;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<ReqBody>) -> Self::Future {
        let path = request.uri().path();
        let permit = if EXEMPT.iter().any(|p| path.starts_with(p)) {
            None
        } else {
            match self.limit.permits.clone().try_acquire_owned() {
                Ok(permit) => Some(permit),
                Err(_) => {
                    self.limit.refused.inc();
                    let refusal = StageError::new(
                        ErrorKind::Overloaded,
                        format!(
                            "{}: {} streams already open, this stage's limit (--max-streams); try again later",
                            self.limit.stage, self.limit.max
                        ),
                    );
                    tracing::warn!(
                        stage = self.limit.stage,
                        max_streams = self.limit.max,
                        "Stream refused: at the stream limit."
                    );
                    let response = to_status(&refusal).into_http::<ResBody>();
                    return Box::pin(std::future::ready(Ok(
                        response.map(|body| Permitted { body, permit: None })
                    )));
                }
            }
        };
        let call = self.inner.call(request);
        Box::pin(async move {
            let response = call.await?;
            Ok(response.map(|body| Permitted { body, permit }))
        })
    }
}

pin_project_lite::pin_project! {
    /// A response body holding its stream's permit until it is dropped.
    pub struct Permitted<B> {
        #[pin]
        body: B,
        permit: Option<OwnedSemaphorePermit>,
    }
}

impl<B: Body> Body for Permitted<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        self.project().body.poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}
