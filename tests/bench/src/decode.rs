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
    /// RGB conversion threads (0: automatic).
    #[arg(long, default_value_t = 0)]
    convert_threads: usize,
    /// Decode the built-in warm-up clip first (as the stage does at start).
    #[arg(long)]
    warm_up: bool,
    /// MD5 of every frame's RGB rows, in order (one extra, untimed run):
    /// equal digests mean equal pixels, whichever decoder made them.
    #[arg(long)]
    digest: bool,
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
        convert_threads: args.convert_threads,
        ..DecodeConfig::default()
    };
    let warm_up = if args.warm_up {
        let w = sv_decode::warm::decode(&config)?;
        Some(serde_json::json!({
            "seconds": w.took.as_secs_f64(),
            "frames": w.frames,
            "decoder": w.decoder,
        }))
    } else {
        None
    };
    let mut runs = Vec::with_capacity(args.runs);
    for _ in 0..args.runs.max(1) {
        let started = Instant::now();
        let mut first_frame = None;
        let mut last_frame = 0.0;
        let mut frames = 0u64;
        let summary = decode_file(&args.clip, &config, |_frame| {
            last_frame = started.elapsed().as_secs_f64();
            first_frame.get_or_insert(last_frame);
            frames += 1;
            true
        })?;
        let seconds = started.elapsed().as_secs_f64();
        runs.push(serde_json::json!({
            "frames": frames,
            "seconds": seconds,
            "fps": frames as f64 / seconds.max(1e-9),
            "first_frame_s": first_frame,
            "last_frame_s": last_frame,
            "decoder": summary.decoder,
            // Zero, and flat after the first run, when nothing leaks (the
            // first run may open what the process keeps: a CUDA context).
            "live_pipelines_after": sv_decode::pipeline::live_pipelines(),
            "open_fds_after": open_fds(),
        }));
    }
    let digest = if args.digest {
        Some(digest(&args.clip, &config)?)
    } else {
        None
    };
    Ok(serde_json::json!({
        "clip": args.clip.display().to_string(),
        "convert_one_thread_ms": convert_ms(1280, 720),
        "hardware_decode": args.hardware_decode,
        "convert_threads": sv_decode::pipeline::convert_threads(args.convert_threads),
        "warm_up": warm_up,
        "runs": runs,
        "digest": digest,
    }))
}

/// Descriptors this process has open (Linux).
fn open_fds() -> Option<usize> {
    std::fs::read_dir("/proc/self/fd").ok().map(|d| d.count())
}

/// MD5 over every frame's pixels (rows without padding), in order, and the
/// frame count.
fn digest(clip: &std::path::Path, config: &DecodeConfig) -> anyhow::Result<serde_json::Value> {
    use md5::{Digest, Md5};
    let mut md5 = Md5::new();
    let mut frames = 0u64;
    let summary = decode_file(clip, config, |f| {
        let row = f.width as usize * 3;
        for y in 0..f.height as usize {
            md5.update(&f.data[y * f.stride as usize..][..row]);
        }
        frames += 1;
        true
    })?;
    let hex: String = md5.finalize().iter().map(|b| format!("{b:02x}")).collect();
    Ok(serde_json::json!({ "md5": hex, "frames": frames, "decoder": summary.decoder }))
}

/// Milliseconds one thread takes to convert a `width` x `height` I420
/// picture to RGB (median of 31): how many conversion threads a decoder's
/// rate needs.
fn convert_ms(width: usize, height: usize) -> f64 {
    use sv_decode::colour::{Coefficients, I420, Plane, i420_to_rgb};
    let (cw, ch) = (width / 2, height / 2);
    let y: Vec<u8> = (0..width * height).map(|i| (i * 7 % 251) as u8).collect();
    let u: Vec<u8> = (0..cw * ch).map(|i| (i * 13 % 241) as u8).collect();
    let v: Vec<u8> = (0..cw * ch).map(|i| (i * 17 % 239) as u8).collect();
    let picture = I420 {
        width,
        height,
        y: Plane {
            data: &y,
            stride: width,
        },
        u: Plane {
            data: &u,
            stride: cw,
        },
        v: Plane {
            data: &v,
            stride: cw,
        },
    };
    let c = Coefficients::bt601(false);
    let mut times: Vec<f64> = (0..31)
        .map(|_| {
            let started = Instant::now();
            let rgb = i420_to_rgb(&picture, &c).expect("planes fit");
            std::hint::black_box(rgb);
            started.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}
