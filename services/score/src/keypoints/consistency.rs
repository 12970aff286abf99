//! The scene keypoint consistency (`compute_scene_keypoint_consistency`),
//! which multiplies the whole keypoint score: within each run of
//! consecutive pitch frames, how little the keypoints move from frame to
//! frame.
//!
//! Quirks kept: the runs are the validator's pitch frames, whether the
//! answer has them or not (a missing frame scores 0, and so does the one
//! after it); a keypoint list that is not exactly 32 long scores 0; two
//! frames whose lists are all `[0, 0]` score 1, better than any real pair
//! (at most 0.9955).

use super::valid::{common_indices, distance, valid_keypoints};
use super::{Crash, pairs, sequence::mean, sigmoid_score};
use crate::answer::Answer;

/// The keypoints a frame must carry to be compared.
const KEYPOINTS: usize = 32;

/// The length-weighted mean over runs of the per-frame values (1 with no
/// pitch frame).
pub fn scene_consistency(
    frames: &Answer,
    pitch_frames: &[u64],
    width: i32,
    height: i32,
) -> Result<f64, Crash> {
    let mut ids = pitch_frames.to_vec();
    ids.sort_unstable();
    ids.dedup();
    if ids.is_empty() {
        return Ok(1.0);
    }
    let diagonal = f64::from(width).hypot(f64::from(height));
    let (mut weighted, mut total) = (0.0, 0usize);
    for scene in ids.chunk_by(|a, b| *b == a + 1) {
        let mut values = vec![1.0];
        for pair in scene.windows(2) {
            values.push(frame_value(
                frames, pair[0], pair[1], width, height, diagonal,
            )?);
        }
        weighted += mean(&values) * values.len() as f64;
        total += values.len();
    }
    Ok(weighted / total as f64)
}

fn frame_value(
    frames: &Answer,
    prev: u64,
    curr: u64,
    width: i32,
    height: i32,
    diagonal: f64,
) -> Result<f64, Crash> {
    let (Some(p), Some(c)) = (frames.get(prev), frames.get(curr)) else {
        return Ok(0.0);
    };
    let missing = |n: u64| Crash(format!("frame {n} has no keypoints list"));
    let p = p.keypoints.as_ref().ok_or_else(|| missing(prev))?;
    let c = c.keypoints.as_ref().ok_or_else(|| missing(curr))?;
    if p.len() != KEYPOINTS || c.len() != KEYPOINTS {
        return Ok(0.0);
    }
    // The validator reshapes (and may raise) before the all-zero test.
    let vp = valid_keypoints(&pairs(p)?, Some((width, height)));
    let vc = valid_keypoints(&pairs(c)?, Some((width, height)));
    let all_zero = |rows: &[Vec<f64>]| rows.iter().all(|r| r.as_slice() == [0.0, 0.0]);
    if all_zero(p) && all_zero(c) {
        return Ok(1.0);
    }
    let common = common_indices(&vp, &vc);
    if common.is_empty() {
        return Ok(0.0);
    }
    let moves: Vec<f64> = common
        .iter()
        .filter_map(|&i| Some(distance(vc.at(i)?, vp.at(i)?)))
        .collect();
    Ok(sigmoid_score(mean(&moves) / diagonal))
}
