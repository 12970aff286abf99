//! I/O binding (`--io-binding`) and the fixed device buffers CUDA graphs
//! need (`--cuda-graph`), for the one input shape of a static-shape session.
//!
//! Without binding, ONNX Runtime copies each input from the caller's buffer
//! (pageable memory, which the driver stages through a bounce buffer before
//! the device can read it) and writes each output to memory it allocates.
//! With binding:
//!
//! - inputs are tensors ONNX Runtime allocated in page-locked host memory
//!   ([`host_inputs`]); the letterbox writes into them directly and the copy
//!   to the device is one DMA transfer;
//! - outputs are written to page-locked host memory, a fresh tensor per run
//!   (postprocessing reads one on another thread while the next run goes);
//! - with fixed buffers (what CUDA graphs need: ONNX Runtime records the
//!   kernels at the second run and then replays them, so the input and
//!   output must sit at the same device addresses every run) the input is
//!   copied into one device tensor bound once, and the output out of one.
//!
//! On the CPU provider "page-locked" and "device" are ordinary CPU memory:
//! the same code runs, which is how it is tested without a GPU.

use ort::memory::{AllocationDevice, Allocator, AllocatorType, MemoryInfo, MemoryType};
use ort::session::{IoBinding, Session};
use ort::value::{DynTensor, DynTensorValueType, DynValue};

use crate::tensor::{ElementType, HostTensor, Input, TensorError};

/// Why a bound run (or making its buffers) failed: the engine then runs
/// unbound.
#[derive(Debug, thiserror::Error)]
pub enum BindingError {
    #[error(transparent)]
    Ort(#[from] ort::Error),
    #[error(transparent)]
    Tensor(#[from] TensorError),
    #[error("only host tensors are bound without fixed buffers")]
    NotHost,
    #[error("no output named {0}")]
    NoOutput(String),
    #[error("no staging tensor")]
    NoStaging,
}

/// Where a bound session's buffers live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Memory {
    /// A GPU provider's: page-locked host memory and the GPU's own.
    Gpu(u32),
    /// The CPU provider's (and tests'): ordinary memory for both.
    Cpu,
}

impl Memory {
    /// Where inputs are written and outputs read on the host.
    fn host(self) -> Result<MemoryInfo<'static>, ort::Error> {
        match self {
            Self::Gpu(device) => MemoryInfo::new(
                AllocationDevice::CUDA_PINNED,
                device as i32,
                AllocatorType::Device,
                MemoryType::CPUOutput,
            ),
            Self::Cpu => MemoryInfo::new(
                AllocationDevice::CPU,
                0,
                AllocatorType::Device,
                MemoryType::Default,
            ),
        }
    }

    /// Where the fixed buffers of a graph-captured session live.
    fn device(self) -> Result<MemoryInfo<'static>, ort::Error> {
        match self {
            Self::Gpu(device) => MemoryInfo::new(
                AllocationDevice::CUDA,
                device as i32,
                AllocatorType::Device,
                MemoryType::Default,
            ),
            Self::Cpu => self.host(),
        }
    }
}

/// `count` input tensors of `shape` in `memory`'s host memory, allocated
/// through `session` (the memory is the process's: any session on any
/// device can read them).
pub fn host_inputs(
    session: &Session,
    memory: Memory,
    ty: ElementType,
    shape: [usize; 4],
    count: usize,
) -> Result<Vec<HostTensor>, BindingError> {
    let allocator = Allocator::new(session, memory.host()?)?;
    (0..count)
        .map(|_| {
            let value = DynTensor::new(&allocator, tensor_type(ty), shape.to_vec())?;
            Ok(HostTensor::new(value, ty)?)
        })
        .collect()
}

fn tensor_type(ty: ElementType) -> ort::value::TensorElementType {
    use ort::value::TensorElementType as T;
    match ty {
        ElementType::F32 => T::Float32,
        ElementType::F16 => T::Float16,
        ElementType::U8 => T::Uint8,
    }
}

/// A session's binding: the input and output names, where outputs go, and
/// with fixed buffers the device tensors.
pub struct Binding {
    binding: IoBinding,
    input: String,
    output: String,
    memory: Memory,
    host: MemoryInfo<'static>,
    fixed: Option<Fixed>,
}

/// The device buffers a captured graph reads and writes.
struct Fixed {
    input: DynTensor,
    /// Host memory an ordinary buffer is copied through (ONNX Runtime
    /// copies between devices only from tensors it owns), made when first
    /// needed.
    staging: Option<HostTensor>,
    /// The output is bound to its own buffer after the first run, which
    /// allocated it (the binding holds it from then on).
    output_bound: bool,
}

impl Binding {
    /// A binding for `session`'s `input` and `output`; with `fixed`, a
    /// device input tensor of `shape` is allocated and bound once.
    pub fn new(
        session: &Session,
        (input, output): (&str, &str),
        memory: Memory,
        fixed: Option<(ElementType, [usize; 4])>,
    ) -> Result<Self, BindingError> {
        let mut binding = session.create_binding()?;
        let fixed = match fixed {
            Some((ty, shape)) => {
                let allocator = Allocator::new(session, memory.device()?)?;
                let tensor = DynTensor::new(&allocator, tensor_type(ty), shape.to_vec())?;
                binding.bind_input(input, &tensor)?;
                Some(Fixed {
                    input: tensor,
                    staging: None,
                    output_bound: false,
                })
            }
            None => None,
        };
        Ok(Self {
            binding,
            input: input.to_owned(),
            output: output.to_owned(),
            memory,
            host: memory.host()?,
            fixed,
        })
    }

    /// Where its buffers live.
    pub fn memory(&self) -> Memory {
        self.memory
    }

    /// Whether the input and output stay at fixed device addresses.
    pub fn fixed(&self) -> bool {
        self.fixed.is_some()
    }

    /// Runs `session` on `input` (of the bound shape) and returns the
    /// output, in host memory of its own.
    pub fn run(
        &mut self,
        session: &mut Session,
        input: Input<'_>,
        shape: [usize; 4],
    ) -> Result<DynValue, BindingError> {
        let Some(fixed) = &mut self.fixed else {
            let Input::Host(tensor) = input else {
                return Err(BindingError::NotHost);
            };
            self.binding.bind_input(&self.input, tensor.value())?;
            // Bound afresh every run: ONNX Runtime would otherwise write
            // the next output into this one's buffer while postprocessing
            // still reads it.
            self.binding
                .bind_output_to_device(&self.output, &self.host)?;
            let mut outputs = session.run_binding(&self.binding)?;
            return outputs
                .remove(self.output.as_str())
                .ok_or_else(|| BindingError::NoOutput(self.output.clone()));
        };
        // Into the fixed device tensor, from the host tensor the batch is in
        // or is copied into.
        let source = match input {
            Input::Host(tensor) => tensor,
            plain => {
                let staging = match &mut fixed.staging {
                    Some(staging) => staging,
                    None => {
                        let ty = plain.element_type();
                        let made = host_inputs(session, self.memory, ty, shape, 1)?;
                        let made = made.into_iter().next().ok_or(BindingError::NoStaging)?;
                        fixed.staging.insert(made)
                    }
                };
                staging.copy_from(plain)?;
                staging
            }
        };
        source.value().copy_into(&mut fixed.input)?;
        if !fixed.output_bound {
            self.binding
                .bind_output_to_device(&self.output, &self.memory.device()?)?;
        }
        let mut device_output = {
            let mut outputs = session.run_binding(&self.binding)?;
            outputs
                .remove(self.output.as_str())
                .ok_or_else(|| BindingError::NoOutput(self.output.clone()))?
        };
        if !fixed.output_bound {
            // From now on every run writes here: the address the graph
            // recorded.
            self.binding.bind_output(&self.output, &mut device_output)?;
            fixed.output_bound = true;
        }
        // Out of the fixed buffer into a host tensor of this run's own.
        let tensor = device_output.downcast::<DynTensorValueType>()?;
        Ok(tensor
            .to(self.host.allocation_device(), self.host.device_id())?
            .into_dyn())
    }
}
