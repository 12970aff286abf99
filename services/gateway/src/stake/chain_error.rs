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
    /// The node could not be asked, or gave no bytes back.
    #[error(transparent)]
    Call(#[from] CallError),
    /// The node's bytes do not decode as the metagraph layout we know.
    #[error("{method}: {source}")]
    Metagraph {
        /// The runtime API method that was called.
        method: &'static str,
        /// Where decoding stopped, and why.
        source: MetagraphError,
    },
    /// The metagraph returned is another subnet's.
    #[error("asked for netuid {asked}, got {got}")]
    WrongSubnet {
        /// The configured subnet.
        asked: u16,
        /// The subnet the metagraph says it is.
        got: u16,
    },
}

/// One JSON-RPC `state_call` over a WebSocket that did not return bytes.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// The WebSocket handshake did not finish in time.
    #[error("connect timed out after {after:?}")]
    ConnectTimeout {
        /// The connect timeout.
        after: Duration,
    },
    /// The connection or the WebSocket handshake failed.
    #[error("connect: {0}")]
    Connect(#[source] tungstenite::Error),
    /// The request could not be sent.
    #[error("send: {0}")]
    Send(#[source] tungstenite::Error),
    /// The connection failed while waiting for the reply.
    #[error("receive: {0}")]
    Receive(#[source] tungstenite::Error),
    /// The node closed the WebSocket before replying.
    #[error("connection closed: {frame:?}")]
    Closed {
        /// The close frame, with the node's code and reason, if it sent one.
        frame: Option<CloseFrame>,
    },
    /// A text message that does not parse as JSON.
    #[error("reply is not JSON: {0}")]
    NotJson(#[source] serde_json::Error),
    /// The node answered with a JSON-RPC error object.
    #[error("{method} failed: {error}")]
    Failed {
        /// The runtime API method that was called.
        method: String,
        /// The error object, as the node sent it.
        error: serde_json::Value,
    },
    /// The reply has neither an error nor a `result` string.
    #[error("reply has no result string")]
    NoResult,
    /// The `result` string is not (`0x`-prefixed) hex.
    #[error("result is not hex: {0}")]
    NotHex(#[source] hex::FromHexError),
    /// The stream of messages ended without a reply to our request.
    #[error("connection ended before the reply")]
    Ended,
    /// The reply did not come within the call timeout.
    #[error("{method} timed out after {after:?}")]
    Timeout {
        /// The runtime API method that was called.
        method: String,
        /// The call timeout.
        after: Duration,
    },
}
