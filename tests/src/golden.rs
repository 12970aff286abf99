//! The golden outputs `tests/fixtures/make_goldens.py` wrote with
//! ultralytics 8.3.48 + supervision 0.22.0 (schema in
//! tests/fixtures/golden/README.md).

use serde::Deserialize;
use sv_core::FrameResult;

#[derive(Debug, Deserialize)]
pub struct Golden {
    pub frames: Vec<GoldenFrame>,
}

#[derive(Debug, Deserialize)]
pub struct GoldenFrame {
    pub index: u64,
    pub file: String,
    pub width: u32,
    pub height: u32,
    pub players: ModelGolden,
    pub pitch: ModelGolden,
    pub miner: FrameResult,
}

#[derive(Debug, Deserialize)]
pub struct ModelGolden {
    pub input_shape: [u32; 2],
    pub letterbox_rgb_md5: String,
    pub xyxy: Vec<[f64; 4]>,
    pub conf: Vec<f64>,
    pub cls: Vec<f64>,
    /// Pose models: per instance, 32 `[x, y, visibility]`.
    #[serde(default)]
    pub keypoints: Vec<Vec<[f64; 3]>>,
}

/// The YOLOv8 fixtures' golden file.
pub fn load() -> anyhow::Result<Golden> {
    crate::YOLOV8.golden()
}

/// A golden file, by its path relative to tests/fixtures.
pub fn load_from(rel: &str) -> anyhow::Result<Golden> {
    let path = crate::fixture(rel);
    let text =
        std::fs::read_to_string(&path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    Ok(serde_json::from_str(&text)?)
}
