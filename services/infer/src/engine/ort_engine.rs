//! [`OrtEngine`]: the [`Engine`] over an ONNX Runtime session, what it
//! holds and reports. Opening it is [`super::open`]'s job, running it
//! [`super::run`]'s.

use std::sync::Arc;

use ort::session::Session;
use ort::value::ValueType;

use super::open::Reopen;
use super::placement::Placement;
use super::{Engine, Output};
use crate::binding::{self, Binding};
use crate::error::{GraphRefused, InferError, OpenError};
use crate::memory;
use crate::metadata::ModelInfo;
use crate::providers::{Provider, ProviderChoice, SkipReason};
use crate::tensor::{ElementType, Input, InputTensor};

/// An [`Engine`](super::Engine) on an ONNX Runtime session: the provider
/// it settled on, the static and dynamic-shape sessions, and the I/O
/// binding when there is one.
pub struct OrtEngine {
    pub(super) name: String,
    pub(super) session: Session,
    pub(super) input: String,
    pub(super) output: String,
    pub(super) input_type: ElementType,
    pub(super) output_type: ElementType,
    pub(super) choice: ProviderChoice,
    pub(super) profiling: bool,
    /// Copy each output out of ONNX Runtime's memory at once: on the CPU
    /// under a memory limit, where outputs would otherwise hold the capped
    /// arena while postprocessing waits for them (a GPU's outputs come back
    /// to host memory, outside the device's arena, anyway).
    pub(super) own_outputs: bool,
    /// With static shapes: the one input shape `session` takes, and how to
    /// open a session for any other (or this one again, unbound).
    pub(super) static_shape: Option<[usize; 4]>,
    pub(super) reopen: Option<Box<Reopen>>,
    /// The dynamic-shape session of a static-shape engine, opened (or
    /// failed to open) the first time a batch of another shape comes (a
    /// clip that is not 16:9).
    pub(super) dynamic: Option<Result<Box<Session>, Arc<OpenError>>>,
    /// With I/O binding: the static session's binding.
    pub(super) binding: Option<Binding>,
    /// Why CUDA graphs were asked for and not used.
    pub(super) graph_refused: Option<GraphRefused>,
    /// The input's (height, width) when the model file has a fixed spatial
    /// size (static shapes leave this as the file says).
    pub fixed_size: Option<(u32, u32)>,
    /// The export metadata read from the model file.
    pub info: ModelInfo,
}

impl OrtEngine {
    /// Whether the static session runs bound, and with fixed buffers.
    pub fn bound(&self) -> Option<bool> {
        self.binding.as_ref().map(Binding::fixed)
    }

    /// The one input shape the main session takes, with static shapes.
    pub fn static_shape(&self) -> Option<[usize; 4]> {
        self.static_shape
    }

    /// The main session's input dimensions as ONNX Runtime reports them
    /// (-1 where symbolic): with static shapes, the profile's.
    pub fn session_input_dims(&self) -> Vec<i64> {
        match self.session.inputs().first().map(|i| i.dtype()) {
            Some(ValueType::Tensor { shape, .. }) => shape.iter().copied().collect(),
            _ => Vec::new(),
        }
    }

    /// Whether a batch of another shape has opened the dynamic session.
    pub fn opened_dynamic(&self) -> bool {
        matches!(self.dynamic, Some(Ok(_)))
    }

    /// The provider the session runs on and why earlier ones were not used.
    pub fn choice(&self) -> &ProviderChoice {
        &self.choice
    }
}

impl Engine for OrtEngine {
    fn run(&mut self, input: Input<'_>, shape: [usize; 4]) -> Result<Output, InferError> {
        self.run_once(input, shape).map_err(|source| {
            let model = self.name.clone();
            // ONNX Runtime gives memory failures no code of their own.
            if memory::is_out_of_memory(&source.to_string()) {
                InferError::OutOfMemory { model, source }
            } else {
                InferError::Run { model, source }
            }
        })
    }

    fn host_inputs(&self, count: usize) -> Vec<InputTensor> {
        let (Some(binding), Some(shape)) = (&self.binding, self.static_shape) else {
            return Vec::new();
        };
        let memory = binding.memory();
        match binding::host_inputs(&self.session, memory, self.input_type, shape, count) {
            Ok(tensors) => tensors.into_iter().map(InputTensor::Host).collect(),
            Err(e) => {
                tracing::warn!(model = %self.name, error = %e, "No page-locked input buffers; ordinary ones are used.");
                Vec::new()
            }
        }
    }

    fn provider(&self) -> Provider {
        self.choice.provider
    }

    fn skipped(&self) -> &[(Provider, SkipReason)] {
        &self.choice.skipped
    }

    fn describe(&self) -> String {
        match &self.graph_refused {
            Some(why) => format!("{} (CUDA graph not used: {why})", self.choice),
            None => self.choice.to_string(),
        }
    }

    fn input_type(&self) -> ElementType {
        self.input_type
    }

    fn take_placement(&mut self) -> Option<Placement> {
        if !std::mem::take(&mut self.profiling) {
            return None;
        }
        let file = match self.session.end_profiling() {
            Ok(file) => file,
            Err(e) => {
                tracing::debug!(model = %self.name, error = %e, "No profile to read the placement from.");
                return None;
            }
        };
        match Placement::from_profile_file(file.as_ref()) {
            Ok(placement) => Some(placement),
            Err(e) => {
                tracing::warn!(model = %self.name, error = %e, "Could not read the node placement.");
                None
            }
        }
    }
}
