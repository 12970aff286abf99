//! The keypoint score, term by term as the validator computes it
//! (score-vision `validator/evaluation/keypoint_scoring.py` at 1791fe1; see
//! the crate README for every step and quirk).
//!
//! ```text
//! KP = [0.25 A + 0.40 (100 L) + 0.20 (100 I) + 0.05 (100 S) + 0.10 (100 P + J)/2] * C * (M + V)/2
//! ```
//!
//! `valid` picks the keypoints that count, `homography` fits them to the
//! pitch, `lines` finds the pitch lines in a frame, `frame` holds the
//! per-frame terms, `sequence` and `consistency` the terms over time.

pub mod consistency;
pub mod frame;
pub mod homography;
pub mod lines;
pub mod sequence;
pub mod valid;

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::answer::Answer;
use lines::Segment;

/// Where the validator's keypoint scoring would raise; it then scores the
/// whole answer's keypoints 0.
#[derive(Debug, Clone, PartialEq)]
pub struct Crash(pub String);

/// Each term of the keypoint score, named as in the validator.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct KeypointTerms {
    /// A: mean per-frame homography score (inliers and reprojection), 0..100.
    pub avg_keypoint_score: f64,
    /// L: mean closeness of the keypoints to the detected lines, 0..1.
    pub mean_on_line: f64,
    /// I: mean share of boxes whose centre projects inside the pitch, 0..1.
    pub mean_inside: f64,
    /// S: mean keypoint stability of the frames' segments, 0..1.
    pub keypoint_stability: f64,
    /// P: mean player plausibility of the frames' segments, 0..1.
    pub player_plausibility: f64,
    /// J: player-jump score, 0 or 50..100.
    pub player_score: f64,
    /// C: scene keypoint consistency, a multiplier, 0..1.
    pub scene_consistency: f64,
    /// M: mean keypoint-to-player scale ratio, capped at 1.
    pub mean_scale: f64,
    /// V: frames with a homography over 40% of the pitch frames, capped at 1.
    pub scale_valid: f64,
    /// Pitch frames of the answer with a homography.
    pub frames_with_homography: usize,
    /// Scene cuts found from the players' moves.
    pub scene_transitions: usize,
}

impl KeypointTerms {
    /// KP in 0..100 (the validator uses KP/100).
    pub fn final_score(&self) -> f64 {
        let weighted = 0.25 * self.avg_keypoint_score
            + 0.4 * (self.mean_on_line * 100.0)
            + 0.2 * (self.mean_inside * 100.0)
            + 0.05 * (self.keypoint_stability * 100.0)
            + 0.1 * ((self.player_plausibility * 100.0 + self.player_score) / 2.0);
        weighted * self.scene_consistency * ((self.mean_scale + self.scale_valid) / 2.0)
    }
}

/// What the keypoint score is computed from.
pub struct KeypointInputs<'a> {
    /// The answer's pitch frames (the validator's `filtered_frames`).
    pub frames: &'a Answer,
    /// The validator's pitch frames, whether the answer has them or not.
    pub pitch_frames: &'a [u64],
    /// The segments found in each decoded frame.
    pub lines: &'a HashMap<u64, Vec<Segment>>,
    /// The clip's frame width, pixels.
    pub width: i32,
    /// The clip's frame height, pixels.
    pub height: i32,
}

/// The terms, or where the validator would raise.
pub fn terms(input: &KeypointInputs<'_>) -> Result<KeypointTerms, Crash> {
    let (w, h) = (input.width, input.height);
    let segments = sequence::segments(input.frames)?;
    let scene_consistency = consistency::scene_consistency(input.frames, input.pitch_frames, w, h)?;
    let stability = sequence::keypoint_stability(input.frames, &segments, w, h)?;
    let plausibility = sequence::player_plausibility(input.frames, &segments)?;

    let mut per_frame = PerFrame::default();
    for (number, f) in input.frames.frames() {
        let rows = f
            .keypoints
            .as_ref()
            .ok_or_else(|| Crash(format!("frame {number} has no keypoints list")))?;
        let points = pairs(rows)?;
        let valid = valid::valid_keypoints(&points, Some((w, h)));
        let Some(hom) = homography::estimate(&points, w, h)? else {
            continue;
        };
        // Every object needs a bbox here (the validator lists them all).
        if f.objects.iter().any(|o| o.bbox.is_none()) {
            return Err(Crash(format!("frame {number}: an object without a bbox")));
        }
        let no_lines = Vec::new();
        let segs = input.lines.get(number).unwrap_or(&no_lines);
        let segment = segments.segment(*number).unwrap_or(0);
        per_frame.keypoint.push(homography::keypoint_score(&hom));
        per_frame.on_line.push(frame::on_line(&valid, segs, w, h));
        per_frame.inside.push(frame::inside(&f.objects, &hom, w)?);
        per_frame
            .scale
            .push(python_min(frame::scale_ratio(&valid, &f.objects, w)?, 1.5));
        per_frame
            .stability
            .push(stability.get(segment).copied().unwrap_or(1.0));
        per_frame
            .plausibility
            .push(plausibility.get(segment).copied().unwrap_or(1.0));
    }
    if input.pitch_frames.is_empty() {
        return Err(Crash(
            "no pitch frame (the validator divides by their count)".into(),
        ));
    }
    let with_h = per_frame.keypoint.len();
    Ok(KeypointTerms {
        avg_keypoint_score: mean_or_zero(&per_frame.keypoint),
        mean_on_line: mean_or_zero(&per_frame.on_line),
        mean_inside: mean_or_zero(&per_frame.inside),
        keypoint_stability: mean_or_zero(&per_frame.stability),
        player_plausibility: mean_or_zero(&per_frame.plausibility),
        player_score: sequence::player_jumps(input.frames)?,
        scene_consistency,
        mean_scale: mean_or_zero(&per_frame.scale).min(1.0),
        scale_valid: (with_h as f64 / input.pitch_frames.len() as f64 / 0.4).clamp(0.0, 1.0),
        frames_with_homography: with_h,
        scene_transitions: segments.transitions,
    })
}

/// The per-frame values of the frames with a homography.
#[derive(Default)]
struct PerFrame {
    keypoint: Vec<f64>,
    on_line: Vec<f64>,
    inside: Vec<f64>,
    scale: Vec<f64>,
    stability: Vec<f64>,
    plausibility: Vec<f64>,
}

fn mean_or_zero(values: &[f64]) -> f64 {
    if values.is_empty() {
        0.0
    } else {
        sequence::mean(values)
    }
}

/// `np.array(rows).reshape(-1, 2)`: rows of one length whose values pair
/// up; ragged rows or an odd count make the validator raise.
pub fn pairs(rows: &[Vec<f64>]) -> Result<Vec<[f64; 2]>, Crash> {
    let width = rows.first().map_or(2, Vec::len);
    if rows.iter().any(|r| r.len() != width) {
        return Err(Crash("keypoint rows of different lengths".into()));
    }
    let flat: Vec<f64> = rows.iter().flatten().copied().collect();
    if !flat.len().is_multiple_of(2) {
        return Err(Crash(format!("{} keypoint values, not pairs", flat.len())));
    }
    Ok(flat.chunks_exact(2).map(|c| [c[0], c[1]]).collect())
}

/// The validator's closeness curve: 0.9955 at 0, 0.5 at 0.02, about 0 past 0.04.
fn sigmoid_score(normalised_distance: f64) -> f64 {
    1.0 / (1.0 + ((normalised_distance - 0.02) / 0.0037).exp())
}

/// Python's `min(a, b)`: `b` only when `b < a` (so a NaN `b` loses).
fn python_min(a: f64, b: f64) -> f64 {
    if b < a { b } else { a }
}

/// Python's `max(a, b)`: `b` only when `b > a`.
fn python_max(a: f64, b: f64) -> f64 {
    if b > a { b } else { a }
}
