//! How the infer stage runs the models: one set of settings read from
//! flags, `SV_` variables and the `[infer]` table of a TOML file, in that
//! order of precedence. Anything left unset is the device profile's choice
//! (see `sv_infer::InferConfig::resolve_for`), so every field is optional.
//!
//! - [`print`]: the settings back as flags and as an `[infer]` table.
//! - [`interval`]: `--infer-interval`, checked when applied.

mod interval;
mod print;

use std::path::{Path, PathBuf};
use std::str::FromStr;

use clap::Args;
use serde::{Deserialize, Deserializer};
use sv_infer::{ConvSearch, InferConfig, Precision, Provider, Switch};

pub use interval::Interval;

use crate::pipeline::ConfigError;

#[derive(Debug, Clone, Default, PartialEq, Args, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tuning {
    /// Execution providers in order of preference (tensorrt, cuda, cpu) [default: tensorrt,cuda,cpu].
    #[arg(long, env = "SV_PROVIDERS", value_delimiter = ',')]
    #[serde(default, deserialize_with = "list")]
    pub providers: Option<Vec<Provider>>,
    /// GPUs to run on, e.g. 0,1: each gets its own lanes [default: 0].
    #[arg(long, env = "SV_DEVICES", value_delimiter = ',')]
    pub devices: Option<Vec<u32>>,
    /// fp32, fp16 (needs --player-fp16 and --pitch-fp16) or auto: FP16 on a GPU when given.
    #[arg(long, env = "SV_PRECISION")]
    #[serde(default, deserialize_with = "parsed")]
    pub precision: Option<Precision>,
    /// Most frames per inference call [default: 1 on the CPU, the GPU profile's on a GPU].
    #[arg(long, env = "SV_BATCH_SIZE")]
    pub batch_size: Option<usize>,
    /// Pad short batches to the batch size (one input shape per model): auto (GPUs), on, off.
    #[arg(long, env = "SV_PAD_BATCHES")]
    #[serde(default, deserialize_with = "parsed")]
    pub pad_batches: Option<Switch>,
    /// With padded batches, milliseconds a batch waits to fill after its first frame [default: 40].
    #[arg(long, env = "SV_BATCH_WAIT_MS")]
    pub batch_wait_ms: Option<u64>,
    /// ONNX Runtime lanes per device: sessions running batches at once [default: automatic].
    #[arg(long, env = "SV_LANES")]
    pub lanes: Option<usize>,
    /// Letterboxing threads [default: automatic].
    #[arg(long, env = "SV_PREP_THREADS")]
    pub prep_threads: Option<usize>,
    /// ONNX Runtime intra-op threads per model (0: automatic).
    #[arg(long, env = "SV_INTRA_THREADS")]
    pub intra_threads: Option<usize>,
    /// Give the models the letterboxed bytes and divide by 255 in the graph (true/false) [default: false].
    #[arg(long, env = "SV_BYTE_INPUT")]
    pub byte_input: Option<bool>,
    /// With padded batches, sessions fixed to each model's one input shape (true/false) [default: false].
    #[arg(long, env = "SV_STATIC_SHAPES")]
    pub static_shapes: Option<bool>,
    /// With static shapes, inputs and outputs in page-locked memory bound to the sessions (true/false) [default: false].
    #[arg(long, env = "SV_IO_BINDING")]
    pub io_binding: Option<bool>,
    /// Most memory ONNX Runtime may take on each device, MiB (GPU: the CUDA arena and TensorRT's workspace; CPU: the CPU arena); each model's batch settles under it at warm-up [default: the device's].
    #[arg(long, env = "SV_MEMORY_LIMIT_MB")]
    pub memory_limit_mb: Option<u64>,
    /// cuDNN convolution algorithm search: exhaustive, heuristic or default [default: exhaustive].
    #[arg(long, env = "SV_CUDNN_CONV_SEARCH")]
    #[serde(default, deserialize_with = "parsed")]
    pub cudnn_conv_search: Option<ConvSearch>,
    /// NHWC convolutions on the CUDA provider (true/false).
    #[arg(long, env = "SV_CUDA_NHWC")]
    pub cuda_nhwc: Option<bool>,
    /// TF32 maths for FP32 models on the CUDA provider (changes FP32 outputs slightly).
    #[arg(long, env = "SV_CUDA_TF32")]
    pub cuda_tf32: Option<bool>,
    /// Separate copy streams on the CUDA provider instead of the compute stream.
    #[arg(long, env = "SV_CUDA_COPY_STREAMS")]
    pub cuda_copy_streams: Option<bool>,
    /// With I/O binding on a GPU, replay each session's kernels as a CUDA graph (true/false) [default: false].
    #[arg(long, env = "SV_CUDA_GRAPH")]
    pub cuda_graph: Option<bool>,
    /// Run the models on one frame in N (frames 0, N, 2N, ..., the last, both sides of a scene cut); track fills the frames between [default: 1, every frame].
    #[arg(long, env = "SV_INFER_INTERVAL", value_name = "N")]
    #[serde(default, deserialize_with = "interval")]
    pub infer_interval: Option<Interval>,
    /// Let TensorRT use FP16 kernels for FP32 models [default: true].
    #[arg(long, env = "SV_TRT_FP16")]
    pub trt_fp16: Option<bool>,
    /// TensorRT builder optimisation level, 0-5 [default: TensorRT's, 3].
    #[arg(long, env = "SV_TRT_OPT_LEVEL")]
    pub trt_opt_level: Option<u8>,
    /// TensorRT workspace per layer, MiB [default: TensorRT's].
    #[arg(long, env = "SV_TRT_WORKSPACE_MB")]
    pub trt_workspace_mb: Option<u64>,
    /// Where TensorRT keeps built engines and its timing cache.
    #[arg(long, env = "SV_ENGINE_CACHE")]
    pub engine_cache: Option<PathBuf>,
}

impl Tuning {
    /// These settings, with `fallback`'s where these are unset.
    pub fn or(self, fallback: Tuning) -> Tuning {
        Tuning {
            providers: self.providers.or(fallback.providers),
            devices: self.devices.or(fallback.devices),
            precision: self.precision.or(fallback.precision),
            batch_size: self.batch_size.or(fallback.batch_size),
            pad_batches: self.pad_batches.or(fallback.pad_batches),
            batch_wait_ms: self.batch_wait_ms.or(fallback.batch_wait_ms),
            lanes: self.lanes.or(fallback.lanes),
            prep_threads: self.prep_threads.or(fallback.prep_threads),
            intra_threads: self.intra_threads.or(fallback.intra_threads),
            byte_input: self.byte_input.or(fallback.byte_input),
            static_shapes: self.static_shapes.or(fallback.static_shapes),
            io_binding: self.io_binding.or(fallback.io_binding),
            memory_limit_mb: self.memory_limit_mb.or(fallback.memory_limit_mb),
            cudnn_conv_search: self.cudnn_conv_search.or(fallback.cudnn_conv_search),
            cuda_nhwc: self.cuda_nhwc.or(fallback.cuda_nhwc),
            cuda_tf32: self.cuda_tf32.or(fallback.cuda_tf32),
            cuda_copy_streams: self.cuda_copy_streams.or(fallback.cuda_copy_streams),
            cuda_graph: self.cuda_graph.or(fallback.cuda_graph),
            infer_interval: self.infer_interval.or(fallback.infer_interval),
            trt_fp16: self.trt_fp16.or(fallback.trt_fp16),
            trt_opt_level: self.trt_opt_level.or(fallback.trt_opt_level),
            trt_workspace_mb: self.trt_workspace_mb.or(fallback.trt_workspace_mb),
            engine_cache: self.engine_cache.or(fallback.engine_cache),
        }
    }

    /// Writes the settings that are set into `config`.
    pub fn apply(&self, config: &mut InferConfig) -> Result<(), ConfigError> {
        if let Some(p) = &self.providers {
            if p.is_empty() {
                return Err(ConfigError("--providers lists no provider".into()));
            }
            config.providers = p.clone();
        }
        if let Some(d) = &self.devices {
            let mut seen = d.clone();
            seen.sort_unstable();
            seen.dedup();
            if seen.len() != d.len() {
                return Err(ConfigError(format!("--devices lists a GPU twice: {d:?}")));
            }
            config.devices = d.clone();
        }
        let set = |v: Option<usize>, field: &mut usize| {
            if let Some(v) = v {
                *field = v;
            }
        };
        set(self.batch_size, &mut config.batch_size);
        set(self.lanes, &mut config.lanes);
        set(self.prep_threads, &mut config.worker.prep_threads);
        set(self.intra_threads, &mut config.intra_threads);
        if let Some(p) = self.precision {
            config.precision = p;
        }
        if let Some(b) = self.byte_input {
            config.byte_input = b;
        }
        if let Some(b) = self.static_shapes {
            config.static_shapes = b;
        }
        if let Some(b) = self.io_binding {
            config.io_binding = b;
        }
        if let Some(mb) = self.memory_limit_mb {
            if mb == 0 {
                return Err(ConfigError(
                    "--memory-limit-mb 0: give the MiB ONNX Runtime may take, or leave it unset for no limit".into(),
                ));
            }
            config.memory_limit_mb = Some(mb);
        }
        if let Some(p) = self.pad_batches {
            config.pad_batches = p;
        }
        if let Some(interval) = &self.infer_interval {
            config.infer_interval = interval.frames()?;
        }
        if let Some(ms) = self.batch_wait_ms {
            config.batch_wait = std::time::Duration::from_millis(ms);
        }
        let cuda = &mut config.cuda;
        if let Some(s) = self.cudnn_conv_search {
            cuda.conv_search = s;
        }
        if let Some(b) = self.cuda_nhwc {
            cuda.prefer_nhwc = b;
        }
        if let Some(b) = self.cuda_tf32 {
            cuda.tf32 = b;
        }
        if let Some(b) = self.cuda_copy_streams {
            cuda.copy_in_default_stream = !b;
        }
        if let Some(b) = self.cuda_graph {
            cuda.cuda_graph = b;
        }
        let trt = &mut config.tensorrt;
        trt.fp16 = self.trt_fp16.unwrap_or(true);
        if let Some(level) = self.trt_opt_level {
            if level > 5 {
                return Err(ConfigError(format!(
                    "--trt-opt-level {level}: TensorRT's levels are 0 to 5"
                )));
            }
            trt.builder_optimization_level = Some(level);
        }
        trt.workspace_bytes = self.trt_workspace_mb.map(|mb| mb << 20);
        trt.cache_dir = self.engine_cache.clone();
        Ok(())
    }

    /// The `[infer]` table of a TOML file (the whole file is checked: other
    /// tables are the gateway's).
    pub fn from_file(path: &Path) -> Result<Tuning, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError(format!("reading {}: {e}", path.display())))?;
        Self::from_toml(&text).map_err(|e| ConfigError(format!("{}: {e}", path.display())))
    }

    pub fn from_toml(text: &str) -> Result<Tuning, String> {
        let mut table: toml::Table = toml::from_str(text).map_err(|e| e.to_string())?;
        match table.remove("infer") {
            Some(infer) => infer.try_into().map_err(|e: toml::de::Error| e.to_string()),
            None => Ok(Tuning::default()),
        }
    }
}

fn parsed<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: FromStr<Err = String>,
{
    Option::<String>::deserialize(d)?
        .map(|s| s.parse().map_err(serde::de::Error::custom))
        .transpose()
}

/// `infer_interval = 2` (or `"2"`): kept as text until applied.
fn interval<'de, D>(d: D) -> Result<Option<Interval>, D::Error>
where
    D: Deserializer<'de>,
{
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Given {
        Number(i64),
        Text(String),
    }
    Ok(Option::<Given>::deserialize(d)?.map(|given| match given {
        Given::Number(n) => Interval(n.to_string()),
        Given::Text(t) => Interval(t),
    }))
}

fn list<'de, D, T>(d: D) -> Result<Option<Vec<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: FromStr<Err = String>,
{
    Option::<Vec<String>>::deserialize(d)?
        .map(|v| {
            v.iter()
                .map(|s| s.parse().map_err(serde::de::Error::custom))
                .collect()
        })
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_infer_table_reads_every_setting() {
        let text = r#"
            [infer]
            providers = ["cuda", "cpu"]
            devices = [0, 1]
            precision = "fp16"
            batch_size = 8
            pad_batches = "on"
            lanes = 2
            prep_threads = 6
            byte_input = true
            static_shapes = true
            io_binding = true
            memory_limit_mb = 16384
            cudnn_conv_search = "heuristic"
            cuda_nhwc = true
            cuda_graph = true
            cuda_tf32 = false
            infer_interval = 2
            trt_opt_level = 4
            engine_cache = "/var/cache/trt"

            [auth]
            anything = "the gateway's"
        "#;
        let t = Tuning::from_toml(text).unwrap();
        assert_eq!(t.providers, Some(vec![Provider::Cuda, Provider::Cpu]));
        assert_eq!(t.precision, Some(Precision::Fp16));
        let mut config = InferConfig::new("p.onnx", "q.onnx");
        t.apply(&mut config).unwrap();
        assert_eq!(config.devices, vec![0, 1]);
        assert_eq!((config.batch_size, config.lanes), (8, 2));
        assert_eq!(config.worker.prep_threads, 6);
        assert!(config.byte_input && config.static_shapes && config.io_binding);
        assert_eq!(config.memory_limit_mb, Some(16384));
        assert!(config.cuda.cuda_graph);
        assert_eq!(config.infer_interval, 2);
        assert_eq!(config.pad_batches, Switch::On);
        assert_eq!(config.cuda.conv_search, ConvSearch::Heuristic);
        assert!(config.cuda.prefer_nhwc && !config.cuda.tf32);
        assert_eq!(config.tensorrt.builder_optimization_level, Some(4));
        assert!(config.tensorrt.fp16, "TensorRT FP16 unless told");
        assert_eq!(
            config.tensorrt.cache_dir.as_deref(),
            Some(Path::new("/var/cache/trt"))
        );
    }

    #[test]
    fn flags_win_over_the_file_and_unknown_keys_are_errors() {
        let file = Tuning::from_toml("[infer]\nbatch_size = 8\nlanes = 3\n").unwrap();
        let flags = Tuning {
            batch_size: Some(4),
            ..Tuning::default()
        };
        let merged = flags.or(file);
        assert_eq!((merged.batch_size, merged.lanes), (Some(4), Some(3)));
        let err = Tuning::from_toml("[infer]\nbatchsize = 8\n").unwrap_err();
        assert!(err.contains("batchsize"), "{err}");
        let err = Tuning::from_toml("[infer]\nprecision = \"fp8\"\n").unwrap_err();
        assert!(err.contains("fp8"), "{err}");
        assert_eq!(Tuning::from_toml("").unwrap(), Tuning::default());
    }

    #[test]
    fn settings_print_as_flags_and_toml_that_read_back() {
        let t = Tuning {
            providers: Some(vec![Provider::Cuda, Provider::Cpu]),
            devices: Some(vec![0, 1]),
            precision: Some(Precision::Fp16),
            batch_size: Some(8),
            pad_batches: Some(Switch::On),
            lanes: Some(2),
            byte_input: Some(true),
            cudnn_conv_search: Some(ConvSearch::Heuristic),
            cuda_nhwc: Some(true),
            io_binding: Some(true),
            memory_limit_mb: Some(16384),
            cuda_graph: Some(true),
            infer_interval: Some(Interval::from(3)),
            engine_cache: Some("/var/cache/trt".into()),
            ..Tuning::default()
        };
        assert_eq!(
            t.to_flags().join(" "),
            "--providers cuda,cpu --devices 0,1 --precision fp16 --batch-size 8 --pad-batches on \
             --lanes 2 --byte-input true --io-binding true --memory-limit-mb 16384 --cudnn-conv-search heuristic \
             --cuda-nhwc true --cuda-graph true --infer-interval 3 --engine-cache /var/cache/trt"
        );
        assert_eq!(Tuning::from_toml(&t.to_toml()).unwrap(), t);
        assert_eq!(Tuning::default().to_toml(), "[infer]\n");
    }

    #[test]
    fn bad_values_are_config_errors() {
        let mut config = InferConfig::new("p.onnx", "q.onnx");
        let twice = Tuning {
            devices: Some(vec![0, 0]),
            ..Tuning::default()
        };
        assert!(twice.apply(&mut config).is_err());
        let level = Tuning {
            trt_opt_level: Some(7),
            ..Tuning::default()
        };
        assert!(level.apply(&mut config).is_err());
        let no_memory = Tuning {
            memory_limit_mb: Some(0),
            ..Tuning::default()
        };
        let err = no_memory.apply(&mut config).unwrap_err();
        assert!(err.0.contains("--memory-limit-mb 0"), "{err}");
        // An interval of 0 or not a number, from the flag or the file.
        for bad in ["0", "two", "-1", "1.5", ""] {
            let interval = Tuning {
                infer_interval: Some(bad.parse().unwrap()),
                ..Tuning::default()
            };
            let err = interval.apply(&mut config).unwrap_err();
            assert!(err.0.contains("--infer-interval"), "{err}");
        }
        for bad in [
            "infer_interval = 0",
            "infer_interval = \"x\"",
            "infer_interval = -2",
        ] {
            let file = Tuning::from_toml(&format!("[infer]\n{bad}\n")).unwrap();
            assert!(file.apply(&mut config).is_err(), "{bad}");
        }
        let two = Tuning::from_toml("[infer]\ninfer_interval = \"2\"\n").unwrap();
        two.apply(&mut config).unwrap();
        assert_eq!(config.infer_interval, 2);
    }
}
