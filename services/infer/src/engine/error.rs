//! Why opening or running a model failed, with the cause kept as the
//! source (ONNX Runtime's error, the file's, the byte-input rewrite's). The
//! engine turns them into [`InferError`] once, at its surface: opening into
//! [`InferError::Open`] ("cannot load model ..."), running into
//! [`InferError::Run`] or [`InferError::OutOfMemory`].

use std::sync::Arc;

use ort::session::builder::SessionBuilder;

use crate::binding::BindingError;
use crate::byte_input::ByteInputError;
use crate::error::InferError;

/// Why a session could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("file not found")]
    NotFound,
    /// ONNX Runtime itself could not be loaded (its error says from where).
    #[error(transparent)]
    Runtime(Box<InferError>),
    #[error(transparent)]
    Ort(#[from] ort::Error),
    #[error(transparent)]
    Read(#[from] std::io::Error),
    /// The file's header could not be read (not an ONNX model, ...).
    #[error(transparent)]
    Header(Box<InferError>),
    #[error("cannot give the model a byte input: {0}")]
    ByteInput(#[from] ByteInputError),
}

impl From<ort::Error<SessionBuilder>> for OpenError {
    fn from(e: ort::Error<SessionBuilder>) -> Self {
        Self::Ort(e.into())
    }
}

/// Why a run failed.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("got a {got} input, the model takes {takes}")]
    InputType {
        got: &'static str,
        takes: &'static str,
    },
    #[error(transparent)]
    Ort(#[from] ort::Error),
    #[error("no output named {0}")]
    NoOutput(String),
    /// Refused when the session was opened; never reached.
    #[error("a uint8 output")]
    ByteOutput,
    /// Kept (shared) so that every later batch of that shape says why.
    #[error("the dynamic-shape session failed to open: {0}")]
    Dynamic(#[source] Arc<OpenError>),
    #[error("no dynamic-shape session")]
    NoDynamic,
    #[error("no way to reopen the session")]
    NoReopen,
    /// A bound run failed and the session could not be opened again
    /// without its CUDA graph.
    #[error(transparent)]
    Reopen(Box<InferError>),
    /// The failure of an engine other than ONNX Runtime (injected engines,
    /// test fakes), in its own type.
    #[error(transparent)]
    Injected(Box<dyn std::error::Error + Send + Sync>),
}

/// Why CUDA graphs were asked for and are not used.
#[derive(Debug, thiserror::Error)]
pub enum GraphRefused {
    /// ONNX Runtime refused to capture the graph when the session was built.
    #[error("{0}")]
    Capture(#[source] ort::Error),
    /// A bound run failed; the session was opened again without it.
    #[error("a bound run failed: {0}")]
    BoundRun(#[source] BindingError),
}
