//! Quality, speed and final score (the validator's `calculate_score`):
//!
//! ```text
//! Q = 0.5 B + 0.5 KP
//! T = 0 if B <= 0.2 or t >= 15 s; 1 if t is the fastest; else exp(-5 (t - t_min) / (15 - t_min))
//! F = 0.65 Q + 0.35 T
//! ```
//!
//! `t_min` is the fastest response time among the challenge's answers whose
//! box score is over 0.2, so a miner's speed score depends on the others:
//! `fastest_s` stands for that fastest competitor.

use serde::Serialize;

/// Answers this slow or slower get no speed score.
pub const MAX_TIME_S: f64 = 15.0;
/// Box scores at or below this get no speed score, and their time does not
/// count towards `t_min`.
pub const MIN_BOX_SCORE: f64 = 0.2;

/// `Q = 0.5 B + 0.5 KP` (`keypoint` is KP/100, 0..1).
pub fn quality(box_score: f64, keypoint: f64) -> f64 {
    box_score * 0.5 + keypoint * 0.5
}

/// The speed score of an answer taking `time_s` when the fastest other
/// answer (with a box score over 0.2) took `fastest_s`. `box_score` `None`
/// (unknown) is taken as over 0.2.
pub fn speed(time_s: f64, fastest_s: f64, box_score: Option<f64>) -> f64 {
    if box_score.is_some_and(|b| b <= MIN_BOX_SCORE) || time_s >= MAX_TIME_S {
        return 0.0;
    }
    let (t_min, t_max) = (time_s.min(fastest_s), time_s.max(fastest_s));
    if t_max == t_min {
        return 1.0;
    }
    (-5.0 * (time_s - t_min) / (MAX_TIME_S - t_min))
        .exp()
        .clamp(0.0, 1.0)
}

/// `F = 0.65 Q + 0.35 T`.
pub fn final_score(quality: f64, speed: f64) -> f64 {
    quality * 0.65 + speed * 0.35
}

/// The figures that follow from the scores and a response time.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Outcome {
    /// Q, or `None` when the box score is neither measured nor assumed.
    pub quality: Option<f64>,
    /// T, or `None` without a response time.
    pub speed: Option<f64>,
    /// F, when both are known.
    pub final_score: Option<f64>,
}

impl Outcome {
    /// The outcome of keypoint score KP/100 (`keypoint`, 0..1), box score
    /// B (if known) and `(response time, fastest competitor's time)` in
    /// seconds (if given).
    pub fn new(keypoint: f64, box_score: Option<f64>, time: Option<(f64, f64)>) -> Outcome {
        let quality = box_score.map(|b| quality(b, keypoint));
        let speed = time.map(|(t, fastest)| speed(t, fastest, box_score));
        Outcome {
            quality,
            speed,
            final_score: quality.zip(speed).map(|(q, s)| final_score(q, s)),
        }
    }

    /// What changes between settings when the box score is unknown and
    /// taken as equal for all: `0.65 * 0.5 KP + 0.35 T`.
    pub fn without_box_half(keypoint: f64, time: (f64, f64)) -> f64 {
        final_score(quality(0.0, keypoint), speed(time.0, time.1, None))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worked_values_from_the_validator() {
        // t_min = 5 s: t = 6 -> 0.61, 8 -> 0.22, 10 -> 0.08.
        for (t, want) in [(6.0, 0.61), (8.0, 0.22), (10.0, 0.08)] {
            let s = speed(t, 5.0, Some(0.5));
            assert!((s - want).abs() < 0.005, "{t}: {s}");
        }
        assert_eq!(speed(0.5, 1.0, Some(0.5)), 1.0, "the fastest");
        assert_eq!(speed(1.0, 1.0, Some(0.5)), 1.0);
        assert_eq!(speed(2.0, 1.0, Some(0.2)), 0.0, "B <= 0.2");
        assert_eq!(speed(15.0, 1.0, Some(0.9)), 0.0, "15 s or more");
        let o = Outcome::new(0.6, Some(0.4), Some((1.0, 1.0)));
        assert_eq!(o.quality, Some(0.5));
        assert!((o.final_score.unwrap() - (0.65 * 0.5 + 0.35)).abs() < 1e-12);
        let unknown = Outcome::new(0.6, None, Some((2.0, 1.0)));
        assert_eq!((unknown.quality, unknown.final_score), (None, None));
        assert!(unknown.speed.unwrap() > 0.0);
    }
}
