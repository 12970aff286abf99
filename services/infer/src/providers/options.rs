//! The CUDA and TensorRT providers' settings and the ONNX Runtime option
//! lists they map to: pure functions, so the mapping is unit-tested on
//! machines without the providers' libraries (TensorRT cannot be brought to
//! the test GPU).

use std::path::PathBuf;

/// cuDNN's convolution algorithm choice (`cudnn_conv_algo_search`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConvSearch {
    /// Benchmarks every algorithm once per input shape: the fastest kernels,
    /// paid for at the first run of each shape (hence one shape per model).
    Exhaustive,
    /// cuDNN's heuristics, no benchmarking.
    Heuristic,
    /// Implicit precomputed GEMM, always.
    Default,
}

impl ConvSearch {
    fn ort_value(self) -> &'static str {
        match self {
            Self::Exhaustive => "EXHAUSTIVE",
            Self::Heuristic => "HEURISTIC",
            Self::Default => "DEFAULT",
        }
    }
}

impl std::str::FromStr for ConvSearch {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "exhaustive" => Ok(Self::Exhaustive),
            "heuristic" => Ok(Self::Heuristic),
            "default" => Ok(Self::Default),
            other => Err(format!(
                "unknown convolution search {other:?} (exhaustive, heuristic, default)"
            )),
        }
    }
}

/// CUDA execution provider settings. Defaults come from measurements on an
/// H200 (see services/infer/README.md and `scorevision bench`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CudaOptions {
    /// How cuDNN picks each convolution's algorithm.
    pub conv_search: ConvSearch,
    /// Let cuDNN use as much workspace as the fastest algorithm wants.
    pub conv_max_workspace: bool,
    /// NHWC convolutions (tensor cores' native layout); ONNX Runtime inserts
    /// the transposes at the graph's edges.
    pub prefer_nhwc: bool,
    /// TF32 tensor-core maths for FP32 convolutions and GEMMs: 10-bit
    /// mantissas inside the products, so FP32 models no longer give
    /// bit-for-bit the CPU's outputs (FP16 models are unaffected).
    pub tf32: bool,
    /// Copies on the compute stream (ONNX Runtime's recommended setting);
    /// false gives copies their own streams.
    pub copy_in_default_stream: bool,
    /// Record each session's kernels once and replay them as a CUDA graph
    /// (one launch instead of hundreds per run). Needs one input shape and
    /// inputs and outputs at fixed device addresses (`crate::binding`), so
    /// it only takes effect with static shapes and I/O binding; TensorRT
    /// gets its own switch for it from this one.
    pub cuda_graph: bool,
}

impl CudaOptions {
    /// The defaults, as a constant so command-line defaults can show them.
    pub const DEFAULT: Self = Self {
        conv_search: ConvSearch::Exhaustive,
        conv_max_workspace: true,
        prefer_nhwc: false,
        tf32: false,
        copy_in_default_stream: true,
        cuda_graph: false,
    };
}

impl Default for CudaOptions {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// The CUDA provider's options for GPU `device`; `memory_limit`: the most
/// bytes its arena may hold (`crate::memory`).
pub fn cuda_options(
    device: u32,
    o: &CudaOptions,
    memory_limit: Option<u64>,
) -> Vec<(&'static str, String)> {
    let flag = |b: bool| if b { "1" } else { "0" }.to_string();
    let mut options = vec![
        ("device_id", device.to_string()),
        ("cudnn_conv_algo_search", o.conv_search.ort_value().into()),
        ("cudnn_conv_use_max_workspace", flag(o.conv_max_workspace)),
        ("prefer_nhwc", flag(o.prefer_nhwc)),
        ("use_tf32", flag(o.tf32)),
    ];
    // Only when asked: newer ONNX Runtime releases may drop the key, and an
    // unknown key fails the whole provider's registration.
    if !o.copy_in_default_stream {
        options.push(("do_copy_in_default_stream", flag(false)));
    }
    if o.cuda_graph {
        options.push(("enable_cuda_graph", flag(true)));
    }
    if let Some(bytes) = memory_limit {
        options.push(("gpu_mem_limit", bytes.to_string()));
    }
    options
}

/// TensorRT execution provider settings.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TensorRtOptions {
    /// Let TensorRT pick FP16 kernels for an FP32 model.
    pub fp16: bool,
    /// Where built engines and the timing cache are kept between runs (an
    /// engine build takes minutes; a cached one loads in seconds).
    pub cache_dir: Option<PathBuf>,
    /// 0-5 (TensorRT's default 3): higher searches longer for faster engines.
    pub builder_optimization_level: Option<u8>,
    /// Most bytes of GPU memory a layer may use as scratch.
    pub workspace_bytes: Option<u64>,
}

/// The one input shape a model runs at: TensorRT builds its engine for the
/// batch dimension from 1 to `batch` at the letterboxed size, tuned for
/// full batches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShapeProfile {
    /// The model's input name, which TensorRT's profile strings key on.
    pub input: String,
    /// The largest batch the engine is built for (and tuned at).
    pub batch: usize,
    /// The letterboxed input height in pixels.
    pub height: usize,
    /// The letterboxed input width in pixels.
    pub width: usize,
}

impl ShapeProfile {
    fn shape(&self, batch: usize) -> String {
        format!("{}:{batch}x3x{}x{}", self.input, self.height, self.width)
    }
}

/// The TensorRT provider's options for GPU `device`. Under a memory limit
/// (bytes) the workspace is capped at it.
pub fn tensorrt_options(
    device: u32,
    o: &TensorRtOptions,
    profile: Option<&ShapeProfile>,
    cuda_graph: bool,
    memory_limit: Option<u64>,
) -> Vec<(&'static str, String)> {
    let flag = |b: bool| if b { "1" } else { "0" }.to_string();
    let mut options = vec![
        ("device_id", device.to_string()),
        ("trt_fp16_enable", flag(o.fp16)),
    ];
    if let Some(dir) = &o.cache_dir {
        let dir = dir.display().to_string();
        options.extend([
            ("trt_engine_cache_enable", flag(true)),
            ("trt_engine_cache_path", dir.clone()),
            ("trt_timing_cache_enable", flag(true)),
            ("trt_timing_cache_path", dir),
        ]);
    }
    if let Some(level) = o.builder_optimization_level {
        options.push(("trt_builder_optimization_level", level.min(5).to_string()));
    }
    let workspace = match (o.workspace_bytes, memory_limit) {
        (Some(asked), Some(limit)) => Some(asked.min(limit)),
        (asked, limit) => asked.or(limit),
    };
    if let Some(bytes) = workspace {
        options.push(("trt_max_workspace_size", bytes.to_string()));
    }
    if cuda_graph {
        options.push(("trt_cuda_graph_enable", flag(true)));
    }
    if let Some(p) = profile {
        options.extend([
            ("trt_profile_min_shapes", p.shape(1)),
            ("trt_profile_opt_shapes", p.shape(p.batch)),
            ("trt_profile_max_shapes", p.shape(p.batch)),
        ]);
    }
    options
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get<'a>(options: &'a [(&'static str, String)], key: &str) -> Option<&'a str> {
        options
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.as_str())
    }

    #[test]
    fn cuda_options_map_to_onnx_runtime_keys() {
        let o = CudaOptions {
            conv_search: ConvSearch::Heuristic,
            conv_max_workspace: false,
            prefer_nhwc: true,
            tf32: true,
            copy_in_default_stream: false,
            cuda_graph: true,
        };
        let options = cuda_options(3, &o, None);
        assert_eq!(get(&options, "device_id"), Some("3"));
        assert_eq!(get(&options, "cudnn_conv_algo_search"), Some("HEURISTIC"));
        assert_eq!(get(&options, "cudnn_conv_use_max_workspace"), Some("0"));
        assert_eq!(get(&options, "prefer_nhwc"), Some("1"));
        assert_eq!(get(&options, "use_tf32"), Some("1"));
        assert_eq!(get(&options, "do_copy_in_default_stream"), Some("0"));
        assert_eq!(get(&options, "enable_cuda_graph"), Some("1"));
        let defaults = cuda_options(0, &CudaOptions::default(), None);
        assert_eq!(get(&defaults, "cudnn_conv_algo_search"), Some("EXHAUSTIVE"));
        assert_eq!(get(&defaults, "do_copy_in_default_stream"), None);
        // Off is ONNX Runtime's default: the key is left out.
        assert_eq!(get(&defaults, "enable_cuda_graph"), None);
        // No limit unless given.
        assert_eq!(get(&defaults, "gpu_mem_limit"), None);
    }

    #[test]
    fn a_memory_limit_caps_the_cuda_arena_and_the_tensorrt_workspace() {
        let sixteen_gb = 16u64 << 30;
        let cuda = cuda_options(1, &CudaOptions::default(), Some(sixteen_gb));
        assert_eq!(get(&cuda, "gpu_mem_limit"), Some("17179869184"));
        assert_eq!(get(&cuda, "device_id"), Some("1"));
        // No workspace asked: the limit is TensorRT's workspace cap.
        let trt = |workspace: Option<u64>| {
            let o = TensorRtOptions {
                workspace_bytes: workspace,
                ..TensorRtOptions::default()
            };
            tensorrt_options(0, &o, None, false, Some(sixteen_gb))
        };
        assert_eq!(
            get(&trt(None), "trt_max_workspace_size"),
            Some("17179869184")
        );
        // A smaller workspace stays; a larger one comes down to the limit.
        assert_eq!(
            get(&trt(Some(4 << 30)), "trt_max_workspace_size"),
            Some("4294967296")
        );
        assert_eq!(
            get(&trt(Some(64 << 30)), "trt_max_workspace_size"),
            Some("17179869184")
        );
    }

    #[test]
    fn tensorrt_options_map_to_onnx_runtime_keys() {
        let o = TensorRtOptions {
            fp16: true,
            cache_dir: Some("/var/cache/sv-trt".into()),
            builder_optimization_level: Some(9),
            workspace_bytes: Some(4 << 30),
        };
        let profile = ShapeProfile {
            input: "images".into(),
            batch: 8,
            height: 736,
            width: 1280,
        };
        let options = tensorrt_options(1, &o, Some(&profile), true, None);
        assert_eq!(get(&options, "trt_cuda_graph_enable"), Some("1"));
        assert_eq!(get(&options, "device_id"), Some("1"));
        assert_eq!(get(&options, "trt_fp16_enable"), Some("1"));
        assert_eq!(get(&options, "trt_engine_cache_enable"), Some("1"));
        assert_eq!(
            get(&options, "trt_engine_cache_path"),
            Some("/var/cache/sv-trt")
        );
        assert_eq!(get(&options, "trt_timing_cache_enable"), Some("1"));
        assert_eq!(
            get(&options, "trt_timing_cache_path"),
            Some("/var/cache/sv-trt")
        );
        // TensorRT's levels stop at 5.
        assert_eq!(get(&options, "trt_builder_optimization_level"), Some("5"));
        assert_eq!(get(&options, "trt_max_workspace_size"), Some("4294967296"));
        assert_eq!(
            get(&options, "trt_profile_min_shapes"),
            Some("images:1x3x736x1280")
        );
        assert_eq!(
            get(&options, "trt_profile_opt_shapes"),
            Some("images:8x3x736x1280")
        );
        assert_eq!(
            get(&options, "trt_profile_max_shapes"),
            Some("images:8x3x736x1280")
        );
        // Nothing asked, nothing set beyond the device and precision.
        let bare = tensorrt_options(0, &TensorRtOptions::default(), None, false, None);
        assert_eq!(get(&bare, "trt_cuda_graph_enable"), None);
        assert_eq!(bare.len(), 2, "{bare:?}");
        assert_eq!(get(&bare, "trt_fp16_enable"), Some("0"));
    }
}
