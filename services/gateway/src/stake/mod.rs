//! Validator stake: where it comes from ([`StakeSource`]) and the rule
//! applied to it ([`StakePolicy`]).
//!
//! - [`StaticStake`]: a JSON file of hotkey -> TAO, or an allow-list.
//! - [`ChainStake`]: the subtensor metagraph, synced in the background;
//!   lookups read a snapshot and never touch the chain.

mod chain;
pub(crate) mod chain_error;
mod metagraph;
mod scale;
mod static_source;

use std::sync::Arc;

pub use chain::ChainStake;
pub use chain_error::{CallError, ChainError};
pub use metagraph::{Metagraph, MetagraphError, decode_metagraph};
pub use scale::ScaleError;
pub use static_source::StaticStake;

use crate::Error;

/// rao per TAO.
pub const RAO_PER_TAO: f64 = 1e9;

/// What a source knows about one hotkey.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StakeLookup {
    /// TAO stake in rao.
    Known(u64),
    /// The hotkey is not registered on the subnet (or not in the file).
    Unknown,
    /// The source has no snapshot yet (first chain sync pending or failed).
    NotLoaded,
}

/// A snapshot of validator stakes; lookups must be cheap and never block on I/O.
pub trait StakeSource: Send + Sync + 'static {
    /// What the current snapshot says about the ss58 address `hotkey`.
    fn lookup(&self, hotkey: &str) -> StakeLookup;
}

/// Refuses validators the source does not know or whose TAO stake is below
/// the minimum.
#[derive(Clone)]
pub struct StakePolicy {
    source: Arc<dyn StakeSource>,
    min_rao: u64,
}

impl StakePolicy {
    /// Admits hotkeys `source` knows with at least `min_stake_tao` TAO
    /// (compared in rao, rounded down).
    pub fn new(source: Arc<dyn StakeSource>, min_stake_tao: f64) -> Self {
        Self {
            source,
            min_rao: (min_stake_tao * RAO_PER_TAO) as u64,
        }
    }

    /// Admits the validator `hotkey` (ss58), or says why not: unknown
    /// (403), too little stake (403), or no snapshot yet (503).
    pub fn check(&self, hotkey: &str) -> Result<(), Error> {
        match self.source.lookup(hotkey) {
            StakeLookup::Known(rao) if rao >= self.min_rao => Ok(()),
            StakeLookup::Known(rao) => Err(Error::LowStake {
                hotkey: hotkey.into(),
                stake_tao: rao as f64 / RAO_PER_TAO,
                min_tao: self.min_rao as f64 / RAO_PER_TAO,
            }),
            StakeLookup::Unknown => Err(Error::UnknownValidator {
                hotkey: hotkey.into(),
            }),
            StakeLookup::NotLoaded => Err(Error::StakeNotLoaded),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn applies_the_minimum() {
        let source = StaticStake::from_tao([("a", 1000.0), ("b", 999.9)]);
        let policy = StakePolicy::new(Arc::new(source), 1000.0);
        policy.check("a").unwrap();
        assert!(matches!(policy.check("b"), Err(Error::LowStake { .. })));
        assert!(matches!(
            policy.check("c"),
            Err(Error::UnknownValidator { .. })
        ));
    }
}
