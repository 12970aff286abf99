//! Running an [`OrtEngine`]: through the static session's binding when the
//! batch has the bound shape, plainly otherwise (on the dynamic-shape
//! session for a batch of another shape), and giving up the binding for
//! good when a bound run fails.

use ort::session::{Session, SessionInputValue};
use ort::value::{DynValue, TensorRef};

use super::OrtEngine;
use super::output::Output;
use crate::binding::BindingError;
use crate::error::{GraphRefused, RunError};
use crate::tensor::Input;

impl OrtEngine {
    /// One run: bound when it can be, plainly otherwise.
    pub(super) fn run_once(
        &mut self,
        input: Input<'_>,
        shape: [usize; 4],
    ) -> Result<Output, RunError> {
        if input.element_type() != self.input_type {
            return Err(RunError::InputType {
                got: input.element_type().name(),
                takes: self.input_type.name(),
            });
        }
        let value = match self.run_bound(input, shape) {
            Some(Ok(value)) => value,
            Some(Err(why)) => {
                self.unbind(why)?;
                self.run_plain(input, shape)?
            }
            None => self.run_plain(input, shape)?,
        };
        Output::from_value(value, self.output_type, self.own_outputs)
    }

    /// Runs the static session through its binding, or says why not.
    fn run_bound(
        &mut self,
        input: Input<'_>,
        shape: [usize; 4],
    ) -> Option<Result<DynValue, BindingError>> {
        if self.static_shape != Some(shape) {
            return None;
        }
        let binding = self.binding.as_mut()?;
        // Without fixed buffers only the memory the binding gave out is
        // worth binding; an ordinary buffer runs as before.
        if !binding.fixed() && !matches!(input, Input::Host(_)) {
            return None;
        }
        Some(binding.run(&mut self.session, input, shape))
    }

    /// After a bound run failed: the binding goes, and a session that
    /// captured a CUDA graph is opened again without one (a plain run
    /// would replay the graph on stale buffers).
    fn unbind(&mut self, why: BindingError) -> Result<(), RunError> {
        let Some(binding) = self.binding.take() else {
            return Ok(());
        };
        tracing::warn!(model = %self.name, error = %why, "A bound run failed; running without I/O binding from now on.");
        if !binding.fixed() {
            return Ok(());
        }
        let Some(reopen) = self.reopen.as_deref() else {
            return Err(RunError::NoReopen);
        };
        let mut options = reopen.options.clone();
        options.io_binding = false;
        options.record_placement = false;
        options.providers.cuda.cuda_graph = false;
        let fresh = Self::open_with(
            &reopen.path,
            &options,
            reopen.threading,
            reopen.profile.as_ref(),
        )
        .map_err(|e| RunError::Reopen(Box::new(e)))?;
        *self = Self {
            graph_refused: Some(GraphRefused::BoundRun(why)),
            ..fresh
        };
        Ok(())
    }

    /// The session for an input of `shape`: the static one when it fits.
    fn session_for(&mut self, shape: [usize; 4]) -> Result<&mut Session, RunError> {
        if self.static_shape.is_none_or(|s| s == shape) {
            return Ok(&mut self.session);
        }
        if let (None, Some(reopen)) = (&self.dynamic, &self.reopen) {
            tracing::info!(model = %self.name, ?shape, static_shape = ?self.static_shape, "Opening a dynamic-shape session for an input of another shape.");
            self.dynamic = Some(reopen.open(&self.name).map(Box::new).map_err(Into::into));
        }
        match &mut self.dynamic {
            Some(Ok(session)) => Ok(session),
            Some(Err(e)) => Err(RunError::Dynamic(e.clone())),
            None => Err(RunError::NoDynamic),
        }
    }

    /// A run without binding: ONNX Runtime copies the input in and
    /// allocates the output.
    fn run_plain(&mut self, input: Input<'_>, shape: [usize; 4]) -> Result<DynValue, RunError> {
        let (input_name, output_name) = (self.input.clone(), self.output.clone());
        let session = self.session_for(shape)?;
        // A view of the caller's buffer in the model's element type.
        let tensor: SessionInputValue<'_> = match input.plain() {
            Input::F32(data) => TensorRef::from_array_view((shape, data)).map(Into::into),
            Input::F16(data) => TensorRef::from_array_view((shape, data)).map(Into::into),
            Input::U8(data) => TensorRef::from_array_view((shape, data)).map(Into::into),
            Input::Host(_) => unreachable!("plain() resolves host tensors"),
        }?;
        let mut outputs = session.run(ort::inputs![input_name.as_str() => tensor])?;
        // Take the value out of the session's outputs: it owns its buffer, so
        // postprocessing can read it on another thread without a copy.
        outputs
            .remove(output_name.as_str())
            .ok_or(RunError::NoOutput(output_name))
    }
}
