//! The pitch lines the validator finds in each frame (its
//! `detect_pitch_lines_tophat`), which the keypoints are measured against.
//! Every step is OpenCV's own, with the validator's parameters; the sampling
//! and the density filter follow its Python arithmetic (truncating casts,
//! `linspace` steps) so the same segments survive.

use opencv::core::{self, Mat, MatTrait, MatTraitConst, Point, Rect, Scalar, Size, Vec4i, Vector};
use opencv::imgproc;
use opencv::prelude::MatExprTraitConst;

/// `(x1, y1, x2, y2)` in pixels.
pub type Segment = [i32; 4];

/// Points sampled along a segment to check it lies on grass.
const SAMPLES: usize = 30;
/// Pixels at each edge of the line mask that are cleared.
const BORDER: i32 = 3;
/// The density filter: a segment with more than this many segment
/// midpoints (itself included) within +-80 px on both axes is dropped.
const DENSITY_RADIUS: f64 = 80.0;
const DENSITY_MAX: usize = 80;

/// The segments of one BGR frame, in HoughLinesP's order.
pub fn detect(frame: &Mat) -> opencv::Result<Vec<Segment>> {
    let grass = grass_mask(frame, 5)?;
    let mut gray = Mat::default();
    imgproc::cvt_color(frame, &mut gray, imgproc::COLOR_BGR2GRAY, 0)?;
    let kernel = imgproc::get_structuring_element(
        imgproc::MORPH_RECT,
        Size::new(31, 31),
        Point::new(-1, -1),
    )?;
    let mut tophat = Mat::default();
    morphology(&gray, &mut tophat, imgproc::MORPH_TOPHAT, &kernel)?;
    let mut white = Mat::default();
    imgproc::threshold(&tophat, &mut white, 30.0, 255.0, imgproc::THRESH_BINARY)?;
    let mut masked = Mat::default();
    core::bitwise_and(&white, &grass, &mut masked, &core::no_array())?;
    let mut blur = Mat::default();
    imgproc::gaussian_blur(
        &masked,
        &mut blur,
        Size::new(5, 5),
        0.0,
        0.0,
        core::BORDER_DEFAULT,
    )?;
    let mut edges = Mat::default();
    imgproc::canny(&blur, &mut edges, 30.0, 100.0, 3, false)?;
    let mut found = Vector::<Vec4i>::new();
    imgproc::hough_lines_p(
        &edges,
        &mut found,
        1.0,
        std::f64::consts::PI / 360.0,
        30,
        10.0,
        15.0,
    )?;

    let (w, h) = (frame.cols(), frame.rows());
    let mut line_mask = Mat::zeros(h, w, core::CV_8UC1)?.to_mat()?;
    let mut kept = Vec::new();
    for l in &found {
        let s = [l[0], l[1], l[2], l[3]];
        if on_mask(s, &grass)? {
            imgproc::line(
                &mut line_mask,
                Point::new(s[0], s[1]),
                Point::new(s[2], s[3]),
                Scalar::all(255.0),
                2,
                imgproc::LINE_8,
                0,
            )?;
            kept.push(s);
        }
    }
    clear_border(&mut line_mask)?;
    let mut final_kept = Vec::with_capacity(kept.len());
    for s in kept {
        let (mx, my) = ((s[0] + s[2]).div_euclid(2), (s[1] + s[3]).div_euclid(2));
        if (0..w).contains(&mx) && (0..h).contains(&my) && *line_mask.at_2d::<u8>(my, mx)? > 0 {
            final_kept.push(s);
        }
    }
    Ok(thin_by_density(&final_kept))
}

/// `inRange(HSV, (35,40,40), (85,255,255))` opened by an all-ones square
/// kernel of `size`: the grass.
pub fn grass_mask(frame: &Mat, size: i32) -> opencv::Result<Mat> {
    let mut hsv = Mat::default();
    imgproc::cvt_color(frame, &mut hsv, imgproc::COLOR_BGR2HSV, 0)?;
    let raw = green(&hsv)?;
    let kernel = Mat::ones(size, size, core::CV_8UC1)?.to_mat()?;
    let mut opened = Mat::default();
    morphology(&raw, &mut opened, imgproc::MORPH_OPEN, &kernel)?;
    Ok(opened)
}

/// The raw green mask of an HSV frame.
pub fn green(hsv: &Mat) -> opencv::Result<Mat> {
    let mut mask = Mat::default();
    core::in_range(
        hsv,
        &Scalar::new(35.0, 40.0, 40.0, 0.0),
        &Scalar::new(85.0, 255.0, 255.0, 0.0),
        &mut mask,
    )?;
    Ok(mask)
}

/// `cv2.morphologyEx(src, op, kernel)` with OpenCV's defaults.
pub fn morphology(src: &Mat, dst: &mut Mat, op: i32, kernel: &Mat) -> opencv::Result<()> {
    imgproc::morphology_ex(
        src,
        dst,
        op,
        kernel,
        Point::new(-1, -1),
        1,
        core::BORDER_CONSTANT,
        imgproc::morphology_default_border_value()?,
    )
}

/// `line_on_mask`: every one of 30 evenly spaced points (numpy's `linspace`
/// steps, coordinates truncated toward zero) is on grass.
fn on_mask([x1, y1, x2, y2]: Segment, grass: &Mat) -> opencv::Result<bool> {
    let step = 1.0 / (SAMPLES - 1) as f64;
    for i in 0..SAMPLES {
        let t = if i == SAMPLES - 1 {
            1.0
        } else {
            i as f64 * step
        };
        let x = (f64::from(x1) + f64::from(x2 - x1) * t).trunc() as i32;
        let y = (f64::from(y1) + f64::from(y2 - y1) * t).trunc() as i32;
        if *grass.at_2d::<u8>(y, x)? == 0 {
            return Ok(false);
        }
    }
    Ok(true)
}

fn clear_border(mask: &mut Mat) -> opencv::Result<()> {
    let (w, h) = (mask.cols(), mask.rows());
    let (bw, bh) = (BORDER.min(w), BORDER.min(h));
    for rect in [
        Rect::new(0, 0, w, bh),
        Rect::new(0, h - bh, w, bh),
        Rect::new(0, 0, bw, h),
        Rect::new(w - bw, 0, bw, h),
    ] {
        mask.roi_mut(rect)?
            .set_to(&Scalar::all(0.0), &core::no_array())?;
    }
    Ok(())
}

/// `filter_by_density`: drops segments in crowded neighbourhoods (a net, a
/// crowd, text), counting float midpoints within the radius on both axes.
fn thin_by_density(segments: &[Segment]) -> Vec<Segment> {
    let mids: Vec<(f64, f64)> = segments
        .iter()
        .map(|s| (f64::from(s[0] + s[2]) / 2.0, f64::from(s[1] + s[3]) / 2.0))
        .collect();
    segments
        .iter()
        .zip(&mids)
        .filter(|(_, (mx, my))| {
            let near = mids
                .iter()
                .filter(|(ux, uy)| {
                    (ux - mx).abs() < DENSITY_RADIUS && (uy - my).abs() < DENSITY_RADIUS
                })
                .count();
            near <= DENSITY_MAX
        })
        .map(|(s, _)| *s)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crowded_segments_are_thinned_and_sparse_ones_kept() {
        // 81 midpoints within 80 px of each other: all dropped; 80: all kept.
        assert!(thin_by_density(&vec![[0, 0, 10, 0]; 81]).is_empty());
        assert_eq!(thin_by_density(&vec![[0, 0, 10, 0]; 80]).len(), 80);
        // Midpoints 5..=85: only the two ends have a neighbour 80 px away
        // (not within), so only they keep a count of 80.
        let spread: Vec<Segment> = (0..81).map(|i| [i, 0, i + 10, 0]).collect();
        assert_eq!(thin_by_density(&spread), [[0, 0, 10, 0], [80, 0, 90, 0]]);
    }
}
