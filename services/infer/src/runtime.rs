//! ONNX Runtime, loaded at run time (`ort` with `load-dynamic`), and the
//! execution providers a session asks for.
//!
//! The shared library comes from the `onnxruntime` wheel (CPU) or
//! `onnxruntime-gpu` (CUDA + TensorRT) in the project's virtualenv, or from
//! wherever `ORT_DYLIB_PATH` points. One environment per process.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use ort::environment::Environment;
use ort::ep::{self, ExecutionProvider};
use ort::session::builder::SessionBuilder;

use crate::error::InferError;

/// Execution providers in the order a session tries them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Provider {
    TensorRt,
    Cuda,
    Cpu,
}

impl Provider {
    pub fn name(self) -> &'static str {
        match self {
            Self::TensorRt => "TensorRT",
            Self::Cuda => "CUDA",
            Self::Cpu => "CPU",
        }
    }

    /// The default preference: the fastest provider the library has wins.
    pub fn auto() -> Vec<Provider> {
        vec![Self::TensorRt, Self::Cuda, Self::Cpu]
    }
}

impl std::str::FromStr for Provider {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "tensorrt" | "trt" => Ok(Self::TensorRt),
            "cuda" => Ok(Self::Cuda),
            "cpu" => Ok(Self::Cpu),
            other => Err(format!(
                "unknown execution provider {other:?} (tensorrt, cuda, cpu)"
            )),
        }
    }
}

/// Finds `libonnxruntime.so`: an explicit path, then `ORT_DYLIB_PATH`, then
/// the project virtualenv (`.venv`) beside the working directory or the
/// executable, or any of their parents.
pub fn find_library(explicit: Option<&Path>) -> Result<PathBuf, InferError> {
    if let Some(path) = explicit {
        return Ok(path.to_owned());
    }
    if let Some(path) = std::env::var_os("ORT_DYLIB_PATH") {
        return Ok(PathBuf::from(path));
    }
    let mut roots: Vec<PathBuf> = Vec::new();
    if let Ok(cwd) = std::env::current_dir() {
        roots.extend(cwd.ancestors().map(Path::to_owned));
    }
    if let Ok(exe) = std::env::current_exe() {
        roots.extend(exe.ancestors().skip(1).map(Path::to_owned));
    }
    for root in roots {
        if let Some(lib) = venv_library(&root.join(".venv")) {
            return Ok(lib);
        }
    }
    Err(InferError::RuntimeNotFound {
        hint: "run scripts/install-deps.sh (installs the onnxruntime wheel into .venv) or set ORT_DYLIB_PATH".into(),
    })
}

fn venv_library(venv: &Path) -> Option<PathBuf> {
    let lib = std::fs::read_dir(venv.join("lib")).ok()?;
    let mut found: Vec<PathBuf> = lib
        .flatten()
        .map(|python| python.path().join("site-packages/onnxruntime/capi"))
        .filter_map(|capi| std::fs::read_dir(capi).ok())
        .flat_map(|dir| dir.flatten().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("libonnxruntime.so"))
        })
        .collect();
    found.sort();
    found.pop()
}

/// The process-wide ONNX Runtime environment, loading the library on first
/// use. Later calls return the same environment whatever path they pass.
pub fn environment(library: &Path) -> Result<&'static Environment, InferError> {
    static ENV: OnceLock<Result<Environment, String>> = OnceLock::new();
    let env = ENV.get_or_init(|| {
        if !library.is_file() {
            return Err(format!("{} does not exist", library.display()));
        }
        let builder = ort::init_from(library).map_err(|e| e.to_string())?;
        builder
            .with_name("scorevision")
            .build()
            .map_err(|e| e.to_string())
    });
    env.as_ref().map_err(|message| InferError::RuntimeLoad {
        path: library.to_owned(),
        message: message.clone(),
    })
}

/// The provider that will run most of the graph: the first wanted one the
/// library was built with (CPU when none else). Sessions may still fall back
/// to the CPU if registering it fails.
pub fn primary_provider(library: &Path, wanted: &[Provider]) -> Result<Provider, InferError> {
    environment(library)?;
    let available = |p: Provider| match p {
        Provider::TensorRt => ep::TensorRT::is_available().unwrap_or(false),
        Provider::Cuda => ep::CUDA::is_available().unwrap_or(false),
        Provider::Cpu => true,
    };
    Ok(wanted
        .iter()
        .copied()
        .find(|&p| available(p))
        .unwrap_or(Provider::Cpu))
}

/// Registers the wanted providers the library was built with, in order, and
/// returns the one that will run most of the graph (CPU when none else).
pub fn register_providers(
    builder: &mut SessionBuilder,
    wanted: &[Provider],
    engine_cache: Option<&Path>,
) -> Result<Provider, InferError> {
    let mut primary = None;
    for &provider in wanted {
        let registered = match provider {
            Provider::TensorRt => try_register(builder, || {
                let mut trt = ep::TensorRT::default();
                if let Some(dir) = engine_cache {
                    trt = trt
                        .with_engine_cache(true)
                        .with_engine_cache_path(dir.display());
                }
                trt
            }),
            Provider::Cuda => try_register(builder, ep::CUDA::default),
            Provider::Cpu => true,
        };
        if registered {
            primary.get_or_insert(provider);
        }
    }
    Ok(primary.unwrap_or(Provider::Cpu))
}

fn try_register<E: ExecutionProvider>(
    builder: &mut SessionBuilder,
    make: impl FnOnce() -> E,
) -> bool {
    if !E::is_available().unwrap_or(false) {
        return false;
    }
    match make().register(builder) {
        Ok(()) => true,
        Err(e) => {
            tracing::warn!(provider = E::NAME, error = %e, "Execution provider failed to register.");
            false
        }
    }
}
