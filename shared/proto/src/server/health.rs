//! [`StageHealth`]: a stage's entry in `grpc.health.v1`, NOT_SERVING until
//! the stage says it is warm and again from the first moment of a shutdown.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tonic_health::ServingStatus;
use tonic_health::pb::health_server::{Health, HealthServer};
use tonic_health::server::HealthReporter;

/// The stage's entry in `grpc.health.v1`; cheap to clone.
#[derive(Clone)]
pub struct StageHealth {
    reporter: HealthReporter,
    service: &'static str,
    /// Set for good at the first moment of a shutdown: nothing turns the
    /// stage SERVING again while it drains.
    draining: Arc<AtomicBool>,
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
        let (reporter, health_service) = tonic_health::server::health_reporter();
        let health = Self {
            reporter,
            service,
            draining: Arc::default(),
        };
        health.set_serving(false).await;
        (health, health_service)
    }

    pub(super) fn drain(&self) {
        self.draining.store(true, Ordering::Release);
    }
}

fn status(serving: bool) -> ServingStatus {
    if serving {
        ServingStatus::Serving
    } else {
        ServingStatus::NotServing
    }
}
