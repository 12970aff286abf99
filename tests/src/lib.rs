//! Helpers for the workspace integration tests: where the fixtures are, the
//! golden outputs ultralytics produced on them, and a frame source that
//! replays the saved (OpenCV-decoded) frames so model parity does not depend
//! on which decoder made the pixels.

#![warn(missing_docs)]

pub mod chain;
pub mod golden;
pub mod http;
pub mod openmetrics;
pub mod otlp;
pub mod png_frames;
pub mod ports;
pub mod prometheus;

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

/// One model family's fixtures (tests/fixtures/README.md): a player
/// detector, a pitch pose model, and what ultralytics 8.3.48 + supervision
/// 0.22.0 made of them on the sample clip. The parity tests run the same
/// checks on every entry of [`FAMILIES`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Family {
    /// The family's name in test output, e.g. "yolo11".
    pub name: &'static str,
    /// The player detector ONNX file. Paths are relative to tests/fixtures.
    pub players: &'static str,
    /// The pitch pose model ONNX file.
    pub pitch: &'static str,
    /// The golden outputs on the sample clip ([`golden::Golden`]).
    pub golden: &'static str,
}

impl Family {
    /// The player detector's full path.
    pub fn player_model(&self) -> PathBuf {
        fixture(self.players)
    }

    /// The pitch pose model's full path.
    pub fn pitch_model(&self) -> PathBuf {
        fixture(self.pitch)
    }

    /// The reference outputs on these models (`make_goldens.py`).
    pub fn golden(&self) -> anyhow::Result<golden::Golden> {
        golden::load_from(self.golden)
    }
}

/// YOLOv8 (`yolov8.yaml` / `yolov8-pose.yaml`): the default fixtures.
pub const YOLOV8: Family = Family {
    name: "yolov8",
    players: "models/players.onnx",
    pitch: "models/pitch.onnx",
    golden: "golden/ultralytics.json",
};

/// YOLO11 (`yolo11.yaml` / `yolo11-pose.yaml`).
pub const YOLO11: Family = Family {
    name: "yolo11",
    players: "models/players_yolo11.onnx",
    pitch: "models/pitch_yolo11.onnx",
    golden: "golden/ultralytics_yolo11.json",
};

/// Every model family the parity tests cover.
pub const FAMILIES: [Family; 2] = [YOLOV8, YOLO11];

/// Fails unless `tested` names every entry of [`FAMILIES`], in order: a
/// family added there must get its tests.
pub fn assert_every_family_tested(tested: &[&str]) {
    let all: Vec<&str> = FAMILIES.iter().map(|f| f.name).collect();
    assert_eq!(tested, all.as_slice(), "model families with parity tests");
}

/// The YOLOv8 player model.
pub fn player_model() -> PathBuf {
    YOLOV8.player_model()
}

/// The YOLOv8 pitch model.
pub fn pitch_model() -> PathBuf {
    YOLOV8.pitch_model()
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

/// The fixture models the one-shape features (static shapes, I/O
/// binding) are checked on: (file, imgsz, byte input).
pub const ONE_SHAPE_CASES: [(&str, u32, bool); 3] = [
    ("models/players.onnx", 1280, false),
    ("models/pitch.onnx", 640, false),
    ("models/players.onnx", 1280, true),
];

/// The one input shape a static-shape session is built for: a 1280x720
/// frame letterboxed at `imgsz` ((736, 1280) at 1280, (384, 640) at 640),
/// `batch` images.
pub fn shape_profile_720p(imgsz: u32, batch: usize) -> sv_infer::providers::ShapeProfile {
    let lb = sv_infer::pre::Letterbox::new(1280, 720, (imgsz, imgsz), 32, true);
    sv_infer::providers::ShapeProfile {
        input: "images".into(),
        batch,
        height: lb.out_h as usize,
        width: lb.out_w as usize,
    }
}

/// The golden frames, as the reference miner decoded them.
pub fn golden_frames(golden: &golden::Golden) -> anyhow::Result<Vec<sv_core::Frame>> {
    golden
        .frames
        .iter()
        .map(|g| png_frames::load_png(&fixture(&g.file), g.index))
        .collect()
}
