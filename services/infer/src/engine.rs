//! The [`Engine`] trait: a batch in, the raw output tensor out. The ONNX
//! Runtime implementation lives here; tests and benchmarks can inject others.

use std::path::{Path, PathBuf};

use ort::session::Session;
use ort::value::{DynValue, TensorRef, ValueType};

use crate::error::InferError;
use crate::metadata::ModelInfo;
use crate::runtime::{self, Provider};

/// A raw output tensor. ONNX Runtime's own output value is kept as it is
/// (no copy) and can move to another thread for postprocessing.
#[derive(Debug)]
pub struct Output {
    shape: Vec<usize>,
    data: OutputData,
}

#[derive(Debug)]
enum OutputData {
    Owned(Vec<f32>),
    Ort(DynValue),
}

impl Output {
    /// An output held in memory (engines other than ONNX Runtime, tests).
    pub fn from_vec(shape: Vec<usize>, data: Vec<f32>) -> Self {
        Self {
            shape,
            data: OutputData::Owned(data),
        }
    }

    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// The values, row-major.
    pub fn data(&self) -> Result<&[f32], InferError> {
        match &self.data {
            OutputData::Owned(v) => Ok(v),
            OutputData::Ort(value) => value
                .try_extract_tensor::<f32>()
                .map(|(_, data)| data)
                .map_err(|e| InferError::Run {
                    model: "output".into(),
                    message: e.to_string(),
                }),
        }
    }
}

/// Runs a model on an NCHW f32 batch.
pub trait Engine: Send {
    fn run(&mut self, input: &[f32], shape: [usize; 4]) -> Result<Output, InferError>;
    /// The execution provider doing the work.
    fn provider(&self) -> Provider;
}

/// How to open an ONNX model.
#[derive(Debug, Clone)]
pub struct SessionOptions {
    pub library: PathBuf,
    pub providers: Vec<Provider>,
    /// ONNX Runtime intra-op threads; 0 lets it pick (one per core).
    pub intra_threads: usize,
    pub engine_cache: Option<PathBuf>,
}

/// ONNX Runtime threading beyond the intra-op thread count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Threading {
    /// Whether idle intra-op threads spin before they sleep. Spinning shaves
    /// microseconds off each operator when the cores are otherwise idle, but
    /// burns the cycles decode, letterboxing and the other session need when
    /// they share the cores, so it is off by default.
    pub spinning: bool,
    /// Inter-op threads: 0 runs the graph's nodes one after another (YOLO
    /// graphs are nearly a chain); more turns on parallel execution.
    pub inter_threads: usize,
}

pub struct OrtEngine {
    name: String,
    session: Session,
    input: String,
    output: String,
    provider: Provider,
    /// The input's (height, width) when the model has a fixed spatial size.
    pub fixed_size: Option<(u32, u32)>,
    pub info: ModelInfo,
}

impl OrtEngine {
    /// Opens `path` with the default [`Threading`].
    pub fn open(path: &Path, options: &SessionOptions) -> Result<Self, InferError> {
        Self::open_with(path, options, Threading::default())
    }

    pub fn open_with(
        path: &Path,
        options: &SessionOptions,
        threading: Threading,
    ) -> Result<Self, InferError> {
        let name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let load = |message: String| InferError::ModelLoad {
            path: path.to_owned(),
            message,
        };
        if !path.is_file() {
            return Err(load("file not found".into()));
        }
        let env = runtime::environment(&options.library)?;
        let mut builder = Session::builder(env).map_err(|e| load(e.to_string()))?;
        if options.intra_threads > 0 {
            builder = builder
                .with_intra_threads(options.intra_threads)
                .map_err(|e| load(e.to_string()))?;
        }
        builder = builder
            .with_intra_op_spinning(threading.spinning)
            .map_err(|e| load(e.to_string()))?;
        if threading.inter_threads > 0 {
            builder = builder
                .with_parallel_execution(true)
                .map_err(|e| load(e.to_string()))?
                .with_inter_threads(threading.inter_threads)
                .map_err(|e| load(e.to_string()))?
                .with_inter_op_spinning(threading.spinning)
                .map_err(|e| load(e.to_string()))?;
        }
        let provider = runtime::register_providers(
            &mut builder,
            &options.providers,
            options.engine_cache.as_deref(),
        )?;
        let session = builder
            .commit_from_file(path)
            .map_err(|e| load(e.to_string()))?;

        let metadata = session.metadata().map_err(|e| load(e.to_string()))?;
        let info = ModelInfo::parse(&name, |key| metadata.custom(key))?;
        drop(metadata);
        let shape_err = |detail: String| InferError::Shape {
            model: name.clone(),
            what: "input",
            detail,
        };
        let [input] = session.inputs() else {
            return Err(shape_err(format!(
                "{} inputs, expected 1",
                session.inputs().len()
            )));
        };
        let fixed_size = match input.dtype() {
            ValueType::Tensor { shape, .. } if shape.len() == 4 => {
                let (h, w) = (shape[2], shape[3]);
                (h > 0 && w > 0).then_some((h as u32, w as u32))
            }
            other => return Err(shape_err(format!("{other:?}, expected a 4-D tensor"))),
        };
        let input = input.name().to_owned();
        let output = match session.outputs() {
            [first, ..] => first.name().to_owned(),
            [] => {
                return Err(InferError::Shape {
                    model: name.clone(),
                    what: "output",
                    detail: "the model has no outputs".into(),
                });
            }
        };
        tracing::info!(model = %name, task = ?info.task, provider = provider.name(), ?fixed_size, "Model loaded.");
        Ok(Self {
            name,
            session,
            input,
            output,
            provider,
            fixed_size,
            info,
        })
    }
}

impl Engine for OrtEngine {
    fn run(&mut self, input: &[f32], shape: [usize; 4]) -> Result<Output, InferError> {
        let run_err = |message: String| InferError::Run {
            model: self.name.clone(),
            message,
        };
        let tensor =
            TensorRef::from_array_view((shape, input)).map_err(|e| run_err(e.to_string()))?;
        let mut outputs = self
            .session
            .run(ort::inputs![self.input.as_str() => tensor])
            .map_err(|e| run_err(e.to_string()))?;
        // Take the value out of the session's outputs: it owns its buffer, so
        // postprocessing can read it on another thread without a copy.
        let value = outputs
            .remove(self.output.as_str())
            .ok_or_else(|| run_err(format!("no output named {}", self.output)))?;
        let shape = value
            .try_extract_tensor::<f32>()
            .map_err(|e| run_err(e.to_string()))?
            .0
            .iter()
            .map(|&d| d as usize)
            .collect();
        Ok(Output {
            shape,
            data: OutputData::Ort(value),
        })
    }

    fn provider(&self) -> Provider {
        self.provider
    }
}
