//! CLIP ViT-B/32, as the validator uses it, from an ONNX image encoder and
//! a file of the prompts' text embeddings (no text encoder at run time: the
//! prompts are fixed). `deploy/export_clip.py` makes both from the open CLIP
//! weights.
//!
//! The validator's two CLIP users (open_clip for the pitch filter,
//! transformers for the box score) load the same OpenAI weights, so one
//! encoder serves both. A probability is `softmax(100 * cos(image, text))`
//! over the prompts of one question ([`Question`]).

pub mod image;
pub mod preprocess;
mod text;

use std::path::{Path, PathBuf};

use ort::session::Session;
use ort::value::{TensorElementType, TensorRef, ValueType};

use crate::error::ScoreError;
pub use text::{Question, TextEmbeddings};

/// The embedding width of ViT-B/32.
pub const EMBED_DIM: usize = 512;
/// Images per encoder run (a model with a fixed batch uses its own).
const BATCH: usize = 16;
/// CLIP's logit scale for this checkpoint.
const LOGIT_SCALE: f64 = 100.0;

/// The encoder and the text embeddings.
pub struct Clip {
    path: PathBuf,
    session: Session,
    input: String,
    /// The model's fixed batch, if it has one.
    fixed_batch: Option<usize>,
    text: TextEmbeddings,
}

impl Clip {
    /// Loads both files and checks the encoder's shapes: input float32
    /// `[batch, 3, 224, 224]`, first output float32 `[batch, 512]`.
    pub fn load(model: &Path, text: &Path, ort_library: Option<&Path>) -> Result<Clip, ScoreError> {
        let text = TextEmbeddings::read(text)?;
        let fail = |detail: String| ScoreError::ClipModel {
            path: model.to_owned(),
            detail,
        };
        if !model.is_file() {
            return Err(fail("no such file".into()));
        }
        let library = sv_infer::runtime::find_library(ort_library)?;
        let env = sv_infer::runtime::environment(&library)?;
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        let session = Session::builder(env)
            .map_err(|e| fail(e.to_string()))?
            .with_intra_threads(threads)
            .map_err(|e| fail(e.to_string()))?
            .commit_from_file(model)
            .map_err(|e| fail(e.to_string()))?;
        let shape_error = |what, found: String| ScoreError::ClipShape {
            path: model.to_owned(),
            what,
            found,
        };
        let [input] = session.inputs() else {
            return Err(shape_error("inputs", format!("{}", session.inputs().len())));
        };
        let fixed_batch = match input.dtype() {
            ValueType::Tensor {
                ty: TensorElementType::Float32,
                shape,
                ..
            } if shape.len() == 4 && shape[1..] == [3, 224, 224] => {
                (shape[0] > 0).then_some(shape[0] as usize)
            }
            other => return Err(shape_error("input", other.to_string())),
        };
        let input = input.name().to_owned();
        match session.outputs().first().map(|o| o.dtype()) {
            Some(ValueType::Tensor {
                ty: TensorElementType::Float32,
                shape,
                ..
            }) if shape.len() == 2 && shape[1] == EMBED_DIM as i64 => {}
            Some(other) => return Err(shape_error("output", other.to_string())),
            None => return Err(shape_error("outputs", "none".into())),
        }
        tracing::info!(model = %model.display(), ?fixed_batch, "CLIP image encoder loaded.");
        Ok(Clip {
            path: model.to_owned(),
            session,
            input,
            fixed_batch,
            text,
        })
    }

    /// Unit-length image embeddings of preprocessed inputs (3x224x224 each).
    pub fn embed(&mut self, inputs: &[Vec<f32>]) -> Result<Vec<Vec<f64>>, ScoreError> {
        let batch = self.fixed_batch.unwrap_or(BATCH);
        let plane = 3 * preprocess::SIDE * preprocess::SIDE;
        let mut out = Vec::with_capacity(inputs.len());
        for chunk in inputs.chunks(batch) {
            let n = self.fixed_batch.unwrap_or(chunk.len());
            let mut data = vec![0.0f32; n * plane];
            for (slot, input) in data.chunks_exact_mut(plane).zip(chunk) {
                slot.copy_from_slice(input);
            }
            let shape = [n, 3, preprocess::SIDE, preprocess::SIDE];
            let run = |e: ort::Error| ScoreError::ClipRun {
                detail: format!("{}: {e}", self.path.display()),
            };
            let tensor = TensorRef::from_array_view((shape, data.as_slice())).map_err(run)?;
            let outputs = self
                .session
                .run(ort::inputs![self.input.as_str() => tensor])
                .map_err(run)?;
            let (shape, values) = outputs[0].try_extract_tensor::<f32>().map_err(run)?;
            if shape.len() != 2 || shape[0] as usize != n || shape[1] as usize != EMBED_DIM {
                return Err(ScoreError::ClipRun {
                    detail: format!("output shape {shape}, expected [{n}, {EMBED_DIM}]"),
                });
            }
            out.extend(values.chunks_exact(EMBED_DIM).take(chunk.len()).map(unit));
        }
        Ok(out)
    }

    /// `softmax(100 cos)` of each image over the question's prompts.
    pub fn probabilities(&self, question: Question, embeddings: &[Vec<f64>]) -> Vec<Vec<f64>> {
        let texts = self.text.question(question);
        embeddings
            .iter()
            .map(|image| {
                let logits: Vec<f64> = texts
                    .iter()
                    .map(|t| LOGIT_SCALE * t.iter().zip(image).map(|(a, b)| a * b).sum::<f64>())
                    .collect();
                softmax(&logits)
            })
            .collect()
    }
}

fn unit(v: &[f32]) -> Vec<f64> {
    let norm = v
        .iter()
        .map(|&x| f64::from(x) * f64::from(x))
        .sum::<f64>()
        .sqrt();
    v.iter().map(|&x| f64::from(x) / norm).collect()
}

fn softmax(logits: &[f64]) -> Vec<f64> {
    let max = logits.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let e: Vec<f64> = logits.iter().map(|l| (l - max).exp()).collect();
    let total: f64 = e.iter().sum();
    e.iter().map(|x| x / total).collect()
}

/// The index of the largest value, the first on a tie (as torch's argmax).
pub fn argmax(values: &[f64]) -> usize {
    let mut best = 0;
    for (i, v) in values.iter().enumerate() {
        if *v > values[best] {
            best = i;
        }
    }
    best
}
