//! Validator stakes from the subtensor chain, synced in the background.
//!
//! Every `sync_interval` a fresh WebSocket JSON-RPC connection makes one
//! `state_call("SubnetInfoRuntimeApi_get_metagraph", netuid)`; the decoded
//! hotkey -> TAO stake table replaces the snapshot. Lookups only read the
//! snapshot: a request never causes chain traffic. A failed sync (chain down,
//! unknown layout) keeps the previous snapshot and retries sooner.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;
use tracing::{info, warn};

use super::chain_error::{CallError, ChainError};
use super::metagraph::decode_metagraph;
use super::{StakeLookup, StakeSource};
use crate::Error;

const METHOD: &str = "SubnetInfoRuntimeApi_get_metagraph";
const CONNECT_TIMEOUT: Duration = Duration::from_secs(20);
const CALL_TIMEOUT: Duration = Duration::from_secs(60);
/// Retry delay after a failed sync (capped by the sync interval).
const RETRY: Duration = Duration::from_secs(30);

#[derive(Debug)]
struct Snapshot {
    block: u64,
    stakes: HashMap<String, u64>,
}

/// A [`StakeSource`] backed by the chain's metagraph for one subnet.
#[derive(Debug)]
pub struct ChainStake {
    endpoint: String,
    netuid: u16,
    snapshot: RwLock<Option<Arc<Snapshot>>>,
}

impl ChainStake {
    /// A source for subnet `netuid` read from the node at `endpoint`
    /// (`wss://` or `ws://`); it knows nothing until the first sync
    /// ([`spawn_sync`](Self::spawn_sync)) succeeds.
    pub fn new(endpoint: impl Into<String>, netuid: u16) -> Self {
        Self {
            endpoint: endpoint.into(),
            netuid,
            snapshot: RwLock::new(None),
        }
    }

    /// The block of the current snapshot, if any.
    pub fn snapshot_block(&self) -> Option<u64> {
        self.current().map(|s| s.block)
    }

    fn current(&self) -> Option<Arc<Snapshot>> {
        self.snapshot
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn chain_error(&self, source: impl Into<ChainError>) -> Error {
        Error::Chain {
            endpoint: self.endpoint.clone(),
            source: source.into(),
        }
    }

    /// Fetches and decodes the metagraph once; on success replaces the
    /// snapshot and returns the number of hotkeys.
    pub async fn sync_once(&self) -> Result<usize, Error> {
        let params = format!("0x{}", hex::encode(self.netuid.to_le_bytes()));
        let bytes = state_call(&self.endpoint, METHOD, &params)
            .await
            .map_err(|e| self.chain_error(e))?;
        let metagraph = decode_metagraph(&bytes).map_err(|source| {
            self.chain_error(ChainError::Metagraph {
                method: METHOD,
                source,
            })
        })?;
        if metagraph.netuid != self.netuid {
            return Err(self.chain_error(ChainError::WrongSubnet {
                asked: self.netuid,
                got: metagraph.netuid,
            }));
        }
        if metagraph.trailing_bytes > 0 {
            warn!(
                bytes = metagraph.trailing_bytes,
                "Metagraph has fields this miner does not know; ignoring them."
            );
        }
        let mut stakes = HashMap::with_capacity(metagraph.hotkeys.len());
        for (hotkey, stake) in metagraph.hotkeys.into_iter().zip(metagraph.tao_stake) {
            stakes.insert(hotkey, stake);
        }
        let count = stakes.len();
        let snapshot = Arc::new(Snapshot {
            block: metagraph.block,
            stakes,
        });
        *self.snapshot.write().unwrap_or_else(|e| e.into_inner()) = Some(snapshot);
        info!(
            netuid = self.netuid,
            block = metagraph.block,
            hotkeys = count,
            "Stake snapshot updated."
        );
        Ok(count)
    }

    /// Syncs now and then every `interval` until the task is aborted.
    pub fn spawn_sync(self: &Arc<Self>, interval: Duration) -> tokio::task::JoinHandle<()> {
        let this = self.clone();
        tokio::spawn(async move {
            loop {
                let wait = match this.sync_once().await {
                    Ok(_) => interval,
                    Err(e) => {
                        warn!(error = %e, kept_block = ?this.snapshot_block(), "Stake sync failed; keeping the previous snapshot.");
                        interval.min(RETRY)
                    }
                };
                tokio::time::sleep(wait).await;
            }
        })
    }
}

impl StakeSource for ChainStake {
    fn lookup(&self, hotkey: &str) -> StakeLookup {
        match self.current() {
            None => StakeLookup::NotLoaded,
            Some(snapshot) => snapshot
                .stakes
                .get(hotkey)
                .map_or(StakeLookup::Unknown, |&rao| StakeLookup::Known(rao)),
        }
    }
}

/// One JSON-RPC `state_call` over a fresh WebSocket; returns the result bytes.
async fn state_call(endpoint: &str, method: &str, params_hex: &str) -> Result<Vec<u8>, CallError> {
    let (mut ws, _) =
        tokio::time::timeout(CONNECT_TIMEOUT, tokio_tungstenite::connect_async(endpoint))
            .await
            .map_err(|_| CallError::ConnectTimeout {
                after: CONNECT_TIMEOUT,
            })?
            .map_err(CallError::Connect)?;
    let request = serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": "state_call", "params": [method, params_hex]});
    ws.send(Message::Text(request.to_string().into()))
        .await
        .map_err(CallError::Send)?;
    let answer = tokio::time::timeout(CALL_TIMEOUT, async {
        while let Some(message) = ws.next().await {
            let text = match message.map_err(CallError::Receive)? {
                Message::Text(text) => text,
                Message::Close(frame) => return Err(CallError::Closed { frame }),
                _ => continue,
            };
            let reply: serde_json::Value =
                serde_json::from_str(text.as_str()).map_err(CallError::NotJson)?;
            if reply.get("id") != Some(&serde_json::json!(1)) {
                continue;
            }
            if let Some(error) = reply.get("error") {
                return Err(CallError::Failed {
                    method: method.to_owned(),
                    error: error.clone(),
                });
            }
            let result = reply
                .get("result")
                .and_then(|r| r.as_str())
                .ok_or(CallError::NoResult)?;
            return hex::decode(result.trim_start_matches("0x")).map_err(CallError::NotHex);
        }
        Err(CallError::Ended)
    })
    .await
    .map_err(|_| CallError::Timeout {
        method: method.to_owned(),
        after: CALL_TIMEOUT,
    })?;
    let _ = ws.close(None).await;
    answer
}
