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
    /// A run that needed more memory than the device (or the memory limit)
    /// had left: a smaller batch may fit.
    #[error("model {model}: out of memory: {message}")]
    OutOfMemory { model: String, message: String },
    /// At warm-up, not even one frame at a time fits: the stage refuses to
    /// start rather than serve answers it cannot give.
    #[error(
        "model {model} does not fit {place}, not even one frame at a time ({shape} input): {source}"
    )]
    DoesNotFit {
        model: String,
        /// Where, and within which limit ("on the CPU within the 64 MB
        /// memory limit (--memory-limit-mb)").
        place: String,
        /// The input, height x width.
        shape: String,
        #[source]
        source: Box<InferError>,
    },
    /// A run failed, was split in halves and rerun, and failed down to a
    /// single image: only then does the batch (and its challenge) fail.
    #[error(
        "model {model}: a run of {images} images failed, and so did its halves down to one image: {source}"
    )]
    RetryFailed {
        model: String,
        images: usize,
        #[source]
        source: Box<InferError>,
    },
    #[error("frame {index}: {why}")]
    BadFrame { index: u64, why: String },
    #[error("the inference worker has stopped")]
    WorkerGone,
    #[error("infer configuration: {0}")]
    Config(String),
}

impl InferError {
    /// Whether a smaller batch might have fitted where this one failed.
    pub fn is_out_of_memory(&self) -> bool {
        matches!(self, Self::OutOfMemory { .. })
    }

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
