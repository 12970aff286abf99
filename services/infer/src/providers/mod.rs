//! Execution providers: which ones a session asks for, with which options,
//! and which one really took the model.
//!
//! The CUDA and TensorRT options are plain key/value lists (ONNX Runtime's
//! own option names), made in `options` ([`cuda_options`],
//! [`tensorrt_options`]).

mod options;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ort::ep::{self, ArbitrarilyConfigurableExecutionProvider, ExecutionProvider};
use ort::session::builder::SessionBuilder;

pub use options::{
    ConvSearch, CudaOptions, ShapeProfile, TensorRtOptions, cuda_options, tensorrt_options,
};

/// Execution providers in the order a session tries them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Provider {
    /// NVIDIA TensorRT: builds an engine per model and input shape (cached
    /// on disk), the fastest on a GPU.
    TensorRt,
    /// ONNX Runtime's CUDA kernels with cuDNN convolutions.
    Cuda,
    /// ONNX Runtime's CPU kernels: always there, the last resort.
    Cpu,
}

impl Provider {
    /// The provider's short name, as in logs, metrics and `--providers`.
    pub fn name(self) -> &'static str {
        match self {
            Self::TensorRt => "TensorRT",
            Self::Cuda => "CUDA",
            Self::Cpu => "CPU",
        }
    }

    /// ONNX Runtime's name for the provider (as in profiles and logs).
    pub fn ort_name(self) -> &'static str {
        match self {
            Self::TensorRt => ep::TensorRT::NAME,
            Self::Cuda => ep::CUDA::NAME,
            Self::Cpu => "CPUExecutionProvider",
        }
    }

    /// The default preference: the fastest provider the library has wins.
    pub fn auto() -> Vec<Provider> {
        vec![Self::TensorRt, Self::Cuda, Self::Cpu]
    }

    /// A GPU provider (batches padded to one shape, FP16 preferred).
    pub fn is_gpu(self) -> bool {
        !matches!(self, Self::Cpu)
    }

    /// Whether the loaded ONNX Runtime library was built with it.
    pub fn is_available(self) -> bool {
        match self {
            Self::TensorRt => ep::TensorRT::is_available().unwrap_or(false),
            Self::Cuda => ep::CUDA::is_available().unwrap_or(false),
            Self::Cpu => true,
        }
    }
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
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

/// Everything a session needs to register its providers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderSettings {
    /// The providers to try, in order; the first that registers runs the
    /// model.
    pub wanted: Vec<Provider>,
    /// The GPU the CUDA and TensorRT providers run on.
    pub device: u32,
    /// Settings for the CUDA provider.
    pub cuda: CudaOptions,
    /// Settings for the TensorRT provider.
    pub tensorrt: TensorRtOptions,
    /// The most bytes ONNX Runtime may hold on the device
    /// (`--memory-limit-mb`; see `crate::memory`): sessions allocate from
    /// the device's capped arena, the CUDA provider's own arena and
    /// TensorRT's workspace are capped too.
    pub memory_limit: Option<u64>,
}

impl ProviderSettings {
    /// `wanted` on GPU 0 with default provider options and no memory
    /// limit.
    pub fn new(wanted: Vec<Provider>) -> Self {
        Self {
            wanted,
            device: 0,
            cuda: CudaOptions::default(),
            tensorrt: TensorRtOptions::default(),
            memory_limit: None,
        }
    }
}

/// Which provider a model runs on, and why the ones before it did not.
#[derive(Debug, Clone)]
pub struct ProviderChoice {
    /// The provider that registered and runs the model.
    pub provider: Provider,
    /// Wanted providers that were passed over, with the reason.
    pub skipped: Vec<(Provider, SkipReason)>,
}

/// A provider's failure: ONNX Runtime's error in practice, shared because
/// the reason outlives the attempt (the engine reports it, the metrics
/// count it).
pub type Failure = Arc<dyn std::error::Error + Send + Sync>;

/// Why a wanted provider was passed over.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SkipReason {
    /// The loaded library was built without it.
    #[error("this ONNX Runtime library was built without it")]
    NotBuilt,
    /// It is there and refused to register.
    #[error("{0}")]
    Register(#[source] Failure),
    /// It registered, and building the session with it failed (TensorRT
    /// without its libraries, a GPU out of memory).
    #[error("the session failed to build: {0}")]
    Build(#[source] Failure),
}

impl SkipReason {
    /// Whether the reason is only that the library lacks the provider.
    pub fn is_not_built(&self) -> bool {
        matches!(self, Self::NotBuilt)
    }
}

/// Whether a skipped provider's reason is only that the library lacks it.
pub fn is_not_built(why: &SkipReason) -> bool {
    why.is_not_built()
}

impl fmt::Display for ProviderChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.provider)?;
        // Providers the library lacks are one short note; a provider that
        // is there and failed gets its reason.
        let missing: Vec<&str> = self
            .skipped
            .iter()
            .filter(|(_, why)| why.is_not_built())
            .map(|(p, _)| p.name())
            .collect();
        if !missing.is_empty() {
            write!(f, " (no {} in this ONNX Runtime)", missing.join(" or "))?;
        }
        for (p, why) in self.skipped.iter().filter(|(_, why)| !why.is_not_built()) {
            write!(f, " ({p} not used: {why})")?;
        }
        Ok(())
    }
}

/// Registers the wanted providers except `exclude`, in order, and returns
/// the first that registered (CPU when none else) with the reasons the
/// others did not.
pub fn register(
    builder: &mut SessionBuilder,
    settings: &ProviderSettings,
    profile: Option<&ShapeProfile>,
    exclude: &[Provider],
) -> ProviderChoice {
    let mut chosen = None;
    let mut skipped = Vec::new();
    for &provider in &settings.wanted {
        if exclude.contains(&provider) {
            continue;
        }
        let result = match provider {
            Provider::TensorRt => try_register(
                builder,
                ep::TensorRT::default(),
                &tensorrt_options(
                    settings.device,
                    &settings.tensorrt,
                    profile,
                    settings.cuda.cuda_graph,
                    settings.memory_limit,
                ),
            ),
            Provider::Cuda => try_register(
                builder,
                ep::CUDA::default(),
                &cuda_options(settings.device, &settings.cuda, settings.memory_limit),
            ),
            Provider::Cpu => Ok(()),
        };
        match result {
            Ok(()) => {
                chosen.get_or_insert(provider);
            }
            Err(why) if chosen.is_none() => skipped.push((provider, why)),
            Err(why) => {
                tracing::debug!(provider = provider.name(), %why, "Fallback provider not registered.");
            }
        }
    }
    ProviderChoice {
        provider: chosen.unwrap_or(Provider::Cpu),
        skipped,
    }
}

fn try_register<E: ExecutionProvider + ArbitrarilyConfigurableExecutionProvider>(
    builder: &mut SessionBuilder,
    mut ep: E,
    options: &[(&'static str, String)],
) -> Result<(), SkipReason> {
    if !E::is_available().unwrap_or(false) {
        return Err(SkipReason::NotBuilt);
    }
    for (key, value) in options {
        ep = ep.with_arbitrary_config(key, value);
    }
    ep.register(builder).map_err(|e| {
        tracing::warn!(provider = E::NAME, error = %e, "Execution provider failed to register.");
        SkipReason::Register(Arc::new(e))
    })
}

/// The TensorRT cache directory could not be made.
#[derive(Debug, thiserror::Error)]
#[error("{}: {source}", dir.display())]
pub struct CacheDirError {
    /// The directory that could not be created.
    pub dir: PathBuf,
    /// Why (permissions, a file in the way, a full disk).
    #[source]
    pub source: std::io::Error,
}

/// The TensorRT cache directory, created when missing.
pub fn prepare_cache_dir(dir: &Path) -> Result<(), CacheDirError> {
    std::fs::create_dir_all(dir).map_err(|source| CacheDirError {
        dir: dir.to_owned(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn providers_parse_and_print() {
        assert_eq!("TRT".parse::<Provider>(), Ok(Provider::TensorRt));
        assert_eq!("cuda".parse::<Provider>(), Ok(Provider::Cuda));
        assert!("rocm".parse::<Provider>().is_err());
        assert_eq!("heuristic".parse::<ConvSearch>(), Ok(ConvSearch::Heuristic));
        let choice = ProviderChoice {
            provider: Provider::Cuda,
            skipped: vec![(
                Provider::TensorRt,
                SkipReason::Register(Arc::from(Box::from("libnvinfer.so.10 not found"))),
            )],
        };
        assert_eq!(
            choice.to_string(),
            "CUDA (TensorRT not used: libnvinfer.so.10 not found)"
        );
        assert!(Provider::Cuda.is_gpu() && !Provider::Cpu.is_gpu());
        let cpu_only = ProviderChoice {
            provider: Provider::Cpu,
            skipped: vec![
                (Provider::TensorRt, SkipReason::NotBuilt),
                (Provider::Cuda, SkipReason::NotBuilt),
            ],
        };
        assert_eq!(
            cpu_only.to_string(),
            "CPU (no TensorRT or CUDA in this ONNX Runtime)"
        );
    }
}
