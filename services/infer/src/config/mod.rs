//! Infer stage settings, and the device profile that fills in whatever is
//! left automatic for the provider that loads (see [`InferConfig::resolve`]).
//! The settings an operator gives are defined in [`crate::settings`], which
//! writes them into an [`InferConfig`].
//!
//! - `resolved.rs`: the settings once resolved ([`Resolved`]), as the
//!   profile line prints them.

mod resolved;

use std::path::{Path, PathBuf};

use crate::engine::Threading;
use crate::error::InferError;
use crate::onnx_file::OnnxHeader;
use crate::providers::{CudaOptions, Provider, TensorRtOptions};
use crate::runtime;
use crate::settings::values::{Precision, Switch};

pub use resolved::Resolved;

/// Everything the infer stage needs to open its models and run them: the
/// model files, the image sizes the reference miner uses, and the
/// hardware settings (`crate::settings` says how each is set).
#[derive(Debug, Clone)]
pub struct InferConfig {
    /// Ultralytics-exported YOLOv8 detect model (0 ball, 1 goalkeeper, 2 player, 3 referee).
    pub player_model: PathBuf,
    /// Ultralytics-exported YOLOv8 pose model (1 class, 32 pitch keypoints).
    pub pitch_model: PathBuf,
    /// FP16 versions of the two models (`deploy/to_fp16.py`), run instead
    /// when the precision resolves to FP16.
    pub player_model_fp16: Option<PathBuf>,
    /// The pitch model's FP16 version, as `player_model_fp16`.
    pub pitch_model_fp16: Option<PathBuf>,
    /// FP32, FP16 (the `_fp16` models), or auto: FP16 where a GPU runs
    /// them and both FP16 files are given.
    pub precision: Precision,
    /// The reference miner calls the player model with `imgsz=1280`.
    pub player_imgsz: u32,
    /// The reference calls the pitch model without imgsz: 640 for ONNX.
    pub pitch_imgsz: u32,
    /// Most frames per inference call; 0: the device profile's.
    pub batch_size: usize,
    /// Pad partial batches to `batch_size`, so each model runs at one input
    /// shape (cuDNN and TensorRT choose their kernels once). Auto: on GPUs.
    pub pad_batches: Switch,
    /// With padding, how long a batch waits for more frames after its
    /// first: decode delivers hundreds of frames a second, so a full batch
    /// is a few milliseconds away, while a padded run costs a full one.
    pub batch_wait: std::time::Duration,
    /// Execution providers in the order tried (TensorRT, CUDA, CPU); a
    /// session falls back to the next when one is missing or fails.
    pub providers: Vec<Provider>,
    /// GPUs to run on (CUDA and TensorRT): each gets `lanes` lanes, and
    /// batches from every live challenge go to whichever lane is free.
    /// Empty: GPU 0.
    pub devices: Vec<u32>,
    /// ONNX Runtime intra-op threads per session. 0: automatic, the cores
    /// shared out between the lanes on the CPU, ONNX Runtime's default on a
    /// GPU.
    pub intra_threads: usize,
    /// ONNX Runtime spinning and inter-op threads.
    pub threading: Threading,
    /// ONNX Runtime lanes per device: each opens both models and runs
    /// whichever input is next, so that many inputs run at once. 0:
    /// automatic, one per core (at most [`MAX_AUTO_LANES`]) on the CPU,
    /// [`GPU_LANES`] per GPU.
    pub lanes: usize,
    /// Preprocessing threads and queue depths around the lanes.
    pub worker: WorkerConfig,
    /// Frame size (width, height) every lane runs one full batch of before
    /// the stage is ready, so the first challenge does not pay for ONNX
    /// Runtime's first-run allocations, cuDNN's algorithm search or
    /// TensorRT's engine build. Any 16:9 size gives the network inputs of
    /// every 16:9 clip. `None` skips.
    pub warm_up: Option<(u32, u32)>,
    /// `libonnxruntime.so` to load; found automatically when `None`.
    pub ort_library: Option<PathBuf>,
    /// The CUDA provider's own options (cuDNN search, NHWC, TF32, graphs).
    pub cuda: CudaOptions,
    /// The TensorRT provider's own options (FP16, engine cache, workspace).
    pub tensorrt: TensorRtOptions,
    /// Feed the models the letterboxed bytes (uint8) and let them divide by
    /// 255 themselves (`crate::byte_input`): the same values to the bit, a
    /// quarter of the bytes of a float32 input to copy to a GPU per run.
    /// Off unless asked for until it is measured on a GPU (`scorevision
    /// bench --sweep-byte-input`).
    pub byte_input: bool,
    /// With padded batches, sessions built for the one input shape each
    /// model gets (the batch size at the letterbox of the warm-up frame
    /// size), so ONNX Runtime folds the graph's shape arithmetic into
    /// constants (`crate::engine::SessionOptions::static_shapes`). Off unless
    /// asked for until it is measured on a GPU.
    pub static_shapes: bool,
    /// With static shapes, bind each session's input and output
    /// (`crate::binding`): the letterbox writes into page-locked memory the
    /// GPU copies from by DMA, outputs land in page-locked memory, and with
    /// `cuda.cuda_graph` the buffers stay put so a CUDA graph can replay.
    /// Off unless asked for until it is measured on a GPU.
    pub io_binding: bool,
    /// The most memory, in MiB, ONNX Runtime may take on each device, all
    /// its sessions together (`crate::memory`): on a GPU the CUDA
    /// provider's arena (`gpu_mem_limit`) and TensorRT's workspace, on the
    /// CPU the CPU arena. The warm-up settles each model's batch under it
    /// (`crate::fit`). `None`: whatever the device has.
    pub memory_limit_mb: Option<u64>,
    /// Run the models on one frame in this many (frames 0, N, 2N, ..., the
    /// last frame and both sides of every scene cut: [`crate::keyframes`]);
    /// track fills the frames between from the keyframes on either side.
    /// 1 (the default): every frame, as the reference miner does.
    pub infer_interval: u32,
}

impl InferConfig {
    /// The two models with every other setting at its default: the
    /// reference miner's image sizes, every frame inferred, the device
    /// profile's batches and lanes.
    pub fn new(player_model: impl Into<PathBuf>, pitch_model: impl Into<PathBuf>) -> Self {
        Self {
            player_model: player_model.into(),
            pitch_model: pitch_model.into(),
            player_model_fp16: None,
            pitch_model_fp16: None,
            precision: Precision::Auto,
            player_imgsz: 1280,
            pitch_imgsz: 640,
            batch_size: 0,
            pad_batches: Switch::Auto,
            batch_wait: std::time::Duration::from_millis(40),
            providers: Provider::auto(),
            devices: Vec::new(),
            intra_threads: 0,
            threading: Threading::default(),
            lanes: 0,
            worker: WorkerConfig::default(),
            warm_up: Some((1280, 720)),
            ort_library: None,
            cuda: CudaOptions::default(),
            // FP16 kernels for FP32 models unless told (`--trt-fp16`).
            tensorrt: TensorRtOptions {
                fp16: true,
                ..TensorRtOptions::default()
            },
            byte_input: false,
            static_shapes: false,
            io_binding: false,
            memory_limit_mb: None,
            infer_interval: 1,
        }
    }
}

/// Automatic lanes stop here: each lane holds its own copy of both models.
pub const MAX_AUTO_LANES: usize = 4;
/// Automatic preprocessing threads stop here on the CPU.
pub const MAX_AUTO_PREP_THREADS: usize = 4;
/// Automatic preprocessing threads stop here on a GPU: the letterbox has
/// to keep up with the device.
pub const MAX_AUTO_GPU_PREP_THREADS: usize = 8;
/// Frames per batch on a GPU unless told. Measured on an H200 (CUDA
/// provider, YOLOv8x at 1280 and YOLOv8x-pose at 640 in FP16, 750 frames,
/// `scorevision bench`): the fixed cost of each ONNX Runtime run dominates
/// small batches (batch 4: 24.3 s, batch 8: 15.7 s, batch 16: 12.0 s with
/// two lanes), so the largest batch measured wins.
pub const GPU_BATCH: usize = 16;
/// Lanes per GPU unless told: two sessions keep the device busy while the
/// other's input is copied in and its output read back (measured on the
/// H200: 12.0 s with two lanes against 13.4 s with one, batch 16 FP16).
pub const GPU_LANES: usize = 2;

impl InferConfig {
    /// Resolves the automatic values for the provider the ONNX Runtime
    /// library will use and this machine's cores.
    pub fn resolve(&self) -> Result<Resolved, InferError> {
        let library = runtime::find_library(self.ort_library.as_deref())?;
        let provider = runtime::primary_provider(&library, &self.providers)?;
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let mut resolved = self.resolve_for(provider, cores)?;
        let headers = [
            OnnxHeader::read(&resolved.player_model)?,
            OnnxHeader::read(&resolved.pitch_model)?,
        ];
        resolved.fit_fixed_batch(&headers, self.batch_size != 0)?;
        Ok(resolved)
    }

    /// The device profile for `provider` on a machine with `cores` cores.
    ///
    /// On the CPU, small convolutions split across threads spend much of
    /// their time synchronising; independent inputs on single-threaded
    /// sessions keep every core busy instead (measured on the 2-core
    /// benchmark machine: 2 lanes x 1 thread run the fixture models about
    /// 25% faster than 1 lane x 2 threads), one frame per batch. The cores
    /// left over letterbox. On a GPU, full padded batches on a few lanes per
    /// device, FP16 when the files are given, and the cores letterbox.
    pub fn resolve_for(&self, provider: Provider, cores: usize) -> Result<Resolved, InferError> {
        let cores = cores.max(1);
        let gpu = provider.is_gpu();
        let lanes = match (self.lanes, gpu) {
            (0, false) => cores.min(MAX_AUTO_LANES),
            (0, true) => GPU_LANES,
            (n, _) => n,
        };
        let intra_threads = match (self.intra_threads, gpu) {
            (0, false) => (cores / lanes).max(1),
            (n, _) => n,
        };
        let prep_threads = match (self.worker.prep_threads, gpu) {
            (0, false) => cores
                .saturating_sub(lanes * intra_threads)
                .clamp(1, MAX_AUTO_PREP_THREADS),
            (0, true) => cores.clamp(1, MAX_AUTO_GPU_PREP_THREADS),
            (n, _) => n,
        };
        let batch_size = match (self.batch_size, gpu) {
            (0, false) => 1,
            (0, true) => GPU_BATCH,
            (n, _) => n,
        };
        let pad_batches = match self.pad_batches {
            Switch::Auto => gpu,
            Switch::On => true,
            Switch::Off => false,
        };
        let have_fp16 = self.player_model_fp16.is_some() && self.pitch_model_fp16.is_some();
        let precision = match self.precision {
            Precision::Auto if gpu && have_fp16 => Precision::Fp16,
            Precision::Auto | Precision::Fp32 => Precision::Fp32,
            Precision::Fp16 if have_fp16 => Precision::Fp16,
            Precision::Fp16 => {
                return Err(InferError::Config(
                    "precision fp16 needs both FP16 models (--player-fp16 and --pitch-fp16)".into(),
                ));
            }
        };
        let pick = |fp32: &Path, fp16: &Option<PathBuf>| match (precision, fp16) {
            (Precision::Fp16, Some(p)) => p.clone(),
            _ => fp32.to_owned(),
        };
        // One shape needs every batch padded to the same size, and a frame
        // size to letterbox; bound buffers and graphs need the one shape.
        let static_shapes = self.static_shapes && pad_batches && self.warm_up.is_some();
        let io_binding = self.io_binding && static_shapes;
        let devices = if self.devices.is_empty() || !gpu {
            vec![self.devices.first().copied().unwrap_or(0)]
        } else {
            self.devices.clone()
        };
        Ok(Resolved {
            provider,
            devices,
            lanes,
            intra_threads,
            prep_threads,
            batch_size,
            pad_batches,
            precision,
            player_model: pick(&self.player_model, &self.player_model_fp16),
            pitch_model: pick(&self.pitch_model, &self.pitch_model_fp16),
            byte_input: self.byte_input,
            static_shapes,
            io_binding,
            cuda_graph: io_binding && gpu && self.cuda.cuda_graph,
            memory_limit_mb: self.memory_limit_mb,
            fit: None,
        })
    }
}

/// How the pipeline's threads are laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorkerConfig {
    /// Threads letterboxing a batch (the preparing thread included); 0:
    /// automatic (see [`InferConfig::resolve_for`]), which
    /// [`crate::worker::Worker::spawn`] takes as 1.
    pub prep_threads: usize,
    /// Batches waiting for the preparing thread.
    pub queue: usize,
    /// Batches prepared or running that postprocessing has not finished.
    pub in_flight: usize,
    /// Pad every run of frames to this many images (GPUs: one input shape
    /// per model); `None` runs each batch at its own size.
    pub pad_to: Option<usize>,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        Self {
            prep_threads: 0,
            queue: 2,
            in_flight: 4,
            pad_to: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout(c: &InferConfig, provider: Provider, cores: usize) -> (usize, usize, usize) {
        let r = c.resolve_for(provider, cores).unwrap();
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
        // GPU: a few lanes per device, ONNX Runtime's own threads, the cores letterbox.
        assert_eq!(layout(&auto, Provider::Cuda, 16), (GPU_LANES, 0, 8));
        assert_eq!(layout(&auto, Provider::TensorRt, 2), (GPU_LANES, 0, 2));
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
            batch_size: 4,
            pad_batches: Switch::Off,
            ..auto
        };
        all.worker.prep_threads = 6;
        assert_eq!(layout(&all, Provider::TensorRt, 8), (3, 5, 6));
        assert_eq!(layout(&all, Provider::Cpu, 2), (3, 5, 6));
        let r = all.resolve_for(Provider::Cuda, 8).unwrap();
        assert_eq!((r.batch_size, r.pad_batches), (4, false));
    }

    #[test]
    fn the_profile_follows_the_provider() {
        let mut c = InferConfig::new("p.onnx", "q.onnx");
        c.player_model_fp16 = Some("p16.onnx".into());
        c.pitch_model_fp16 = Some("q16.onnx".into());
        let cpu = c.resolve_for(Provider::Cpu, 2).unwrap();
        assert_eq!(
            (cpu.batch_size, cpu.pad_batches, cpu.precision),
            (1, false, Precision::Fp32)
        );
        assert_eq!(cpu.player_model, Path::new("p.onnx"));
        let gpu = c.resolve_for(Provider::Cuda, 16).unwrap();
        assert_eq!(
            (gpu.batch_size, gpu.pad_batches, gpu.precision),
            (GPU_BATCH, true, Precision::Fp16)
        );
        assert_eq!(
            (gpu.player_model.as_path(), gpu.pitch_model.as_path()),
            (Path::new("p16.onnx"), Path::new("q16.onnx"))
        );
        // Asked for FP32 on a GPU: the FP32 files.
        c.precision = Precision::Fp32;
        let fp32 = c.resolve_for(Provider::Cuda, 16).unwrap();
        assert_eq!(fp32.player_model, Path::new("p.onnx"));
        // FP16 asked on the CPU with the files: honoured.
        c.precision = Precision::Fp16;
        let forced = c.resolve_for(Provider::Cpu, 2).unwrap();
        assert_eq!(forced.pitch_model, Path::new("q16.onnx"));
        // Only one FP16 file: auto stays FP32, fp16 is a clear error.
        c.pitch_model_fp16 = None;
        let err = c.resolve_for(Provider::Cuda, 16).unwrap_err();
        assert!(err.to_string().contains("--pitch-fp16"), "{err}");
        c.precision = Precision::Auto;
        assert_eq!(
            c.resolve_for(Provider::Cuda, 16).unwrap().precision,
            Precision::Fp32
        );
    }

    #[test]
    fn binding_needs_static_shapes_and_graphs_need_a_gpu() {
        let mut c = InferConfig::new("p.onnx", "q.onnx");
        c.io_binding = true;
        c.cuda.cuda_graph = true;
        // No static shapes: nothing to bind the one shape of.
        let r = c.resolve_for(Provider::Cuda, 16).unwrap();
        assert!(!r.static_shapes && !r.io_binding && !r.cuda_graph);
        c.static_shapes = true;
        let gpu = c.resolve_for(Provider::Cuda, 16).unwrap();
        assert!(gpu.static_shapes && gpu.io_binding && gpu.cuda_graph);
        assert!(
            gpu.to_string()
                .contains(", static shapes, I/O binding, CUDA graphs"),
            "{gpu}"
        );
        // The CPU pads only when told; then it binds, without graphs.
        c.pad_batches = Switch::On;
        let cpu = c.resolve_for(Provider::Cpu, 2).unwrap();
        assert!(cpu.io_binding && !cpu.cuda_graph);
        // Graphs are asked of the GPU provider only with binding.
        c.io_binding = false;
        let unbound = c.resolve_for(Provider::TensorRt, 16).unwrap();
        assert!(unbound.static_shapes && !unbound.io_binding && !unbound.cuda_graph);
    }

    #[test]
    fn lanes_go_to_every_device() {
        let mut c = InferConfig::new("p.onnx", "q.onnx");
        c.devices = vec![0, 1];
        c.lanes = 2;
        let r = c.resolve_for(Provider::Cuda, 16).unwrap();
        assert_eq!(r.lane_devices(), vec![0, 0, 1, 1]);
        assert_eq!(
            r.to_string(),
            "CUDA on GPU 0,1, batch 16 (padded), 2 lanes per device, 8 preprocessing threads, FP32 models"
        );
        // On the CPU the devices mean nothing: one set of lanes.
        let cpu = c.resolve_for(Provider::Cpu, 2).unwrap();
        assert_eq!(cpu.lane_devices(), vec![0, 0]);
        assert!(cpu.to_string().starts_with("CPU, batch 1, 2 lanes"));
    }
}
