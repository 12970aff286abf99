//! The per-frame terms of the keypoint score, for frames with a homography:
//! keypoints on the detected lines, objects inside the pitch, and the
//! keypoint-to-player scale ratio.

use opencv::core::{Point, Point2f, Vector};
use opencv::imgproc;

use super::Crash;
use super::homography::Homography;
use super::lines::Segment;
use super::valid::{Valid, distance};
use super::{python_max, python_min, sigmoid_score};
use crate::answer::Object;
use crate::boxes::rules::{centre, kept_for_keypoints};
use crate::pitch::OUTLINE_CM;

/// `mean_keypoint_to_line_distance_score`: how close the valid keypoints
/// lie to the frame's detected line segments, both scaled by (W, H) per
/// axis. Quirk kept: a frame where the validator found no segment scores 0.
pub fn on_line(valid: &Valid, segments: &[Segment], width: i32, height: i32) -> f64 {
    if valid.is_empty() {
        return 0.5;
    }
    if segments.is_empty() {
        return 0.0;
    }
    let (w, h) = (f64::from(width), f64::from(height));
    let scaled: Vec<[f64; 4]> = segments
        .iter()
        .map(|s| {
            [
                f64::from(s[0]) / w,
                f64::from(s[1]) / h,
                f64::from(s[2]) / w,
                f64::from(s[3]) / h,
            ]
        })
        .collect();
    let nearest: Vec<f64> = valid
        .points
        .iter()
        .map(|&[x, y]| {
            let (u, v) = (x / w, y / h);
            scaled
                .iter()
                .map(|&s| point_to_segment(u, v, s))
                .fold(f64::INFINITY, python_min)
        })
        .collect();
    sigmoid_score(nearest.iter().sum::<f64>() / nearest.len() as f64)
}

/// Distance from `(px, py)` to a segment, the projection clamped to it.
/// A zero-length segment divides 0 by 0; Python's `min`/`max` then take 1.
fn point_to_segment(px: f64, py: f64, [x1, y1, x2, y2]: [f64; 4]) -> f64 {
    let (vx, vy) = (x2 - x1, y2 - y1);
    let (wx, wy) = (px - x1, py - y1);
    let t = (wx * vx + wy * vy) / (vx * vx + vy * vy);
    let t = python_max(0.0, python_min(1.0, t));
    (px - (x1 + t * vx)).hypot(py - (y1 + t * vy))
}

/// `fraction_objects_inside`: the share of kept boxes whose centre,
/// projected by the homography, falls inside the pitch outline (0 when no
/// box is kept). Quirk kept: the projected point is in stretched-pitch
/// units but the outline is in cm, so nearly every point counts as inside.
pub fn inside(objects: &[Object], h: &Homography, width: i32) -> Result<f64, Crash> {
    let kept = kept_for_keypoints(objects, width).map_err(Crash)?;
    if kept.is_empty() {
        return Ok(0.0);
    }
    let outline: Vector<Point> = OUTLINE_CM.iter().map(|&(x, y)| Point::new(x, y)).collect();
    let mut count = 0usize;
    for bbox in &kept {
        let [cx, cy] = centre(*bbox);
        // np.float32 input, so OpenCV projects in f32 like the validator.
        let src = Vector::<Point2f>::from_iter([Point2f::new(cx as f32, cy as f32)]);
        let mut dst = Vector::<Point2f>::new();
        opencv::core::perspective_transform(&src, &mut dst, &h.matrix)
            .map_err(|e| Crash(format!("perspectiveTransform raised: {e}")))?;
        let p = dst
            .get(0)
            .map_err(|e| Crash(format!("perspectiveTransform gave no point: {e}")))?;
        let side = imgproc::point_polygon_test(&outline, p, false)
            .map_err(|e| Crash(format!("pointPolygonTest raised: {e}")))?;
        if side >= 0.0 {
            count += 1;
        }
    }
    Ok(count as f64 / kept.len() as f64)
}

/// `calculate_keypoint_to_player_scale_ratio`: the mean distance between
/// valid keypoints over the mean distance between kept box centres (1 with
/// fewer than 2 of either). The caller caps it at 1.5.
pub fn scale_ratio(valid: &Valid, objects: &[Object], width: i32) -> Result<f64, Crash> {
    if valid.len() < 2 {
        return Ok(1.0);
    }
    let keypoint_spread = mean_pairwise(&valid.points);
    let centres: Vec<[f64; 2]> = kept_for_keypoints(objects, width)
        .map_err(Crash)?
        .into_iter()
        .map(centre)
        .collect();
    if centres.len() < 2 {
        return Ok(1.0);
    }
    Ok(keypoint_spread / (mean_pairwise(&centres) + 1e-6))
}

fn mean_pairwise(points: &[[f64; 2]]) -> f64 {
    let mut sum = 0.0;
    let mut n = 0usize;
    for (i, &a) in points.iter().enumerate() {
        for &b in &points[i + 1..] {
            sum += distance(a, b);
            n += 1;
        }
    }
    sum / n as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_zero_length_segment_measures_to_its_end() {
        let d = point_to_segment(0.3, 0.4, [0.0, 0.0, 0.0, 0.0]);
        assert!((d - 0.5).abs() < 1e-12, "{d}");
        let d = point_to_segment(0.5, 1.0, [0.0, 0.0, 1.0, 0.0]);
        assert!((d - 1.0).abs() < 1e-12, "{d}");
    }

    #[test]
    fn no_segment_scores_zero_and_touching_ones_almost_one() {
        let valid = Valid {
            points: vec![[100.0, 100.0]],
            indices: vec![0],
        };
        assert_eq!(on_line(&valid, &[], 1280, 720), 0.0);
        let s = on_line(&valid, &[[0, 100, 200, 100]], 1280, 720);
        assert!((s - 0.995_527_6).abs() < 1e-6, "{s}");
    }
}
