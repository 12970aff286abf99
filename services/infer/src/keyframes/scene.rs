//! The scene-cut measure: how different a decoded frame is from the one
//! before, cheap enough to run on every frame (about 57,600 sampled pixels
//! of a 720p frame, tens of microseconds).
//!
//! Each frame is reduced to a [`Thumbnail`]: the mean luma of a 32 x 18
//! grid of cells, from every 4th pixel of every 4th row. Two frames differ
//! by the mean absolute difference of their cells, in luma levels (0-255).
//! The coarse grid keeps a pan or a zoom small (content slides within and
//! across cells, means change little) while a cut changes most cells at
//! once.

use sv_core::{Frame, PixelFormat};

/// Cells across and down (16:9, so cells are square on 16:9 frames).
const GRID_W: usize = 32;
const GRID_H: usize = 18;
/// Every STEP-th pixel of every STEP-th row is sampled (720p and up).
const STEP: usize = 4;

/// Luma differences above this mark a cut, in luma levels. Measured on the
/// fixture clips with this measure (tests/bench/README.md, "Scene cuts"):
/// within a shot at most 0.58 (the sample clip's slow pan) and 1.38 (the
/// motion clip's fast pan with a zoom); at its two cuts 7.41 and 11.23. 4.0
/// sits a factor of about two from both sides.
pub const SCENE_CUT_THRESHOLD: f32 = 4.0;

/// A frame reduced to the mean luma of each grid cell.
#[derive(Debug, Clone, PartialEq)]
pub struct Thumbnail {
    cells: [f32; GRID_W * GRID_H],
}

impl Thumbnail {
    /// Samples an RGB (BT.601 luma) or NV12 (its Y plane) frame.
    pub fn of(frame: &Frame) -> Self {
        let (w, h) = (frame.width as usize, frame.height as usize);
        let stride = frame.stride as usize;
        let data = &frame.data[..];
        // Small frames are sampled more densely, so every cell gets pixels.
        let step_x = (w / (2 * GRID_W)).clamp(1, STEP);
        let step_y = (h / (2 * GRID_H)).clamp(1, STEP);
        let mut sums = [0u32; GRID_W * GRID_H];
        let mut counts = [0u32; GRID_W * GRID_H];
        for y in (0..h).step_by(step_y) {
            let row = y * GRID_H / h * GRID_W;
            for x in (0..w).step_by(step_x) {
                let luma = match frame.format {
                    PixelFormat::Rgb8 => rgb_luma(data, y * stride + x * 3),
                    PixelFormat::Nv12 => data.get(y * stride + x).copied(),
                };
                // A short buffer (never from decode) leaves cells empty.
                if let Some(luma) = luma {
                    let cell = row + x * GRID_W / w;
                    sums[cell] += u32::from(luma);
                    counts[cell] += 1;
                }
            }
        }
        let mut cells = [0.0; GRID_W * GRID_H];
        for (cell, (&sum, &count)) in cells.iter_mut().zip(sums.iter().zip(&counts)) {
            *cell = if count == 0 {
                0.0
            } else {
                sum as f32 / count as f32
            };
        }
        Self { cells }
    }

    /// Mean absolute difference of the cells, in luma levels.
    pub fn difference(&self, other: &Self) -> f32 {
        let total: f32 = (self.cells.iter().zip(&other.cells))
            .map(|(a, b)| (a - b).abs())
            .sum();
        total / self.cells.len() as f32
    }
}

/// BT.601 luma of the RGB pixel at `at`, in integers.
fn rgb_luma(data: &[u8], at: usize) -> Option<u8> {
    let px = data.get(at..at + 3)?;
    let [r, g, b] = [px[0], px[1], px[2]].map(u32::from);
    Some(((77 * r + 150 * g + 29 * b) >> 8) as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flat(value: u8, width: u32, height: u32) -> Frame {
        let data = vec![value; (width * height * 3) as usize];
        Frame::rgb(0, width, height, data.into())
    }

    #[test]
    fn equal_frames_do_not_differ_and_a_new_picture_does() {
        let grey = Thumbnail::of(&flat(100, 64, 36));
        assert_eq!(grey.difference(&grey), 0.0);
        let brighter = Thumbnail::of(&flat(110, 64, 36));
        assert!((grey.difference(&brighter) - 10.0).abs() < 1e-4);
    }

    #[test]
    fn a_slide_of_a_few_pixels_is_small_and_a_cut_is_large() {
        // Vertical stripes 100 px wide, shifted by 2 px: a pan.
        let stripes = |shift: u32| {
            let (w, h) = (1280u32, 720u32);
            let mut data = Vec::with_capacity((w * h * 3) as usize);
            for _ in 0..h {
                for x in 0..w {
                    let v = if ((x + shift) / 100).is_multiple_of(2) {
                        60
                    } else {
                        140
                    };
                    data.extend([v, v, v]);
                }
            }
            Frame::rgb(0, w, h, data.into())
        };
        let before = Thumbnail::of(&stripes(0));
        let panned = Thumbnail::of(&stripes(2));
        let cut = Thumbnail::of(&flat(30, 1280, 720));
        assert!(before.difference(&panned) < SCENE_CUT_THRESHOLD);
        assert!(before.difference(&cut) > SCENE_CUT_THRESHOLD);
    }

    #[test]
    fn nv12_reads_the_luma_plane() {
        let (w, h) = (64u32, 36u32);
        let mut data = vec![90u8; (w * h) as usize];
        data.extend(vec![128u8; (w * h / 2) as usize]);
        let nv12 = Frame {
            format: PixelFormat::Nv12,
            stride: w,
            ..Frame::rgb(0, w, h, data.into())
        };
        let rgb = Thumbnail::of(&flat(90, w, h));
        assert_eq!(Thumbnail::of(&nv12).difference(&rgb), 0.0);
    }
}
