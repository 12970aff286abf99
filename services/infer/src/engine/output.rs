//! [`Output`]: a run's raw output tensor, and how ONNX Runtime's output
//! value becomes one (f32 kept in place or copied out, f16 widened).

use half::f16;
use ort::value::DynValue;

use crate::error::{InferError, RunError};
use crate::tensor::ElementType;

/// A raw output tensor. ONNX Runtime's own f32 output value is kept as it
/// is (no copy) and can move to another thread for postprocessing; an f16
/// output (FP16-I/O models) is widened once, here.
#[derive(Debug)]
pub struct Output {
    shape: Vec<usize>,
    data: OutputData,
}

#[derive(Debug)]
enum OutputData {
    Owned(Vec<f32>),
    Ort(DynValue),
}

impl Output {
    /// An output held in memory (engines other than ONNX Runtime, tests).
    pub fn from_vec(shape: Vec<usize>, data: Vec<f32>) -> Self {
        Self {
            shape,
            data: OutputData::Owned(data),
        }
    }

    /// The tensor's dimensions, `[batch, rows, anchors]` for a YOLOv8
    /// output.
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// The values, row-major.
    pub fn data(&self) -> Result<&[f32], InferError> {
        match &self.data {
            OutputData::Owned(v) => Ok(v),
            OutputData::Ort(value) => value
                .try_extract_tensor::<f32>()
                .map(|(_, data)| data)
                .map_err(|e| InferError::Run {
                    model: "output".into(),
                    source: RunError::Ort(e),
                }),
        }
    }

    /// A run's output value: f32 kept as it is (copied out when `own`),
    /// f16 widened.
    pub(super) fn from_value(
        value: DynValue,
        output_type: ElementType,
        own: bool,
    ) -> Result<Self, RunError> {
        let dims = |shape: &ort::value::Shape| shape.iter().map(|&d| d as usize).collect();
        match output_type {
            ElementType::F32 if own => {
                let (shape, data) = value.try_extract_tensor::<f32>()?;
                Ok(Self::from_vec(dims(shape), data.to_vec()))
            }
            ElementType::F32 => {
                let shape = dims(value.try_extract_tensor::<f32>()?.0);
                Ok(Self {
                    shape,
                    data: OutputData::Ort(value),
                })
            }
            ElementType::F16 => {
                let (shape, data) = value.try_extract_tensor::<f16>()?;
                Ok(Self {
                    shape: dims(shape),
                    data: OutputData::Owned(data.iter().map(|v| v.to_f32()).collect()),
                })
            }
            ElementType::U8 => Err(RunError::ByteOutput),
        }
    }
}
