//! The [`Engine`] trait: a batch in, the raw output tensor out. The ONNX
//! Runtime implementation lives here; tests and benchmarks can inject others.

use std::path::{Path, PathBuf};

use ort::session::Session;
use ort::value::{TensorRef, ValueType};

use crate::error::InferError;
use crate::metadata::ModelInfo;
use crate::runtime::{self, Provider};

/// A raw output tensor.
#[derive(Debug, Clone, PartialEq)]
pub struct Output {
    pub shape: Vec<usize>,
    pub data: Vec<f32>,
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

pub struct OrtEngine {
    name: String,
    session: Session,
    input: String,
    provider: Provider,
    /// The input's (height, width) when the model has a fixed spatial size.
    pub fixed_size: Option<(u32, u32)>,
    pub info: ModelInfo,
}

impl OrtEngine {
    pub fn open(path: &Path, options: &SessionOptions) -> Result<Self, InferError> {
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
        tracing::info!(model = %name, task = ?info.task, provider = provider.name(), ?fixed_size, "Model loaded.");
        Ok(Self {
            name,
            session,
            input,
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
        let outputs = self
            .session
            .run(ort::inputs![self.input.as_str() => tensor])
            .map_err(|e| run_err(e.to_string()))?;
        let (out_shape, data) = outputs[0]
            .try_extract_tensor::<f32>()
            .map_err(|e| run_err(e.to_string()))?;
        Ok(Output {
            shape: out_shape.iter().map(|&d| d as usize).collect(),
            data: data.to_vec(),
        })
    }

    fn provider(&self) -> Provider {
        self.provider
    }
}
