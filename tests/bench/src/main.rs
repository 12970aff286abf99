//! `sv-bench`: the Rust half of `make bench` (tests/bench/bench.py drives it).
//!
//! - `sv-bench stages`: each stage on its own, on the clip's frames held in
//!   memory: decode, letterboxing, ONNX Runtime on the prepared batches (the
//!   same sessions, threads and lanes as the pipeline), postprocessing and
//!   ByteTrack. One JSON object on stdout with the seconds of every run.
//! - `sv-bench pipeline`: the embedded pipeline (decode -> infer -> track)
//!   with any settings, for choosing defaults; `scorevision process` is the
//!   figure the table reports.
//! - `sv-bench decode CLIP`: decode alone, several runs in one process.
//! - `sv-bench decoders`: the registry's video decoders as the decode stage
//!   ranks them (`--hardware-decode off|auto`).
//! - `sv-bench stream CLIP`: decoding while downloading against downloading
//!   first, from a loopback server throttled to given rates.

mod decode;
mod decoders;
mod faststart;
mod pipeline;
mod stages;
mod stream;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use sv_infer::{ConvSearch, InferConfig, Precision, Provider, Switch, Threading, WorkerConfig};

#[derive(Debug, Parser)]
#[command(name = "sv-bench", about = "Stage-alone benchmarks for make bench.")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Decode, letterbox, ONNX Runtime, postprocess and track, each alone.
    Stages(Common),
    /// The embedded pipeline end to end.
    Pipeline(Common),
    /// Decode alone (to RGB frames), several runs in one process.
    Decode(decode::DecodeArgs),
    /// The video decoders and their ranks under --hardware-decode.
    Decoders(decoders::DecodersArgs),
    /// Decoding while downloading vs downloading first, at given rates.
    Stream(stream::StreamArgs),
}

#[derive(Debug, Clone, Args)]
struct Common {
    clip: PathBuf,
    #[arg(long)]
    player: PathBuf,
    #[arg(long)]
    pitch: PathBuf,
    /// Timed runs (after one untimed warm-up where it applies).
    #[arg(long, default_value_t = 3)]
    runs: usize,
    #[arg(long)]
    batch_size: Option<usize>,
    #[arg(long)]
    intra_threads: Option<usize>,
    #[arg(long)]
    inter_threads: Option<usize>,
    #[arg(long)]
    spinning: Option<bool>,
    #[arg(long)]
    lanes: Option<usize>,
    #[arg(long)]
    prep_threads: Option<usize>,
    #[arg(long, value_delimiter = ',', default_value = "cpu")]
    providers: Vec<Provider>,
    /// FP16 versions of the models (run when the precision resolves to FP16).
    #[arg(long)]
    player_fp16: Option<PathBuf>,
    #[arg(long)]
    pitch_fp16: Option<PathBuf>,
    #[arg(long)]
    precision: Option<Precision>,
    #[arg(long)]
    pad_batches: Option<Switch>,
    #[arg(long, value_delimiter = ',')]
    devices: Option<Vec<u32>>,
    #[arg(long)]
    cudnn_conv_search: Option<ConvSearch>,
    #[arg(long)]
    cuda_nhwc: Option<bool>,
    #[arg(long)]
    cuda_tf32: Option<bool>,
    /// Give the models the letterboxed bytes (the graph divides by 255).
    #[arg(long)]
    byte_input: Option<bool>,
    /// Sessions fixed to each model's one (padded) input shape.
    #[arg(long)]
    static_shapes: Option<bool>,
    /// With static shapes, inputs and outputs bound in page-locked memory.
    #[arg(long)]
    io_binding: Option<bool>,
    /// With I/O binding on a GPU, CUDA graphs.
    #[arg(long)]
    cuda_graph: Option<bool>,
    /// Most MiB ONNX Runtime may take per device: the pipeline's batches
    /// settle under it; the stage-alone rows run at the batch given.
    #[arg(long)]
    memory_limit_mb: Option<u64>,
    /// The models on one frame in N (the pipeline; the stage-alone rows run
    /// every frame).
    #[arg(long)]
    infer_interval: Option<u32>,
}

impl Common {
    /// The library defaults, overridden where an option was given.
    fn infer_config(&self) -> InferConfig {
        let mut c = InferConfig::new(&self.player, &self.pitch);
        c.providers = self.providers.clone();
        c.player_model_fp16 = self.player_fp16.clone();
        c.pitch_model_fp16 = self.pitch_fp16.clone();
        c.precision = self.precision.unwrap_or(c.precision);
        c.pad_batches = self.pad_batches.unwrap_or(c.pad_batches);
        c.devices = self.devices.clone().unwrap_or_default();
        c.cuda.conv_search = self.cudnn_conv_search.unwrap_or(c.cuda.conv_search);
        c.cuda.prefer_nhwc = self.cuda_nhwc.unwrap_or(c.cuda.prefer_nhwc);
        c.cuda.tf32 = self.cuda_tf32.unwrap_or(c.cuda.tf32);
        c.byte_input = self.byte_input.unwrap_or(c.byte_input);
        c.static_shapes = self.static_shapes.unwrap_or(c.static_shapes);
        c.io_binding = self.io_binding.unwrap_or(c.io_binding);
        c.cuda.cuda_graph = self.cuda_graph.unwrap_or(c.cuda.cuda_graph);
        c.memory_limit_mb = self.memory_limit_mb.or(c.memory_limit_mb);
        c.infer_interval = self.infer_interval.unwrap_or(c.infer_interval);
        c.batch_size = self.batch_size.unwrap_or(c.batch_size);
        c.intra_threads = self.intra_threads.unwrap_or(c.intra_threads);
        c.lanes = self.lanes.unwrap_or(c.lanes);
        c.threading = Threading {
            spinning: self.spinning.unwrap_or(c.threading.spinning),
            inter_threads: self.inter_threads.unwrap_or(c.threading.inter_threads),
        };
        c.worker = WorkerConfig {
            prep_threads: self.prep_threads.unwrap_or(c.worker.prep_threads),
            ..c.worker
        };
        c
    }
}

/// The settings a result was measured with (automatic values resolved as
/// the stage resolves them), echoed into the JSON.
fn settings(c: &InferConfig) -> anyhow::Result<serde_json::Value> {
    let r = c.resolve()?;
    Ok(serde_json::json!({
        "provider": r.provider.name(),
        "profile": r.to_string(),
        "memory_limit_mb": r.memory_limit_mb,
        "batch_size": r.batch_size,
        "pad_batches": r.pad_batches,
        "precision": r.precision.name(),
        "devices": r.devices,
        "lanes": r.lanes,
        "intra_threads": r.intra_threads,
        "prep_threads": r.prep_threads,
        "inter_threads": c.threading.inter_threads,
        "spinning": c.threading.spinning,
    }))
}

fn main() -> anyhow::Result<()> {
    // SAFETY: the first line of main; no other thread exists yet.
    unsafe { sv_infer::runtime::disable_telemetry() };
    let cli = Cli::parse();
    let out = match cli.command {
        Command::Stages(common) => stages::run(&common)?,
        Command::Pipeline(common) => pipeline::run(&common)?,
        Command::Decode(args) => decode::run(&args)?,
        Command::Decoders(args) => return decoders::run(&args),
        Command::Stream(args) => stream::run(&args)?,
    };
    println!("{}", serde_json::to_string(&out)?);
    Ok(())
}
