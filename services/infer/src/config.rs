//! Infer stage settings.

use std::path::PathBuf;

use crate::engine::Threading;
use crate::error::InferError;
use crate::runtime::{self, Provider};
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
    /// Most frames per inference call. 1 by default: on the CPU, batching
    /// bought nothing on the 2-core benchmark machine once the lanes keep
    /// every core busy, and each frame more per batch costs memory
    /// (ONNX Runtime's activations, the input tensors). GPUs want more.
    pub batch_size: usize,
    pub providers: Vec<Provider>,
    /// ONNX Runtime intra-op threads per session. 0: automatic, the cores
    /// shared out between the lanes on the CPU, ONNX Runtime's default on a
    /// GPU.
    pub intra_threads: usize,
    /// ONNX Runtime spinning and inter-op threads.
    pub threading: Threading,
    /// ONNX Runtime lanes: each opens both models and runs whichever input
    /// is next, so `lanes` inputs run at once. 0: automatic, one per core
    /// (at most [`MAX_AUTO_LANES`]) on the CPU, one on a GPU.
    pub lanes: usize,
    /// Preprocessing threads and queue depths around the lanes.
    pub worker: WorkerConfig,
    /// Frame size (width, height) every lane runs one full batch of before
    /// the stage is ready, so the first challenge does not pay for ONNX
    /// Runtime's first-run allocations (or TensorRT engine builds). Any
    /// 16:9 size gives the network inputs of every 16:9 clip. `None` skips.
    pub warm_up: Option<(u32, u32)>,
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
            batch_size: 1,
            providers: Provider::auto(),
            intra_threads: 0,
            threading: Threading::default(),
            lanes: 0,
            worker: WorkerConfig::default(),
            warm_up: Some((1280, 720)),
            ort_library: None,
            engine_cache: None,
        }
    }
}

/// Automatic lanes stop here: each lane holds its own copy of both models.
pub const MAX_AUTO_LANES: usize = 4;
/// Automatic preprocessing threads stop here.
pub const MAX_AUTO_PREP_THREADS: usize = 4;

/// The thread layout once the automatic (0) values are resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resolved {
    pub provider: Provider,
    pub lanes: usize,
    pub intra_threads: usize,
    pub prep_threads: usize,
}

impl InferConfig {
    /// Resolves the automatic values for the provider the ONNX Runtime
    /// library will use and this machine's cores.
    pub fn resolve(&self) -> Result<Resolved, InferError> {
        let library = runtime::find_library(self.ort_library.as_deref())?;
        let provider = runtime::primary_provider(&library, &self.providers)?;
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Ok(self.resolve_for(provider, cores))
    }

    /// The thread layout for `provider` on a machine with `cores` cores.
    ///
    /// On the CPU, small convolutions split across threads spend much of
    /// their time synchronising; independent inputs on single-threaded
    /// sessions keep every core busy instead (measured on the 2-core
    /// benchmark machine: 2 lanes x 1 thread run the fixture models about
    /// 25% faster than 1 lane x 2 threads). The cores left over letterbox.
    /// On a GPU one lane feeds the device and the CPU cores letterbox.
    pub fn resolve_for(&self, provider: Provider, cores: usize) -> Resolved {
        let cores = cores.max(1);
        let lanes = match (self.lanes, provider) {
            (0, Provider::Cpu) => cores.min(MAX_AUTO_LANES),
            (0, _) => 1,
            (n, _) => n,
        };
        let intra_threads = match (self.intra_threads, provider) {
            (0, Provider::Cpu) => (cores / lanes).max(1),
            (n, _) => n,
        };
        let prep_threads = match (self.worker.prep_threads, provider) {
            (0, Provider::Cpu) => cores
                .saturating_sub(lanes * intra_threads)
                .clamp(1, MAX_AUTO_PREP_THREADS),
            (0, _) => cores.clamp(1, MAX_AUTO_PREP_THREADS),
            (n, _) => n,
        };
        Resolved {
            provider,
            lanes,
            intra_threads,
            prep_threads,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout(c: &InferConfig, provider: Provider, cores: usize) -> (usize, usize, usize) {
        let r = c.resolve_for(provider, cores);
        assert_eq!(r.provider, provider);
        (r.lanes, r.intra_threads, r.prep_threads)
    }

    #[test]
    fn automatic_values_share_the_cores() {
        let auto = InferConfig::new("p.onnx", "q.onnx");
        // CPU: one single-threaded lane per core, up to 4; the rest letterbox.
        assert_eq!(layout(&auto, Provider::Cpu, 2), (2, 1, 1));
        assert_eq!(layout(&auto, Provider::Cpu, 16), (4, 4, 1));
        assert_eq!(layout(&auto, Provider::Cpu, 0), (1, 1, 1));
        // GPU: one lane, ONNX Runtime's own threads, the cores letterbox.
        assert_eq!(layout(&auto, Provider::Cuda, 16), (1, 0, 4));
        assert_eq!(layout(&auto, Provider::TensorRt, 2), (1, 0, 2));
    }

    #[test]
    fn given_values_are_kept() {
        let auto = InferConfig::new("p.onnx", "q.onnx");
        let one_lane = InferConfig {
            lanes: 1,
            ..auto.clone()
        };
        assert_eq!(layout(&one_lane, Provider::Cpu, 2), (1, 2, 1));
        let mut all = InferConfig {
            lanes: 3,
            intra_threads: 5,
            ..auto
        };
        all.worker.prep_threads = 6;
        assert_eq!(layout(&all, Provider::TensorRt, 8), (3, 5, 6));
        assert_eq!(layout(&all, Provider::Cpu, 2), (3, 5, 6));
    }
}
