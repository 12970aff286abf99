//! Readiness through the whole chain. Each stage is SERVING only while it is
//! warm and the stage it pulls from has a serving replica, and it relays
//! the statuses of every stage below it in its own `grpc.health.v1`; so the
//! gateway, which talks to track alone, knows which stage is missing and
//! says so, instead of accepting challenges that cannot be answered.
//!
//! Here: the stages' names in pull order and the [`verdict`] on what the
//! stages below report. The stage server's follower that applies it
//! ([`crate::server::follow`]) and the gateway's readiness build on this.

use std::time::Duration;

use crate::health_watch::Statuses;

/// The decode stage's gRPC service, as health and reflection name it.
pub const DECODE: &str = "scorevision.v1.Decode";
/// The infer stage's gRPC service.
pub const INFER: &str = "scorevision.v1.Infer";
/// The track stage's gRPC service.
pub const TRACK: &str = "scorevision.v1.Track";

/// The stages in pull order from the bottom: (name, gRPC service).
pub const CHAIN: [(&str, &str); 3] = [("decode", DECODE), ("infer", INFER), ("track", TRACK)];

/// How soon a broken health watch is opened again (a stage or the gateway
/// following its upstream, [`crate::Upstream::watch_statuses`]).
pub const WATCH_RETRY: Duration = Duration::from_millis(200);

/// The services below the stage serving `service`, nearest first.
pub fn below(service: &str) -> Vec<&'static str> {
    let at = CHAIN.iter().position(|(_, s)| *s == service).unwrap_or(0);
    CHAIN[..at].iter().rev().map(|(_, s)| *s).collect()
}

/// `service` and every service below it, nearest first: what a caller of
/// `service` (the gateway, for track) asks about.
pub fn from(service: &str) -> Vec<&'static str> {
    let at = CHAIN.iter().position(|(_, s)| *s == service).unwrap_or(0);
    CHAIN[..=at].iter().rev().map(|(_, s)| *s).collect()
}

/// Why the chain below a stage cannot answer: the stage to blame, by its
/// short name ("decode"). Its text is what /readyz and the 503 say.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainFault {
    /// The nearest stage cannot be reached; `why` is the health watch's.
    #[error("the {stage} stage is unreachable: {why}")]
    Unreachable {
        /// The stage's short name.
        stage: String,
        /// Why the health watch could not get an answer.
        why: String,
    },
    /// The stage answers NOT_SERVING: no replica of it is warm and serving.
    #[error("the {stage} stage has no serving replica")]
    NoServingReplica {
        /// The lowest stage that is down.
        stage: String,
    },
    /// A stage above it could not learn this stage's status (it answered
    /// neither SERVING nor NOT_SERVING).
    #[error("the state of the {stage} stage is unknown")]
    Unknown {
        /// The stage whose status is unknown.
        stage: String,
    },
}

/// Whether the services asked for (nearest first) are all serving, and if
/// not, which stage to blame: the lowest one that is not (a stage above a
/// missing one is NOT_SERVING because of it), or the nearest when it cannot
/// be reached at all.
pub fn verdict(services: &[&str], statuses: Statuses) -> Result<(), ChainFault> {
    let name = |service: &str| {
        CHAIN
            .iter()
            .find(|(_, s)| *s == service)
            .map_or(service.to_string(), |(n, _)| (*n).to_string())
    };
    let statuses = match statuses {
        Ok(s) => s,
        Err(why) => {
            let stage = services.first().map_or("upstream".into(), |s| name(s));
            return Err(ChainFault::Unreachable { stage, why });
        }
    };
    let pairs: Vec<(&&str, &Option<bool>)> = services.iter().zip(&statuses).collect();
    // Farthest first: the lowest stage known to be down is the culprit.
    if let Some((service, _)) = pairs.iter().rev().find(|(_, s)| **s == Some(false)) {
        return Err(ChainFault::NoServingReplica {
            stage: name(service),
        });
    }
    match pairs.iter().find(|(_, s)| s.is_none()) {
        None => Ok(()),
        Some((service, _)) => Err(ChainFault::Unknown {
            stage: name(service),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_stage_relays_the_ones_below_it() {
        assert!(below(DECODE).is_empty());
        assert_eq!(below(INFER), vec![DECODE]);
        assert_eq!(below(TRACK), vec![INFER, DECODE]);
        assert_eq!(from(TRACK), vec![TRACK, INFER, DECODE]);
        assert_eq!(from(DECODE), vec![DECODE]);
    }

    #[test]
    fn the_lowest_missing_stage_is_blamed() {
        let all = [TRACK, INFER, DECODE];
        let (up, down) = (Some(true), Some(false));
        assert_eq!(verdict(&all, Ok(vec![up, up, up])), Ok(()));
        // Decode gone: infer and track are down because of it.
        let err = verdict(&all, Ok(vec![down, down, down])).unwrap_err();
        assert_eq!(
            err,
            ChainFault::NoServingReplica {
                stage: "decode".into()
            }
        );
        assert_eq!(err.to_string(), "the decode stage has no serving replica");
        let err = verdict(&all, Ok(vec![down, down, up])).unwrap_err();
        assert_eq!(err.to_string(), "the infer stage has no serving replica");
        // Infer unreachable from track: what is beyond it is unknown.
        let err = verdict(&all, Ok(vec![down, down, None])).unwrap_err();
        assert_eq!(err.to_string(), "the infer stage has no serving replica");
        let err = verdict(&all, Ok(vec![down, up, up])).unwrap_err();
        assert_eq!(err.to_string(), "the track stage has no serving replica");
        let err = verdict(&all, Ok(vec![up, up, None])).unwrap_err();
        assert_eq!(err.to_string(), "the state of the decode stage is unknown");
        let err = verdict(&all, Err("connection refused".into())).unwrap_err();
        assert_eq!(
            err.to_string(),
            "the track stage is unreachable: connection refused"
        );
        assert_eq!(verdict(&[], Ok(vec![])), Ok(()));
    }
}
