//! Input tensors in the element type a model takes: f32 (ultralytics'
//! default export, and `deploy/to_fp16.py` without `--fp16-io`) or f16
//! (ultralytics' `export(half=True)`, `to_fp16.py --fp16-io`). The letterbox
//! writes either type straight from the frame's bytes through a lookup
//! table, so an FP16 input costs half the memory traffic of an FP32 one and
//! no conversion pass. Byte-input models (`crate::byte_input`) take the
//! pixels as u8 and scale them on the device.

use half::f16;

use crate::pre::letterbox::UNIT;

/// The element type of a model's input (and, for FP16-I/O models, outputs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ElementType {
    F32,
    F16,
    /// The letterboxed pixels as they are: a model rewritten for byte input
    /// (`crate::byte_input`) divides by 255 itself.
    U8,
}

impl ElementType {
    pub fn name(self) -> &'static str {
        match self {
            Self::F32 => "float32",
            Self::F16 => "float16",
            Self::U8 => "uint8",
        }
    }
}

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
#[derive(Debug, Clone, PartialEq)]
pub enum InputTensor {
    F32(Vec<f32>),
    F16(Vec<f16>),
    U8(Vec<u8>),
}

impl InputTensor {
    pub fn new(ty: ElementType) -> Self {
        match ty {
            ElementType::F32 => Self::F32(Vec::new()),
            ElementType::F16 => Self::F16(Vec::new()),
            ElementType::U8 => Self::U8(Vec::new()),
        }
    }

    pub fn element_type(&self) -> ElementType {
        match self {
            Self::F32(_) => ElementType::F32,
            Self::F16(_) => ElementType::F16,
            Self::U8(_) => ElementType::U8,
        }
    }

    pub fn len(&self) -> usize {
        match self {
            Self::F32(v) => v.len(),
            Self::F16(v) => v.len(),
            Self::U8(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Grows or shrinks to `len` elements; existing values are kept (every
    /// image is overwritten when drawn, padding images are never read back).
    pub fn resize(&mut self, len: usize) {
        match self {
            Self::F32(v) => v.resize(len, 0.0),
            Self::F16(v) => v.resize(len, f16::ZERO),
            Self::U8(v) => v.resize(len, 0),
        }
    }

    /// Splits the tensor into `len`-element images, in order.
    pub fn images(&mut self, len: usize) -> Vec<ImageOut<'_>> {
        match self {
            Self::F32(v) => v.chunks_exact_mut(len).map(ImageOut::F32).collect(),
            Self::F16(v) => v.chunks_exact_mut(len).map(ImageOut::F16).collect(),
            Self::U8(v) => v.chunks_exact_mut(len).map(ImageOut::U8).collect(),
        }
    }

    pub fn view(&self) -> Input<'_> {
        match self {
            Self::F32(v) => Input::F32(v),
            Self::F16(v) => Input::F16(v),
            Self::U8(v) => Input::U8(v),
        }
    }
}

/// A borrowed input tensor, what an [`crate::Engine`] runs on.
#[derive(Debug, Clone, Copy)]
pub enum Input<'a> {
    F32(&'a [f32]),
    F16(&'a [f16]),
    U8(&'a [u8]),
}

impl Input<'_> {
    pub fn len(&self) -> usize {
        match self {
            Self::F32(v) => v.len(),
            Self::F16(v) => v.len(),
            Self::U8(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn element_type(&self) -> ElementType {
        match self {
            Self::F32(_) => ElementType::F32,
            Self::F16(_) => ElementType::F16,
            Self::U8(_) => ElementType::U8,
        }
    }

    /// Every value as the f32 the model computes with (exact for f32 and
    /// f16; bytes divided by 255 as a byte-input model does), for engines
    /// that only take f32 and for tests.
    pub fn to_f32(&self) -> Vec<f32> {
        match self {
            Self::F32(v) => v.to_vec(),
            Self::F16(v) => v.iter().map(|x| x.to_f32()).collect(),
            Self::U8(v) => v.iter().map(|&x| UNIT[usize::from(x)]).collect(),
        }
    }
}

/// One image's part of an input tensor.
#[derive(Debug)]
pub enum ImageOut<'a> {
    F32(&'a mut [f32]),
    F16(&'a mut [f16]),
    U8(&'a mut [u8]),
}

impl ImageOut<'_> {
    pub fn len(&self) -> usize {
        match self {
            Self::F32(v) => v.len(),
            Self::F16(v) => v.len(),
            Self::U8(v) => v.len(),
        }
    }

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
}
