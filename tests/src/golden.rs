//! The golden outputs `tests/fixtures/make_goldens.py` wrote with
//! ultralytics 8.3.48 + supervision 0.22.0 (schema in
//! tests/fixtures/golden/README.md).

use serde::Deserialize;
use sv_core::FrameResult;

/// One golden file: the reference's results on every frame of the clip.
#[derive(Debug, Deserialize)]
pub struct Golden {
    /// One entry per decoded frame, in order.
    pub frames: Vec<GoldenFrame>,
}

/// What the reference computed on one frame.
#[derive(Debug, Deserialize)]
pub struct GoldenFrame {
    /// 0-based frame index in the clip.
    pub index: u64,
    /// The frame as OpenCV decoded it (`frames/NNNN.png`), relative to
    /// tests/fixtures.
    pub file: String,
    /// Frame width in pixels.
    pub width: u32,
    /// Frame height in pixels.
    pub height: u32,
    /// The player detector's raw results.
    pub players: ModelGolden,
    /// The pitch pose model's raw results.
    pub pitch: ModelGolden,
    /// Exactly the frame the reference miner would send (after tracking).
    pub miner: FrameResult,
}

/// One model's results on one frame, as ultralytics returned them.
#[derive(Debug, Deserialize)]
pub struct ModelGolden {
    /// `[height, width]` of the letterboxed tensor fed to ONNX Runtime.
    pub input_shape: [u32; 2],
    /// md5 of the letterboxed image (uint8 RGB, HWC): checks the
    /// preprocessing byte for byte.
    pub letterbox_rgb_md5: String,
    /// Boxes after NMS in source-frame pixels, confidence descending.
    pub xyxy: Vec<[f64; 4]>,
    /// Each box's confidence, 0 to 1.
    pub conf: Vec<f64>,
    /// Each box's class id (0 ball, 1 goalkeeper, 2 player, 3 referee for
    /// the detector), integers stored as floats.
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
