//! [`Detector`]: the two models the reference miner runs on every frame,
//! the player detector and the pitch keypoint model.

use std::path::Path;

use sv_core::{Frame, FrameDetections};

use crate::byte_input;
use crate::config::{InferConfig, Resolved};
use crate::engine::{OrtEngine, SessionOptions};
use crate::error::InferError;
use crate::memory;
use crate::metadata::Task;
use crate::model::{ModelOutput, Preprocess, YoloModel};
use crate::onnx_file::OnnxHeader;
use crate::providers::{self, CudaOptions, Provider, ProviderSettings, ShapeProfile};
use crate::runtime;

/// The pair of models one inference lane owns; each frame goes through
/// both.
pub struct Detector {
    /// The YOLOv8 detect model: ball, goalkeeper, player and referee boxes.
    pub players: YoloModel,
    /// The YOLOv8 pose model whose keypoints are the pitch's 32 landmarks.
    pub pitch: YoloModel,
}

/// Which provider each model runs on, as the first lane found it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ProviderReport {
    /// `(model, provider and reasons, node placement when recorded)`.
    pub models: Vec<(String, String, Option<String>)>,
}

impl std::fmt::Display for ProviderReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let parts: Vec<String> = self
            .models
            .iter()
            .map(|(model, provider, placement)| match placement {
                Some(p) => format!("{model} {provider} [{p}]"),
                None => format!("{model} {provider}"),
            })
            .collect();
        f.write_str(&parts.join("; "))
    }
}

impl Detector {
    /// Pairs the two models, refusing a player model that is not a detect
    /// model or a pitch model that is not a pose model (swapped paths).
    pub fn new(players: YoloModel, pitch: YoloModel) -> Result<Self, InferError> {
        let wrong = |model: &str, want: &str| InferError::Metadata {
            model: model.into(),
            key: "task".into(),
            why: format!("must be {want}"),
        };
        if players.info().task != Task::Detect {
            return Err(wrong("player model", "detect"));
        }
        if pitch.info().task != Task::Pose {
            return Err(wrong("pitch model", "pose"));
        }
        Ok(Self { players, pitch })
    }

    /// One detector per ONNX Runtime lane, as `config` says (providers and
    /// their options, inference sizes), laid out as `resolved` says (lanes
    /// per device, threads, the model files of the chosen precision). The
    /// first lane records where ONNX Runtime placed each node.
    pub fn open_lanes(config: &InferConfig, resolved: &Resolved) -> Result<Vec<Self>, InferError> {
        let library = runtime::find_library(config.ort_library.as_deref())?;
        // Before any session opens: they take the capped arenas then.
        memory::limit(
            &library,
            resolved.provider,
            &resolved.devices,
            resolved.memory_limit_mb,
        )?;
        let tensorrt = resolved.provider == Provider::TensorRt;
        if let (true, Some(dir)) = (tensorrt, &config.tensorrt.cache_dir) {
            providers::prepare_cache_dir(dir)?;
        }
        let profiles = if tensorrt || resolved.static_shapes {
            Some((
                shape_profile(
                    &resolved.player_model,
                    config.player_imgsz,
                    resolved,
                    config,
                )?,
                shape_profile(&resolved.pitch_model, config.pitch_imgsz, resolved, config)?,
            ))
        } else {
            None
        };
        resolved
            .lane_devices()
            .into_iter()
            .enumerate()
            .map(|(lane, device)| {
                let options = SessionOptions {
                    library: library.clone(),
                    providers: ProviderSettings {
                        wanted: config.providers.clone(),
                        device,
                        cuda: CudaOptions {
                            cuda_graph: resolved.cuda_graph,
                            ..config.cuda
                        },
                        tensorrt: config.tensorrt.clone(),
                        memory_limit: resolved.memory_limit_mb.map(memory::mb_to_bytes),
                    },
                    intra_threads: resolved.intra_threads,
                    record_placement: lane == 0 && config.warm_up.is_some(),
                    byte_input: resolved.byte_input,
                    static_shapes: resolved.static_shapes,
                    io_binding: resolved.io_binding,
                };
                Self::open_files(
                    config,
                    (&resolved.player_model, &resolved.pitch_model),
                    &options,
                    profiles.as_ref(),
                )
            })
            .collect()
    }

    /// Opens both models of `config` with these session options.
    pub fn open(config: &InferConfig, options: &SessionOptions) -> Result<Self, InferError> {
        Self::open_files(
            config,
            (&config.player_model, &config.pitch_model),
            options,
            None,
        )
    }

    fn open_files(
        config: &InferConfig,
        (players, pitch): (&Path, &Path),
        options: &SessionOptions,
        profiles: Option<&(ShapeProfile, ShapeProfile)>,
    ) -> Result<Self, InferError> {
        let open = |path: &Path,
                    imgsz: u32,
                    profile: Option<&ShapeProfile>|
         -> Result<YoloModel, InferError> {
            let engine = OrtEngine::open_with(path, options, config.threading, profile)?;
            let (info, fixed) = (engine.info.clone(), engine.fixed_size);
            let name = path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            Ok(YoloModel::new(name, Box::new(engine), info, imgsz, fixed))
        };
        Self::new(
            open(players, config.player_imgsz, profiles.map(|p| &p.0))?,
            open(pitch, config.pitch_imgsz, profiles.map(|p| &p.1))?,
        )
    }

    /// Each model's provider, and its node placement when recorded.
    pub fn provider_report(&mut self) -> ProviderReport {
        let models = [&mut self.players, &mut self.pitch]
            .into_iter()
            .map(|model| {
                let name = model.post.name().to_owned();
                let provider = model.engine().describe();
                let placement = model.engine_mut().take_placement().map(|p| p.to_string());
                (name, provider, placement)
            })
            .collect();
        ProviderReport { models }
    }

    /// Detections and pitch keypoints for each frame, in order, every step
    /// on this thread (the pipeline in [`crate::worker`] overlaps them).
    pub fn detect(&mut self, frames: &[Frame]) -> Result<Vec<FrameDetections>, InferError> {
        let poses = self.pitch.predict(frames)?;
        let players = self.players.predict(frames)?;
        let indices: Vec<u64> = frames.iter().map(|f| f.index).collect();
        Ok(assemble(&indices, players, poses))
    }
}

/// The one input shape of a model for TensorRT and static-shape sessions:
/// the letterbox of the warm-up frame size (16:9 clips all letterbox
/// alike), full batches.
fn shape_profile(
    path: &Path,
    imgsz: u32,
    resolved: &Resolved,
    config: &InferConfig,
) -> Result<ShapeProfile, InferError> {
    let header = OnnxHeader::read(path)?;
    let (w, h) = config.warm_up.unwrap_or((1280, 720));
    let lb = Preprocess::new(&header.info, imgsz, header.input.fixed_size()).letterbox(w, h);
    // A byte-input session's input is the one the rewrite put in front.
    let input = if resolved.byte_input && byte_input::applies(&header.input) {
        byte_input::input_name(&header.input.name)
    } else {
        header.input.name
    };
    Ok(ShapeProfile {
        input,
        batch: resolved.batch_size,
        height: lb.out_h as usize,
        width: lb.out_w as usize,
    })
}

/// Per frame: the player detections and the best pitch instance's keypoints.
pub(crate) fn assemble(
    indices: &[u64],
    players: Vec<ModelOutput>,
    poses: Vec<ModelOutput>,
) -> Vec<FrameDetections> {
    indices
        .iter()
        .zip(players.into_iter().zip(poses))
        .map(|(&index, (players, poses))| {
            let detections = match players {
                ModelOutput::Detections(d) => d,
                ModelOutput::Poses(p) => p.into_iter().map(|p| p.detection).collect(),
            };
            // The miner sends only the highest-scoring pitch instance.
            let keypoints = match poses {
                ModelOutput::Poses(p) => p.into_iter().next().map(|p| p.keypoints),
                ModelOutput::Detections(_) => None,
            };
            FrameDetections {
                index,
                detections,
                keypoints,
                between_keyframes: false,
            }
        })
        .collect()
}
