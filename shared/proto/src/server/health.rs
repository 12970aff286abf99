//! [`StageHealth`]: a stage's entry in `grpc.health.v1`, NOT_SERVING until
//! the stage says it is warm and again from the first moment of a shutdown.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use std::pin::Pin;

use futures::{Stream, StreamExt};
use tokio_util::sync::CancellationToken;
use tonic::{Request, Response, Status};
use tonic_health::ServingStatus;
use tonic_health::pb::health_server::{Health, HealthServer};
use tonic_health::pb::{HealthCheckRequest, HealthCheckResponse};
use tonic_health::server::{HealthReporter, HealthService};

/// The stage's entry in `grpc.health.v1`; cheap to clone.
#[derive(Clone)]
pub struct StageHealth {
    reporter: HealthReporter,
    service: &'static str,
    /// Set for good at the first moment of a shutdown: nothing turns the
    /// stage SERVING again while it drains.
    draining: Arc<AtomicBool>,
    /// Cancelled once the drain has said NOT_SERVING: ends every Watch
    /// stream, which would otherwise keep the drain waiting its whole grace.
    watches_end: CancellationToken,
}

impl StageHealth {
    /// Whether the stage (and the server as a whole, service "") can take
    /// work. Ignored once the server is draining.
    pub async fn set_serving(&self, serving: bool) {
        let serving = serving && !self.draining.load(Ordering::Acquire);
        let status = status(serving);
        self.reporter.set_service_status("", status).await;
        self.reporter.set_service_status(self.service, status).await;
    }

    /// Relays the status of a stage further up the chain (as this stage
    /// sees its upstream), so a caller asking this server alone learns which
    /// stage below is missing.
    /// `None`: unknown (the stage between cannot be reached).
    pub async fn set_relayed(&self, service: &str, serving: Option<bool>) {
        let status = serving.map_or(ServingStatus::Unknown, status);
        self.reporter.set_service_status(service, status).await;
    }

    /// A new entry for `service` (and the server as a whole), NOT_SERVING,
    /// with the gRPC service that answers it.
    pub(super) async fn new(service: &'static str) -> (Self, HealthServer<impl Health>) {
        let (reporter, _) = tonic_health::server::health_reporter();
        let watches_end = CancellationToken::new();
        let health_service = HealthServer::new(EndingWatches {
            inner: HealthService::from_health_reporter(reporter.clone()),
            end: watches_end.clone(),
        });
        let health = Self {
            reporter,
            service,
            draining: Arc::default(),
            watches_end,
        };
        health.set_serving(false).await;
        (health, health_service)
    }

    pub(super) fn drain(&self) {
        self.draining.store(true, Ordering::Release);
    }

    /// Ends every open Watch stream (once NOT_SERVING has been said): the
    /// followers see the stage go, and the drain does not wait on them.
    pub(super) fn end_watches(&self) {
        self.watches_end.cancel();
    }
}

fn status(serving: bool) -> ServingStatus {
    if serving {
        ServingStatus::Serving
    } else {
        ServingStatus::NotServing
    }
}

/// tonic-health's service, with Watch streams that end when the stage
/// drains (a follower's watch is a stream like any other, and the drain
/// waits for open streams).
struct EndingWatches {
    inner: HealthService,
    end: CancellationToken,
}

type WatchStream = Pin<Box<dyn Stream<Item = Result<HealthCheckResponse, Status>> + Send>>;

#[tonic::async_trait]
impl Health for EndingWatches {
    async fn check(
        &self,
        request: Request<HealthCheckRequest>,
    ) -> Result<Response<HealthCheckResponse>, Status> {
        self.inner.check(request).await
    }

    type WatchStream = WatchStream;

    async fn watch(
        &self,
        request: Request<HealthCheckRequest>,
    ) -> Result<Response<WatchStream>, Status> {
        let statuses = self.inner.watch(request).await?.into_inner();
        let ended = self.end.clone().cancelled_owned();
        Ok(Response::new(Box::pin(statuses.take_until(ended))))
    }
}
