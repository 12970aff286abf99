//! Ultralytics' `LetterBox` (8.3.48): scale to fit, keep the aspect ratio,
//! pad with grey 114 (docs/PARITY.md A3).
//!
//! With `auto` (a `.pt` model or a dynamic ONNX, i.e. the live miner) the
//! padding is only what makes each side a multiple of the stride: 736x1280
//! for a 16:9 frame at imgsz 1280. Without it the input is the full square.

use sv_core::{Frame, PixelFormat};

use super::resize::{resize_linear, resize_rows};
use crate::tensor::{UNIT, Unit};

/// The grey ultralytics pads with, in every channel (before / 255).
pub const PAD_VALUE: u8 = 114;

/// Where a source frame lands inside the network input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Letterbox {
    /// The source frame's width in pixels.
    pub src_w: u32,
    /// The source frame's height in pixels.
    pub src_h: u32,
    /// The resized image's width before padding.
    pub unpad_w: u32,
    /// The resized image's height before padding.
    pub unpad_h: u32,
    /// Grey rows above the image: half the vertical padding, rounded as
    /// ultralytics does (`round(dh - 0.1)`), so an odd pad puts the extra
    /// row at the bottom.
    pub top: u32,
    /// Grey columns left of the image, rounded like `top`.
    pub left: u32,
    /// The network input's width.
    pub out_w: u32,
    /// The network input's height.
    pub out_h: u32,
}

impl Letterbox {
    /// `target` is (height, width), already a multiple of `stride`.
    pub fn new(src_w: u32, src_h: u32, target: (u32, u32), stride: u32, auto: bool) -> Self {
        let (new_h, new_w) = target;
        let r = (f64::from(new_h) / f64::from(src_h)).min(f64::from(new_w) / f64::from(src_w));
        // Python's round() rounds half to even.
        let unpad_w = ((f64::from(src_w) * r).round_ties_even() as u32).max(1);
        let unpad_h = ((f64::from(src_h) * r).round_ties_even() as u32).max(1);
        let (mut dw, mut dh) = (
            i64::from(new_w) - i64::from(unpad_w),
            i64::from(new_h) - i64::from(unpad_h),
        );
        if auto {
            dw = dw.rem_euclid(i64::from(stride));
            dh = dh.rem_euclid(i64::from(stride));
        }
        let (dw, dh) = (dw as f64 / 2.0, dh as f64 / 2.0);
        let side = |half: f64, nudge: f64| (half + nudge).round_ties_even().max(0.0) as u32;
        let (top, bottom) = (side(dh, -0.1), side(dh, 0.1));
        let (left, right) = (side(dw, -0.1), side(dw, 0.1));
        Self {
            src_w,
            src_h,
            unpad_w,
            unpad_h,
            top,
            left,
            out_w: unpad_w + left + right,
            out_h: unpad_h + top + bottom,
        }
    }

    /// Both drawing paths take RGB frames of the size this letterbox was
    /// made for; anything else is a caller's bug.
    fn check_frame(&self, frame: &Frame) {
        assert_eq!(
            frame.format,
            PixelFormat::Rgb8,
            "letterbox takes RGB frames"
        );
        assert_eq!(
            (frame.width, frame.height),
            (self.src_w, self.src_h),
            "frame size changed"
        );
    }

    /// Draws `frame` (RGB8) letterboxed into `out`, `out_w * out_h * 3`
    /// bytes, HWC. Resizes only when the size changes, as ultralytics does.
    pub fn draw(&self, frame: &Frame, out: &mut [u8]) {
        self.check_frame(frame);
        let (out_w, uw, uh) = (
            self.out_w as usize,
            self.unpad_w as usize,
            self.unpad_h as usize,
        );
        let stride = out_w * 3;
        assert_eq!(
            out.len(),
            stride * self.out_h as usize,
            "letterbox buffer size"
        );
        out.fill(PAD_VALUE);
        let origin = self.top as usize * stride + self.left as usize * 3;
        let dst = &mut out[origin..];
        let (sw, sh, src_stride) = (
            self.src_w as usize,
            self.src_h as usize,
            frame.stride as usize,
        );
        if (sw, sh) == (uw, uh) {
            for y in 0..sh {
                dst[y * stride..y * stride + sw * 3]
                    .copy_from_slice(&frame.data[y * src_stride..y * src_stride + sw * 3]);
            }
        } else {
            resize_linear::<3>(&frame.data, sw, sh, src_stride, dst, uw, uh, stride);
        }
    }

    /// The elements of one letterboxed image in the NCHW f32 tensor.
    pub fn tensor_len(&self) -> usize {
        3 * self.out_w as usize * self.out_h as usize
    }

    /// Draws `frame` (RGB8) letterboxed straight into `out`, one image of
    /// the network's NCHW input (`tensor_len()` values: the R, G and B
    /// planes, each `out_h` rows of `out_w`). The values equal [`Self::draw`]
    /// followed by [`to_chw`], without the intermediate HWC image. `T` is
    /// the model's input type: f32, or f16 for FP16-input models.
    pub fn draw_chw<T: Unit>(&self, frame: &Frame, out: &mut [T]) {
        let unit = T::table();
        self.check_frame(frame);
        assert_eq!(out.len(), self.tensor_len(), "letterbox tensor size");
        let (w, h) = (self.out_w as usize, self.out_h as usize);
        let (uw, uh) = (self.unpad_w as usize, self.unpad_h as usize);
        let (top, left) = (self.top as usize, self.left as usize);
        let pad = unit[usize::from(PAD_VALUE)];
        let (r, rest) = out.split_at_mut(w * h);
        let (g, b) = rest.split_at_mut(w * h);
        for plane in [&mut *r, &mut *g, &mut *b] {
            plane[..top * w].fill(pad);
            plane[(top + uh) * w..].fill(pad);
        }
        let mut emit = |y: usize, row: &[u8]| {
            let start = (top + y) * w;
            let line = start..start + w;
            let (r, g, b) = (&mut r[line.clone()], &mut g[line.clone()], &mut b[line]);
            for plane in [&mut *r, &mut *g, &mut *b] {
                plane[..left].fill(pad);
                plane[left + uw..].fill(pad);
            }
            let image = left..left + uw;
            let (r, g, b) = (&mut r[image.clone()], &mut g[image.clone()], &mut b[image]);
            for (i, px) in row.chunks_exact(3).enumerate() {
                r[i] = unit[usize::from(px[0])];
                g[i] = unit[usize::from(px[1])];
                b[i] = unit[usize::from(px[2])];
            }
        };
        let (sw, sh, stride) = (
            self.src_w as usize,
            self.src_h as usize,
            frame.stride as usize,
        );
        if (sw, sh) == (uw, uh) {
            for y in 0..sh {
                emit(y, &frame.data[y * stride..y * stride + sw * 3]);
            }
        } else {
            resize_rows::<3>(&frame.data, sw, sh, stride, uw, uh, emit);
        }
    }

    /// ultralytics `scale_boxes` gain and rounded pads (PARITY B3).
    pub fn box_transform(&self) -> (f32, f32, f32) {
        let (gain, pad_x, pad_y) = self.gain_and_pad();
        (
            (pad_x - 0.1).round_ties_even() as f32,
            (pad_y - 0.1).round_ties_even() as f32,
            gain as f32,
        )
    }

    /// ultralytics `scale_coords` gain and unrounded pads (PARITY B4).
    pub fn keypoint_transform(&self) -> (f32, f32, f32) {
        let (gain, pad_x, pad_y) = self.gain_and_pad();
        (pad_x as f32, pad_y as f32, gain as f32)
    }

    fn gain_and_pad(&self) -> (f64, f64, f64) {
        let (h0, w0) = (f64::from(self.src_h), f64::from(self.src_w));
        let (h1, w1) = (f64::from(self.out_h), f64::from(self.out_w));
        let gain = (h1 / h0).min(w1 / w0);
        (gain, (w1 - w0 * gain) / 2.0, (h1 - h0 * gain) / 2.0)
    }
}

/// HWC u8 -> CHW f32 in [0, 1], appended to `tensor`. A true division by
/// 255 (not a multiplication by 1/255), as `img.float() / 255` computes.
pub fn to_chw(image: &[u8], width: usize, height: usize, tensor: &mut Vec<f32>) {
    let plane = width * height;
    let base = tensor.len();
    tensor.resize(base + 3 * plane, 0.0);
    let (r, rest) = tensor[base..].split_at_mut(plane);
    let (g, b) = rest.split_at_mut(plane);
    for (i, px) in image.chunks_exact(3).enumerate() {
        r[i] = UNIT[usize::from(px[0])];
        g[i] = UNIT[usize::from(px[1])];
        b[i] = UNIT[usize::from(px[2])];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worked_examples_from_parity() {
        // 1920x1080 at 1280: static square and auto rectangle.
        let s = Letterbox::new(1920, 1080, (1280, 1280), 32, false);
        assert_eq!(
            (s.unpad_w, s.unpad_h, s.top, s.out_h, s.out_w),
            (1280, 720, 280, 1280, 1280)
        );
        let a = Letterbox::new(1920, 1080, (1280, 1280), 32, true);
        assert_eq!((a.top, a.out_h, a.out_w), (8, 736, 1280));
        // At 640.
        let a = Letterbox::new(1920, 1080, (640, 640), 32, true);
        assert_eq!(
            (a.unpad_w, a.unpad_h, a.out_h, a.out_w),
            (640, 360, 384, 640)
        );
        let s = Letterbox::new(1920, 1080, (640, 640), 32, false);
        assert_eq!((s.top, s.out_h), (140, 640));
        // 1000x563 at 1280 auto: unpad 1280x721, top 7, bottom 8.
        let odd = Letterbox::new(1000, 563, (1280, 1280), 32, true);
        assert_eq!(
            (
                odd.unpad_w,
                odd.unpad_h,
                odd.top,
                odd.out_h - odd.unpad_h - odd.top,
                odd.out_h
            ),
            (1280, 721, 7, 8, 736)
        );
    }

    #[test]
    fn box_pads_are_rounded_and_keypoint_pads_are_not() {
        let odd = Letterbox::new(1000, 563, (1280, 1280), 32, true);
        let (bx, by, gain) = odd.box_transform();
        let (kx, ky, kgain) = odd.keypoint_transform();
        // (736 - 563 * 1.28) / 2 = 7.68: boxes use round(7.58) = 8 although the
        // letterbox put 7 rows on top (an ultralytics quirk we keep).
        assert_eq!((bx, by), (0.0, 8.0));
        assert_eq!(kx, 0.0);
        assert!((ky - 7.68).abs() < 1e-4, "{ky}");
        assert_eq!(gain, kgain);
    }

    #[test]
    fn unit_table_is_the_run_time_division() {
        for v in 0..=255u8 {
            let divided = std::hint::black_box(f32::from(v)) / 255.0;
            assert_eq!(UNIT[usize::from(v)].to_bits(), divided.to_bits(), "{v}");
        }
    }

    /// A frame whose pixels all differ, so any misplaced value shows.
    fn textured(width: u32, height: u32, stride_pad: u32) -> Frame {
        let stride = width * 3 + stride_pad;
        let data: Vec<u8> = (0..stride * height)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        Frame {
            stride,
            ..Frame::rgb(0, width, height, data.into())
        }
    }

    #[test]
    fn drawing_into_the_tensor_equals_draw_then_to_chw() {
        // Resized and padded on both axes, copied as is, square-padded, and a
        // padded source stride.
        for (w, h, target, auto, stride_pad) in [
            (1280, 720, (640, 640), true, 0),
            (1280, 720, (1280, 1280), true, 0),
            (1000, 563, (1280, 1280), true, 5),
            (333, 517, (640, 640), false, 3),
        ] {
            let frame = textured(w, h, stride_pad);
            let lb = Letterbox::new(w, h, target, 32, auto);
            let mut canvas = vec![0; (lb.out_w * lb.out_h * 3) as usize];
            lb.draw(&frame, &mut canvas);
            let mut want = Vec::new();
            to_chw(&canvas, lb.out_w as usize, lb.out_h as usize, &mut want);
            let mut got = vec![f32::NAN; lb.tensor_len()];
            lb.draw_chw(&frame, &mut got);
            assert!(
                want.iter()
                    .zip(&got)
                    .all(|(a, b)| a.to_bits() == b.to_bits()),
                "{w}x{h} -> {target:?} auto {auto}"
            );
        }
    }

    #[test]
    fn an_f16_tensor_holds_the_f32_values_rounded() {
        let frame = textured(1000, 563, 5);
        let lb = Letterbox::new(1000, 563, (640, 640), 32, true);
        let mut wide = vec![0f32; lb.tensor_len()];
        lb.draw_chw(&frame, &mut wide);
        let mut half = vec![half::f16::NAN; lb.tensor_len()];
        lb.draw_chw(&frame, &mut half);
        assert!(
            wide.iter()
                .zip(&half)
                .all(|(&w, &h)| half::f16::from_f32(w) == h)
        );
    }

    #[test]
    fn division_by_255_is_exact() {
        let mut t = Vec::new();
        to_chw(&[255, 0, 1, 3, 4, 5], 2, 1, &mut t);
        assert_eq!(
            t,
            vec![1.0, 3.0 / 255.0, 0.0, 4.0 / 255.0, 1.0 / 255.0, 5.0 / 255.0]
        );
    }
}
