//! The [`Engine`] trait: a batch in, the raw output tensor out. The ONNX
//! Runtime implementation, [`OrtEngine`], lives here; tests and benchmarks
//! can inject others.
//!
//! One file per job:
//! - `options`: how a model is opened ([`SessionOptions`], [`Threading`]);
//! - `builder`: the session builder before providers (threads, memory
//!   limit, profiling) and what the file decides (fixed dimensions, byte
//!   input);
//! - `open`: [`OrtEngine::open_with`] as named steps, and reopening;
//! - `ort_engine`: what the engine holds and reports;
//! - `run`: bound and plain runs, the dynamic-shape session;
//! - `output`: the raw [`Output`] a run gives;
//! - `placement`: which provider ran each node ([`Placement`]).
//!
//! Why opening or running failed ([`OpenError`], [`RunError`]) is defined
//! in [`crate::error`], beside the [`InferError`] that wraps it.

mod builder;
mod open;
mod options;
mod ort_engine;
mod output;
mod placement;
mod run;

pub use crate::error::{GraphRefused, OpenError, RunError};
pub use options::{SessionOptions, Threading};
pub use ort_engine::OrtEngine;
pub use output::Output;
pub use placement::{Placement, PlacementError};

use crate::error::InferError;
use crate::providers::{Provider, SkipReason};
use crate::tensor::{ElementType, Input, InputTensor};

/// Runs a model on an NCHW batch.
pub trait Engine: Send {
    /// Runs the model on `input`, a batch of `shape` (batch, channels,
    /// height, width), and returns its output tensor. Fails with
    /// [`InferError::OutOfMemory`] when a smaller batch might fit.
    fn run(&mut self, input: Input<'_>, shape: [usize; 4]) -> Result<Output, InferError>;
    /// The execution provider doing the work.
    fn provider(&self) -> Provider;
    /// The provider, and why the ones wanted before it were not used.
    fn describe(&self) -> String {
        self.provider().name().to_owned()
    }
    /// The providers wanted before [`provider`](Self::provider) that the
    /// engine did not get, each with why.
    fn skipped(&self) -> &[(Provider, SkipReason)] {
        &[]
    }
    /// The element type the model's input takes.
    fn input_type(&self) -> ElementType {
        ElementType::F32
    }
    /// Where the nodes of the runs so far went, once (engines that record
    /// it; the ONNX Runtime engine does when asked to at open).
    fn take_placement(&mut self) -> Option<Placement> {
        None
    }
    /// Up to `count` input tensors of the engine's one input shape in the
    /// memory it copies from fastest (page-locked host memory beside a
    /// GPU), for the letterbox to write into; none when it has no such
    /// memory (then ordinary buffers do).
    fn host_inputs(&self, _count: usize) -> Vec<InputTensor> {
        Vec::new()
    }
}
