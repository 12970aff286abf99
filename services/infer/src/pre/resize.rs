//! Bilinear resize that reproduces OpenCV 4.8's `cv2.resize(INTER_LINEAR)` on
//! 8-bit images bit for bit (docs/PARITY.md A4).
//!
//! General-purpose resizers antialias or use float weights when they shrink;
//! either moves about 9% of pixels by one level, enough to flip detections
//! that sit on a threshold. OpenCV instead uses 11-bit fixed-point weights,
//! a horizontal pass into i32 rows and a vertical pass whose SIMD rounding
//! (`>> 4`, `mulhi`, `+ 2 >> 2`) is what runs on x86-64 for every pixel.

const COEF_BITS: u32 = 11;
const COEF_SCALE: f32 = (1 << COEF_BITS) as f32;

/// Source column (or row) and its two fixed-point weights for one output
/// column (or row).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Tap {
    index: usize,
    w0: i32,
    w1: i32,
}

/// `saturate_cast<short>(float)`: round half to even, as `lrintf` does.
fn fixed(weight: f32) -> i32 {
    weight.round_ties_even() as i32
}

fn taps(src: usize, dst: usize, zero_at_borders: bool) -> Vec<Tap> {
    let scale = 1.0 / (dst as f64 / src as f64);
    (0..dst)
        .map(|d| {
            let f = ((d as f64 + 0.5) * scale - 0.5) as f32;
            let mut index = f.floor() as i64;
            let mut frac = f - index as f32;
            if zero_at_borders {
                if index < 0 {
                    index = 0;
                    frac = 0.0;
                }
                if index >= src as i64 - 1 {
                    index = src as i64 - 1;
                    frac = 0.0;
                }
            }
            Tap {
                index: index.max(0) as usize,
                w0: fixed((1.0 - frac) * COEF_SCALE),
                w1: fixed(frac * COEF_SCALE),
            }
        })
        .collect()
}

/// Row taps keep their fraction at the borders; the rows read are clamped.
fn row_taps(src: usize, dst: usize) -> Vec<(usize, usize, i32, i32)> {
    let scale = 1.0 / (dst as f64 / src as f64);
    (0..dst)
        .map(|d| {
            let f = ((d as f64 + 0.5) * scale - 0.5) as f32;
            let index = f.floor() as i64;
            let frac = f - index as f32;
            let clamp = |i: i64| i.clamp(0, src as i64 - 1) as usize;
            (
                clamp(index),
                clamp(index + 1),
                fixed((1.0 - frac) * COEF_SCALE),
                fixed(frac * COEF_SCALE),
            )
        })
        .collect()
}

/// A column tap as byte offsets into a source row: the two pixels' first
/// channels (the right one clamped to the last pixel) and their weights.
#[derive(Debug, Clone, Copy)]
struct ByteTap {
    s0: usize,
    s1: usize,
    w0: i32,
    w1: i32,
}

fn byte_taps<const CN: usize>(columns: &[Tap], src_w: usize) -> Vec<ByteTap> {
    columns
        .iter()
        .map(|t| ByteTap {
            s0: t.index * CN,
            s1: (t.index + 1).min(src_w - 1) * CN,
            w0: t.w0,
            w1: t.w1,
        })
        .collect()
}

/// Horizontal pass for one source row into `out` (`dst_w * CN` i32 values).
fn horizontal<const CN: usize>(src_row: &[u8], columns: &[ByteTap], out: &mut [i32]) {
    for (o, tap) in out.chunks_exact_mut(CN).zip(columns) {
        let a: &[u8; CN] = src_row[tap.s0..tap.s0 + CN].try_into().unwrap_or(&[0; CN]);
        let b: &[u8; CN] = src_row[tap.s1..tap.s1 + CN].try_into().unwrap_or(&[0; CN]);
        for c in 0..CN {
            o[c] = i32::from(a[c]) * tap.w0 + i32::from(b[c]) * tap.w1;
        }
    }
}

/// The SIMD vertical blend OpenCV runs on x86-64 (`VResizeLinearVec_32s8u`).
#[inline]
fn vertical(h0: i32, h1: i32, b0: i32, b1: i32) -> u8 {
    let v = (((h0 >> 4) * b0) >> 16) + (((h1 >> 4) * b1) >> 16) + 2;
    (v >> 2).clamp(0, 255) as u8
}

/// Resizes a packed 8-bit image with `CN` channels. `src_stride` and
/// `dst_stride` are bytes per row.
#[allow(clippy::too_many_arguments)]
pub fn resize_linear<const CN: usize>(
    src: &[u8],
    src_w: usize,
    src_h: usize,
    src_stride: usize,
    dst: &mut [u8],
    dst_w: usize,
    dst_h: usize,
    dst_stride: usize,
) {
    assert!(
        dst_h == 0 || dst.len() >= dst_stride * (dst_h - 1) + dst_w * CN,
        "destination buffer too small"
    );
    let width = dst_w * CN;
    resize_rows::<CN>(src, src_w, src_h, src_stride, dst_w, dst_h, |dy, row| {
        dst[dy * dst_stride..dy * dst_stride + width].copy_from_slice(row);
    });
}

/// The same resize, handing each output row (`dst_w * CN` bytes, top to
/// bottom) to `emit(row_index, row)` instead of writing an image: callers
/// that repack the pixels (into planar f32, say) skip an intermediate image.
pub fn resize_rows<const CN: usize>(
    src: &[u8],
    src_w: usize,
    src_h: usize,
    src_stride: usize,
    dst_w: usize,
    dst_h: usize,
    mut emit: impl FnMut(usize, &[u8]),
) {
    assert!(
        src_w > 0 && src_h > 0 && dst_w > 0 && dst_h > 0,
        "resize of an empty image"
    );
    assert!(
        src.len() >= src_stride * (src_h - 1) + src_w * CN,
        "source buffer too small"
    );
    let columns = byte_taps::<CN>(&taps(src_w, dst_w, true), src_w);
    let rows = row_taps(src_h, dst_h);
    let width = dst_w * CN;
    // Two cached horizontal rows: consecutive output rows mostly share source
    // rows, so each source row is filtered horizontally about once.
    let mut cache: [(usize, Vec<i32>); 2] =
        [(usize::MAX, vec![0; width]), (usize::MAX, vec![0; width])];
    let mut out = vec![0u8; width];
    let row = |y: usize| &src[y * src_stride..y * src_stride + src_w * CN];
    for (dy, &(y0, y1, b0, b1)) in rows.iter().enumerate() {
        if cache[0].0 != y0 && cache[1].0 == y0 {
            cache.swap(0, 1);
        }
        if cache[0].0 != y0 {
            horizontal::<CN>(row(y0), &columns, &mut cache[0].1);
            cache[0].0 = y0;
        }
        // A zero weight zeroes its row's term whatever the row holds (an
        // exact 3x shrink samples one row in three): skip filtering it.
        if b1 != 0 && cache[1].0 != y1 {
            horizontal::<CN>(row(y1), &columns, &mut cache[1].1);
            cache[1].0 = y1;
        }
        let h0 = &cache[0].1;
        let h1 = if b1 == 0 { h0 } else { &cache[1].1 };
        for ((o, &a), &b) in out.iter_mut().zip(h0).zip(h1) {
            *o = vertical(a, b, b0, b1);
        }
        emit(dy, &out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resize(src: &[u8], sw: usize, sh: usize, dw: usize, dh: usize) -> Vec<u8> {
        let mut dst = vec![0; dw * dh * 3];
        resize_linear::<3>(src, sw, sh, sw * 3, &mut dst, dw, dh, dw * 3);
        dst
    }

    /// PARITY.md A4 written out per output pixel, with no row caching,
    /// skipping or precomputed offsets.
    fn naive(src: &[u8], sw: usize, sh: usize, dw: usize, dh: usize) -> Vec<u8> {
        let cols = taps(sw, dw, true);
        let rows = row_taps(sh, dh);
        let px = |y: usize, x: usize, c: usize| i32::from(src[(y * sw + x) * 3 + c]);
        let mut out = Vec::with_capacity(dw * dh * 3);
        for &(y0, y1, b0, b1) in &rows {
            for t in &cols {
                let x1 = (t.index + 1).min(sw - 1);
                for c in 0..3 {
                    let h = |y| px(y, t.index, c) * t.w0 + px(y, x1, c) * t.w1;
                    out.push(vertical(h(y0), h(y1), b0, b1));
                }
            }
        }
        out
    }

    #[test]
    fn the_fast_path_is_the_formula() {
        let src: Vec<u8> = (0..1920 * 1080 * 3u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        for (sw, sh, dw, dh) in [
            (1920, 1080, 640, 360),
            (1920, 1080, 1280, 720),
            (1280, 720, 640, 360),
            (1000, 563, 1280, 721),
            (37, 23, 13, 11),
            (7, 5, 19, 17),
        ] {
            let src = &src[..sw * sh * 3];
            assert!(
                resize(src, sw, sh, dw, dh) == naive(src, sw, sh, dw, dh),
                "{sw}x{sh} -> {dw}x{dh}"
            );
        }
    }

    #[test]
    fn exact_two_times_downscale_is_a_rounded_2x2_mean() {
        // OpenCV routes exact 2x shrinks through INTER_AREA: (a+b+c+d+2)>>2.
        let src: Vec<u8> = (0..4 * 4 * 3).map(|i| (i * 37 % 251) as u8).collect();
        let dst = resize(&src, 4, 4, 2, 2);
        for y in 0..2 {
            for x in 0..2 {
                for c in 0..3 {
                    let p = |yy: usize, xx: usize| u32::from(src[(yy * 4 + xx) * 3 + c]);
                    let sum = p(2 * y, 2 * x)
                        + p(2 * y, 2 * x + 1)
                        + p(2 * y + 1, 2 * x)
                        + p(2 * y + 1, 2 * x + 1);
                    assert_eq!(u32::from(dst[(y * 2 + x) * 3 + c]), (sum + 2) >> 2);
                }
            }
        }
    }

    #[test]
    fn exact_three_times_downscale_samples_the_centre_pixel() {
        let src: Vec<u8> = (0..9 * 6 * 3).map(|i| (i * 53 % 255) as u8).collect();
        let dst = resize(&src, 9, 6, 3, 2);
        for y in 0..2 {
            for x in 0..3 {
                for c in 0..3 {
                    assert_eq!(
                        dst[(y * 3 + x) * 3 + c],
                        src[((3 * y + 1) * 9 + 3 * x + 1) * 3 + c]
                    );
                }
            }
        }
    }

    #[test]
    fn constant_image_stays_constant_up_and_down() {
        let src = vec![114u8; 7 * 5 * 3];
        assert!(resize(&src, 7, 5, 13, 11).iter().all(|&v| v == 114));
        assert!(resize(&src, 7, 5, 3, 2).iter().all(|&v| v == 114));
    }

    #[test]
    fn weights_follow_opencv_rounding() {
        // 1920 -> 1280: weights 0.25/0.75 of 2048 = 512/1536.
        let t = taps(1920, 1280, true);
        assert_eq!(
            t[1],
            Tap {
                index: 1,
                w0: 512,
                w1: 1536
            }
        );
        // Upscale: the first output column clamps to the border with fx = 0.
        let t = taps(4, 8, true);
        assert_eq!(
            t[0],
            Tap {
                index: 0,
                w0: 2048,
                w1: 0
            }
        );
        assert_eq!(
            t[7],
            Tap {
                index: 3,
                w0: 2048,
                w1: 0
            }
        );
    }
}
