//! Everything that can go wrong in the infer stage.

use std::path::PathBuf;

use sv_core::{ErrorKind, StageError};

#[derive(Debug, thiserror::Error)]
pub enum InferError {
    #[error("cannot find ONNX Runtime's shared library: {hint}")]
    RuntimeNotFound { hint: String },
    #[error("cannot load ONNX Runtime from {path}: {message}")]
    RuntimeLoad { path: PathBuf, message: String },
    #[error("cannot load model {path}: {message}")]
    ModelLoad { path: PathBuf, message: String },
    #[error("model {model}: metadata {key:?} {why}")]
    Metadata {
        model: String,
        key: String,
        why: String,
    },
    #[error("model {model}: unexpected {what}: {detail}")]
    Shape {
        model: String,
        what: &'static str,
        detail: String,
    },
    #[error("model {model}: inference failed: {message}")]
    Run { model: String, message: String },
    #[error("frame {index}: {why}")]
    BadFrame { index: u64, why: String },
    #[error("the inference worker has stopped")]
    WorkerGone,
    #[error("infer configuration: {0}")]
    Config(String),
}

impl InferError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::BadFrame { .. } => ErrorKind::InvalidInput,
            Self::WorkerGone => ErrorKind::Unavailable,
            _ => ErrorKind::Internal,
        }
    }
}

impl From<InferError> for StageError {
    fn from(e: InferError) -> Self {
        StageError::new(e.kind(), format!("infer: {e}"))
    }
}
