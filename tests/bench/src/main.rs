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
use sv_infer::{InferConfig, Threading, Tuning};

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

// The benchmark's figures are the CPU's unless another provider is asked.
#[derive(Debug, Clone, Args)]
#[command(mut_arg("providers", |arg| arg
    .default_value("cpu")
    .help("Execution providers in order of preference (tensorrt, cuda, cpu)")))]
struct Common {
    clip: PathBuf,
    #[arg(long)]
    player: PathBuf,
    #[arg(long)]
    pitch: PathBuf,
    /// Timed runs (after one untimed warm-up where it applies).
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// ONNX Runtime inter-op threads (sv-bench only).
    #[arg(long)]
    inter_threads: Option<usize>,
    /// ONNX Runtime spinning threads (sv-bench only).
    #[arg(long)]
    spinning: Option<bool>,
    /// FP16 versions of the models (run when the precision resolves to FP16).
    #[arg(long)]
    player_fp16: Option<PathBuf>,
    #[arg(long)]
    pitch_fp16: Option<PathBuf>,
    /// The inference settings, as `scorevision` takes them (one definition
    /// in `sv_infer::settings`), `--providers` `cpu` unless given. A
    /// memory limit settles the pipeline's batches; the stage-alone rows run
    /// at the batch given, and every frame whatever `--infer-interval`.
    #[command(flatten)]
    tuning: Tuning,
}

impl Common {
    /// The library defaults, overridden where an option was given.
    fn infer_config(&self) -> anyhow::Result<InferConfig> {
        let mut c = InferConfig::new(&self.player, &self.pitch);
        c.player_model_fp16 = self.player_fp16.clone();
        c.pitch_model_fp16 = self.pitch_fp16.clone();
        self.tuning.apply(&mut c)?;
        c.threading = Threading {
            spinning: self.spinning.unwrap_or(c.threading.spinning),
            inter_threads: self.inter_threads.unwrap_or(c.threading.inter_threads),
        };
        Ok(c)
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
