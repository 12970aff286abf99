//! YUV 4:2:0 to packed RGB with exactly the arithmetic the reference miner's
//! OpenCV gets from FFmpeg 5.1's swscale (OpenCV 4.8's wheels bundle
//! swscale 6.7), so our frames are the reference's frames to the bit.
//!
//! OpenCV asks swscale for BGR24 at the source size with `SWS_BICUBIC` and
//! no accurate rounding. For 4:2:0 input with an even height swscale then
//! skips its scaler and runs its special-cased x86 converter
//! (`yuv_2_rgb.asm`): BT.601 coefficients whatever the stream signals, each
//! chroma sample used as is for its 2x2 block of pixels (no interpolation),
//! and 16-bit fixed point: `(v << 3) - offset`, then a high-half multiply
//! (`pmulhw`, i.e. `(a * b) >> 16`, rounding down) by coefficients derived
//! from the 16.16 tables in integer steps. Rounding anywhere else shifts
//! values by a level, which was enough to move detections of real models
//! (docs/PARITY.md A0). Verified bit-exact against `ffmpeg -pix_fmt bgr24
//! -sws_flags bicubic` (the same swscale) and against the fixture frames
//! OpenCV decoded: tests/tests/decode.rs. An odd height (H.264 can crop to
//! one) sends swscale through its general scaler instead; we keep this
//! arithmetic there, so such clips are close but not bit-exact.

/// swscale's BT.601 table (`ff_yuv2rgb_coeffs[SWS_CS_ITU601]`), 16.16 fixed
/// point and already scaled by 255/224 for limited-range chroma: Cr->R,
/// Cb->B, Cb->G, Cr->G (the last two as magnitudes).
const BT601: [i64; 4] = [104_597, 132_201, 25_675, 53_279];

/// The converter's 16-bit coefficients, derived from `BT601` exactly as
/// swscale's `ff_yuv2rgb_c_init_tables` derives its SIMD ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Coefficients {
    y: i32,
    y_offset: i32,
    u_to_b: i32,
    u_to_g: i32,
    v_to_g: i32,
    v_to_r: i32,
}

/// swscale's `roundToInt16`: a 16.16 value times 2^13 back to an integer,
/// rounding half up (the shift floors).
fn round_to_i16(value: i64) -> i32 {
    ((value + (1 << 15)) >> 16).clamp(-0x7fff, 0x7fff) as i32
}

impl Coefficients {
    /// Limited range (16-235) unless `full_range` (JPEG-style 0-255, as an
    /// H.264 stream with `video_full_range_flag` decodes).
    pub fn bt601(full_range: bool) -> Self {
        let [mut v_r, mut u_b, u_g, v_g] = BT601;
        let (mut u_g, mut v_g) = (-u_g, -v_g);
        let mut y: i64 = 1 << 16;
        let mut y_offset: i64 = 0;
        if full_range {
            // C division truncates toward zero; Rust's `/` on i64 does too.
            for c in [&mut v_r, &mut u_b, &mut u_g, &mut v_g] {
                *c = *c * 224 / 255;
            }
        } else {
            y = y * 255 / 219;
            y_offset = 16 << 16;
        }
        Self {
            y: round_to_i16(y << 13),
            y_offset: round_to_i16(y_offset * 8),
            u_to_b: round_to_i16(u_b << 13),
            u_to_g: round_to_i16(u_g << 13),
            v_to_g: round_to_i16(v_g << 13),
            v_to_r: round_to_i16(v_r << 13),
        }
    }
}

/// `pmulhw`: the high 16 bits of a signed 16x16 product (floors).
#[inline(always)]
fn mul_high(a: i32, b: i32) -> i32 {
    (a * b) >> 16
}

/// The chroma terms of one chroma row, expanded to one entry per pixel
/// (each chroma sample covers two columns), shared by two luma rows, and
/// the row's U and V samples they are made from.
struct ChromaRow {
    u: Vec<u8>,
    v: Vec<u8>,
    r: Vec<i32>,
    g: Vec<i32>,
    b: Vec<i32>,
}

impl ChromaRow {
    fn new(width: usize) -> Self {
        let cw = width.div_ceil(2);
        Self {
            u: vec![0; cw],
            v: vec![0; cw],
            r: vec![0; width],
            g: vec![0; width],
            b: vec![0; width],
        }
    }

    /// The terms from the U and V samples in `self.u`, `self.v`.
    fn terms(&mut self, c: &Coefficients) {
        let w = self.r.len();
        let (r, g, b) = (&mut self.r[..w], &mut self.g[..w], &mut self.b[..w]);
        let (u, v) = (&self.u[..w.div_ceil(2)], &self.v[..w.div_ceil(2)]);
        for x in 0..w {
            let u = (i32::from(u[x / 2]) << 3) - (128 << 3);
            let v = (i32::from(v[x / 2]) << 3) - (128 << 3);
            r[x] = mul_high(v, c.v_to_r);
            g[x] = mul_high(u, c.u_to_g) + mul_high(v, c.v_to_g);
            b[x] = mul_high(u, c.u_to_b);
        }
    }
}

/// One plane: its bytes and the distance between rows.
#[derive(Debug, Clone, Copy)]
pub struct Plane<'a> {
    /// The plane's bytes, from its first row; the last row may stop at the
    /// row's length (no padding after it).
    pub data: &'a [u8],
    /// Bytes from the start of one row to the start of the next (at least
    /// the row's length).
    pub stride: usize,
}

/// A planar 4:2:0 picture (I420: Y, then U and V at half size each way,
/// rounded up for odd sizes).
#[derive(Debug, Clone, Copy)]
pub struct I420<'a> {
    /// Picture width, in pixels (the Y plane's row length).
    pub width: usize,
    /// Picture height, in pixels (the Y plane's rows).
    pub height: usize,
    /// Luma, one byte per pixel.
    pub y: Plane<'a>,
    /// Cb, one byte per 2x2 block of pixels.
    pub u: Plane<'a>,
    /// Cr, one byte per 2x2 block of pixels.
    pub v: Plane<'a>,
}

/// Why a picture cannot be converted (planes shorter than the size says).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{plane} plane too small: {have} bytes for {width}x{height} (stride {stride})")]
pub struct PlaneTooSmall {
    /// Which plane: `Y`, `U`, `V` or `UV`.
    pub plane: &'static str,
    /// The bytes the plane holds.
    pub have: usize,
    /// The plane's stride, in bytes.
    pub stride: usize,
    /// The row length the plane needs, in bytes.
    pub width: usize,
    /// The rows the plane needs.
    pub height: usize,
}

/// A semi-planar 4:2:0 picture (NV12: Y, then one plane of interleaved
/// U, V pairs at half size each way), what hardware decoders output. The
/// same samples as I420 in another order, so the same RGB.
#[derive(Debug, Clone, Copy)]
pub struct Nv12<'a> {
    /// Picture width, in pixels (the Y plane's row length).
    pub width: usize,
    /// Picture height, in pixels (the Y plane's rows).
    pub height: usize,
    /// Luma, one byte per pixel.
    pub y: Plane<'a>,
    /// Cb, Cr byte pairs, one pair per 2x2 block of pixels.
    pub uv: Plane<'a>,
}

/// Checks that `plane` holds `rows` rows of `row_len` bytes.
fn check_plane(
    plane: &'static str,
    p: Plane<'_>,
    row_len: usize,
    rows: usize,
) -> Result<(), PlaneTooSmall> {
    let need = if rows == 0 {
        0
    } else {
        p.stride * (rows - 1) + row_len
    };
    if p.stride < row_len || p.data.len() < need {
        return Err(PlaneTooSmall {
            plane,
            have: p.data.len(),
            stride: p.stride,
            width: row_len,
            height: rows,
        });
    }
    Ok(())
}

impl I420<'_> {
    fn check(&self) -> Result<(), PlaneTooSmall> {
        let (cw, ch) = (self.width.div_ceil(2), self.height.div_ceil(2));
        check_plane("Y", self.y, self.width, self.height)?;
        check_plane("U", self.u, cw, ch)?;
        check_plane("V", self.v, cw, ch)
    }
}

impl Nv12<'_> {
    fn check(&self) -> Result<(), PlaneTooSmall> {
        let (cw, ch) = (self.width.div_ceil(2), self.height.div_ceil(2));
        check_plane("Y", self.y, self.width, self.height)?;
        check_plane("UV", self.uv, cw * 2, ch)
    }
}

/// Converts `picture` to tightly packed RGB (R, G, B byte order: the frame
/// format the infer stage reads; swscale's BGR24 holds the same values).
pub fn i420_to_rgb(
    picture: &I420<'_>,
    coefficients: &Coefficients,
) -> Result<Vec<u8>, PlaneTooSmall> {
    picture.check()?;
    let cw = picture.width.div_ceil(2);
    let (u, v) = (picture.u, picture.v);
    Ok(convert(
        picture.width,
        picture.height,
        picture.y,
        coefficients,
        |chroma, row| {
            chroma.u.copy_from_slice(&u.data[row * u.stride..][..cw]);
            chroma.v.copy_from_slice(&v.data[row * v.stride..][..cw]);
        },
    ))
}

/// Converts an NV12 picture to packed RGB, exactly as [`i420_to_rgb`]
/// converts the same samples in planar order.
pub fn nv12_to_rgb(
    picture: &Nv12<'_>,
    coefficients: &Coefficients,
) -> Result<Vec<u8>, PlaneTooSmall> {
    picture.check()?;
    let cw = picture.width.div_ceil(2);
    let uv = picture.uv;
    Ok(convert(
        picture.width,
        picture.height,
        picture.y,
        coefficients,
        |chroma, row| {
            let uv_row = &uv.data[row * uv.stride..][..cw * 2];
            for ((u, v), pair) in chroma
                .u
                .iter_mut()
                .zip(&mut chroma.v)
                .zip(uv_row.chunks_exact(2))
            {
                (*u, *v) = (pair[0], pair[1]);
            }
        },
    ))
}

/// The conversion proper, into a new buffer that becomes the frame's
/// pixels as is; `chroma_row` copies a chroma row's U and V samples. Each
/// row is computed into three planar rows first, then interleaved: two
/// simple loops the compiler vectorises (about 20% faster than one loop
/// writing three-byte pixels).
fn convert(
    w: usize,
    h: usize,
    y: Plane<'_>,
    c: &Coefficients,
    mut chroma_row: impl FnMut(&mut ChromaRow, usize),
) -> Vec<u8> {
    let mut rgb = vec![0u8; w * h * 3];
    let mut chroma = ChromaRow::new(w);
    let [mut r, mut g, mut b] = [vec![0u8; w], vec![0u8; w], vec![0u8; w]];
    let clamp = |v: i32| v.clamp(0, 255) as u8;
    for (row, out) in rgb.chunks_exact_mut(w * 3).enumerate() {
        if row % 2 == 0 {
            chroma_row(&mut chroma, row / 2);
            chroma.terms(c);
        }
        let y_row = &y.data[row * y.stride..][..w];
        let (cr, cg, cb) = (&chroma.r[..w], &chroma.g[..w], &chroma.b[..w]);
        let (r, g, b) = (&mut r[..w], &mut g[..w], &mut b[..w]);
        for x in 0..w {
            let l = mul_high((i32::from(y_row[x]) << 3) - c.y_offset, c.y);
            r[x] = clamp(l + cr[x]);
            g[x] = clamp(l + cg[x]);
            b[x] = clamp(l + cb[x]);
        }
        for (pixel, ((&r, &g), &b)) in out.chunks_exact_mut(3).zip(r.iter().zip(&*g).zip(&*b)) {
            pixel[0] = r;
            pixel[1] = g;
            pixel[2] = b;
        }
    }
    rgb
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coefficients_match_swscale_derivation() {
        // The values swscale 6.7 computes (checked by hand from its integer
        // steps): limited range, then full range.
        assert_eq!(
            Coefficients::bt601(false),
            Coefficients {
                y: 9539,
                y_offset: 128,
                u_to_b: 16525,
                u_to_g: -3209,
                v_to_g: -6660,
                v_to_r: 13075
            }
        );
        assert_eq!(
            Coefficients::bt601(true),
            Coefficients {
                y: 8192,
                y_offset: 0,
                u_to_b: 14516,
                u_to_g: -2819,
                v_to_g: -5850,
                v_to_r: 11485
            }
        );
    }

    fn solid(width: usize, height: usize, yuv: [u8; 3]) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
        let (cw, ch) = (width.div_ceil(2), height.div_ceil(2));
        (
            vec![yuv[0]; width * height],
            vec![yuv[1]; cw * ch],
            vec![yuv[2]; cw * ch],
        )
    }

    fn convert(width: usize, height: usize, yuv: [u8; 3], full: bool) -> Vec<u8> {
        let (y, u, v) = solid(width, height, yuv);
        let picture = I420 {
            width,
            height,
            y: Plane {
                data: &y,
                stride: width,
            },
            u: Plane {
                data: &u,
                stride: width.div_ceil(2),
            },
            v: Plane {
                data: &v,
                stride: width.div_ceil(2),
            },
        };
        i420_to_rgb(&picture, &Coefficients::bt601(full)).unwrap()
    }

    #[test]
    fn limited_range_black_white_and_grey() {
        assert_eq!(&convert(4, 2, [16, 128, 128], false)[..3], &[0, 0, 0]);
        assert_eq!(
            &convert(4, 2, [235, 128, 128], false)[..3],
            &[255, 255, 255]
        );
        assert_eq!(
            &convert(4, 2, [126, 128, 128], false)[..3],
            &[128, 128, 128]
        );
        // Below black the luma term goes negative (signed, not saturating):
        // FFmpeg gives 26, 0, 50 here, a saturating subtract 28, 0, 52.
        assert_eq!(&convert(2, 2, [15, 154, 146], false)[..3], &[26, 0, 50]);
    }

    #[test]
    fn pure_red_in_limited_range() {
        // BT.601 red is Y 81, U 90, V 240; swscale's fast path gives 253, 0, 0.
        assert_eq!(&convert(2, 2, [81, 90, 240], false)[..3], &[253, 0, 0]);
    }

    #[test]
    fn odd_sizes_use_the_last_chroma_sample_for_the_last_column_and_row() {
        let rgb = convert(5, 3, [100, 60, 200], false);
        assert_eq!(rgb.len(), 5 * 3 * 3);
        let first = &rgb[..3];
        assert!(
            rgb.chunks(3).all(|p| p == first),
            "a solid picture stays solid"
        );
    }

    #[test]
    fn nv12_gives_the_rgb_of_the_same_samples_in_i420() {
        // Pseudo-random planes with padding in every stride, odd size.
        let (w, h) = (37usize, 23usize);
        let (cw, ch) = (w.div_ceil(2), h.div_ceil(2));
        let mut seed = 0x2545_f491_u32;
        let mut noise = |n: usize| -> Vec<u8> {
            (0..n)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 17;
                    seed ^= seed << 5;
                    (seed >> 24) as u8
                })
                .collect()
        };
        let (ys, cs) = (w + 5, cw + 3);
        let y = noise(ys * h);
        let u = noise(cs * ch);
        let v = noise(cs * ch);
        let uvs = cw * 2 + 6;
        let mut uv = vec![0u8; uvs * ch];
        for row in 0..ch {
            for x in 0..cw {
                uv[row * uvs + 2 * x] = u[row * cs + x];
                uv[row * uvs + 2 * x + 1] = v[row * cs + x];
            }
        }
        for full in [false, true] {
            let c = Coefficients::bt601(full);
            let planar = I420 {
                width: w,
                height: h,
                y: Plane {
                    data: &y,
                    stride: ys,
                },
                u: Plane {
                    data: &u,
                    stride: cs,
                },
                v: Plane {
                    data: &v,
                    stride: cs,
                },
            };
            let semi = Nv12 {
                width: w,
                height: h,
                y: Plane {
                    data: &y,
                    stride: ys,
                },
                uv: Plane {
                    data: &uv,
                    stride: uvs,
                },
            };
            assert_eq!(
                nv12_to_rgb(&semi, &c).unwrap(),
                i420_to_rgb(&planar, &c).unwrap()
            );
        }
        let short = Nv12 {
            width: w,
            height: h,
            y: Plane {
                data: &y,
                stride: ys,
            },
            uv: Plane {
                data: &uv[..uvs * (ch - 1)],
                stride: uvs,
            },
        };
        assert_eq!(
            nv12_to_rgb(&short, &Coefficients::bt601(false))
                .unwrap_err()
                .plane,
            "UV"
        );
    }

    #[test]
    fn short_planes_are_an_error_not_a_panic() {
        let (y, u, v) = solid(8, 4, [16, 128, 128]);
        let picture = I420 {
            width: 8,
            height: 4,
            y: Plane {
                data: &y[..20],
                stride: 8,
            },
            u: Plane {
                data: &u,
                stride: 4,
            },
            v: Plane {
                data: &v,
                stride: 4,
            },
        };
        let err = i420_to_rgb(&picture, &Coefficients::bt601(false)).unwrap_err();
        assert_eq!(err.plane, "Y");
    }
}
