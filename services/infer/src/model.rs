//! [`YoloModel`]: one ultralytics model behind an [`Engine`], from frames to
//! detections in frame pixels. It splits into its three steps, so the
//! pipeline can run each on its own thread: [`Preprocess`] (letterbox into
//! the input tensor), the engine, and [`Postprocess`] (NMS, back to frame
//! pixels).

use sv_core::{Detection, Frame};

use crate::engine::{Engine, Output};
use crate::error::InferError;
use crate::fit::BatchLimit;
use crate::metadata::{ModelInfo, Task};
use crate::post::{self, PoseInstance, Prediction, Thresholds};
use crate::pre::Letterbox;
use crate::pre::batch::{self, same_size_runs};
use crate::tensor::InputTensor;

/// What a model found in one frame.
#[derive(Debug, Clone, PartialEq)]
pub enum ModelOutput {
    /// A detect model's boxes in frame pixels, NMS order.
    Detections(Vec<Detection>),
    /// A pose model's instances (box and keypoints) in frame pixels, NMS
    /// order.
    Poses(Vec<PoseInstance>),
}

/// Where frames land in a model's input: its size and padding rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Preprocess {
    /// Network input (height, width) to letterbox into.
    target: (u32, u32),
    stride: u32,
    /// Minimal (rectangular) padding, as for a `.pt` or dynamic ONNX model.
    auto: bool,
}

impl Preprocess {
    /// `imgsz` is the requested inference size (ultralytics' `imgsz`); a model
    /// with a fixed input size ignores it and uses its own, square-padded.
    pub fn new(info: &ModelInfo, imgsz: u32, fixed_size: Option<(u32, u32)>) -> Self {
        // check_imgsz: round each side up to a multiple of the stride.
        let round_up = |s: u32| s.div_ceil(info.stride) * info.stride;
        let (target, auto) = match fixed_size {
            Some(size) => (size, false),
            None => ((round_up(imgsz), round_up(imgsz)), true),
        };
        Self {
            target,
            stride: info.stride,
            auto,
        }
    }

    /// The letterbox a frame of this size gets.
    pub fn letterbox(&self, width: u32, height: u32) -> Letterbox {
        Letterbox::new(width, height, self.target, self.stride, self.auto)
    }
}

/// From a raw output tensor to detections or poses in frame pixels.
#[derive(Debug, Clone)]
pub struct Postprocess {
    name: String,
    info: ModelInfo,
    /// Confidence, IoU and detection-count limits; ultralytics' predict
    /// defaults unless the configuration sets them.
    pub thresholds: Thresholds,
}

impl Postprocess {
    /// Postprocessing for the model `name` ("players" or "pitch", used in
    /// errors) whose export metadata is `info`, with default thresholds.
    pub fn new(name: impl Into<String>, info: ModelInfo) -> Self {
        Self {
            name: name.into(),
            info,
            thresholds: Thresholds::default(),
        }
    }

    /// The model's export metadata: classes, input size, task, keypoints.
    pub fn info(&self) -> &ModelInfo {
        &self.info
    }

    /// The model's name in logs and errors ("players" or "pitch").
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Splits a `[batch, 4 + nc + extra, anchors]` output into per-frame
    /// results for its first `frames` images, all letterboxed by `lb`; the
    /// images after them were padding.
    pub fn decode(
        &self,
        output: &Output,
        frames: usize,
        lb: &Letterbox,
    ) -> Result<Vec<ModelOutput>, InferError> {
        let classes = self.info.names.len();
        let extra = self.info.kpt_shape.map_or(0, |(k, d)| k * d);
        let rows = 4 + classes + extra;
        let [b, r, anchors] = output.shape()[..] else {
            return Err(self.shape_error(format!(
                "output shape {:?}, expected [batch, rows, anchors]",
                output.shape()
            )));
        };
        if b < frames || r != rows {
            return Err(self.shape_error(format!(
                "output shape {:?}, expected [{frames} or more, {rows}, anchors]",
                output.shape()
            )));
        }
        let data = output.data()?;
        let per_image = rows * anchors;
        if data.len() != b * per_image {
            return Err(self.shape_error(format!(
                "{} values for shape {:?}",
                data.len(),
                output.shape()
            )));
        }
        Ok(data
            .chunks_exact(per_image)
            .take(frames)
            .map(|data| {
                let prediction = Prediction {
                    data,
                    anchors,
                    classes,
                };
                match (self.info.task, self.info.kpt_shape) {
                    (Task::Pose, Some((k, _))) => {
                        ModelOutput::Poses(post::poses(&prediction, lb, &self.thresholds, k))
                    }
                    _ => {
                        ModelOutput::Detections(post::detections(&prediction, lb, &self.thresholds))
                    }
                }
            })
            .collect())
    }

    fn shape_error(&self, detail: String) -> InferError {
        InferError::Shape {
            model: self.name.clone(),
            what: "output",
            detail,
        }
    }
}

/// One ultralytics YOLOv8 model (detect or pose) with its engine, its
/// letterbox and its postprocessing: frames in, detections or poses in
/// frame pixels out.
pub struct YoloModel {
    engine: Box<dyn Engine>,
    pre: Preprocess,
    /// Decodes the engine's output; public so callers can set its
    /// thresholds.
    pub post: Postprocess,
    /// Reused between batches: the input tensor, of the engine's type.
    tensor: InputTensor,
    /// The most images the engine runs at once, as the warm-up settled it
    /// (`crate::fit`); the pipeline's lane takes it over.
    limit: BatchLimit,
}

impl YoloModel {
    /// `imgsz` is the requested inference size (ultralytics' `imgsz`); a model
    /// with a fixed input size ignores it and uses its own, square-padded.
    pub fn new(
        name: impl Into<String>,
        engine: Box<dyn Engine>,
        info: ModelInfo,
        imgsz: u32,
        fixed_size: Option<(u32, u32)>,
    ) -> Self {
        let tensor = InputTensor::new(engine.input_type());
        Self {
            engine,
            pre: Preprocess::new(&info, imgsz, fixed_size),
            post: Postprocess::new(name, info),
            tensor,
            limit: BatchLimit::default(),
        }
    }

    /// The most images the engine runs at once (see `crate::fit`).
    pub fn batch_limit(&self) -> &BatchLimit {
        &self.limit
    }

    /// Records the limit the warm-up settled (`crate::fit`).
    pub fn set_batch_limit(&mut self, limit: BatchLimit) {
        self.limit = limit;
    }

    /// The model's export metadata: classes, input size, task, keypoints.
    pub fn info(&self) -> &ModelInfo {
        self.post.info()
    }

    /// The engine that runs the model (its provider, input type, sizes).
    pub fn engine(&self) -> &dyn Engine {
        self.engine.as_ref()
    }

    /// The engine, to run it directly (the warm-up's trial batches).
    pub fn engine_mut(&mut self) -> &mut dyn Engine {
        self.engine.as_mut()
    }

    /// The input size and padding rule, for a pipeline that letterboxes
    /// on its own threads.
    pub fn preprocess(&self) -> Preprocess {
        self.pre
    }

    /// The letterbox a frame of this size gets.
    pub fn letterbox(&self, width: u32, height: u32) -> Letterbox {
        self.pre.letterbox(width, height)
    }

    /// The three steps, for a pipeline that runs them on different threads.
    pub fn into_parts(self) -> (Preprocess, Box<dyn Engine>, Postprocess) {
        (self.pre, self.engine, self.post)
    }

    /// Runs the model on `frames`, all steps on this thread (one batch per
    /// run of equally sized frames).
    pub fn predict(&mut self, frames: &[Frame]) -> Result<Vec<ModelOutput>, InferError> {
        let mut outputs = Vec::with_capacity(frames.len());
        for run in same_size_runs(frames) {
            outputs.extend(self.predict_same_size(&frames[run])?);
        }
        Ok(outputs)
    }

    fn predict_same_size(&mut self, frames: &[Frame]) -> Result<Vec<ModelOutput>, InferError> {
        let lb = self.letterbox(frames[0].width, frames[0].height);
        batch::draw_all(batch::slots(lb, frames, &mut self.tensor, frames.len())?, 1);
        let shape = [frames.len(), 3, lb.out_h as usize, lb.out_w as usize];
        let output = self.engine.run(self.tensor.view(), shape)?;
        self.post.decode(&output, frames.len(), &lb)
    }
}
