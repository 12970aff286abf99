//! [`Upstream::watch_statuses`]: the health of the stages below, as it
//! changes, through `grpc.health.v1` Watch streams.
//!
//! Polling every 2 s at each hop let a killed stage go unnoticed for up to
//! 4.7 s at the gateway, and a stage killed and back between two polls not
//! at all. A Watch stream answers at once with the current status and again
//! on every change; a killed replica breaks the stream the moment its
//! socket closes (HTTP/2 pings catch a vanished host), so the change
//! travels up the chain as fast as the messages do.

use std::time::Duration;

use futures::StreamExt;
use futures::stream::{BoxStream, SelectAll};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::Channel;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};

use crate::upstream::Upstream;

/// Statuses of the watched services in the order asked (`None`: the
/// replica does not know that one), or why none could be had.
pub type Statuses = Result<Vec<Option<bool>>, String>;

/// How long opening the watches may take before the upstream counts as
/// unreachable.
const OPEN_WITHIN: Duration = Duration::from_secs(1);

impl Upstream {
    /// The statuses of `services` on a replica, each time one changes: the
    /// first as soon as every watch has answered, then on every change;
    /// `Err` as soon as a watch breaks or none can be opened, after which
    /// the watches are opened again every `retry`. Consecutive equal
    /// values are sent once. Ends when the receiver is dropped.
    pub fn watch_statuses(&self, services: &[&str], retry: Duration) -> ReceiverStream<Statuses> {
        let (tx, rx) = mpsc::channel(4);
        let services: Vec<String> = services.iter().map(|s| (*s).to_string()).collect();
        let channel = self.channel();
        tokio::spawn(async move {
            let mut sender = Deduplicated { tx, last: None };
            loop {
                let ended = watch_until_broken(&channel, &services, &mut sender).await;
                if let Ended::Broken(why) = ended
                    && !sender.send(Err(why)).await
                {
                    return;
                }
                tokio::select! {
                    () = tokio::time::sleep(retry) => {}
                    () = sender.tx.closed() => return,
                }
            }
        });
        ReceiverStream::new(rx)
    }
}

/// Sends a value only when it differs from the last one sent.
struct Deduplicated {
    tx: mpsc::Sender<Statuses>,
    last: Option<Statuses>,
}

impl Deduplicated {
    /// False once the receiver is gone.
    async fn send(&mut self, statuses: Statuses) -> bool {
        if self.last.as_ref() == Some(&statuses) {
            return !self.tx.is_closed();
        }
        self.last = Some(statuses.clone());
        self.tx.send(statuses).await.is_ok()
    }
}

/// One watch's message: the index of its service, and its status or why
/// the watch broke.
type Watched = (usize, Result<Option<bool>, String>);

/// Why the watches stopped.
enum Ended {
    /// One broke or none could be opened: the upstream is unreachable.
    Broken(String),
    /// The replica does not know a service yet (a status it relays before
    /// it has learnt it): what it knows was sent, with that one unknown;
    /// the watches are opened again to pick the service up once it is there.
    Unregistered,
}

/// Opens one watch per service and forwards the statuses until one breaks
/// (or the receiver goes).
async fn watch_until_broken(
    channel: &Channel,
    services: &[String],
    sender: &mut Deduplicated,
) -> Ended {
    let mut watches: SelectAll<BoxStream<'static, Watched>> = SelectAll::new();
    let mut known: Vec<Option<Option<bool>>> = vec![None; services.len()];
    let mut unregistered = false;
    for (index, service) in services.iter().enumerate() {
        let mut client = HealthClient::new(channel.clone());
        let request = HealthCheckRequest {
            service: service.clone(),
        };
        let stream = match tokio::time::timeout(OPEN_WITHIN, client.watch(request)).await {
            Ok(Ok(response)) => response.into_inner(),
            Ok(Err(status)) if status.code() == tonic::Code::NotFound => {
                known[index] = Some(None);
                unregistered = true;
                continue;
            }
            Ok(Err(status)) => return Ended::Broken(status.message().to_string()),
            Err(_) => return Ended::Broken(format!("no answer within {OPEN_WITHIN:?}")),
        };
        let mapped = stream
            .map(move |item| {
                let status = item
                    .map(|response| serving(response.status))
                    .map_err(|status| status.message().to_string());
                (index, status)
            })
            // A stream the server ends is a watch gone too.
            .chain(futures::stream::once(async move {
                (index, Err("the health watch ended".to_string()))
            }))
            .boxed();
        watches.push(mapped);
    }
    loop {
        if known.iter().all(Option::is_some) {
            let statuses = known.iter().map(|s| s.flatten()).collect();
            if !sender.send(Ok(statuses)).await {
                return Ended::Broken("nobody is watching".into());
            }
            if unregistered {
                return Ended::Unregistered;
            }
        }
        match watches.next().await {
            Some((index, Ok(status))) => known[index] = Some(status),
            Some((_, Err(why))) => return Ended::Broken(why),
            None => return Ended::Broken("no service to watch".into()),
        }
    }
}

/// SERVING, NOT_SERVING, or unknown (SERVICE_UNKNOWN: a relayed status
/// the replica could not learn).
fn serving(status: i32) -> Option<bool> {
    if status == ServingStatus::Serving as i32 {
        Some(true)
    } else if status == ServingStatus::NotServing as i32 {
        Some(false)
    } else {
        None
    }
}
