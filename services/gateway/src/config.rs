//! The gateway's typed config. Unknown keys are an error; every field has a
//! default, so `GatewayConfig::default()` is a working mainnet miner on port
//! 7999 that reads the `default/default` wallet hotkey and syncs stake from
//! the chain.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use sv_core::MissingKeypoints;

use crate::Error;

/// Everything the gateway is told: where it listens, how much it admits at
/// once, which validators it serves and how long it waits for each step.
/// The TOML keys are the field names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GatewayConfig {
    /// Address to listen on; the validator connects to the IP posted on chain.
    pub host: IpAddr,
    /// TCP port to listen on (7999 by default, the port posted on chain).
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
    /// A client must send a request's headers within this many seconds of
    /// connecting (or of its first byte after a finished request), and
    /// then its body within as many again; a validator sends both at once.
    pub header_read_timeout_s: f64,
    /// A keep-alive connection with no request is closed after this.
    pub idle_timeout_s: f64,
    /// Open connections at most (a validator needs a handful); at the cap
    /// the connection that has waited longest without a request is closed
    /// to make room. Half the descriptor limit caps it too.
    pub max_connections: usize,
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
    /// This miner's hotkey: challenges addressed to another are refused.
    pub hotkey: HotkeyConfig,
    /// Where validator stakes come from.
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
            header_read_timeout_s: 5.0,
            idle_timeout_s: 60.0,
            max_connections: 512,
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
    /// The hotkey's ss58 address, given outright; no wallet is read.
    pub ss58: Option<String>,
    /// Wallet (coldkey) directory name under `wallets_dir`.
    pub wallet: String,
    /// Hotkey file name under the wallet's `hotkeys` directory.
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
    Static {
        /// The JSON file, read once at startup.
        file: PathBuf,
    },
    /// The subtensor chain's metagraph, synced in the background.
    Chain {
        /// The subtensor node's websocket URL (finney's public entry point
        /// by default).
        #[serde(default = "default_endpoint")]
        endpoint: String,
        /// The subnet whose metagraph is read (44, Score Vision).
        #[serde(default = "default_netuid")]
        netuid: u16,
        /// Seconds between syncs (300 by default; must be positive).
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

/// A config file that cannot be used: a configuration problem (the binary
/// exits 64), not a failed run.
#[derive(Debug, thiserror::Error)]
pub enum ConfigFileError {
    /// The file cannot be read.
    #[error("reading {}: {source}", path.display())]
    Read {
        /// The config file.
        path: PathBuf,
        /// The I/O failure.
        source: std::io::Error,
    },
    /// The file is not TOML, or has an unknown key or a value of the wrong
    /// type.
    #[error("{}: {reason}", path.display())]
    Invalid {
        /// The config file.
        path: PathBuf,
        /// The parser's message: which key, which line.
        reason: String,
    },
}

impl GatewayConfig {
    /// Defaults, then the TOML file at `path` when given (unknown keys are
    /// an error). The top-level tables named in `owned_elsewhere` belong to
    /// another reader of the same file (`serve` reads its `[infer]` table
    /// for the infer stage) and are skipped; anywhere else such a table is
    /// an unknown key like any other. Call [`validate`](Self::validate)
    /// once flags have overridden what they override.
    pub fn load(path: Option<&Path>, owned_elsewhere: &[&str]) -> Result<Self, ConfigFileError> {
        let Some(path) = path else {
            return Ok(Self::default());
        };
        let invalid = |reason: &dyn std::fmt::Display| ConfigFileError::Invalid {
            path: path.to_path_buf(),
            reason: reason.to_string(),
        };
        let text = std::fs::read_to_string(path).map_err(|source| ConfigFileError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let mut table: toml::Table = toml::from_str(&text).map_err(|e| invalid(&e))?;
        for name in owned_elsewhere {
            table.remove(*name);
        }
        table.try_into().map_err(|e: toml::de::Error| invalid(&e))
    }

    /// The socket address to bind: `host` and `port`.
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
        if self.max_concurrent == 0 || self.max_connections == 0 {
            return bad("max_concurrent and max_connections must be at least 1");
        }
        for (name, v) in [
            ("header_read_timeout_s", self.header_read_timeout_s),
            ("idle_timeout_s", self.idle_timeout_s),
        ] {
            if !(v.is_finite() && v > 0.0) {
                return bad(&format!("{name} must be a positive number of seconds"));
            }
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

    /// The connection watch's settings ([`crate::conn`]), before the
    /// descriptor limit has its say.
    pub fn connection_limits(&self) -> crate::conn::Limits {
        crate::conn::Limits {
            header_read_timeout: Self::secs(self.header_read_timeout_s),
            idle_timeout: Self::secs(self.idle_timeout_s),
            max_connections: self.max_connections,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loads_toml_skipping_only_the_tables_other_readers_own() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gateway.toml");
        std::fs::write(&path, "port = 8001\n[infer]\nbatch_size = 4\n").unwrap();
        let config = GatewayConfig::load(Some(&path), &["infer"]).unwrap();
        assert_eq!(config.port, 8001);
        // The gateway alone owns no [infer] table: an unknown key.
        let err = GatewayConfig::load(Some(&path), &[]).unwrap_err();
        assert!(matches!(err, ConfigFileError::Invalid { .. }), "{err}");
        assert!(
            err.to_string().starts_with(&path.display().to_string()),
            "{err}"
        );
        let missing = dir.path().join("missing.toml");
        let err = GatewayConfig::load(Some(&missing), &[]).unwrap_err();
        assert!(err.to_string().starts_with("reading "), "{err}");
        assert_eq!(
            GatewayConfig::load(None, &[]).unwrap(),
            GatewayConfig::default()
        );
    }

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
