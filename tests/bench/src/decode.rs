//! `sv-bench decode CLIP`: decode alone (GStreamer to RGB frames, nothing
//! downstream), several runs in one process, so the first run shows what a
//! cold process pays and the later ones what each further clip costs.

use std::path::PathBuf;
use std::time::Instant;

use clap::Args;
use sv_decode::config::HardwarePreference;
use sv_decode::{DecodeConfig, decode_file};

#[derive(Debug, Clone, Args)]
pub struct DecodeArgs {
    clip: PathBuf,
    /// Runs in this process; the first one is cold.
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Use hardware video decoders when present (auto) or never (off).
    #[arg(long, default_value = "auto", value_parser = ["auto", "off"])]
    hardware_decode: String,
}

pub fn hardware(value: &str) -> HardwarePreference {
    if value == "off" {
        HardwarePreference::Off
    } else {
        HardwarePreference::Auto
    }
}

pub fn run(args: &DecodeArgs) -> anyhow::Result<serde_json::Value> {
    let config = DecodeConfig {
        hardware: hardware(&args.hardware_decode),
        ..DecodeConfig::default()
    };
    let mut runs = Vec::with_capacity(args.runs);
    for _ in 0..args.runs.max(1) {
        let started = Instant::now();
        let mut first_frame = None;
        let mut frames = 0u64;
        let summary = decode_file(&args.clip, &config, |_frame| {
            first_frame.get_or_insert_with(|| started.elapsed().as_secs_f64());
            frames += 1;
            true
        })?;
        let seconds = started.elapsed().as_secs_f64();
        runs.push(serde_json::json!({
            "frames": frames,
            "seconds": seconds,
            "fps": frames as f64 / seconds.max(1e-9),
            "first_frame_s": first_frame,
            "decoder": summary.decoder,
        }));
    }
    Ok(serde_json::json!({
        "clip": args.clip.display().to_string(),
        "hardware_decode": args.hardware_decode,
        "runs": runs,
    }))
}
