//! [`follow`]: a stage server's health kept equal to "warm, and every
//! stage below serving", relaying what the stages below report (the rules
//! and names are in [`crate::chain`]).

use futures::StreamExt;
use tokio::sync::watch;

use super::StageHealth;
use crate::chain::{ChainFault, WATCH_RETRY, below, verdict};
use crate::upstream::Upstream;

/// Keeps `health` equal to "warm, and every stage below serving", relaying
/// the statuses of the stages below, until `warm`'s sender is dropped.
/// `warm` turns true once the stage itself is ready.
pub async fn follow(
    health: StageHealth,
    mut warm: watch::Receiver<bool>,
    upstream: Upstream,
    service: &'static str,
) {
    let below = below(service);
    let mut updates = upstream.watch_statuses(&below, WATCH_RETRY);
    let mut last: Option<Result<(), ChainFault>> = None;
    let Some(mut statuses) = updates.next().await else {
        return;
    };
    loop {
        // Relay what we learnt; an unreachable upstream is NOT_SERVING, and
        // what lies beyond it unknown.
        let relayed: Vec<Option<bool>> = match &statuses {
            Ok(s) => s.clone(),
            Err(_) => (0..below.len())
                .map(|i| if i == 0 { Some(false) } else { None })
                .collect(),
        };
        for (svc, serving) in below.iter().zip(relayed) {
            health.set_relayed(svc, serving).await;
        }
        let chain = verdict(&below, statuses.clone());
        let serving = *warm.borrow() && chain.is_ok();
        // (`chain` blames a stage below this one; this stage's own state is
        // `warm`.)
        health.set_serving(serving).await;
        if last.as_ref() != Some(&chain) {
            match &chain {
                Ok(()) => tracing::info!(service, "Every stage below is serving."),
                Err(why) => {
                    tracing::warn!(service, reason = %why, "Not serving: a stage below is missing.")
                }
            }
            last = Some(chain);
        }
        tokio::select! {
            update = updates.next() => match update {
                Some(update) => statuses = update,
                None => return,
            },
            changed = warm.changed() => if changed.is_err() { return },
        }
    }
}
