//! Everything that can go wrong in the infer stage: [`InferError`], what
//! the stage reports (mapped once to a gRPC status through [`StageError`]),
//! and the errors of the engine and the files under it, each keeping its
//! cause as the source. They live here, beside the error that wraps them,
//! so that the imports run one way: the modules that fail use this file,
//! and this file uses only leaves that never lead back to it (binding,
//! providers).

use std::path::PathBuf;
use std::sync::Arc;

use ort::session::builder::SessionBuilder;
use sv_core::{ErrorKind, StageError};

use crate::binding::BindingError;
use crate::providers::CacheDirError;

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
    /// The file's header could not be read (before any session).
    #[error("cannot load model {path}: {source}")]
    ModelLoad {
        path: PathBuf,
        #[source]
        source: ModelFileError,
    },
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

/// Why ONNX Runtime's library could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeLoadError {
    #[error("{} does not exist", .0.display())]
    Missing(PathBuf),
    #[error(transparent)]
    Library(#[from] ort::LoadDynamicError),
    #[error(transparent)]
    Ort(#[from] ort::Error),
}

/// Why a model file's header could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ModelFileError {
    #[error(transparent)]
    Read(#[from] std::io::Error),
    #[error("not an ONNX model: {0}")]
    NotOnnx(#[source] prost::DecodeError),
    #[error("{0} inputs, expected 1")]
    Inputs(usize),
    #[error("the input is not a tensor")]
    NotTensor,
}

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

/// Why a model cannot be given a byte input.
#[derive(Debug, thiserror::Error)]
pub enum ByteInputError {
    #[error("a float16 input is fed as it is")]
    Float16,
    #[error("the model already takes bytes")]
    AlreadyBytes,
    #[error("the input is neither float32 nor float16")]
    OtherElement,
    #[error("{0} graphs in the model, expected 1")]
    Graphs(usize),
    #[error("a graph input: {0}")]
    GraphInput(#[source] prost::DecodeError),
    #[error("the graph already has an input named {0}")]
    NameTaken(String),
    #[error("the graph has {count} inputs named {name}, expected 1")]
    Inputs { count: usize, name: String },
    #[error("the input is {0}, expected [batch, 3, height, width]")]
    InputShape(String),
    #[error(transparent)]
    Protobuf(#[from] prost::DecodeError),
    #[error("truncated protobuf field")]
    Truncated,
    #[error("protobuf groups are not ONNX")]
    Groups,
}
