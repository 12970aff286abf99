//! [`Readiness`]: whether the gateway takes challenges, and why not; and
//! [`follow_chain`], which keeps it equal to "every stage behind track has
//! a serving replica" in the distributed mode.

use std::sync::{Arc, Mutex};

use futures::StreamExt;
use sv_proto::Upstream;
use sv_proto::chain::{self, ChainFault};

/// Ready once the caller says models are loaded and warmed and every stage
/// below has a serving replica; false again when one goes away or shutdown
/// starts, with the reason validators and probes are told. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Readiness(Arc<Mutex<Result<(), NotReady>>>);

/// Why the gateway is not ready; its text is the reason /readyz and the
/// 503 a challenge gets give.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotReady {
    /// Not told otherwise yet (or shutting down).
    #[error("the miner is not ready yet (models loading)")]
    Loading,
    /// A stage behind track cannot answer.
    #[error(transparent)]
    Chain(#[from] ChainFault),
    /// The state's lock was poisoned.
    #[error("readiness unknown")]
    Unknown,
}

impl Default for Readiness {
    fn default() -> Self {
        Self(Arc::new(Mutex::new(Err(NotReady::Loading))))
    }
}

impl Readiness {
    /// Ready, or not ready because models are (again) loading; a shutdown
    /// sets it false so probes stop sending work while in-flight challenges
    /// finish.
    pub fn set_ready(&self, ready: bool) {
        if ready {
            self.set(Ok(()));
        } else {
            self.set(Err(NotReady::Loading));
        }
    }

    /// Not ready, because of `why`.
    pub fn set_not_ready(&self, why: NotReady) {
        self.set(Err(why));
    }

    fn set(&self, state: Result<(), NotReady>) {
        if let Ok(mut s) = self.0.lock() {
            *s = state;
        }
    }

    /// `Ok` when ready, else why not.
    pub fn state(&self) -> Result<(), NotReady> {
        self.0
            .lock()
            .map_or_else(|_| Err(NotReady::Unknown), |s| s.clone())
    }

    /// Whether challenges are taken now.
    pub fn is_ready(&self) -> bool {
        self.state().is_ok()
    }
}

/// Keeps `readiness` equal to the chain's state as track's replicas report
/// it (track relays the statuses of infer and decode, see
/// [`sv_proto::server::follow`]): ready once every stage is SERVING, not
/// ready again while one is not, with the missing stage named in /readyz
/// and in the 503 challenges get, so Kubernetes and validators stop sending
/// work a broken pipeline cannot answer. The statuses come through health
/// Watch streams ([`Upstream::watch_statuses`]): a killed stage is seen as
/// soon as its connection breaks, even when it is back before any poll
/// would have asked. Runs until dropped.
pub async fn follow_chain(readiness: Readiness, track: Upstream) {
    let services = chain::from(chain::TRACK);
    let mut updates = track.watch_statuses(&services, chain::WATCH_RETRY);
    let mut last: Option<Result<(), ChainFault>> = None;
    while let Some(statuses) = updates.next().await {
        let verdict = chain::verdict(&services, statuses);
        if last.as_ref() != Some(&verdict) {
            match &verdict {
                Ok(()) => {
                    readiness.set_ready(true);
                    tracing::info!(
                        track = track.label(),
                        "Every stage SERVING; ready for challenges."
                    );
                }
                Err(why) => {
                    readiness.set_not_ready(why.clone().into());
                    tracing::warn!(track = track.label(), reason = %why, "Not ready.");
                }
            }
            last = Some(verdict);
        }
    }
}
