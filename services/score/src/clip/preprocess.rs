//! The two ways the validator turns an image into CLIP's 3x224x224 input.
//!
//! - [`pitch_input`], the pitch filter (open_clip's eval transform for
//!   ViT-B-32, on the frame's JPEG as PIL reads it): resize the short side
//!   to 224, crop the centre with *rounded* offsets, `/255` in float32.
//! - [`crop_input`], the box score (transformers' slow `CLIPImageProcessor`
//!   on each box's pixels): resize the short side to 224, crop the centre
//!   with *floored* offsets, `* (1/255)` in float64 then float32.
//!
//! Both resize with PIL's bicubic ([`Rgb::resize_bicubic`]) and normalise
//! with OpenAI's mean and std in float32.

use super::image::Rgb;

/// CLIP's input side.
pub const SIDE: usize = 224;
const MEAN: [f32; 3] = [0.481_454_66, 0.457_827_5, 0.408_210_73];
const STD: [f32; 3] = [0.268_629_54, 0.261_302_6, 0.275_777_1];

/// The size with the short side at 224 and the long side `int(224 * long / short)`.
fn short_side_224(width: usize, height: usize) -> (usize, usize) {
    let long = |long: usize, short: usize| ((SIDE * long) as f64 / short as f64) as usize;
    if width <= height {
        (SIDE, long(height, width))
    } else {
        (long(width, height), SIDE)
    }
}

/// Python's `round()` of a half-integer or integer: ties to even.
fn round_half_even(x: f64) -> usize {
    let r = x.round();
    let r = if (x - x.trunc()).abs() == 0.5 && r % 2.0 != 0.0 {
        r - x.signum()
    } else {
        r
    };
    r.max(0.0) as usize
}

/// The pitch filter's input for one frame (RGB, as PIL decoded the JPEG).
pub fn pitch_input(frame: &Rgb) -> Vec<f32> {
    let (w, h) = short_side_224(frame.width, frame.height);
    let resized = frame.resize_bicubic(w, h);
    let top = round_half_even((h - SIDE) as f64 / 2.0);
    let left = round_half_even((w - SIDE) as f64 / 2.0);
    chw(&resized.crop(left, top, SIDE, SIDE), |v| {
        f32::from(v) / 255.0
    })
}

/// The box score's input for one crop; `None` for an empty crop (the
/// processor raises on it, and the validator drops the frame).
pub fn crop_input(crop: &Rgb) -> Option<Vec<f32>> {
    if crop.width == 0 || crop.height == 0 {
        return None;
    }
    let (w, h) = short_side_224(crop.width, crop.height);
    let resized = crop.resize_bicubic(w, h);
    let (top, left) = ((h - SIDE) / 2, (w - SIDE) / 2);
    let scale = 1.0 / 255.0;
    Some(chw(&resized.crop(left, top, SIDE, SIDE), |v| {
        (f64::from(v) * scale) as f32
    }))
}

/// Planar channels, each value scaled then normalised.
fn chw(image: &Rgb, scale: impl Fn(u8) -> f32) -> Vec<f32> {
    let plane = image.width * image.height;
    let mut out = vec![0.0f32; 3 * plane];
    for (i, px) in image.data.chunks_exact(3).enumerate() {
        for c in 0..3 {
            out[c * plane + i] = (scale(px[c]) - MEAN[c]) / STD[c];
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_offsets_follow_torchvision_and_transformers() {
        assert_eq!(short_side_224(1280, 720), (398, 224));
        assert_eq!(short_side_224(30, 80), (224, 597));
        assert_eq!(round_half_even(87.0), 87);
        assert_eq!(round_half_even(86.5), 86);
        assert_eq!(round_half_even(87.5), 88);
        let frame = Rgb {
            width: 1280,
            height: 720,
            data: vec![128; 1280 * 720 * 3],
        };
        let input = pitch_input(&frame);
        assert_eq!(input.len(), 3 * 224 * 224);
        let want = (128.0f32 / 255.0 - MEAN[0]) / STD[0];
        assert_eq!(input[0], want);
        assert_eq!(
            crop_input(&Rgb {
                width: 0,
                height: 5,
                data: vec![]
            }),
            None
        );
    }
}
