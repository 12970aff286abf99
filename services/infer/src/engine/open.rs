//! Opening an [`OrtEngine`], as named steps: read what the file decides,
//! build the session on the first provider that takes it, read the model's
//! metadata, input and output, and bind its buffers. [`Reopen`] keeps what
//! it takes to open the same model again (the dynamic-shape session of a
//! static-shape engine, or the session again without its CUDA graph).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use ort::session::Session;
use ort::session::builder::SessionBuilder;
use ort::value::ValueType;

use super::OrtEngine;
use super::builder::{self, ModelFile};
use super::options::{SessionOptions, Threading};
use crate::binding::{Binding, Memory};
use crate::error::{GraphRefused, InferError, OpenError};
use crate::metadata::ModelInfo;
use crate::providers::{self, Provider, ProviderChoice, ShapeProfile, SkipReason};
use crate::tensor::ElementType;

/// What opening the dynamic session takes (ONNX Runtime's builder cannot
/// move between threads, so it is built again from these).
#[derive(Clone)]
pub(super) struct Reopen {
    pub path: PathBuf,
    pub options: SessionOptions,
    pub threading: Threading,
    pub profile: Option<ShapeProfile>,
    /// The providers the main session did not get.
    pub excluded: Vec<Provider>,
}

impl Reopen {
    /// The same model on the main session's provider, without recording
    /// placement and without fixed dimensions.
    pub fn open(&self, name: &str) -> Result<Session, OpenError> {
        let options = SessionOptions {
            record_placement: false,
            ..self.options.clone()
        };
        let mut builder = builder::base_builder(&options, self.threading, name)?;
        providers::register(
            &mut builder,
            &options.providers,
            self.profile.as_ref(),
            &self.excluded,
        );
        let rewritten = if options.byte_input {
            let file = ModelFile::read(&self.path, name)?;
            builder::byte_input_model(&file.bytes, &file.header, name)?
        } else {
            None
        };
        Ok(builder::commit(builder, &self.path, rewritten.as_deref())?)
    }
}

/// A built session, with the provider it got and how it got there.
struct Built {
    session: Session,
    choice: ProviderChoice,
    /// Whether the session captures a CUDA graph (asked for and accepted).
    cuda_graph: bool,
    graph_refused: Option<GraphRefused>,
}

/// The session's one input and first output.
struct Io {
    input: String,
    input_type: ElementType,
    fixed_size: Option<(u32, u32)>,
    output: String,
    output_type: ElementType,
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
        let load = |source: OpenError| InferError::Open {
            path: path.to_owned(),
            source,
        };
        let prepared = prepare(path, &name, options, threading, profile).map_err(load)?;
        let built = build_session(&prepared, path, options, profile, &name).map_err(load)?;
        let info = {
            let metadata = built.session.metadata().map_err(|e| load(e.into()))?;
            ModelInfo::parse(&name, |key| metadata.custom(key))?
        };
        let io = read_io(&built.session, &name, prepared.file_size)?;
        tracing::info!(
            model = %name,
            task = ?info.task,
            provider = %built.choice,
            device = options.providers.device,
            input = io.input_type.name(),
            fixed_size = ?io.fixed_size,
            static_shape = ?prepared.static_shape,
            "Model loaded."
        );
        let static_shape = prepared.static_shape;
        let reopen = static_shape.map(|_| {
            Box::new(Reopen {
                path: path.to_owned(),
                options: options.clone(),
                threading,
                profile: profile.cloned(),
                excluded: built.choice.skipped.iter().map(|(p, _)| *p).collect(),
            })
        });
        let binding = bind(&built, &io, options, static_shape, &name);
        Ok(Self {
            own_outputs: options.providers.memory_limit.is_some()
                && !built.choice.provider.is_gpu(),
            name,
            session: built.session,
            input: io.input,
            output: io.output,
            input_type: io.input_type,
            output_type: io.output_type,
            choice: built.choice,
            profiling: options.record_placement,
            static_shape,
            reopen,
            dynamic: None,
            binding,
            graph_refused: built.graph_refused,
            fixed_size: io.fixed_size,
            info,
        })
    }
}

/// What the session is built from.
struct Prepared {
    /// The builder before providers, the input's dimensions fixed.
    base: SessionBuilder,
    /// With static shapes, the one input shape the session takes.
    static_shape: Option<[usize; 4]>,
    /// With static shapes, the spatial size the file itself fixes (the
    /// session's is the profile's).
    file_size: Option<Option<(u32, u32)>>,
    /// With byte input, the rewritten graph.
    rewritten: Option<Vec<u8>>,
}

/// The builder and the graph the session is built from: threads and
/// profiling, the file's symbolic dimensions fixed to the profile's (static
/// shapes), the graph rewritten to take bytes (byte input).
fn prepare(
    path: &Path,
    name: &str,
    options: &SessionOptions,
    threading: Threading,
    profile: Option<&ShapeProfile>,
) -> Result<Prepared, OpenError> {
    if !path.is_file() {
        return Err(OpenError::NotFound);
    }
    let base = builder::base_builder(options, threading, name)?;
    let static_profile = profile.filter(|_| options.static_shapes);
    let file = read_file_if_needed(path, name, options, static_profile)?;
    let (base, static_shape) = fix_dimensions(base, file.as_ref(), static_profile)?;
    let rewritten = match (&file, options.byte_input) {
        (Some(file), true) => builder::byte_input_model(&file.bytes, &file.header, name)?,
        _ => None,
    };
    let file_size = file
        .as_ref()
        .filter(|_| static_shape.is_some())
        .map(|file| file.header.input.fixed_size());
    Ok(Prepared {
        base,
        static_shape,
        file_size,
        rewritten,
    })
}

/// Static shapes and byte input need the file's header (which dimensions
/// are symbolic, the file's own size, the input's type); the file is read
/// once for both, and not at all without them.
fn read_file_if_needed(
    path: &Path,
    name: &str,
    options: &SessionOptions,
    static_profile: Option<&ShapeProfile>,
) -> Result<Option<ModelFile>, OpenError> {
    if options.byte_input || static_profile.is_some() {
        ModelFile::read(path, name).map(Some)
    } else {
        Ok(None)
    }
}

/// With static shapes, the input's symbolic dimensions fixed to the
/// profile's, and the one shape the session then takes (`None` when the
/// file has no symbolic dimension to fix).
fn fix_dimensions(
    mut base: SessionBuilder,
    file: Option<&ModelFile>,
    static_profile: Option<&ShapeProfile>,
) -> Result<(SessionBuilder, Option<[usize; 4]>), OpenError> {
    let (Some(file), Some(profile)) = (file, static_profile) else {
        return Ok((base, None));
    };
    let overrides = builder::static_overrides(&file.header, profile);
    for (dim, value) in &overrides {
        base = base.with_dimension_override(dim, *value as i64)?;
    }
    let shape = [profile.batch, 3, profile.height, profile.width];
    Ok((base, (!overrides.is_empty()).then_some(shape)))
}

/// Builds the session on the first wanted provider that takes it. A
/// provider can register and still fail when the session is built
/// (TensorRT without its libraries, a GPU out of memory): the next one in
/// the list gets the model, and the reason is kept.
fn build_session(
    prepared: &Prepared,
    path: &Path,
    options: &SessionOptions,
    profile: Option<&ShapeProfile>,
    name: &str,
) -> Result<Built, OpenError> {
    let mut excluded = Vec::new();
    let mut failures: Vec<(Provider, SkipReason)> = Vec::new();
    let mut settings = options.providers.clone();
    let mut graph_refused = None;
    let (session, mut choice) = loop {
        let mut builder = prepared.base.clone();
        let choice = providers::register(&mut builder, &settings, profile, &excluded);
        match builder::commit(builder, path, prepared.rewritten.as_deref()) {
            Ok(session) => break (session, choice),
            // ONNX Runtime refuses graph capture for a graph with nodes
            // it cannot capture: the same provider without it.
            Err(e) if choice.provider.is_gpu() && settings.cuda.cuda_graph => {
                tracing::warn!(model = %name, provider = choice.provider.name(), error = %e, "CUDA graphs refused; building the session without them.");
                settings.cuda.cuda_graph = false;
                graph_refused = Some(GraphRefused::Capture(e));
            }
            Err(e) if choice.provider != Provider::Cpu => {
                let why = SkipReason::Build(Arc::new(e));
                tracing::warn!(model = %name, provider = choice.provider.name(), error = %why, "Falling back to the next execution provider.");
                failures.extend(choice.skipped);
                failures.push((choice.provider, why));
                excluded.push(choice.provider);
            }
            Err(e) => return Err(e.into()),
        }
    };
    failures.append(&mut choice.skipped);
    choice.skipped = failures;
    Ok(Built {
        session,
        choice,
        cuda_graph: settings.cuda.cuda_graph,
        graph_refused,
    })
}

/// The session's one 4-D input and its first output, in element types the
/// miner feeds and reads; `file_size` as in [`Prepared`].
fn read_io(
    session: &Session,
    name: &str,
    file_size: Option<Option<(u32, u32)>>,
) -> Result<Io, InferError> {
    let shape_err = |what: &'static str, detail: String| InferError::Shape {
        model: name.to_owned(),
        what,
        detail,
    };
    let [input] = session.inputs() else {
        return Err(shape_err(
            "input",
            format!("{} inputs, expected 1", session.inputs().len()),
        ));
    };
    let (input_type, fixed_size) = match input.dtype() {
        ValueType::Tensor { ty, shape, .. } if shape.len() == 4 => {
            let (h, w) = (shape[2], shape[3]);
            let fixed_size =
                file_size.unwrap_or_else(|| (h > 0 && w > 0).then_some((h as u32, w as u32)));
            let ty = builder::element_type(*ty).ok_or_else(|| {
                shape_err(
                    "input",
                    format!("{ty:?}, expected float32, float16 or uint8"),
                )
            })?;
            (ty, fixed_size)
        }
        other => {
            return Err(shape_err(
                "input",
                format!("{other:?}, expected a 4-D tensor"),
            ));
        }
    };
    let [first, ..] = session.outputs() else {
        return Err(shape_err("output", "the model has no outputs".into()));
    };
    let output_type = match first.dtype() {
        ValueType::Tensor { ty, .. } => builder::element_type(*ty),
        _ => None,
    }
    .filter(|&ty| ty != ElementType::U8)
    .ok_or_else(|| {
        shape_err(
            "output",
            format!("{:?}, expected float32 or float16", first.dtype()),
        )
    })?;
    Ok(Io {
        input: input.name().to_owned(),
        input_type,
        fixed_size,
        output: first.name().to_owned(),
        output_type,
    })
}

/// With I/O binding and static shapes, the session's binding (with fixed
/// device buffers when it captures a CUDA graph); none when binding fails,
/// and the engine runs unbound.
fn bind(
    built: &Built,
    io: &Io,
    options: &SessionOptions,
    static_shape: Option<[usize; 4]>,
    name: &str,
) -> Option<Binding> {
    let shape = static_shape.filter(|_| options.io_binding)?;
    let memory = if built.choice.provider.is_gpu() {
        Memory::Gpu(options.providers.device)
    } else {
        Memory::Cpu
    };
    let fixed = built.cuda_graph.then_some((io.input_type, shape));
    match Binding::new(&built.session, (&io.input, &io.output), memory, fixed) {
        Ok(binding) => Some(binding),
        Err(e) => {
            tracing::warn!(model = %name, error = %e, "I/O binding is not used.");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_file_is_refused_before_onnx_runtime_loads() {
        let options =
            SessionOptions::new("/nonexistent/libonnxruntime.so".into(), Provider::auto());
        let path = Path::new("/nonexistent/players.onnx");
        let Err(err) = OrtEngine::open(path, &options) else {
            panic!("a missing file opened");
        };
        assert!(
            matches!(
                &err,
                InferError::Open {
                    source: OpenError::NotFound,
                    ..
                }
            ),
            "{err}"
        );
        assert_eq!(
            err.to_string(),
            "cannot load model /nonexistent/players.onnx: file not found"
        );
    }
}
