//! An 8-bit RGB image, and the resampler CLIP's preprocessing uses.
//!
//! Both of the validator's CLIP paths resize with PIL's bicubic filter
//! (torchvision's `Resize` on a PIL image, and transformers' slow
//! `CLIPImageProcessor`), so [`Rgb::resize_bicubic`] follows PIL's
//! `ImagingResample`: a separable filter (a = -0.5) whose support widens by
//! the downscale factor, weights normalised then rounded to 22-bit fixed
//! point, the horizontal pass first, each pass rounded and clipped to 8 bits.
//! A generic bicubic differs by a level here and there, which moves CLIP's
//! probabilities.

use opencv::core::{Mat, MatTraitConst, MatTraitConstManual};

/// Fixed-point precision of PIL's 8-bit resampling coefficients.
const PRECISION_BITS: u32 = 32 - 8 - 2;

/// Row-major RGB, 3 bytes a pixel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rgb {
    /// Pixels per row.
    pub width: usize,
    /// Rows.
    pub height: usize,
    /// `width * height * 3` bytes, R, G, B per pixel, rows top first.
    pub data: Vec<u8>,
}

impl Rgb {
    /// An OpenCV BGR 8-bit image as RGB.
    pub fn from_bgr(mat: &Mat) -> opencv::Result<Rgb> {
        let (width, height) = (mat.cols() as usize, mat.rows() as usize);
        let bytes = if mat.is_continuous() {
            mat.data_bytes()?.to_vec()
        } else {
            mat.try_clone()?.data_bytes()?.to_vec()
        };
        let mut data = Vec::with_capacity(width * height * 3);
        for px in bytes.chunks_exact(3) {
            data.extend_from_slice(&[px[2], px[1], px[0]]);
        }
        Ok(Rgb {
            width,
            height,
            data,
        })
    }

    /// The `w` x `h` region at (`x`, `y`), which must lie inside.
    pub fn crop(&self, x: usize, y: usize, w: usize, h: usize) -> Rgb {
        let mut data = Vec::with_capacity(w * h * 3);
        for row in y..y + h {
            let start = (row * self.width + x) * 3;
            data.extend_from_slice(&self.data[start..start + w * 3]);
        }
        Rgb {
            width: w,
            height: h,
            data,
        }
    }

    /// PIL's `Image.resize((width, height), Image.BICUBIC)`.
    pub fn resize_bicubic(&self, width: usize, height: usize) -> Rgb {
        let mut out = self.clone();
        if width != out.width {
            out = horizontal(&out, &Coefficients::new(out.width, width));
        }
        if height != out.height {
            out = vertical(&out, &Coefficients::new(out.height, height));
        }
        out
    }
}

/// PIL's per-output-pixel filter windows and fixed-point weights.
struct Coefficients {
    /// `(first input index, count)` per output pixel.
    bounds: Vec<(usize, usize)>,
    /// `stride` weights per output pixel.
    weights: Vec<i32>,
    stride: usize,
}

fn bicubic(x: f64) -> f64 {
    const A: f64 = -0.5;
    let x = x.abs();
    if x < 1.0 {
        ((A + 2.0) * x - (A + 3.0)) * x * x + 1.0
    } else if x < 2.0 {
        (((x - 5.0) * x + 8.0) * x - 4.0) * A
    } else {
        0.0
    }
}

impl Coefficients {
    fn new(in_size: usize, out_size: usize) -> Coefficients {
        let scale = in_size as f64 / out_size as f64;
        let filter_scale = scale.max(1.0);
        let support = 2.0 * filter_scale;
        let stride = support.ceil() as usize * 2 + 1;
        let mut bounds = Vec::with_capacity(out_size);
        let mut weights = vec![0i32; out_size * stride];
        for xx in 0..out_size {
            let center = (xx as f64 + 0.5) * scale;
            // C's (int) casts truncate toward zero.
            let xmin = ((center - support + 0.5) as i64).max(0);
            let xmax = ((center + support + 0.5) as i64).min(in_size as i64) - xmin;
            let mut k: Vec<f64> = (0..xmax)
                .map(|x| bicubic(((x + xmin) as f64 - center + 0.5) / filter_scale))
                .collect();
            let total: f64 = k.iter().sum();
            if total != 0.0 {
                k.iter_mut().for_each(|w| *w /= total);
            }
            for (slot, w) in weights[xx * stride..].iter_mut().zip(&k) {
                let scaled = w * f64::from(1u32 << PRECISION_BITS);
                *slot = if *w < 0.0 {
                    (scaled - 0.5) as i32
                } else {
                    (scaled + 0.5) as i32
                };
            }
            bounds.push((xmin as usize, xmax.max(0) as usize));
        }
        Coefficients {
            bounds,
            weights,
            stride,
        }
    }

    fn apply(&self, out: usize, sample: impl Fn(usize) -> u8) -> u8 {
        let (start, count) = self.bounds[out];
        let k = &self.weights[out * self.stride..out * self.stride + count];
        let mut sum: i64 = 1 << (PRECISION_BITS - 1);
        for (i, w) in k.iter().enumerate() {
            sum += i64::from(sample(start + i)) * i64::from(*w);
        }
        (sum >> PRECISION_BITS).clamp(0, 255) as u8
    }
}

fn horizontal(src: &Rgb, c: &Coefficients) -> Rgb {
    let width = c.bounds.len();
    let mut data = vec![0u8; width * src.height * 3];
    for y in 0..src.height {
        let row = &src.data[y * src.width * 3..(y + 1) * src.width * 3];
        for x in 0..width {
            for ch in 0..3 {
                data[(y * width + x) * 3 + ch] = c.apply(x, |i| row[i * 3 + ch]);
            }
        }
    }
    Rgb {
        width,
        height: src.height,
        data,
    }
}

fn vertical(src: &Rgb, c: &Coefficients) -> Rgb {
    let height = c.bounds.len();
    let mut data = vec![0u8; src.width * height * 3];
    for y in 0..height {
        for x in 0..src.width {
            for ch in 0..3 {
                data[(y * src.width + x) * 3 + ch] =
                    c.apply(y, |i| src.data[(i * src.width + x) * 3 + ch]);
            }
        }
    }
    Rgb {
        width: src.width,
        height,
        data,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flat_image_stays_flat_and_weights_sum_to_one() {
        let flat = Rgb {
            width: 37,
            height: 11,
            data: vec![200; 37 * 11 * 3],
        };
        let out = flat.resize_bicubic(224, 66);
        assert_eq!((out.width, out.height), (224, 66));
        assert!(out.data.iter().all(|&v| v == 200));
        let c = Coefficients::new(1280, 398);
        for (i, &(_, n)) in c.bounds.iter().enumerate() {
            let sum: i64 = c.weights[i * c.stride..i * c.stride + n]
                .iter()
                .map(|&w| i64::from(w))
                .sum();
            assert!((sum - (1 << PRECISION_BITS)).abs() <= n as i64, "{sum}");
        }
    }
}
