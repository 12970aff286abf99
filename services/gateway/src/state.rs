//! Shared state behind every route.

use std::sync::Arc;
use std::time::Duration;

use sv_core::{MissingKeypoints, TrackSource};

use crate::auth::Authenticator;
use crate::config::{GatewayConfig, StakeConfig};
use crate::metrics::Metrics;
use crate::readiness::Readiness;
use crate::slots::Slots;
use crate::stake::{ChainStake, StakePolicy, StakeSource, StaticStake};
use crate::{Error, hotkey};

/// Cheap to clone (one `Arc`).
#[derive(Clone)]
pub struct AppState {
    pub(crate) inner: Arc<Shared>,
}

pub(crate) struct Shared {
    pub tracks: Arc<dyn TrackSource>,
    pub auth: Arc<Authenticator>,
    pub slots: Slots,
    pub metrics: Metrics,
    pub readiness: Readiness,
    pub challenge_timeout: Duration,
    pub queue_timeout: Duration,
    pub shutdown_grace: Duration,
    pub connections: crate::conn::Limits,
    pub keypoints_when_missing: MissingKeypoints,
    /// Background work (the chain stake sync) stopped when the state goes.
    pub _background: Vec<AbortOnDrop>,
}

/// A spawned task that goes with its owner.
pub(crate) struct AbortOnDrop<T = ()>(pub tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl AppState {
    /// Builds the state from parts, with no I/O: our hotkey and the stake
    /// source are given. Starts not ready.
    pub fn new(
        config: &GatewayConfig,
        tracks: Arc<dyn TrackSource>,
        our_hotkey: String,
        stake: Arc<dyn StakeSource>,
    ) -> Self {
        Self::with_background(config, tracks, our_hotkey, stake, Vec::new())
    }

    fn with_background(
        config: &GatewayConfig,
        tracks: Arc<dyn TrackSource>,
        our_hotkey: String,
        stake: Arc<dyn StakeSource>,
        background: Vec<AbortOnDrop>,
    ) -> Self {
        let auth = Authenticator::new(
            our_hotkey,
            StakePolicy::new(stake, config.min_stake_tao),
            Duration::from_secs(config.nonce_window_s),
            config.max_nonces,
            config.max_body_bytes,
            GatewayConfig::secs(config.header_read_timeout_s),
        );
        let shared = Shared {
            tracks,
            auth: Arc::new(auth),
            slots: Slots::new(config.max_concurrent, config.queue_depth),
            metrics: Metrics::new(),
            readiness: Readiness::default(),
            challenge_timeout: GatewayConfig::secs(config.challenge_timeout_s),
            queue_timeout: GatewayConfig::secs(config.queue_timeout_s),
            shutdown_grace: GatewayConfig::secs(config.shutdown_grace_s),
            connections: config.connection_limits(),
            keypoints_when_missing: config.keypoints_when_missing,
            _background: background,
        };
        Self {
            inner: Arc::new(shared),
        }
    }

    /// Builds the state from config: validates it, reads our hotkey and the
    /// stake source, starts the chain stake sync if configured. Starts not
    /// ready. Must run inside a tokio runtime.
    pub async fn from_config(
        config: &GatewayConfig,
        tracks: Arc<dyn TrackSource>,
    ) -> Result<Self, Error> {
        config.validate()?;
        let our_hotkey = hotkey::resolve(&config.hotkey)?;
        let (stake, background): (Arc<dyn StakeSource>, _) = match &config.stake {
            StakeConfig::Static { file } => (Arc::new(StaticStake::from_file(file)?), Vec::new()),
            StakeConfig::Chain {
                endpoint,
                netuid,
                sync_interval_s,
            } => {
                let chain = Arc::new(ChainStake::new(endpoint.clone(), *netuid));
                let sync = chain.spawn_sync(Duration::from_secs(*sync_interval_s));
                (chain, vec![AbortOnDrop(sync)])
            }
        };
        Ok(Self::with_background(
            config, tracks, our_hotkey, stake, background,
        ))
    }

    /// A handle on whether challenges are taken: the embedder sets it once
    /// its pipeline is warm.
    pub fn readiness(&self) -> Readiness {
        self.inner.readiness.clone()
    }

    /// The gateway's series, for the embedder to add its stages' timings
    /// and registries to.
    pub fn metrics(&self) -> Metrics {
        self.inner.metrics.clone()
    }

    /// This miner's hotkey (ss58), as resolved from the config.
    pub fn our_hotkey(&self) -> &str {
        self.inner.auth.our_hotkey()
    }
}
