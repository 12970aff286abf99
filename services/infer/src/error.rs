//! Everything that can go wrong in the infer stage.

use std::path::PathBuf;
use std::sync::Arc;

use sv_core::{ErrorKind, StageError};

use crate::engine::{OpenError, RunError};
use crate::providers::CacheDirError;
use crate::runtime::RuntimeLoadError;

#[derive(Debug, thiserror::Error)]
pub enum InferError {
    #[error("cannot find ONNX Runtime's shared library: {hint}")]
    RuntimeNotFound { hint: String },
    #[error("cannot load ONNX Runtime from {path}: {source}")]
    RuntimeLoad {
        path: PathBuf,
        /// Shared: the process loads the library once and every later
        /// caller gets the same failure.
        #[source]
        source: Arc<RuntimeLoadError>,
    },
    #[error("cannot load model {path}: {message}")]
    ModelLoad { path: PathBuf, message: String },
    /// ONNX Runtime could not open the model (its error kept as the source).
    #[error("cannot load model {path}: {source}")]
    Open {
        path: PathBuf,
        #[source]
        source: OpenError,
    },
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
    #[error("model {model}: inference failed: {source}")]
    Run {
        model: String,
        #[source]
        source: RunError,
    },
    /// A run that needed more memory than the device (or the memory limit)
    /// had left: a smaller batch may fit.
    #[error("model {model}: out of memory: {source}")]
    OutOfMemory {
        model: String,
        #[source]
        source: RunError,
    },
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
    /// The TensorRT cache directory could not be made.
    #[error("infer configuration: {0}")]
    CacheDir(#[from] CacheDirError),
    /// The memory limit could not be put on a device's arena.
    #[error("infer configuration: cannot limit {device}'s memory to {mb} MB: {source}")]
    MemoryLimit {
        device: String,
        mb: u64,
        #[source]
        source: ort::Error,
    },
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
