//! Helpers for the workspace integration tests: where the fixtures are, the
//! golden outputs ultralytics produced on them, and a frame source that
//! replays the saved (OpenCV-decoded) frames so model parity does not depend
//! on which decoder made the pixels.

pub mod golden;
pub mod http;
pub mod otlp;
pub mod png_frames;

use std::path::PathBuf;

/// `tests/fixtures/<rel>` in this checkout.
pub fn fixture(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(rel)
}

/// The bundled sample clip (1280x720 H.264, 50 frames).
pub fn sample_clip() -> PathBuf {
    fixture("clip/sample_720p.mp4")
}

pub fn player_model() -> PathBuf {
    fixture("models/players.onnx")
}

pub fn pitch_model() -> PathBuf {
    fixture("models/pitch.onnx")
}

/// Frames in a video as ffprobe counts them (decoding every packet).
pub fn ffprobe_frame_count(path: &std::path::Path) -> anyhow::Result<u64> {
    let out = std::process::Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-count_frames",
            "-select_streams",
            "v:0",
            "-show_entries",
            "stream=nb_read_frames",
            "-of",
            "csv=p=0",
        ])
        .arg(path)
        .output()
        .map_err(|e| anyhow::anyhow!("ffprobe not runnable ({e}); run scripts/install-deps.sh"))?;
    anyhow::ensure!(
        out.status.success(),
        "ffprobe failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(String::from_utf8(out.stdout)?.trim().parse()?)
}

/// Opens a fixture model on ONNX Runtime's CPU provider, as the reference
/// ran it, at the inference size the miner uses for it.
pub fn open_model(
    path: &std::path::Path,
    imgsz: u32,
) -> anyhow::Result<sv_infer::model::YoloModel> {
    let options = sv_infer::SessionOptions::new(
        sv_infer::runtime::find_library(None)?,
        vec![sv_infer::Provider::Cpu],
    );
    let engine = sv_infer::OrtEngine::open(path, &options)?;
    let (info, fixed) = (engine.info.clone(), engine.fixed_size);
    Ok(sv_infer::model::YoloModel::new(
        "fixture",
        Box::new(engine),
        info,
        imgsz,
        fixed,
    ))
}

/// The golden frames, as the reference miner decoded them.
pub fn golden_frames(golden: &golden::Golden) -> anyhow::Result<Vec<sv_core::Frame>> {
    golden
        .frames
        .iter()
        .map(|g| png_frames::load_png(&fixture(&g.file), g.index))
        .collect()
}
