//! Infer stage settings.

use std::path::PathBuf;

use crate::engine::Threading;
use crate::runtime::Provider;
use crate::worker::WorkerConfig;

#[derive(Debug, Clone)]
pub struct InferConfig {
    /// Ultralytics-exported YOLOv8 detect model (0 ball, 1 goalkeeper, 2 player, 3 referee).
    pub player_model: PathBuf,
    /// Ultralytics-exported YOLOv8 pose model (1 class, 32 pitch keypoints).
    pub pitch_model: PathBuf,
    /// The reference miner calls the player model with `imgsz=1280`.
    pub player_imgsz: u32,
    /// The reference calls the pitch model without imgsz: 640 for ONNX.
    pub pitch_imgsz: u32,
    /// Most frames per inference call.
    pub batch_size: usize,
    pub providers: Vec<Provider>,
    /// ONNX Runtime intra-op threads per session (0: one per core).
    pub intra_threads: usize,
    /// ONNX Runtime spinning and inter-op threads.
    pub threading: Threading,
    /// ONNX Runtime lanes: each opens both models and runs whichever input
    /// is next, so `lanes` inputs run at once.
    pub lanes: usize,
    /// Preprocessing threads and queue depths around the lanes.
    pub worker: WorkerConfig,
    /// `libonnxruntime.so` to load; found automatically when `None`.
    pub ort_library: Option<PathBuf>,
    /// Where TensorRT keeps built engines between runs.
    pub engine_cache: Option<PathBuf>,
}

impl InferConfig {
    pub fn new(player_model: impl Into<PathBuf>, pitch_model: impl Into<PathBuf>) -> Self {
        Self {
            player_model: player_model.into(),
            pitch_model: pitch_model.into(),
            player_imgsz: 1280,
            pitch_imgsz: 640,
            batch_size: 4,
            providers: Provider::auto(),
            intra_threads: 0,
            threading: Threading::default(),
            lanes: 1,
            worker: WorkerConfig::default(),
            ort_library: None,
            engine_cache: None,
        }
    }
}
