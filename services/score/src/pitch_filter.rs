//! Which frames count (the validator's pitch-frame filter): a frame is a
//! pitch frame when its heuristic score (grass and long lines, on the frame
//! after a JPEG round trip) is in [0.7, 1] and CLIP gives "a football pitch"
//! at least 0.75 and more than "a close-up of a football player".
//!
//! Quirks kept: the JPEG round trip (OpenCV's defaults, quality 95); a
//! goal-net veto that discards every line when they form a grid of short or
//! equal segments; a close-up penalty of 0.29 that still lets a saturated
//! score (1.0) pass.

use opencv::core::{self, Mat, MatTraitConst, Point, Scalar, Vec4i, Vector};
use opencv::imgcodecs;
use opencv::imgproc;
use opencv::prelude::MatExprTraitConst;

use crate::keypoints::lines::{green, morphology};

/// A frame's pitch checks.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PitchCheck {
    /// The heuristic score (what `detect_pitch` returns without CLIP).
    pub heuristic: f64,
    /// P("a football pitch") when it wins the pair, else 0; `None` without CLIP.
    pub clip: Option<f64>,
}

impl PitchCheck {
    /// The validator's decision. Without CLIP every frame is a pitch frame.
    pub fn is_pitch(&self) -> bool {
        match self.clip {
            None => true,
            Some(p) => (0.7..=1.0).contains(&self.heuristic) && p >= 0.75,
        }
    }
}

/// The frame as the filter reads it: written as JPEG, read back (BGR).
pub fn jpeg_round_trip(frame: &Mat) -> opencv::Result<Mat> {
    let mut bytes = Vector::<u8>::new();
    imgcodecs::imencode(".jpg", frame, &mut bytes, &Vector::new())?;
    imgcodecs::imdecode(&bytes, imgcodecs::IMREAD_COLOR)
}

/// `detect_pitch` without CLIP on the round-tripped frame: `max(score, 0)`.
pub fn heuristic(image: &Mat) -> opencv::Result<f64> {
    let mut hsv = Mat::default();
    imgproc::cvt_color(image, &mut hsv, imgproc::COLOR_BGR2HSV, 0)?;
    let mask_green = green(&hsv)?;
    let kernel = Mat::ones(10, 10, core::CV_8UC1)?.to_mat()?;
    let mut cleaned = Mat::default();
    morphology(&mask_green, &mut cleaned, imgproc::MORPH_OPEN, &kernel)?;
    drop_mostly_non_green_regions(&mask_green, &mut cleaned)?;

    let mut gray = Mat::default();
    imgproc::cvt_color(image, &mut gray, imgproc::COLOR_BGR2GRAY, 0)?;
    let mut masked = Mat::default();
    core::bitwise_and(&gray, &gray, &mut masked, &cleaned)?;
    let mut edges = Mat::default();
    imgproc::canny(&masked, &mut edges, 50.0, 150.0, 3, false)?;
    let mut lines = Vector::<Vec4i>::new();
    imgproc::hough_lines_p(
        &edges,
        &mut lines,
        1.0,
        std::f64::consts::PI / 360.0,
        50,
        50.0,
        8.0,
    )?;
    let lengths: Vec<f64> = lines
        .iter()
        .map(|l| f64::from(l[2] - l[0]).hypot(f64::from(l[3] - l[1])))
        .collect();
    let total_length = if is_goal_net(&lines, &lengths) {
        0.0
    } else {
        lengths.iter().sum()
    };

    let area = f64::from(cleaned.rows()) * f64::from(cleaned.cols());
    let green_ratio = f64::from(core::count_non_zero(&cleaned)?) / area;
    let mut score = 0.3 * green_ratio + 0.7 * (total_length / 4500.0);
    if score >= 1.0 {
        score = 1.0;
    }
    if is_close_up(&mask_green)? {
        score -= 0.29;
    }
    Ok(score.max(0.0))
}

/// Regions of the opened mask over 5000 px whose pixels are less than half
/// green in the raw mask are erased.
fn drop_mostly_non_green_regions(raw: &Mat, cleaned: &mut Mat) -> opencv::Result<()> {
    let mut contours = Vector::<Vector<Point>>::new();
    imgproc::find_contours(
        &*cleaned,
        &mut contours,
        imgproc::RETR_EXTERNAL,
        imgproc::CHAIN_APPROX_SIMPLE,
        Point::default(),
    )?;
    for contour in &contours {
        if imgproc::contour_area(&contour, false)? <= 5000.0 {
            continue;
        }
        let one = Vector::<Vector<Point>>::from_iter([contour]);
        let mut region = Mat::zeros(raw.rows(), raw.cols(), core::CV_8UC1)?.to_mat()?;
        fill(&mut region, &one, 255.0)?;
        let mut both = Mat::default();
        core::bitwise_and(raw, &region, &mut both, &core::no_array())?;
        let total = core::count_non_zero(&region)?;
        let ratio = if total > 0 {
            f64::from(core::count_non_zero(&both)?) / f64::from(total)
        } else {
            0.0
        };
        if ratio < 0.5 {
            fill(cleaned, &one, 0.0)?;
        }
    }
    Ok(())
}

fn fill(image: &mut Mat, contours: &Vector<Vector<Point>>, value: f64) -> opencv::Result<()> {
    imgproc::draw_contours(
        image,
        contours,
        -1,
        Scalar::all(value),
        imgproc::FILLED,
        imgproc::LINE_8,
        &core::no_array(),
        i32::MAX,
        Point::default(),
    )
}

/// `detect_goal_net_by_lines`: 15 lines or more, over 15 near-horizontal and
/// over 15 near-vertical, and short (mean < 50 px) or alike (std < 10 px).
fn is_goal_net(lines: &Vector<Vec4i>, lengths: &[f64]) -> bool {
    if lines.len() < 15 {
        return false;
    }
    let (mut horizontal, mut vertical) = (0, 0);
    for l in lines {
        let angle = f64::from((l[3] - l[1]).abs())
            .atan2(f64::from((l[2] - l[0]).abs()))
            .to_degrees();
        if angle < 10.0 {
            horizontal += 1;
        } else if angle > 80.0 {
            vertical += 1;
        }
    }
    let n = lengths.len() as f64;
    let mean = lengths.iter().sum::<f64>() / n;
    let std = (lengths.iter().map(|l| (l - mean).powi(2)).sum::<f64>() / n).sqrt();
    vertical > 15 && horizontal > 15 && (mean < 50.0 || std < 10.0)
}

/// `is_close_plan`: each border band (2.5% of the side) is over 80% green.
fn is_close_up(mask_green: &Mat) -> opencv::Result<bool> {
    let (h, w) = (mask_green.rows(), mask_green.cols());
    let (bh, bw) = ((f64::from(h) * 0.025) as i32, (f64::from(w) * 0.025) as i32);
    if bh == 0 || bw == 0 {
        // numpy: an empty band's share is 0/0 = NaN, never > 0.8.
        return Ok(false);
    }
    let bands = [
        core::Rect::new(0, 0, w, bh),
        core::Rect::new(0, h - bh, w, bh),
        core::Rect::new(0, 0, bw, h),
        core::Rect::new(w - bw, 0, bw, h),
    ];
    for rect in bands {
        let area = rect.width * rect.height;
        let roi = Mat::roi(mask_green, rect)?;
        if f64::from(core::count_non_zero(&roi)?) / f64::from(area) <= 0.8 {
            return Ok(false);
        }
    }
    Ok(true)
}
