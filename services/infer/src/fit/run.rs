//! [`Fitted`]: one model's engine on one lane, run in batches that fit.

use std::collections::VecDeque;
use std::ops::Range;

use super::half;
use super::limit::BatchLimit;
use crate::engine::{Engine, Output};
use crate::error::InferError;
use crate::tensor::Input;

/// A lane's engine for one model, with the most images it runs at once.
pub struct Fitted {
    engine: Box<dyn Engine>,
    model: String,
    limit: BatchLimit,
}

/// A run's output, and what it took to get (or fail to get) it.
#[derive(Debug)]
pub struct Ran {
    /// The images' outputs in order: the real frames', and the padding's
    /// where a run carried it.
    pub output: Result<Output, InferError>,
    /// Engine runs made (more than one when the input ran in pieces).
    pub runs: usize,
    /// Runs that failed and were rerun in halves.
    pub retried: usize,
    /// Whether one run took the input as it was given (an engine's own
    /// input memory reaches the engine only then).
    pub whole: bool,
}

/// What a run took, whether or not it answered ([`Ran`]'s counts).
#[derive(Default)]
struct Tally {
    runs: usize,
    retried: usize,
    whole: bool,
}

impl Fitted {
    /// `engine` running `model` (the name in logs and errors) within
    /// `limit` (what the warm-up settled, or none yet).
    pub fn new(engine: Box<dyn Engine>, model: impl Into<String>, limit: BatchLimit) -> Self {
        Self {
            engine,
            model: model.into(),
            limit,
        }
    }

    /// The engine that runs the model.
    pub fn engine(&self) -> &dyn Engine {
        self.engine.as_ref()
    }

    /// The most images a run may hold, per input shape, as lowered so far.
    pub fn limit(&self) -> &BatchLimit {
        &self.limit
    }

    /// Runs `input`, an NCHW batch of `shape` whose first `frames` images
    /// are real (the rest padding), in runs of at most the batch its shape
    /// fits. A run that fails is split in halves, each rerun (halves of
    /// padding alone are not), and the batch for the shape is lowered to
    /// the largest piece that ran below the smallest that failed. Only a
    /// single image failing fails the input: with the engine's error as it
    /// is when nothing was split, [`InferError::RetryFailed`] otherwise.
    pub fn run(&mut self, input: Input<'_>, shape: [usize; 4], frames: usize) -> Ran {
        let mut tally = Tally::default();
        let output = self.run_pieces(input, shape, frames, &mut tally);
        Ran {
            output,
            runs: tally.runs,
            retried: tally.retried,
            whole: tally.whole,
        }
    }

    /// The output, counting in `tally` as it goes.
    fn run_pieces(
        &mut self,
        input: Input<'_>,
        shape: [usize; 4],
        frames: usize,
        tally: &mut Tally,
    ) -> Result<Output, InferError> {
        let [n, channels, h, w] = shape;
        let image = channels * h * w;
        let real = frames.clamp(1, n.max(1));
        let most = self.limit.batch_for((h, w)).unwrap_or(n).max(1);
        let mut pieces: VecDeque<Range<usize>> = (0..real)
            .step_by(most)
            .map(|start| start..(start + most).min(n))
            .collect();
        let mut outputs = Vec::with_capacity(pieces.len());
        let mut ran_sizes = Vec::new();
        // The first run that failed, and the smallest.
        let mut failed: Option<(usize, usize)> = None;
        while let Some(piece) = pieces.pop_front() {
            let len = piece.len();
            let whole = piece == (0..n);
            let part = match whole {
                true => Some(input),
                false => input.images(image, piece.clone()),
            };
            let part = part.ok_or_else(|| InferError::Shape {
                model: self.model.clone(),
                what: "input",
                detail: format!("{} values for shape {shape:?}", input.len()),
            })?;
            tally.runs += 1;
            match self.engine.run(part, [len, channels, h, w]) {
                Ok(output) => {
                    tally.whole = whole;
                    ran_sizes.push(len);
                    outputs.push(output);
                }
                Err(e) if len > 1 => {
                    tracing::warn!(model = %self.model, images = len, error = %e, "A run failed; running it again in halves.");
                    failed = Some(failed.map_or((len, len), |(first, s)| (first, s.min(len))));
                    tally.retried += 1;
                    let middle = piece.start + half(len);
                    // A half of nothing but padding answers nothing.
                    if middle < real {
                        pieces.push_front(middle..piece.end);
                    }
                    pieces.push_front(piece.start..middle);
                }
                Err(e) => {
                    return Err(match failed {
                        None => e,
                        Some((first, _)) => InferError::RetryFailed {
                            model: self.model.clone(),
                            images: first,
                            source: Box::new(e),
                        },
                    });
                }
            }
        }
        if let Some((_, smallest)) = failed {
            let fits = ran_sizes
                .iter()
                .copied()
                .filter(|&s| s < smallest)
                .max()
                .unwrap_or(1);
            self.limit.lower((h, w), fits);
            tracing::warn!(model = %self.model, height = h, width = w, batch = fits, "Lowered the lane's batch for inputs of this shape for the rest of the process.");
        }
        join(&self.model, outputs)
    }
}

/// The pieces' outputs as one, in order (the one output as it is).
fn join(model: &str, mut outputs: Vec<Output>) -> Result<Output, InferError> {
    if outputs.len() == 1
        && let Some(output) = outputs.pop()
    {
        return Ok(output);
    }
    let shape_err = |detail: String| InferError::Shape {
        model: model.to_owned(),
        what: "output",
        detail,
    };
    let tail: Vec<usize> = match outputs.first() {
        Some(o) if !o.shape().is_empty() => o.shape()[1..].to_vec(),
        _ => return Err(shape_err("no output to join".into())),
    };
    let mut batch = 0;
    let mut data = Vec::new();
    for output in &outputs {
        let shape = output.shape();
        if shape.get(1..) != Some(tail.as_slice()) {
            return Err(shape_err(format!(
                "pieces of shapes {:?} and {shape:?} do not join",
                outputs[0].shape()
            )));
        }
        batch += shape[0];
        data.extend_from_slice(output.data()?);
    }
    let mut shape = vec![batch];
    shape.extend(tail);
    Ok(Output::from_vec(shape, data))
}
