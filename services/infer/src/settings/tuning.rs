//! [`Tuning`]: every inference setting, each defined once. An entry gives
//! the help line (its doc), the flag and `SV_` variable (`#[arg]`; the flag
//! is the field's name with dashes), the `[infer]` key (the field's name),
//! how a value given is written into an [`InferConfig`] (`apply`, which may
//! refuse it) and how it prints back (`show`). Whatever is left unset keeps
//! [`InferConfig::new`]'s value, for most the device profile's choice.

use std::path::PathBuf;
use std::time::Duration;

use super::define::define_settings;
use super::error::SettingError;
use super::parse::{interval, list, parsed};
use super::value::{Value, conv_search_name};
use super::values::{Interval, Precision, Switch};
use crate::config::InferConfig;
use crate::providers::{ConvSearch, Provider};

define_settings! {
    /// Execution providers in order of preference (tensorrt, cuda, cpu) [default: tensorrt,cuda,cpu].
    #[arg(long, env = "SV_PROVIDERS", value_delimiter = ',')]
    #[serde(default, deserialize_with = "list")]
    providers: Vec<Provider>,
        apply |config, value| {
            if value.is_empty() {
                return Err(SettingError::Invalid("--providers lists no provider".into()));
            }
            config.providers = value.clone();
        },
        show |value| Value::List(value.iter().map(|p| p.name().to_ascii_lowercase()).collect());

    /// GPUs to run on, e.g. 0,1: each gets its own lanes [default: 0].
    #[arg(long, env = "SV_DEVICES", value_delimiter = ',')]
    devices: Vec<u32>,
        apply |config, value| {
            let mut seen = value.clone();
            seen.sort_unstable();
            seen.dedup();
            if seen.len() != value.len() {
                return Err(SettingError::Invalid(format!("--devices lists a GPU twice: {value:?}")));
            }
            config.devices = value.clone();
        },
        show |value| Value::Numbers(value.iter().map(|d| u64::from(*d)).collect());

    /// fp32, fp16 (needs --player-fp16 and --pitch-fp16) or auto: FP16 on a GPU when given.
    #[arg(long, env = "SV_PRECISION")]
    #[serde(default, deserialize_with = "parsed")]
    precision: Precision,
        apply |config, value| { config.precision = *value; },
        show |value| Value::Text(value.name().into());

    /// Most frames per inference call [default: 1 on the CPU, the GPU profile's on a GPU].
    #[arg(long, env = "SV_BATCH_SIZE")]
    batch_size: usize,
        apply |config, value| { config.batch_size = *value; },
        show |value| Value::Number(*value as u64);

    /// Pad short batches to the batch size (one input shape per model): auto (GPUs), on, off.
    #[arg(long, env = "SV_PAD_BATCHES")]
    #[serde(default, deserialize_with = "parsed")]
    pad_batches: Switch,
        apply |config, value| { config.pad_batches = *value; },
        show |value| Value::Text(value.name().into());

    /// With padded batches, milliseconds a batch waits to fill after its first frame [default: 40].
    #[arg(long, env = "SV_BATCH_WAIT_MS")]
    batch_wait_ms: u64,
        apply |config, value| { config.batch_wait = Duration::from_millis(*value); },
        show |value| Value::Number(*value);

    /// ONNX Runtime lanes per device: sessions running batches at once [default: automatic].
    #[arg(long, env = "SV_LANES")]
    lanes: usize,
        apply |config, value| { config.lanes = *value; },
        show |value| Value::Number(*value as u64);

    /// Letterboxing threads [default: automatic].
    #[arg(long, env = "SV_PREP_THREADS")]
    prep_threads: usize,
        apply |config, value| { config.worker.prep_threads = *value; },
        show |value| Value::Number(*value as u64);

    /// ONNX Runtime intra-op threads per model (0: automatic).
    #[arg(long, env = "SV_INTRA_THREADS")]
    intra_threads: usize,
        apply |config, value| { config.intra_threads = *value; },
        show |value| Value::Number(*value as u64);

    /// Give the models the letterboxed bytes and divide by 255 in the graph (true/false) [default: false].
    #[arg(long, env = "SV_BYTE_INPUT")]
    byte_input: bool,
        apply |config, value| { config.byte_input = *value; },
        show |value| Value::Bool(*value);

    /// With padded batches, sessions fixed to each model's one input shape (true/false) [default: false].
    #[arg(long, env = "SV_STATIC_SHAPES")]
    static_shapes: bool,
        apply |config, value| { config.static_shapes = *value; },
        show |value| Value::Bool(*value);

    /// With static shapes, inputs and outputs in page-locked memory bound to the sessions (true/false) [default: false].
    #[arg(long, env = "SV_IO_BINDING")]
    io_binding: bool,
        apply |config, value| { config.io_binding = *value; },
        show |value| Value::Bool(*value);

    /// Most memory ONNX Runtime may take on each device, MiB (GPU: the CUDA arena and TensorRT's workspace; CPU: the CPU arena); each model's batch settles under it at warm-up [default: the device's].
    #[arg(long, env = "SV_MEMORY_LIMIT_MB")]
    memory_limit_mb: u64,
        apply |config, value| {
            if *value == 0 {
                return Err(SettingError::Invalid(
                    "--memory-limit-mb 0: give the MiB ONNX Runtime may take, or leave it unset for no limit".into(),
                ));
            }
            config.memory_limit_mb = Some(*value);
        },
        show |value| Value::Number(*value);

    /// cuDNN convolution algorithm search: exhaustive, heuristic or default [default: exhaustive].
    #[arg(long, env = "SV_CUDNN_CONV_SEARCH")]
    #[serde(default, deserialize_with = "parsed")]
    cudnn_conv_search: ConvSearch,
        apply |config, value| { config.cuda.conv_search = *value; },
        show |value| Value::Text(conv_search_name(*value).into());

    /// NHWC convolutions on the CUDA provider (true/false).
    #[arg(long, env = "SV_CUDA_NHWC")]
    cuda_nhwc: bool,
        apply |config, value| { config.cuda.prefer_nhwc = *value; },
        show |value| Value::Bool(*value);

    /// TF32 maths for FP32 models on the CUDA provider (changes FP32 outputs slightly).
    #[arg(long, env = "SV_CUDA_TF32")]
    cuda_tf32: bool,
        apply |config, value| { config.cuda.tf32 = *value; },
        show |value| Value::Bool(*value);

    /// Separate copy streams on the CUDA provider instead of the compute stream.
    #[arg(long, env = "SV_CUDA_COPY_STREAMS")]
    cuda_copy_streams: bool,
        apply |config, value| { config.cuda.copy_in_default_stream = !*value; },
        show |value| Value::Bool(*value);

    /// With I/O binding on a GPU, replay each session's kernels as a CUDA graph (true/false) [default: false].
    #[arg(long, env = "SV_CUDA_GRAPH")]
    cuda_graph: bool,
        apply |config, value| { config.cuda.cuda_graph = *value; },
        show |value| Value::Bool(*value);

    /// Run the models on one frame in N (frames 0, N, 2N, ..., the last, both sides of a scene cut); track fills the frames between [default: 1, every frame].
    #[arg(long, env = "SV_INFER_INTERVAL", value_name = "N")]
    #[serde(default, deserialize_with = "interval")]
    infer_interval: Interval,
        apply |config, value| { config.infer_interval = value.frames()?; },
        show |value| match value.frames() {
            Ok(n) => Value::Number(u64::from(n)),
            Err(_) => Value::Text(value.as_given().into()),
        };

    /// Let TensorRT use FP16 kernels for FP32 models [default: true].
    #[arg(long, env = "SV_TRT_FP16")]
    trt_fp16: bool,
        apply |config, value| { config.tensorrt.fp16 = *value; },
        show |value| Value::Bool(*value);

    /// TensorRT builder optimisation level, 0-5 [default: TensorRT's, 3].
    #[arg(long, env = "SV_TRT_OPT_LEVEL")]
    trt_opt_level: u8,
        apply |config, value| {
            if *value > 5 {
                return Err(SettingError::Invalid(format!(
                    "--trt-opt-level {value}: TensorRT's levels are 0 to 5"
                )));
            }
            config.tensorrt.builder_optimization_level = Some(*value);
        },
        show |value| Value::Number(u64::from(*value));

    /// TensorRT workspace per layer, MiB [default: TensorRT's].
    #[arg(long, env = "SV_TRT_WORKSPACE_MB")]
    trt_workspace_mb: u64,
        apply |config, value| { config.tensorrt.workspace_bytes = Some(*value << 20); },
        show |value| Value::Number(*value);

    /// Where TensorRT keeps built engines and its timing cache.
    #[arg(long, env = "SV_ENGINE_CACHE")]
    engine_cache: PathBuf,
        apply |config, value| { config.tensorrt.cache_dir = Some(value.clone()); },
        show |value| Value::Text(value.display().to_string());
}
