//! The gateway's typed config. Unknown keys are an error; every field has a
//! default, so `GatewayConfig::default()` is a working mainnet miner on port
//! 7999 that reads the `default/default` wallet hotkey and syncs stake from
//! the chain.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use sv_core::MissingKeypoints;

use crate::Error;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GatewayConfig {
    /// Address to listen on; the validator connects to the IP posted on chain.
    pub host: IpAddr,
    pub port: u16,
    /// Challenges processed at once.
    pub max_concurrent: usize,
    /// Challenges allowed to wait for a slot; beyond that, a fast 503.
    /// 0 turns queueing off.
    pub queue_depth: usize,
    /// Longest a challenge waits for a slot.
    pub queue_timeout_s: f64,
    /// Deadline for a whole challenge from arrival (the validator gives up at 240 s).
    pub challenge_timeout_s: f64,
    /// Largest accepted request body (challenge JSON is ~200 bytes).
    pub max_body_bytes: usize,
    /// Nonce freshness window either side of our clock.
    pub nonce_window_s: u64,
    /// Hard cap on remembered nonces.
    pub max_nonces: usize,
    /// Validators with less TAO stake than this are refused (403).
    pub min_stake_tao: f64,
    /// How long in-flight challenges may finish after shutdown starts.
    pub shutdown_grace_s: f64,
    /// What a frame without a pitch instance carries in `keypoints`: `zeros`
    /// (32 `[0.0, 0.0]` pairs, which keep the validator's keypoint
    /// consistency factor) or `empty` (`[]`, as the reference miner sends).
    pub keypoints_when_missing: MissingKeypoints,
    pub hotkey: HotkeyConfig,
    pub stake: StakeConfig,
}

impl Default for GatewayConfig {
    fn default() -> Self {
        Self {
            host: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            port: 7999,
            max_concurrent: 2,
            queue_depth: 4,
            queue_timeout_s: 120.0,
            challenge_timeout_s: 230.0,
            max_body_bytes: 64 * 1024,
            nonce_window_s: 120,
            max_nonces: 100_000,
            min_stake_tao: 1000.0,
            shutdown_grace_s: 25.0,
            keypoints_when_missing: MissingKeypoints::Zeros,
            hotkey: HotkeyConfig::default(),
            stake: StakeConfig::default(),
        }
    }
}

/// Where our own hotkey comes from: `ss58` if set, else the wallet file
/// `<wallets_dir>/<wallet>/hotkeys/<hotkey>` (bittensor's layout).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HotkeyConfig {
    pub ss58: Option<String>,
    pub wallet: String,
    pub hotkey: String,
    /// Defaults to `~/.bittensor/wallets`.
    pub wallets_dir: Option<PathBuf>,
}

impl Default for HotkeyConfig {
    fn default() -> Self {
        Self {
            ss58: None,
            wallet: "default".into(),
            hotkey: "default".into(),
            wallets_dir: None,
        }
    }
}

/// Where validator stakes come from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "source", rename_all = "snake_case", deny_unknown_fields)]
pub enum StakeConfig {
    /// A JSON file: `{"<ss58>": <TAO>, ...}` or an allow-list `["<ss58>", ...]`.
    Static { file: PathBuf },
    /// The subtensor chain's metagraph, synced in the background.
    Chain {
        #[serde(default = "default_endpoint")]
        endpoint: String,
        #[serde(default = "default_netuid")]
        netuid: u16,
        #[serde(default = "default_sync_interval")]
        sync_interval_s: u64,
    },
}

fn default_endpoint() -> String {
    "wss://entrypoint-finney.opentensor.ai:443".into()
}
fn default_netuid() -> u16 {
    44
}
fn default_sync_interval() -> u64 {
    300
}

impl Default for StakeConfig {
    fn default() -> Self {
        Self::Chain {
            endpoint: default_endpoint(),
            netuid: default_netuid(),
            sync_interval_s: default_sync_interval(),
        }
    }
}

impl GatewayConfig {
    pub fn listen_addr(&self) -> SocketAddr {
        SocketAddr::new(self.host, self.port)
    }

    /// Checks the values before any port is bound.
    pub fn validate(&self) -> Result<(), Error> {
        let bad = |reason: &str| {
            Err(Error::Config {
                reason: reason.into(),
            })
        };
        if self.max_concurrent == 0 {
            return bad("max_concurrent must be at least 1");
        }
        for (name, v) in [
            ("queue_timeout_s", self.queue_timeout_s),
            ("challenge_timeout_s", self.challenge_timeout_s),
            ("shutdown_grace_s", self.shutdown_grace_s),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return bad(&format!("{name} must be a non-negative number of seconds"));
            }
        }
        if !(self.min_stake_tao.is_finite() && self.min_stake_tao >= 0.0) {
            return bad("min_stake_tao must be a non-negative number");
        }
        if self.nonce_window_s == 0 || self.max_nonces == 0 || self.max_body_bytes == 0 {
            return bad("nonce_window_s, max_nonces and max_body_bytes must be positive");
        }
        if let StakeConfig::Chain {
            sync_interval_s: 0, ..
        } = self.stake
        {
            return bad("stake.sync_interval_s must be positive");
        }
        Ok(())
    }

    pub(crate) fn secs(s: f64) -> Duration {
        Duration::from_secs_f64(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_listen_on_7999() {
        let config = GatewayConfig::default();
        config.validate().unwrap();
        assert_eq!(config.listen_addr().port(), 7999);
    }

    #[test]
    fn parses_and_rejects_unknown_keys() {
        let config: GatewayConfig = serde_json::from_str(
            r#"{"port": 8000, "stake": {"source": "static", "file": "stakes.json"}, "hotkey": {"ss58": "x"}}"#,
        )
        .unwrap();
        assert_eq!(config.port, 8000);
        assert_eq!(
            config.stake,
            StakeConfig::Static {
                file: "stakes.json".into()
            }
        );
        assert!(serde_json::from_str::<GatewayConfig>(r#"{"prot": 1}"#).is_err());
        assert!(
            serde_json::from_str::<GatewayConfig>(
                r#"{"stake": {"source": "chain", "netuid": 44, "x": 1}}"#
            )
            .is_err()
        );
        assert_eq!(config.keypoints_when_missing, MissingKeypoints::Zeros);
        let reference: GatewayConfig =
            serde_json::from_str(r#"{"keypoints_when_missing": "empty"}"#).unwrap();
        assert_eq!(reference.keypoints_when_missing, MissingKeypoints::Empty);
        assert!(
            serde_json::from_str::<GatewayConfig>(r#"{"keypoints_when_missing": "none"}"#).is_err()
        );
        let chain: GatewayConfig =
            serde_json::from_str(r#"{"stake": {"source": "chain", "netuid": 7}}"#).unwrap();
        assert!(matches!(
            chain.stake,
            StakeConfig::Chain {
                netuid: 7,
                sync_interval_s: 300,
                ..
            }
        ));
    }
}
