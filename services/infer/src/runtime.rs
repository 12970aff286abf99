//! ONNX Runtime, loaded at run time (`ort` with `load-dynamic`), and the
//! execution providers a session asks for.
//!
//! The shared library comes from the `onnxruntime` wheel (CPU) or
//! `onnxruntime-gpu` (CUDA + TensorRT) in the project's virtualenv, or from
//! wherever `ORT_DYLIB_PATH` points. One environment per process.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use ort::environment::Environment;

use crate::error::{InferError, RuntimeLoadError};
pub use crate::providers::Provider;

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

/// The variable ONNX Runtime reads when its environment is created: "1"
/// keeps its telemetry (Microsoft's 1DS client in the PyPI wheels) from
/// starting at all. Without it the library writes a device id and an
/// event database under `~/.cache/Microsoft/DeveloperTools/.onnxruntime`
/// and tries to reach Microsoft's collector; disabling the events through
/// the API ([`ort::environment::EnvironmentBuilder::with_telemetry`], also
/// done) comes too late to stop either.
pub const TELEMETRY_OFF_VAR: &str = "ORT_DISABLE_TELEMETRY";

/// Turns ONNX Runtime's telemetry off for this process, before the library
/// is loaded. Binaries call it first thing in `main`.
///
/// # Safety
///
/// Sets an environment variable: no other thread may be running, since
/// another thread reading the environment at the same time is undefined
/// behaviour on Linux.
pub unsafe fn disable_telemetry() {
    // SAFETY: the caller guarantees that this is the only thread.
    unsafe { std::env::set_var(TELEMETRY_OFF_VAR, "1") };
}

/// The process-wide ONNX Runtime environment, loading the library on first
/// use. Later calls return the same environment whatever path they pass.
pub fn environment(library: &Path) -> Result<&'static Environment, InferError> {
    static ENV: OnceLock<Result<Environment, Arc<RuntimeLoadError>>> = OnceLock::new();
    let env = ENV.get_or_init(|| {
        if !library.is_file() {
            return Err(Arc::new(RuntimeLoadError::Missing(library.to_owned())));
        }
        let builder = ort::init_from(library).map_err(|e| Arc::new(e.into()))?;
        builder
            .with_name("scorevision")
            .with_telemetry(false)
            .build()
            .map_err(|e| Arc::new(e.into()))
    });
    env.as_ref().map_err(|source| InferError::RuntimeLoad {
        path: library.to_owned(),
        source: source.clone(),
    })
}

/// The provider that will run most of the graph: the first wanted one the
/// library was built with (CPU when none else). Sessions may still fall back
/// to the CPU if registering it fails.
pub fn primary_provider(library: &Path, wanted: &[Provider]) -> Result<Provider, InferError> {
    environment(library)?;
    Ok(wanted
        .iter()
        .copied()
        .find(|&p| p.is_available())
        .unwrap_or(Provider::Cpu))
}
