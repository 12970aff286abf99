//! Input tensors in the element type a model takes: f32 (ultralytics'
//! default export, and `deploy/to_fp16.py` without `--fp16-io`) or f16
//! (ultralytics' `export(half=True)`, `to_fp16.py --fp16-io`). The letterbox
//! writes either type straight from the frame's bytes through a lookup
//! table, so an FP16 input costs half the memory traffic of an FP32 one and
//! no conversion pass. Byte-input models (`crate::byte_input`) take the
//! pixels as u8 and scale them on the device. With I/O binding
//! (`crate::binding`) a tensor can live in memory ONNX Runtime allocated
//! (page-locked beside a GPU), so the letterbox writes where the device
//! copies from.

use half::f16;
use ort::value::{DynTensor, PrimitiveTensorElementType};

/// The element type of a model's input (and, for FP16-I/O models, outputs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ElementType {
    /// 32-bit float pixels in `0.0..=1.0` (ultralytics' default export).
    F32,
    /// 16-bit float pixels in `0.0..=1.0` (`export(half=True)`, or
    /// `to_fp16.py --fp16-io`).
    F16,
    /// The letterboxed pixels as they are: a model rewritten for byte input
    /// (`crate::byte_input`) divides by 255 itself.
    U8,
}

impl ElementType {
    /// ONNX's name for the type ("float32", "float16", "uint8"), as in
    /// logs and errors.
    pub fn name(self) -> &'static str {
        match self {
            Self::F32 => "float32",
            Self::F16 => "float16",
            Self::U8 => "uint8",
        }
    }
}

/// `v as f32 / 255.0` for every byte: the true f32 division ultralytics
/// does (`img.float() / 255`), looked up instead of divided per element.
/// Const evaluation rounds exactly as run-time division does.
pub const UNIT: [f32; 256] = {
    let mut table = [0.0f32; 256];
    let mut v = 0;
    while v < 256 {
        table[v] = v as f32 / 255.0;
        v += 1;
    }
    table
};

/// `UNIT[v]` rounded to the nearest f16: the value `img.half() / 255` gives
/// to within one rounding (ultralytics divides in half precision, we round
/// the exact f32 quotient; both are within half an f16 ulp of v / 255).
pub static UNIT_F16: [f16; 256] = {
    let mut table = [f16::ZERO; 256];
    let mut v = 0;
    while v < 256 {
        table[v] = f16::from_f32_const(UNIT[v]);
        v += 1;
    }
    table
};

/// An element the letterbox can write: a pixel byte maps to a value in
/// [0, 1] through a table.
pub trait Unit: Copy + Send + Sync + 'static {
    /// The value each pixel byte becomes, indexed by the byte.
    fn table() -> &'static [Self; 256];
}

impl Unit for f32 {
    fn table() -> &'static [f32; 256] {
        &UNIT
    }
}

impl Unit for f16 {
    fn table() -> &'static [f16; 256] {
        &UNIT_F16
    }
}

/// Every byte as itself: byte-input models take the pixels unscaled.
pub static IDENTITY: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut v = 0;
    while v < 256 {
        table[v] = v as u8;
        v += 1;
    }
    table
};

impl Unit for u8 {
    fn table() -> &'static [u8; 256] {
        &IDENTITY
    }
}

/// A batch's input tensor, NCHW. It keeps its allocation between batches.
#[derive(Debug)]
pub enum InputTensor {
    /// Float32 values in ordinary host memory.
    F32(Vec<f32>),
    /// Float16 values in ordinary host memory.
    F16(Vec<f16>),
    /// Unscaled pixel bytes for a byte-input model.
    U8(Vec<u8>),
    /// In memory ONNX Runtime allocated for the engine (page-locked host
    /// memory beside a GPU): bound to the session as it is.
    Host(HostTensor),
}

/// Why an ONNX Runtime tensor cannot serve as, or take, an input.
#[derive(Debug, thiserror::Error)]
pub enum TensorError {
    /// The tensor is not of the expected element type, or lives in
    /// device memory the CPU cannot write.
    #[error("not a CPU-readable {ty} tensor: {source}")]
    NotCpuReadable {
        /// The element type expected ([`ElementType::name`]).
        ty: &'static str,
        /// ONNX Runtime's refusal to expose the data.
        #[source]
        source: ort::Error,
    },
    /// An input of another length or element type than the host tensor
    /// it was to be copied into.
    #[error("a {len}-value {ty} input into a {tensor_len}-value {tensor_ty} tensor")]
    Mismatch {
        /// Values in the input.
        len: usize,
        /// The input's element type ([`ElementType::name`]).
        ty: &'static str,
        /// Values the host tensor holds.
        tensor_len: usize,
        /// The host tensor's element type.
        tensor_ty: &'static str,
    },
}

/// An input tensor in ONNX Runtime's memory, of one fixed size.
#[derive(Debug)]
pub struct HostTensor {
    value: DynTensor,
    ty: ElementType,
    len: usize,
}

impl HostTensor {
    /// Refuses a tensor that is not of `ty` or not readable from the CPU.
    pub(crate) fn new(value: DynTensor, ty: ElementType) -> Result<Self, TensorError> {
        let len = match ty {
            ElementType::F32 => value.try_extract_tensor::<f32>().map(|t| t.1.len()),
            ElementType::F16 => value.try_extract_tensor::<f16>().map(|t| t.1.len()),
            ElementType::U8 => value.try_extract_tensor::<u8>().map(|t| t.1.len()),
        }
        .map_err(|source| TensorError::NotCpuReadable {
            ty: ty.name(),
            source,
        })?;
        Ok(Self { value, ty, len })
    }

    pub(crate) fn value(&self) -> &DynTensor {
        &self.value
    }

    /// Where ONNX Runtime allocated it ("Cpu", "CudaPinned", ...).
    pub fn memory(&self) -> String {
        self.value
            .memory_info()
            .allocation_device()
            .as_str()
            .to_owned()
    }

    /// The values, as slices of the element type.
    pub fn input(&self) -> Input<'_> {
        match self.ty {
            ElementType::F32 => Input::F32(data(&self.value)),
            ElementType::F16 => Input::F16(data(&self.value)),
            ElementType::U8 => Input::U8(data(&self.value)),
        }
    }

    /// Overwrites the values with `input`'s (of the same type and length).
    pub(crate) fn copy_from(&mut self, input: Input<'_>) -> Result<(), TensorError> {
        let (ty, len) = (input.element_type(), input.len());
        if ty != self.ty || len != self.len {
            return Err(TensorError::Mismatch {
                len,
                ty: ty.name(),
                tensor_len: self.len,
                tensor_ty: self.ty.name(),
            });
        }
        match (self.values_mut(), input.plain()) {
            (ImageOut::F32(to), Input::F32(from)) => to.copy_from_slice(from),
            (ImageOut::F16(to), Input::F16(from)) => to.copy_from_slice(from),
            (ImageOut::U8(to), Input::U8(from)) => to.copy_from_slice(from),
            _ => unreachable!("the element types were checked above"),
        }
        Ok(())
    }

    /// All the values, writable.
    fn values_mut(&mut self) -> ImageOut<'_> {
        match self.ty {
            ElementType::F32 => ImageOut::F32(data_mut(&mut self.value)),
            ElementType::F16 => ImageOut::F16(data_mut(&mut self.value)),
            ElementType::U8 => ImageOut::U8(data_mut(&mut self.value)),
        }
    }
}

// `HostTensor::new` extracted the same type, so these cannot fail.
fn data<T: PrimitiveTensorElementType + std::fmt::Debug>(value: &DynTensor) -> &[T] {
    match value.try_extract_tensor::<T>() {
        Ok((_, data)) => data,
        Err(e) => panic!("a host tensor's data: {e}"),
    }
}

fn data_mut<T: PrimitiveTensorElementType + std::fmt::Debug>(value: &mut DynTensor) -> &mut [T] {
    match value.try_extract_tensor_mut::<T>() {
        Ok((_, data)) => data,
        Err(e) => panic!("a host tensor's data: {e}"),
    }
}

impl InputTensor {
    /// An empty tensor of `ty` in host memory; [`resize`](Self::resize)
    /// gives it its batch's length.
    pub fn new(ty: ElementType) -> Self {
        match ty {
            ElementType::F32 => Self::F32(Vec::new()),
            ElementType::F16 => Self::F16(Vec::new()),
            ElementType::U8 => Self::U8(Vec::new()),
        }
    }

    /// The type of its values.
    pub fn element_type(&self) -> ElementType {
        match self {
            Self::F32(_) => ElementType::F32,
            Self::F16(_) => ElementType::F16,
            Self::U8(_) => ElementType::U8,
            Self::Host(t) => t.ty,
        }
    }

    /// The number of values (batch x 3 x height x width), not bytes.
    pub fn len(&self) -> usize {
        match self {
            Self::F32(v) => v.len(),
            Self::F16(v) => v.len(),
            Self::U8(v) => v.len(),
            Self::Host(t) => t.len,
        }
    }

    /// Whether it holds no values (before its first batch).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Grows or shrinks to `len` elements; existing values are kept (every
    /// image is overwritten when drawn, padding images are never read back).
    /// A host tensor has one size: asked for another (a batch of another
    /// shape), it becomes an ordinary one.
    pub fn resize(&mut self, len: usize) {
        if let Self::Host(t) = self {
            if t.len == len {
                return;
            }
            *self = Self::new(t.ty);
        }
        match self {
            Self::F32(v) => v.resize(len, 0.0),
            Self::F16(v) => v.resize(len, f16::ZERO),
            Self::U8(v) => v.resize(len, 0),
            Self::Host(_) => unreachable!("replaced above"),
        }
    }

    /// Splits the tensor into `len`-element images, in order.
    pub fn images(&mut self, len: usize) -> Vec<ImageOut<'_>> {
        let values = match self {
            Self::F32(v) => ImageOut::F32(v),
            Self::F16(v) => ImageOut::F16(v),
            Self::U8(v) => ImageOut::U8(v),
            Self::Host(t) => t.values_mut(),
        };
        match values {
            ImageOut::F32(v) => v.chunks_exact_mut(len).map(ImageOut::F32).collect(),
            ImageOut::F16(v) => v.chunks_exact_mut(len).map(ImageOut::F16).collect(),
            ImageOut::U8(v) => v.chunks_exact_mut(len).map(ImageOut::U8).collect(),
        }
    }

    /// A borrowed view to run an engine on, without copying.
    pub fn view(&self) -> Input<'_> {
        match self {
            Self::F32(v) => Input::F32(v),
            Self::F16(v) => Input::F16(v),
            Self::U8(v) => Input::U8(v),
            Self::Host(t) => Input::Host(t),
        }
    }
}

/// A borrowed input tensor, what an [`crate::Engine`] runs on.
#[derive(Debug, Clone, Copy)]
pub enum Input<'a> {
    /// Float32 values, NCHW.
    F32(&'a [f32]),
    /// Float16 values, NCHW.
    F16(&'a [f16]),
    /// Unscaled pixel bytes, NCHW, for a byte-input model.
    U8(&'a [u8]),
    /// A tensor in ONNX Runtime's memory: the ONNX Runtime engine binds it
    /// as it is, other engines read its slices ([`Input::plain`]).
    Host(&'a HostTensor),
}

impl<'a> Input<'a> {
    /// The values as slices of the element type (a host tensor's own).
    pub fn plain(self) -> Input<'a> {
        match self {
            Self::Host(t) => t.input(),
            other => other,
        }
    }

    /// The number of values (batch x 3 x height x width), not bytes.
    pub fn len(&self) -> usize {
        match self {
            Self::F32(v) => v.len(),
            Self::F16(v) => v.len(),
            Self::U8(v) => v.len(),
            Self::Host(t) => t.len,
        }
    }

    /// Whether it holds no values.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Images `range` of a batch of images of `image` values each (a host
    /// tensor's as plain slices), or `None` past the end.
    pub fn images(self, image: usize, range: std::ops::Range<usize>) -> Option<Input<'a>> {
        let values = range.start * image..range.end * image;
        Some(match self.plain() {
            Self::F32(v) => Self::F32(v.get(values)?),
            Self::F16(v) => Self::F16(v.get(values)?),
            Self::U8(v) => Self::U8(v.get(values)?),
            Self::Host(_) => unreachable!("plain() resolves host tensors"),
        })
    }

    /// The type of its values, which must be the session input's.
    pub fn element_type(&self) -> ElementType {
        match self {
            Self::F32(_) => ElementType::F32,
            Self::F16(_) => ElementType::F16,
            Self::U8(_) => ElementType::U8,
            Self::Host(t) => t.ty,
        }
    }

    /// Every value as the f32 the model computes with (exact for f32 and
    /// f16; bytes divided by 255 as a byte-input model does), for engines
    /// that only take f32 and for tests.
    pub fn to_f32(&self) -> Vec<f32> {
        match self.plain() {
            Self::F32(v) => v.to_vec(),
            Self::F16(v) => v.iter().map(|x| x.to_f32()).collect(),
            Self::U8(v) => v.iter().map(|&x| UNIT[usize::from(x)]).collect(),
            Self::Host(_) => unreachable!("plain() resolves host tensors"),
        }
    }
}

/// One image's part of an input tensor.
#[derive(Debug)]
pub enum ImageOut<'a> {
    /// Float32 values, CHW, written as pixel / 255.
    F32(&'a mut [f32]),
    /// Float16 values, CHW, written as pixel / 255.
    F16(&'a mut [f16]),
    /// Pixel bytes, CHW, written as they are.
    U8(&'a mut [u8]),
}

impl ImageOut<'_> {
    /// The number of values (3 x height x width), not bytes.
    pub fn len(&self) -> usize {
        match self {
            Self::F32(v) => v.len(),
            Self::F16(v) => v.len(),
            Self::U8(v) => v.len(),
        }
    }

    /// Whether it holds no values.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn f16_table_is_the_f32_table_rounded() {
        for v in 0..256 {
            let exact = f64::from(v as u8) / 255.0;
            let got = f64::from(UNIT_F16[v].to_f32());
            // Within half an f16 ulp of the exact value (ulp <= 2^-11 in [0.5, 1]).
            assert!((got - exact).abs() <= 2f64.powi(-12) + 1e-9, "{v}: {got}");
            assert_eq!(UNIT_F16[v], f16::from_f32(UNIT[v]), "{v}");
        }
        assert_eq!(UNIT_F16[255], f16::ONE);
        assert_eq!(UNIT_F16[0], f16::ZERO);
    }

    #[test]
    fn tensors_split_into_images_of_their_type() {
        let mut t = InputTensor::new(ElementType::F16);
        t.resize(12);
        let images = t.images(4);
        assert_eq!(images.len(), 3);
        assert!(matches!(images[0], ImageOut::F16(ref s) if s.len() == 4));
        assert_eq!(t.element_type(), ElementType::F16);
        assert_eq!(t.view().to_f32(), vec![0.0; 12]);
        let mut f = InputTensor::new(ElementType::F32);
        f.resize(2);
        assert_eq!(f.view().element_type(), ElementType::F32);
    }

    #[test]
    fn a_batch_slices_into_whole_images() {
        let values: Vec<u8> = (0..12).collect();
        let batch = Input::U8(&values);
        let Some(Input::U8(middle)) = batch.images(4, 1..2) else {
            panic!("a u8 slice");
        };
        assert_eq!(middle, &[4, 5, 6, 7]);
        assert_eq!(batch.images(4, 0..3).map(|i| i.len()), Some(12));
        assert!(batch.images(4, 2..4).is_none(), "past the end");
    }
}
