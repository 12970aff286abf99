//! Why a chain stake sync failed: the call to the chain ([`CallError`]) or
//! what it answered ([`ChainError`]). The gateway's [`crate::Error::Chain`]
//! carries one with the endpoint; the sync logs it and keeps its snapshot.

use std::time::Duration;

use tokio_tungstenite::tungstenite;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;

use super::metagraph::MetagraphError;

/// What went wrong in one chain sync.
#[derive(Debug, thiserror::Error)]
pub enum ChainError {
    #[error(transparent)]
    Call(#[from] CallError),
    #[error("{method}: {source}")]
    Metagraph {
        method: &'static str,
        source: MetagraphError,
    },
    #[error("asked for netuid {asked}, got {got}")]
    WrongSubnet { asked: u16, got: u16 },
}

/// One JSON-RPC `state_call` over a WebSocket that did not return bytes.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    #[error("connect timed out after {after:?}")]
    ConnectTimeout { after: Duration },
    #[error("connect: {0}")]
    Connect(#[source] tungstenite::Error),
    #[error("send: {0}")]
    Send(#[source] tungstenite::Error),
    #[error("receive: {0}")]
    Receive(#[source] tungstenite::Error),
    #[error("connection closed: {frame:?}")]
    Closed { frame: Option<CloseFrame> },
    #[error("reply is not JSON: {0}")]
    NotJson(#[source] serde_json::Error),
    /// The node answered with a JSON-RPC error object.
    #[error("{method} failed: {error}")]
    Failed {
        method: String,
        error: serde_json::Value,
    },
    #[error("reply has no result string")]
    NoResult,
    #[error("result is not hex: {0}")]
    NotHex(#[source] hex::FromHexError),
    #[error("connection ended before the reply")]
    Ended,
    #[error("{method} timed out after {after:?}")]
    Timeout { method: String, after: Duration },
}
