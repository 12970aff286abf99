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

/// Why the infer stage could not open its models or answer a frame. Each
/// variant keeps its cause as the source; [`kind`](Self::kind) says which
/// gRPC status it becomes.
#[derive(Debug, thiserror::Error)]
pub enum InferError {
    /// No ONNX Runtime library was found where the stage looks for one.
    #[error("cannot find ONNX Runtime's shared library: {hint}")]
    RuntimeNotFound {
        /// How to install one, or point the stage at one.
        hint: String,
    },
    /// The ONNX Runtime library was found but could not be loaded.
    #[error("cannot load ONNX Runtime from {path}: {source}")]
    RuntimeLoad {
        /// The shared library that failed to load.
        path: PathBuf,
        /// Shared: the process loads the library once and every later
        /// caller gets the same failure.
        #[source]
        source: Arc<RuntimeLoadError>,
    },
    /// The file's header could not be read (before any session).
    #[error("cannot load model {path}: {source}")]
    ModelLoad {
        /// The ONNX file.
        path: PathBuf,
        /// What was wrong with its header.
        #[source]
        source: ModelFileError,
    },
    /// ONNX Runtime could not open the model (its error kept as the source).
    #[error("cannot load model {path}: {source}")]
    Open {
        /// The ONNX file.
        path: PathBuf,
        /// Why the session did not open.
        #[source]
        source: OpenError,
    },
    /// The metadata ultralytics writes into its exports (class names,
    /// image size, keypoint shape, task) is missing or not what the stage
    /// expects of this model.
    #[error("model {model}: metadata {key:?} {why}")]
    Metadata {
        /// Which model ("players" or "pitch").
        model: String,
        /// The metadata key, such as `kpt_shape`.
        key: String,
        /// What is wrong with its value.
        why: String,
    },
    /// A tensor has a shape or length the model's info does not allow.
    #[error("model {model}: unexpected {what}: {detail}")]
    Shape {
        /// Which model ("players" or "pitch").
        model: String,
        /// Which tensor: "input" or "output".
        what: &'static str,
        /// The shape or length found, and what was expected.
        detail: String,
    },
    /// A run failed for a reason other than memory.
    #[error("model {model}: inference failed: {source}")]
    Run {
        /// Which model ("players" or "pitch").
        model: String,
        /// The engine's failure.
        #[source]
        source: RunError,
    },
    /// A run that needed more memory than the device (or the memory limit)
    /// had left: a smaller batch may fit.
    #[error("model {model}: out of memory: {source}")]
    OutOfMemory {
        /// Which model ("players" or "pitch").
        model: String,
        /// The engine's failure, naming the allocation that failed.
        #[source]
        source: RunError,
    },
    /// At warm-up, not even one frame at a time fits: the stage refuses to
    /// start rather than serve answers it cannot give.
    #[error(
        "model {model} does not fit {place}, not even one frame at a time ({shape} input): {source}"
    )]
    DoesNotFit {
        /// Which model ("players" or "pitch").
        model: String,
        /// Where, and within which limit ("on the CPU within the 64 MB
        /// memory limit (--memory-limit-mb)").
        place: String,
        /// The input, height x width.
        shape: String,
        /// The failure of the single-frame run.
        #[source]
        source: Box<InferError>,
    },
    /// A run failed, was split in halves and rerun, and failed down to a
    /// single image: only then does the batch (and its challenge) fail.
    #[error(
        "model {model}: a run of {images} images failed, and so did its halves down to one image: {source}"
    )]
    RetryFailed {
        /// Which model ("players" or "pitch").
        model: String,
        /// How many images the first, whole run held.
        images: usize,
        /// The failure of the last single-image run.
        #[source]
        source: Box<InferError>,
    },
    /// A frame the stage cannot feed to a model (not RGB, a buffer of the
    /// wrong length, another size than its batch): the caller's data is at
    /// fault, not the stage.
    #[error("frame {index}: {why}")]
    BadFrame {
        /// The frame's index in its video.
        index: u64,
        /// What is wrong with it.
        why: String,
    },
    /// The worker thread that owns the models has stopped (it failed to
    /// start, panicked or was shut down), so no frame can be answered.
    #[error("the inference worker has stopped")]
    WorkerGone,
    /// A setting, or a combination of settings, the stage cannot use.
    #[error("infer configuration: {0}")]
    Config(String),
    /// The TensorRT cache directory could not be made.
    #[error("infer configuration: {0}")]
    CacheDir(#[from] CacheDirError),
    /// The memory limit could not be put on a device's arena.
    #[error("infer configuration: cannot limit {device}'s memory to {mb} MB: {source}")]
    MemoryLimit {
        /// The device, such as "CUDA device 0".
        device: String,
        /// The limit asked for, in MB.
        mb: u64,
        /// ONNX Runtime's refusal.
        #[source]
        source: ort::Error,
    },
}

impl InferError {
    /// Whether a smaller batch might have fitted where this one failed.
    pub fn is_out_of_memory(&self) -> bool {
        matches!(self, Self::OutOfMemory { .. })
    }

    /// The gRPC status class: a bad frame is the caller's fault, a gone
    /// worker may come back on another replica, anything else is internal.
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
    /// The configured library path does not exist.
    #[error("{} does not exist", .0.display())]
    Missing(PathBuf),
    /// The dynamic loader refused the file (not a shared library, another
    /// architecture, a dependency missing).
    #[error(transparent)]
    Library(#[from] ort::LoadDynamicError),
    /// The library loaded but ONNX Runtime failed to initialise.
    #[error(transparent)]
    Ort(#[from] ort::Error),
}

/// Why a model file's header could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ModelFileError {
    /// The file could not be read.
    #[error(transparent)]
    Read(#[from] std::io::Error),
    /// The bytes are not a protobuf ModelProto.
    #[error("not an ONNX model: {0}")]
    NotOnnx(#[source] prost::DecodeError),
    /// The graph has this many inputs; a YOLO export has one image input.
    #[error("{0} inputs, expected 1")]
    Inputs(usize),
    /// The single input declares no tensor type (a sequence, a map, or no
    /// type at all).
    #[error("the input is not a tensor")]
    NotTensor,
}

/// Why a session could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The model path does not exist.
    #[error("file not found")]
    NotFound,
    /// ONNX Runtime itself could not be loaded (its error says from where).
    #[error(transparent)]
    Runtime(Box<InferError>),
    /// ONNX Runtime refused the session options or the model.
    #[error(transparent)]
    Ort(#[from] ort::Error),
    /// The model file could not be read (static shapes and byte input read
    /// it before ONNX Runtime does).
    #[error(transparent)]
    Read(#[from] std::io::Error),
    /// The file's header could not be read (not an ONNX model, ...).
    #[error(transparent)]
    Header(Box<InferError>),
    /// The model could not be rewritten to take uint8 pixels.
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
    /// The caller's input tensor has another element type than the
    /// session's input.
    #[error("got a {got} input, the model takes {takes}")]
    InputType {
        /// The element type passed, such as "float32".
        got: &'static str,
        /// The element type the session takes.
        takes: &'static str,
    },
    /// ONNX Runtime's own failure (allocation, kernel, provider).
    #[error(transparent)]
    Ort(#[from] ort::Error),
    /// The run returned without the output the session was opened for.
    #[error("no output named {0}")]
    NoOutput(String),
    /// Refused when the session was opened; never reached.
    #[error("a uint8 output")]
    ByteOutput,
    /// Kept (shared) so that every later batch of that shape says why.
    #[error("the dynamic-shape session failed to open: {0}")]
    Dynamic(#[source] Arc<OpenError>),
    /// An input of another shape than the static session's, and no way
    /// to open a dynamic-shape session for it.
    #[error("no dynamic-shape session")]
    NoDynamic,
    /// A bound run failed on a session with a CUDA graph, and the engine
    /// kept nothing to open it again without one.
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
    /// Float16 inputs are fed as they are: they already halve the bytes,
    /// and on the CPU provider a cast in the graph would change the outputs
    /// (see the `byte_input` module docs).
    #[error("a float16 input is fed as it is")]
    Float16,
    /// The input is uint8 already; there is nothing to rewrite.
    #[error("the model already takes bytes")]
    AlreadyBytes,
    /// The input has an element type the rewrite cannot convert from.
    #[error("the input is neither float32 nor float16")]
    OtherElement,
    /// The ModelProto holds this many graph fields instead of one.
    #[error("{0} graphs in the model, expected 1")]
    Graphs(usize),
    /// A graph input's ValueInfoProto could not be decoded.
    #[error("a graph input: {0}")]
    GraphInput(#[source] prost::DecodeError),
    /// The new input's name is already used in the graph.
    #[error("the graph already has an input named {0}")]
    NameTaken(String),
    /// The input to replace is not declared exactly once.
    #[error("the graph has {count} inputs named {name}, expected 1")]
    Inputs {
        /// How many inputs carry the name.
        count: usize,
        /// The model's input name.
        name: String,
    },
    /// The input is not a 4-D NCHW image tensor with 3 channels.
    #[error("the input is {0}, expected [batch, 3, height, width]")]
    InputShape(String),
    /// A protobuf message inside the model could not be decoded.
    #[error(transparent)]
    Protobuf(#[from] prost::DecodeError),
    /// A field runs past the end of its message.
    #[error("truncated protobuf field")]
    Truncated,
    /// The deprecated protobuf group wire types, which ONNX never uses.
    #[error("protobuf groups are not ONNX")]
    Groups,
}
