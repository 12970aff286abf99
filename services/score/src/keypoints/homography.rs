//! The frame-to-pitch homography (the validator's
//! `estimate_homography_ransac`), by OpenCV's `findHomography` as the
//! validator's OpenCV computes it ([`crate::find_homography`]: the same
//! fixed-seed RANSAC samples, DLT and refinement).
//!
//! Quirks kept: targets are the stretched pitch of
//! [`crate::pitch::scaled_vertex`]; with exactly 4 valid points OpenCV skips
//! RANSAC and solves them exactly, so the inlier ratio is 1 and the error
//! about 0 whatever the points are.

use opencv::core::{Mat, Point2d, Vector};

use super::Crash;
use super::valid::{Valid, distance, valid_keypoints};
use crate::pitch::scaled_vertex;

/// What the validator gets for one frame's keypoints.
#[derive(Debug, Clone)]
pub struct Homography {
    /// Row-major 3x3, image pixels to the stretched pitch.
    pub matrix: Mat,
    /// Inliers over valid points.
    pub inlier_ratio: f64,
    /// Mean distance between each valid point, projected, and its target,
    /// outliers included, in stretched-pitch units.
    pub reprojection_error: f64,
}

/// `estimate_homography_ransac(keypoints, W, H)`: `None` with fewer than 4
/// valid points or when OpenCV finds no model.
pub fn estimate(points: &[[f64; 2]], width: i32, height: i32) -> Result<Option<Homography>, Crash> {
    let valid = valid_keypoints(points, Some((width, height)));
    if valid.len() < 4 {
        return Ok(None);
    }
    let targets = targets(&valid, width, height)?;
    let threshold = (f64::from(width) * 0.01).max(12.0);
    let Some((h, mask)) =
        crate::find_homography::find_homography(&valid.points, &targets, threshold)
    else {
        return Ok(None);
    };
    let matrix = Mat::from_slice_2d(&[[h[0], h[1], h[2]], [h[3], h[4], h[5]], [h[6], h[7], h[8]]])
        .map_err(|e| Crash(format!("a homography matrix: {e}")))?;
    let src: Vector<Point2d> = valid
        .points
        .iter()
        .map(|&[x, y]| Point2d::new(x, y))
        .collect();
    let inliers = mask.iter().filter(|&&m| m).count();
    let projected = project(&src, &matrix)?;
    let error = projected
        .iter()
        .zip(&targets)
        .map(|(p, &t)| distance([p.x, p.y], t))
        .sum::<f64>()
        / projected.len() as f64;
    Ok(Some(Homography {
        matrix,
        inlier_ratio: inliers as f64 / mask.len() as f64,
        reprojection_error: error,
    }))
}

/// The targets of the valid points; a valid point at an index past the 32
/// vertices makes the validator raise (IndexError).
fn targets(valid: &Valid, width: i32, height: i32) -> Result<Vec<[f64; 2]>, Crash> {
    valid
        .indices
        .iter()
        .map(|&i| {
            scaled_vertex(i, width, height).ok_or_else(|| {
                Crash(format!(
                    "a valid keypoint at index {i}, past the pitch's 32 vertices"
                ))
            })
        })
        .collect()
}

/// `cv2.perspectiveTransform` of f64 points.
fn project(points: &Vector<Point2d>, matrix: &Mat) -> Result<Vector<Point2d>, Crash> {
    let mut out = Vector::<Point2d>::new();
    opencv::core::perspective_transform(points, &mut out, matrix)
        .map_err(|e| Crash(format!("perspectiveTransform raised: {e}")))?;
    Ok(out)
}

/// The per-frame keypoint score: `(min(100 r, 100) + max(0, 100 - e)) / 2`.
pub fn keypoint_score(h: &Homography) -> f64 {
    ((h.inlier_ratio * 100.0).min(100.0) + (100.0 - h.reprojection_error).max(0.0)) / 2.0
}
