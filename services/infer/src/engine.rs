//! The [`Engine`] trait: a batch in, the raw output tensor out. The ONNX
//! Runtime implementation lives here; tests and benchmarks can inject others.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use half::f16;
use ort::session::builder::SessionBuilder;
use ort::session::{Session, SessionInputValue};
use ort::value::{DynValue, TensorElementType, TensorRef, ValueType};

use crate::binding::{self, Binding, Memory};
use crate::byte_input;
use crate::error::InferError;
use crate::memory;
use crate::metadata::ModelInfo;
use crate::onnx_file::OnnxHeader;
use crate::providers::{self, Provider, ProviderChoice, ProviderSettings, ShapeProfile};
use crate::runtime;
use crate::tensor::{ElementType, Input, InputTensor};

/// A raw output tensor. ONNX Runtime's own f32 output value is kept as it
/// is (no copy) and can move to another thread for postprocessing; an f16
/// output (FP16-I/O models) is widened once, here.
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

/// How many of a model's nodes each execution provider runs, read from
/// ONNX Runtime's profile of one run, with the operator types of the nodes
/// that landed on the CPU beside a GPU provider (a heavy operator there
/// costs copies both ways on every run).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Placement {
    /// Provider -> distinct nodes.
    pub nodes: BTreeMap<String, usize>,
    /// Operator type -> nodes of it on the CPU provider.
    pub cpu_ops: BTreeMap<String, usize>,
}

impl std::fmt::Display for Placement {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let short = |p: &str| p.trim_end_matches("ExecutionProvider").to_owned();
        let parts: Vec<String> = self
            .nodes
            .iter()
            .map(|(provider, nodes)| format!("{nodes} nodes on {}", short(provider)))
            .collect();
        f.write_str(&parts.join(", "))?;
        // Only worth saying when something else runs the rest.
        if self.nodes.len() > 1 && !self.cpu_ops.is_empty() {
            let ops: Vec<String> = self
                .cpu_ops
                .iter()
                .map(|(op, n)| format!("{op} {n}"))
                .collect();
            write!(f, " (on the CPU: {})", ops.join(", "))?;
        }
        Ok(())
    }
}

impl Placement {
    /// Counts the distinct nodes per provider in an ONNX Runtime profile
    /// (a JSON array of events; node events carry `args.provider` and
    /// `args.op_name`).
    pub fn from_profile(json: &str) -> Result<Self, String> {
        let events: Vec<serde_json::Value> =
            serde_json::from_str(json).map_err(|e| format!("profile: {e}"))?;
        let mut nodes: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
        for event in &events {
            let args = event.get("args");
            let (Some(name), Some(provider)) = (
                event.get("name").and_then(|n| n.as_str()),
                args.and_then(|a| a.get("provider"))
                    .and_then(|p| p.as_str()),
            ) else {
                continue;
            };
            let op = args
                .and_then(|a| a.get("op_name"))
                .and_then(|o| o.as_str())
                .unwrap_or("?");
            let node = name
                .trim_end_matches("_kernel_time")
                .trim_end_matches("_fence_before")
                .trim_end_matches("_fence_after");
            nodes
                .entry(provider.to_owned())
                .or_default()
                .insert(node.to_owned(), op.to_owned());
        }
        let mut cpu_ops = BTreeMap::new();
        if let Some(cpu) = nodes.get("CPUExecutionProvider") {
            for op in cpu.values() {
                *cpu_ops.entry(op.clone()).or_default() += 1;
            }
        }
        Ok(Self {
            nodes: nodes.into_iter().map(|(p, n)| (p, n.len())).collect(),
            cpu_ops,
        })
    }
}

/// Runs a model on an NCHW batch.
pub trait Engine: Send {
    fn run(&mut self, input: Input<'_>, shape: [usize; 4]) -> Result<Output, InferError>;
    /// The execution provider doing the work.
    fn provider(&self) -> Provider;
    /// The provider, and why the ones wanted before it were not used.
    fn describe(&self) -> String {
        self.provider().name().to_owned()
    }
    /// The providers wanted before [`provider`](Self::provider) that the
    /// engine did not get, each with why.
    fn skipped(&self) -> &[(Provider, String)] {
        &[]
    }
    /// The element type the model's input takes.
    fn input_type(&self) -> ElementType {
        ElementType::F32
    }
    /// Where the nodes of the runs so far went, once (engines that record
    /// it; the ONNX Runtime engine does when asked to at open).
    fn take_placement(&mut self) -> Option<Placement> {
        None
    }
    /// Up to `count` input tensors of the engine's one input shape in the
    /// memory it copies from fastest (page-locked host memory beside a
    /// GPU), for the letterbox to write into; none when it has no such
    /// memory (then ordinary buffers do).
    fn host_inputs(&self, _count: usize) -> Vec<InputTensor> {
        Vec::new()
    }
}

/// How to open an ONNX model.
#[derive(Debug, Clone)]
pub struct SessionOptions {
    pub library: PathBuf,
    pub providers: ProviderSettings,
    /// ONNX Runtime intra-op threads; 0 lets it pick (one per core).
    pub intra_threads: usize,
    /// Record which provider runs each node until [`Engine::take_placement`].
    pub record_placement: bool,
    /// Feed the model the letterboxed bytes and let it scale them
    /// ([`crate::byte_input`]): a quarter of the bytes to move per run.
    pub byte_input: bool,
    /// Fix the input's symbolic dimensions to the shape profile's (the
    /// padded batch at the letterbox of a 16:9 frame), so ONNX Runtime folds
    /// the shape arithmetic of the graph into constants instead of running
    /// it on the CPU between GPU kernels on every run. Another shape runs on
    /// a second, dynamic session opened when first needed.
    pub static_shapes: bool,
    /// With static shapes, bind the one shape's input and output
    /// ([`crate::binding`]): inputs the letterbox writes into page-locked
    /// memory, outputs written there; with `providers.cuda.cuda_graph`,
    /// fixed device buffers so that ONNX Runtime can replay a CUDA graph.
    pub io_binding: bool,
}

impl SessionOptions {
    /// The given providers with their default options, on GPU 0.
    pub fn new(library: PathBuf, providers: Vec<Provider>) -> Self {
        Self {
            library,
            providers: ProviderSettings::new(providers),
            intra_threads: 0,
            record_placement: false,
            byte_input: false,
            static_shapes: false,
            io_binding: false,
        }
    }
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
    input_type: ElementType,
    output_type: ElementType,
    choice: ProviderChoice,
    profiling: bool,
    /// Copy each output out of ONNX Runtime's memory at once: on the CPU
    /// under a memory limit, where outputs would otherwise hold the capped
    /// arena while postprocessing waits for them (a GPU's outputs come back
    /// to host memory, outside the device's arena, anyway).
    own_outputs: bool,
    /// With static shapes: the one input shape `session` takes, and how to
    /// open a session for any other (or this one again, unbound).
    static_shape: Option<[usize; 4]>,
    reopen: Option<Box<Reopen>>,
    /// The dynamic-shape session of a static-shape engine, opened (or
    /// failed to open) the first time a batch of another shape comes (a
    /// clip that is not 16:9).
    dynamic: Option<Result<Box<Session>, String>>,
    /// With I/O binding: the static session's binding.
    binding: Option<Binding>,
    /// Why CUDA graphs were asked for and not used.
    graph_refused: Option<String>,
    /// The input's (height, width) when the model file has a fixed spatial
    /// size (static shapes leave this as the file says).
    pub fixed_size: Option<(u32, u32)>,
    pub info: ModelInfo,
}

/// What opening the dynamic session takes (ONNX Runtime's builder cannot
/// move between threads, so it is built again from these).
#[derive(Clone)]
struct Reopen {
    path: PathBuf,
    options: SessionOptions,
    threading: Threading,
    profile: Option<ShapeProfile>,
    /// The providers the main session did not get.
    excluded: Vec<Provider>,
}

impl Reopen {
    fn open(&self, name: &str) -> Result<Session, String> {
        let options = SessionOptions {
            record_placement: false,
            ..self.options.clone()
        };
        let mut builder = base_builder(&options, self.threading, name)?;
        providers::register(
            &mut builder,
            &options.providers,
            self.profile.as_ref(),
            &self.excluded,
        );
        let rewritten = if options.byte_input {
            let (bytes, header) = read_model(&self.path, name)?;
            byte_input_model(&bytes, &header, name)?
        } else {
            None
        };
        match rewritten {
            Some(bytes) => builder.commit_from_memory(&bytes),
            None => builder.commit_from_file(&self.path),
        }
        .map_err(|e| e.to_string())
    }
}

impl OrtEngine {
    /// Opens `path` with the default [`Threading`].
    pub fn open(path: &Path, options: &SessionOptions) -> Result<Self, InferError> {
        Self::open_with(path, options, Threading::default(), None)
    }

    /// Opens `path`; `profile` is the one input shape TensorRT builds for
    /// and, with [`SessionOptions::static_shapes`], the one the session
    /// takes.
    pub fn open_with(
        path: &Path,
        options: &SessionOptions,
        threading: Threading,
        profile: Option<&ShapeProfile>,
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
        let mut base = base_builder(options, threading, &name).map_err(load)?;
        // Static shapes and byte input need the file's header (which
        // dimensions are symbolic, the file's own size, the input's type);
        // the file is read once for both.
        let static_profile = profile.filter(|_| options.static_shapes);
        let file = if options.byte_input || static_profile.is_some() {
            Some(read_model(path, &name).map_err(load)?)
        } else {
            None
        };
        let overrides = match (&file, static_profile) {
            (Some((_, header)), Some(profile)) => static_overrides(header, profile),
            _ => Vec::new(),
        };
        for (dim, value) in &overrides {
            base = base
                .with_dimension_override(dim, *value as i64)
                .map_err(|e| load(e.to_string()))?;
        }
        // With byte input the session is built from the rewritten graph.
        let rewritten = match (&file, options.byte_input) {
            (Some((bytes, header)), true) => {
                byte_input_model(bytes, header, &name).map_err(load)?
            }
            _ => None,
        };
        // A provider can register and still fail when the session is built
        // (TensorRT without its libraries, a GPU out of memory): the next
        // one in the list gets the model, and the reason is kept.
        let mut excluded = Vec::new();
        let mut failures: Vec<(Provider, String)> = Vec::new();
        let mut settings = options.providers.clone();
        let mut graph_refused = None;
        let (session, mut choice) = loop {
            let mut builder = base.clone();
            let choice = providers::register(&mut builder, &settings, profile, &excluded);
            let built = match &rewritten {
                Some(bytes) => builder.commit_from_memory(bytes),
                None => builder.commit_from_file(path),
            };
            match built {
                Ok(session) => break (session, choice),
                // ONNX Runtime refuses graph capture for a graph with nodes
                // it cannot capture: the same provider without it.
                Err(e) if choice.provider.is_gpu() && settings.cuda.cuda_graph => {
                    let why = e.to_string();
                    tracing::warn!(model = %name, provider = choice.provider.name(), error = %why, "CUDA graphs refused; building the session without them.");
                    settings.cuda.cuda_graph = false;
                    graph_refused = Some(why);
                }
                Err(e) if choice.provider != Provider::Cpu => {
                    let why = format!("the session failed to build: {e}");
                    tracing::warn!(model = %name, provider = choice.provider.name(), error = %why, "Falling back to the next execution provider.");
                    failures.extend(choice.skipped);
                    failures.push((choice.provider, why));
                    excluded.push(choice.provider);
                }
                Err(e) => return Err(load(e.to_string())),
            }
        };
        failures.append(&mut choice.skipped);
        choice.skipped = failures;

        let metadata = session.metadata().map_err(|e| load(e.to_string()))?;
        let info = ModelInfo::parse(&name, |key| metadata.custom(key))?;
        drop(metadata);
        let shape_err = |what: &'static str, detail: String| InferError::Shape {
            model: name.clone(),
            what,
            detail,
        };
        let [input] = session.inputs() else {
            return Err(shape_err(
                "input",
                format!("{} inputs, expected 1", session.inputs().len()),
            ));
        };
        let static_shape = match (overrides.is_empty(), profile) {
            (false, Some(p)) => Some([p.batch, 3, p.height, p.width]),
            _ => None,
        };
        let (input_type, fixed_size) = match input.dtype() {
            ValueType::Tensor { ty, shape, .. } if shape.len() == 4 => {
                let (h, w) = (shape[2], shape[3]);
                let fixed_size = match (&file, static_shape) {
                    // The file's own size, not the one the overrides fixed.
                    (Some((_, header)), Some(_)) => header.input.fixed_size(),
                    _ => (h > 0 && w > 0).then_some((h as u32, w as u32)),
                };
                (
                    element_type(*ty).ok_or_else(|| {
                        shape_err(
                            "input",
                            format!("{ty:?}, expected float32, float16 or uint8"),
                        )
                    })?,
                    fixed_size,
                )
            }
            other => {
                return Err(shape_err(
                    "input",
                    format!("{other:?}, expected a 4-D tensor"),
                ));
            }
        };
        let input = input.name().to_owned();
        let (output, output_type) = match session.outputs() {
            [first, ..] => {
                let ty = match first.dtype() {
                    ValueType::Tensor { ty, .. } => element_type(*ty),
                    _ => None,
                }
                .filter(|&ty| ty != ElementType::U8)
                .ok_or_else(|| {
                    shape_err(
                        "output",
                        format!("{:?}, expected float32 or float16", first.dtype()),
                    )
                })?;
                (first.name().to_owned(), ty)
            }
            [] => return Err(shape_err("output", "the model has no outputs".into())),
        };
        tracing::info!(
            model = %name,
            task = ?info.task,
            provider = %choice,
            device = options.providers.device,
            input = input_type.name(),
            ?fixed_size,
            ?static_shape,
            "Model loaded."
        );
        let reopen = static_shape.map(|_| {
            Box::new(Reopen {
                path: path.to_owned(),
                options: options.clone(),
                threading,
                profile: profile.cloned(),
                excluded: choice.skipped.iter().map(|(p, _)| *p).collect(),
            })
        });
        let own_outputs = options.providers.memory_limit.is_some() && !choice.provider.is_gpu();
        let memory = if choice.provider.is_gpu() {
            Memory::Gpu(settings.device)
        } else {
            Memory::Cpu
        };
        let binding = match (options.io_binding, static_shape) {
            (true, Some(shape)) => {
                let fixed = settings.cuda.cuda_graph.then_some((input_type, shape));
                match Binding::new(&session, (&input, &output), memory, fixed) {
                    Ok(binding) => Some(binding),
                    Err(e) => {
                        tracing::warn!(model = %name, error = %e, "I/O binding is not used.");
                        None
                    }
                }
            }
            _ => None,
        };
        Ok(Self {
            name,
            session,
            input,
            output,
            input_type,
            output_type,
            choice,
            profiling: options.record_placement,
            own_outputs,
            static_shape,
            reopen,
            dynamic: None,
            binding,
            graph_refused,
            fixed_size,
            info,
        })
    }

    /// Whether the static session runs bound, and with fixed buffers.
    pub fn bound(&self) -> Option<bool> {
        self.binding.as_ref().map(Binding::fixed)
    }

    /// Runs the static session through its binding, or says why not.
    fn run_bound(
        &mut self,
        input: Input<'_>,
        shape: [usize; 4],
    ) -> Option<Result<DynValue, String>> {
        if self.static_shape != Some(shape) {
            return None;
        }
        let binding = self.binding.as_mut()?;
        // Without fixed buffers only the memory the binding gave out is
        // worth binding; an ordinary buffer runs as before.
        if !binding.fixed() && !matches!(input, Input::Host(_)) {
            return None;
        }
        Some(binding.run(&mut self.session, input, shape))
    }

    /// After a bound run failed: the binding goes, and a session that
    /// captured a CUDA graph is opened again without one (a plain run
    /// would replay the graph on stale buffers).
    fn unbind(&mut self, why: &str) -> Result<(), String> {
        let Some(binding) = self.binding.take() else {
            return Ok(());
        };
        tracing::warn!(model = %self.name, error = %why, "A bound run failed; running without I/O binding from now on.");
        if !binding.fixed() {
            return Ok(());
        }
        let Some(reopen) = self.reopen.as_deref() else {
            return Err("no way to reopen the session".into());
        };
        let mut options = reopen.options.clone();
        options.io_binding = false;
        options.record_placement = false;
        options.providers.cuda.cuda_graph = false;
        let fresh = Self::open_with(
            &reopen.path,
            &options,
            reopen.threading,
            reopen.profile.as_ref(),
        )
        .map_err(|e| e.to_string())?;
        *self = Self {
            graph_refused: Some(format!("a bound run failed: {why}")),
            ..fresh
        };
        Ok(())
    }

    /// The one input shape the main session takes, with static shapes.
    pub fn static_shape(&self) -> Option<[usize; 4]> {
        self.static_shape
    }

    /// The main session's input dimensions as ONNX Runtime reports them
    /// (-1 where symbolic): with static shapes, the profile's.
    pub fn session_input_dims(&self) -> Vec<i64> {
        match self.session.inputs().first().map(|i| i.dtype()) {
            Some(ValueType::Tensor { shape, .. }) => shape.iter().copied().collect(),
            _ => Vec::new(),
        }
    }

    /// Whether a batch of another shape has opened the dynamic session.
    pub fn opened_dynamic(&self) -> bool {
        matches!(self.dynamic, Some(Ok(_)))
    }

    /// The session for an input of `shape`: the static one when it fits.
    fn session_for(&mut self, shape: [usize; 4]) -> Result<&mut Session, String> {
        if self.static_shape.is_none_or(|s| s == shape) {
            return Ok(&mut self.session);
        }
        if let (None, Some(reopen)) = (&self.dynamic, &self.reopen) {
            tracing::info!(model = %self.name, ?shape, static_shape = ?self.static_shape, "Opening a dynamic-shape session for an input of another shape.");
            self.dynamic = Some(reopen.open(&self.name).map(Box::new));
        }
        match &mut self.dynamic {
            Some(Ok(session)) => Ok(session),
            Some(Err(e)) => Err(format!("the dynamic-shape session failed to open: {e}")),
            None => Err("no dynamic-shape session".into()),
        }
    }

    /// The provider the session runs on and why earlier ones were not used.
    pub fn choice(&self) -> &ProviderChoice {
        &self.choice
    }
}

/// Threads, optimisation and profiling; the providers come per attempt.
fn base_builder(
    options: &SessionOptions,
    threading: Threading,
    name: &str,
) -> Result<SessionBuilder, String> {
    let env = runtime::environment(&options.library).map_err(|e| e.to_string())?;
    fn err(e: impl std::fmt::Display) -> String {
        e.to_string()
    }
    let mut builder = Session::builder(env).map_err(err)?;
    if options.intra_threads > 0 {
        builder = builder
            .with_intra_threads(options.intra_threads)
            .map_err(err)?;
    }
    builder = builder
        .with_intra_op_spinning(threading.spinning)
        .map_err(err)?;
    // Under a memory limit, the device's capped arena (`crate::memory`),
    // tensor by tensor: a memory pattern (each input shape's tensors
    // planned into one block, allocated whole from the second run on) needs
    // one contiguous block the arena may not have once a failed run left
    // it fragmented, so runs that fitted at warm-up would fail later
    // (measured with ONNX Runtime 1.32 on the CPU: with the pattern, after
    // the warm-up's failed batches, every second run at the settled batch
    // failed; without it, none).
    if options.providers.memory_limit.is_some() {
        builder = builder
            .with_env_allocators()
            .map_err(err)?
            .with_memory_pattern(false)
            .map_err(err)?;
    }
    if threading.inter_threads > 0 {
        builder = builder
            .with_parallel_execution(true)
            .map_err(err)?
            .with_inter_threads(threading.inter_threads)
            .map_err(err)?
            .with_inter_op_spinning(threading.spinning)
            .map_err(err)?;
    }
    if options.record_placement {
        let prefix = std::env::temp_dir().join(format!(
            "sv-placement-{}-{}-{}",
            std::process::id(),
            name,
            options.providers.device
        ));
        builder = builder.with_profiling(prefix).map_err(err)?;
    }
    Ok(builder)
}

fn element_type(ty: TensorElementType) -> Option<ElementType> {
    match ty {
        TensorElementType::Float32 => Some(ElementType::F32),
        TensorElementType::Float16 => Some(ElementType::F16),
        TensorElementType::Uint8 => Some(ElementType::U8),
        _ => None,
    }
}

/// The input's symbolic dimensions fixed to `profile`'s batch, height and
/// width: `(dimension name, value)`.
fn static_overrides(header: &OnnxHeader, profile: &ShapeProfile) -> Vec<(String, usize)> {
    let values = [
        Some(profile.batch),
        None,
        Some(profile.height),
        Some(profile.width),
    ];
    header
        .input
        .params
        .iter()
        .zip(values)
        .filter_map(|(param, value)| Some((param.clone()?, value?)))
        .collect()
}

/// The model file's bytes and the header read from them.
fn read_model(path: &Path, name: &str) -> Result<(Vec<u8>, OnnxHeader), String> {
    let bytes = std::fs::read(path).map_err(|e| e.to_string())?;
    let header = OnnxHeader::parse(name, &bytes).map_err(|e| e.to_string())?;
    Ok((bytes, header))
}

/// The model rewritten to take bytes, or `None` when it already does or
/// takes float16 (see [`crate::byte_input`]).
fn byte_input_model(
    bytes: &[u8],
    header: &OnnxHeader,
    name: &str,
) -> Result<Option<Vec<u8>>, String> {
    if !byte_input::applies(&header.input) {
        if header.input.element == Some(ElementType::F16) {
            tracing::info!(model = %name, "Byte input is for float32-input models; this one takes float16 and is fed as it is.");
        }
        return Ok(None);
    }
    byte_input::rewrite(bytes, &header.input)
        .map(Some)
        .map_err(|e| format!("cannot give the model a byte input: {e}"))
}

impl OrtEngine {
    /// A run without binding: ONNX Runtime copies the input in and
    /// allocates the output.
    fn run_plain(&mut self, input: Input<'_>, shape: [usize; 4]) -> Result<DynValue, String> {
        let (input_name, output_name) = (self.input.clone(), self.output.clone());
        let session = self.session_for(shape)?;
        // A view of the caller's buffer in the model's element type.
        let tensor: SessionInputValue<'_> = match input.plain() {
            Input::F32(data) => TensorRef::from_array_view((shape, data)).map(Into::into),
            Input::F16(data) => TensorRef::from_array_view((shape, data)).map(Into::into),
            Input::U8(data) => TensorRef::from_array_view((shape, data)).map(Into::into),
            Input::Host(_) => unreachable!("plain() resolves host tensors"),
        }
        .map_err(|e| e.to_string())?;
        let mut outputs = session
            .run(ort::inputs![input_name.as_str() => tensor])
            .map_err(|e| e.to_string())?;
        // Take the value out of the session's outputs: it owns its buffer, so
        // postprocessing can read it on another thread without a copy.
        outputs
            .remove(output_name.as_str())
            .ok_or_else(|| format!("no output named {output_name}"))
    }
}

/// A run's output value as an [`Output`]: f32 kept as it is (copied out
/// when `own`), f16 widened.
fn output(value: DynValue, output_type: ElementType, own: bool) -> Result<Output, String> {
    match output_type {
        ElementType::F32 if own => {
            let (shape, data) = value
                .try_extract_tensor::<f32>()
                .map_err(|e| e.to_string())?;
            Ok(Output::from_vec(
                shape.iter().map(|&d| d as usize).collect(),
                data.to_vec(),
            ))
        }
        ElementType::F32 => {
            let shape = value
                .try_extract_tensor::<f32>()
                .map_err(|e| e.to_string())?
                .0
                .iter()
                .map(|&d| d as usize)
                .collect();
            Ok(Output {
                shape,
                data: OutputData::Ort(value),
            })
        }
        ElementType::F16 => {
            let (shape, data) = value
                .try_extract_tensor::<f16>()
                .map_err(|e| e.to_string())?;
            Ok(Output {
                shape: shape.iter().map(|&d| d as usize).collect(),
                data: OutputData::Owned(data.iter().map(|v| v.to_f32()).collect()),
            })
        }
        // Refused when the session was opened.
        ElementType::U8 => Err("a uint8 output".into()),
    }
}

impl Engine for OrtEngine {
    fn run(&mut self, input: Input<'_>, shape: [usize; 4]) -> Result<Output, InferError> {
        let model = self.name.clone();
        let run_err = |message: String| {
            let model = model.clone();
            // ONNX Runtime gives memory failures no code of their own.
            if memory::is_out_of_memory(&message) {
                InferError::OutOfMemory { model, message }
            } else {
                InferError::Run { model, message }
            }
        };
        if input.element_type() != self.input_type {
            return Err(run_err(format!(
                "got a {} input, the model takes {}",
                input.element_type().name(),
                self.input_type.name()
            )));
        }
        let value = match self.run_bound(input, shape) {
            Some(Ok(value)) => value,
            Some(Err(why)) => {
                self.unbind(&why).map_err(run_err)?;
                self.run_plain(input, shape).map_err(run_err)?
            }
            None => self.run_plain(input, shape).map_err(run_err)?,
        };
        output(value, self.output_type, self.own_outputs).map_err(run_err)
    }

    fn host_inputs(&self, count: usize) -> Vec<InputTensor> {
        let (Some(binding), Some(shape)) = (&self.binding, self.static_shape) else {
            return Vec::new();
        };
        let memory = binding.memory();
        match binding::host_inputs(&self.session, memory, self.input_type, shape, count) {
            Ok(tensors) => tensors.into_iter().map(InputTensor::Host).collect(),
            Err(e) => {
                tracing::warn!(model = %self.name, error = %e, "No page-locked input buffers; ordinary ones are used.");
                Vec::new()
            }
        }
    }

    fn provider(&self) -> Provider {
        self.choice.provider
    }

    fn skipped(&self) -> &[(Provider, String)] {
        &self.choice.skipped
    }

    fn describe(&self) -> String {
        match &self.graph_refused {
            Some(why) => format!("{} (CUDA graph not used: {why})", self.choice),
            None => self.choice.to_string(),
        }
    }

    fn input_type(&self) -> ElementType {
        self.input_type
    }

    fn take_placement(&mut self) -> Option<Placement> {
        if !std::mem::take(&mut self.profiling) {
            return None;
        }
        let file = match self.session.end_profiling() {
            Ok(file) => file,
            Err(e) => {
                tracing::debug!(model = %self.name, error = %e, "No profile to read the placement from.");
                return None;
            }
        };
        let read = std::fs::read_to_string(&file)
            .map_err(|e| e.to_string())
            .and_then(|json| Placement::from_profile(&json));
        let _ = std::fs::remove_file(&file);
        match read {
            Ok(placement) => Some(placement),
            Err(e) => {
                tracing::warn!(model = %self.name, error = %e, "Could not read the node placement.");
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placement_counts_distinct_nodes_per_provider() {
        let profile = r#"[
          {"cat":"Session","name":"model_run","args":{}},
          {"cat":"Node","name":"/model.0/conv/Conv_fence_before","args":{"op_name":"Conv","provider":"CUDAExecutionProvider"}},
          {"cat":"Node","name":"/model.0/conv/Conv_kernel_time","args":{"op_name":"Conv","provider":"CUDAExecutionProvider"}},
          {"cat":"Node","name":"/model.0/conv/Conv_fence_after","args":{"op_name":"Conv","provider":"CUDAExecutionProvider"}},
          {"cat":"Node","name":"/model.1/Sigmoid_kernel_time","args":{"op_name":"Sigmoid","provider":"CUDAExecutionProvider"}},
          {"cat":"Node","name":"/model.22/Range_kernel_time","args":{"op_name":"Range","provider":"CPUExecutionProvider"}}
        ]"#;
        let placement = Placement::from_profile(profile).unwrap();
        assert_eq!(placement.nodes.get("CUDAExecutionProvider"), Some(&2));
        assert_eq!(placement.nodes.get("CPUExecutionProvider"), Some(&1));
        assert_eq!(
            placement.to_string(),
            "1 nodes on CPU, 2 nodes on CUDA (on the CPU: Range 1)"
        );
        assert!(Placement::from_profile("not json").is_err());
        // A CPU-only session says nothing more.
        let cpu = r#"[{"cat":"Node","name":"a_kernel_time","args":{"op_name":"Conv","provider":"CPUExecutionProvider"}}]"#;
        assert_eq!(
            Placement::from_profile(cpu).unwrap().to_string(),
            "1 nodes on CPU"
        );
    }
}
