//! [`YoloModel`]: one ultralytics model behind an [`Engine`], from frames to
//! detections in frame pixels.

use sv_core::{Detection, Frame, PixelFormat};

use crate::engine::{Engine, Output};
use crate::error::InferError;
use crate::metadata::{ModelInfo, Task};
use crate::post::{self, PoseInstance, Prediction, Thresholds};
use crate::pre::{Letterbox, to_chw};

/// What a model found in one frame.
#[derive(Debug, Clone, PartialEq)]
pub enum ModelOutput {
    Detections(Vec<Detection>),
    Poses(Vec<PoseInstance>),
}

pub struct YoloModel {
    name: String,
    engine: Box<dyn Engine>,
    info: ModelInfo,
    /// Network input (height, width) to letterbox into.
    target: (u32, u32),
    /// Minimal (rectangular) padding, as for a `.pt` or dynamic ONNX model.
    auto: bool,
    pub thresholds: Thresholds,
    /// Reused between batches: letterboxed pixels and the input tensor.
    canvas: Vec<u8>,
    tensor: Vec<f32>,
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
        // check_imgsz: round each side up to a multiple of the stride.
        let round_up = |s: u32| s.div_ceil(info.stride) * info.stride;
        let (target, auto) = match fixed_size {
            Some(size) => (size, false),
            None => ((round_up(imgsz), round_up(imgsz)), true),
        };
        Self {
            name: name.into(),
            engine,
            info,
            target,
            auto,
            thresholds: Thresholds::default(),
            canvas: Vec::new(),
            tensor: Vec::new(),
        }
    }

    pub fn info(&self) -> &ModelInfo {
        &self.info
    }

    pub fn engine(&self) -> &dyn Engine {
        self.engine.as_ref()
    }

    /// The letterbox a frame of this size gets.
    pub fn letterbox(&self, width: u32, height: u32) -> Letterbox {
        Letterbox::new(width, height, self.target, self.info.stride, self.auto)
    }

    /// Runs the model on `frames` (one batch per run of equally sized frames).
    pub fn predict(&mut self, frames: &[Frame]) -> Result<Vec<ModelOutput>, InferError> {
        let mut outputs = Vec::with_capacity(frames.len());
        let mut start = 0;
        while start < frames.len() {
            let size = (frames[start].width, frames[start].height);
            let len = frames[start..]
                .iter()
                .take_while(|f| (f.width, f.height) == size)
                .count();
            outputs.extend(self.predict_same_size(&frames[start..start + len])?);
            start += len;
        }
        Ok(outputs)
    }

    fn predict_same_size(&mut self, frames: &[Frame]) -> Result<Vec<ModelOutput>, InferError> {
        let lb = self.letterbox(frames[0].width, frames[0].height);
        let (w, h) = (lb.out_w as usize, lb.out_h as usize);
        self.tensor.clear();
        self.canvas.resize(w * h * 3, 0);
        for frame in frames {
            check_frame(frame)?;
            lb.draw(frame, &mut self.canvas);
            to_chw(&self.canvas, w, h, &mut self.tensor);
        }
        let output = self.engine.run(&self.tensor, [frames.len(), 3, h, w])?;
        self.decode(&output, frames.len(), &lb)
    }

    fn decode(
        &self,
        output: &Output,
        batch: usize,
        lb: &Letterbox,
    ) -> Result<Vec<ModelOutput>, InferError> {
        let classes = self.info.names.len();
        let extra = self.info.kpt_shape.map_or(0, |(k, d)| k * d);
        let rows = 4 + classes + extra;
        let [b, r, anchors] = output.shape[..] else {
            return Err(self.shape_error(format!(
                "output shape {:?}, expected [batch, rows, anchors]",
                output.shape
            )));
        };
        if b != batch || r != rows {
            return Err(self.shape_error(format!(
                "output shape {:?}, expected [{batch}, {rows}, anchors]",
                output.shape
            )));
        }
        let per_image = rows * anchors;
        Ok((0..batch)
            .map(|i| {
                let prediction = Prediction {
                    data: &output.data[i * per_image..(i + 1) * per_image],
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

fn check_frame(frame: &Frame) -> Result<(), InferError> {
    let bad = |why: &str| {
        Err(InferError::BadFrame {
            index: frame.index,
            why: why.into(),
        })
    };
    if frame.format != PixelFormat::Rgb8 {
        return bad("infer takes RGB frames");
    }
    if frame.width == 0
        || frame.height == 0
        || frame.data.len() < frame.expected_len()
        || frame.stride < frame.width * 3
    {
        return bad("pixel buffer does not match the frame size");
    }
    if (frame.width, frame.height) != (frame.source_width, frame.source_height) {
        return bad("downscaled frames are not supported by the CPU path");
    }
    Ok(())
}
