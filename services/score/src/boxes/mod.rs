//! The box half of the validator's score: the rules applied to every box
//! ([`mod@rules`], [`area`]), and with CLIP the score of each frame ([`frame`],
//! [`labels`]) and of the answer ([`box_score`]).
//!
//! The validator scores boxes on up to 100 pitch frames drawn at random
//! (`random.sample`, unseeded); here the draw is seeded ([`sample`]), and
//! with 100 pitch frames or fewer it is all of them, as there.

pub mod area;
pub mod frame;
pub mod labels;
pub mod rules;

use serde::Serialize;

use crate::answer::Answer;
use frame::FrameScore;
use rules::{Dropped, corners, dropped_by};

/// Frames the validator scores boxes on, at most.
pub const SAMPLE: usize = 100;

/// What the box rules do to the answer on the pitch frames.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct BoxRules {
    /// Pitch frames looked at.
    pub frames: usize,
    /// Of those, frames the answer has with at least one object.
    pub frames_with_objects: usize,
    /// The coverage factor: frames with objects over 70% of the frames, capped at 1.
    pub coverage: f64,
    /// Objects in those frames, well-formed or not.
    pub boxes: usize,
    /// Non-ball boxes under 15 x 40 px.
    pub dropped_too_small: usize,
    /// Boxes whose top edge is at or above y = 150 px.
    pub dropped_scoreboard: usize,
    /// Frames with objects of which none survives (they score 0).
    pub frames_all_dropped: usize,
    /// The mean area factor over frames with kept boxes (1: no penalty).
    pub mean_area_factor: f64,
    /// Frames whose area factor is below 1.
    pub frames_area_penalised: usize,
    /// Frames with an object lacking a class_id or a 4-value bbox (the
    /// validator drops them from the box average).
    pub frames_malformed: usize,
}

/// The rule figures over `frames` of the answer.
pub fn rules(answer: &Answer, frames: &[u64], width: i32, height: i32) -> BoxRules {
    let mut r = BoxRules {
        frames: frames.len(),
        ..BoxRules::default()
    };
    let mut factors = Vec::new();
    for f in frames.iter().filter_map(|&n| answer.get(n)) {
        if f.objects.is_empty() {
            continue;
        }
        r.frames_with_objects += 1;
        let mut kept = Vec::new();
        let mut malformed = false;
        for object in &f.objects {
            r.boxes += 1;
            let Ok(c) = corners(object) else {
                malformed = true;
                continue;
            };
            malformed |= object.class_id.is_none();
            match dropped_by(object, c, f64::from(width)) {
                Some(Dropped::TooSmall) => r.dropped_too_small += 1,
                Some(Dropped::Scoreboard) => r.dropped_scoreboard += 1,
                None => kept.push(c),
            }
        }
        if malformed {
            r.frames_malformed += 1;
        } else if kept.is_empty() {
            r.frames_all_dropped += 1;
        } else {
            let factor = area::area_factor(&kept, width, height);
            r.frames_area_penalised += usize::from(factor < 1.0);
            factors.push(factor);
        }
    }
    r.coverage = coverage(r.frames_with_objects, r.frames);
    r.mean_area_factor = if factors.is_empty() {
        1.0
    } else {
        factors.iter().sum::<f64>() / factors.len() as f64
    };
    r
}

/// `clip(with_objects / frames / 0.7, 0, 1)`.
pub fn coverage(with_objects: usize, frames: usize) -> f64 {
    if frames == 0 {
        return 0.0;
    }
    (with_objects as f64 / frames as f64 / 0.7).clamp(0.0, 1.0)
}

/// The frames the box score is computed on: all pitch frames up to 100,
/// else 100 drawn with `seed`, ascending.
pub fn sample(pitch_frames: &[u64], seed: u64) -> Vec<u64> {
    let mut frames = pitch_frames.to_vec();
    if frames.len() > SAMPLE {
        let mut state = seed;
        for i in 0..SAMPLE {
            let j = i + (splitmix(&mut state) % (frames.len() - i) as u64) as usize;
            frames.swap(i, j);
        }
        frames.truncate(SAMPLE);
    }
    frames.sort_unstable();
    frames
}

fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The box score and how it came about.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BoxScore {
    /// B, 0..1, rounded to 2 decimals as the validator rounds it.
    pub score: f64,
    /// The frames sampled (the validator's `n_valid`).
    pub frames_sampled: usize,
    /// Sampled frames with objects that the validator scores (the others
    /// with objects are dropped).
    pub frames_scored: usize,
    /// Sampled frames with objects that the validator would drop (it raises
    /// on them), left out of the mean.
    pub frames_dropped: usize,
    /// The mean of the frame scores before the cap, coverage and rounding.
    pub mean_frame_score: f64,
    /// The coverage factor of the sample: sampled frames with objects over
    /// 70% of the frames sampled, capped at 1.
    pub coverage: f64,
    /// Each scored frame: its score, or why the validator would drop it.
    pub frames: Vec<BoxFrame>,
}

/// One frame of the box score.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BoxFrame {
    /// The frame number.
    pub frame: u64,
    /// The frame's box score, `None` when it was dropped.
    pub score: Option<f64>,
    /// Why the validator would drop the frame, `None` when it was scored.
    pub dropped: Option<String>,
}

/// `evaluate_bboxes`: the mean frame score, capped at 1, times the
/// coverage, rounded to 2 decimals and clamped to [0, 1]. A frame that
/// raised is out of the mean; no frame with objects scores 0.
pub fn box_score(frames_sampled: usize, outcomes: &[(u64, FrameScore)]) -> BoxScore {
    let scores: Vec<f64> = outcomes
        .iter()
        .filter_map(|(_, o)| match o {
            FrameScore::Scored { score, .. } => Some(*score),
            FrameScore::Dropped(_) => None,
        })
        .collect();
    let coverage = coverage(outcomes.len(), frames_sampled);
    let mean = if scores.is_empty() {
        0.0
    } else {
        scores.iter().sum::<f64>() / scores.len() as f64
    };
    let score = if outcomes.is_empty() {
        0.0
    } else {
        crate::answer::round2(mean.min(1.0) * coverage).clamp(0.0, 1.0)
    };
    BoxScore {
        score,
        frames_sampled,
        frames_scored: scores.len(),
        frames_dropped: outcomes.len() - scores.len(),
        mean_frame_score: mean,
        coverage,
        frames: outcomes
            .iter()
            .map(|(frame, o)| match o {
                FrameScore::Scored { score, .. } => BoxFrame {
                    frame: *frame,
                    score: Some(*score),
                    dropped: None,
                },
                FrameScore::Dropped(why) => BoxFrame {
                    frame: *frame,
                    score: None,
                    dropped: Some(why.clone()),
                },
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sample_is_everything_up_to_100_then_100_distinct_frames() {
        let few: Vec<u64> = (0..80).collect();
        assert_eq!(sample(&few, 7), few);
        let many: Vec<u64> = (0..750).collect();
        let s = sample(&many, 7);
        assert_eq!(s.len(), 100);
        assert!(s.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(s, sample(&many, 7), "seeded");
        assert_ne!(s, sample(&many, 8));
    }

    #[test]
    fn the_box_score_caps_scales_rounds_and_drops() {
        let scored = |score| {
            (
                0,
                FrameScore::Scored {
                    score,
                    labels: vec![],
                },
            )
        };
        // Two frames of 1.2 and 0.9 (mean 1.05, capped at 1) of 3 sampled: coverage 0.952.
        let b = box_score(3, &[scored(1.2), scored(0.9)]);
        assert_eq!(b.score, 0.95);
        // A dropped frame counts for coverage but not for the mean.
        let b = box_score(2, &[scored(0.5), (1, FrameScore::Dropped("x".into()))]);
        assert_eq!((b.score, b.frames_dropped), (0.5, 1));
        assert_eq!(box_score(10, &[]).score, 0.0);
        assert_eq!(box_score(1, &[scored(-0.4)]).score, 0.0);
    }
}
