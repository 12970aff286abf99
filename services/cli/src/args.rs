//! Command-line arguments. Every option also reads an `SV_` environment
//! variable, so Kubernetes manifests can configure without flags.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use sv_infer::Provider;
use sv_telemetry::LogFormat;

#[derive(Debug, Parser)]
#[command(
    name = "scorevision",
    version,
    about = "Score Vision (SN44) miner: decode -> infer -> track."
)]
pub struct Cli {
    /// Log lines as `plain` text or `json`.
    #[arg(long, global = true, env = "SV_LOG_FORMAT", default_value = "plain")]
    pub log_format: LogFormat,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the embedded pipeline on one clip and write the validator JSON.
    Process(ProcessArgs),
    /// Serve the validator API with the embedded pipeline.
    Serve(ServeArgs),
}

/// The models and how the embedded pipeline runs them.
#[derive(Debug, Clone, Args)]
pub struct PipelineArgs {
    /// YOLOv8 detect model exported to ONNX by ultralytics (ball, goalkeeper, player, referee).
    #[arg(long = "player", env = "SV_PLAYER_MODEL")]
    pub player_model: PathBuf,
    /// YOLOv8-pose pitch model exported to ONNX by ultralytics (32 keypoints).
    #[arg(long = "pitch", env = "SV_PITCH_MODEL")]
    pub pitch_model: PathBuf,
    /// Inference size of the player model (the reference uses 1280).
    #[arg(long, env = "SV_PLAYER_IMGSZ", default_value_t = 1280)]
    pub player_imgsz: u32,
    /// Inference size of the pitch model (the reference uses 640).
    #[arg(long, env = "SV_PITCH_IMGSZ", default_value_t = 640)]
    pub pitch_imgsz: u32,
    /// Most frames per inference call.
    #[arg(long, env = "SV_BATCH_SIZE", default_value_t = 4)]
    pub batch_size: usize,
    /// Execution providers in order of preference (tensorrt, cuda, cpu).
    #[arg(
        long,
        env = "SV_PROVIDERS",
        value_delimiter = ',',
        default_value = "tensorrt,cuda,cpu"
    )]
    pub providers: Vec<Provider>,
    /// ONNX Runtime intra-op threads per model (0: one per core).
    #[arg(long, env = "SV_INTRA_THREADS", default_value_t = 0)]
    pub intra_threads: usize,
    /// libonnxruntime.so to load (default: ORT_DYLIB_PATH, then the project's .venv).
    #[arg(long, env = "SV_ORT_LIBRARY")]
    pub ort_library: Option<PathBuf>,
    /// Where TensorRT caches built engines.
    #[arg(long, env = "SV_ENGINE_CACHE")]
    pub engine_cache: Option<PathBuf>,
    /// Use hardware video decoders when present (auto) or never (off).
    #[arg(long, env = "SV_HARDWARE_DECODE", default_value = "auto", value_parser = ["auto", "off"])]
    pub hardware_decode: String,
}

#[derive(Debug, Args)]
pub struct ProcessArgs {
    /// A clip: local path, file://, http:// or https:// URL.
    pub clip: String,
    #[command(flatten)]
    pub pipeline: PipelineArgs,
    /// Write the JSON here instead of stdout.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Challenge id to put in the JSON.
    #[arg(long, default_value = "local")]
    pub challenge_id: String,
    /// Let http(s) clips come from loopback or private addresses (testing).
    #[arg(long)]
    pub allow_private_urls: bool,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub pipeline: PipelineArgs,
    /// Gateway configuration file (TOML); see services/gateway/README.md.
    #[arg(long, env = "SV_GATEWAY_CONFIG")]
    pub config: Option<PathBuf>,
}
