//! The score column of `scorevision bench`: each setting's answer scored as
//! a validator would (sv-score), and its expected final score for the
//! fastest competitor's time. The clip is measured once (pitch lines, and
//! with CLIP the pitch frames); each row's answer is then scored against it.
//! Without the `score` feature the column is empty and the bench says why.

use std::path::Path;

use serde::Serialize;

use crate::score::ScoringArgs;

/// A setting's expected score.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct RowScore {
    /// KP/100 of the setting's answer.
    pub keypoint_score: f64,
    /// B with CLIP, or the assumed one.
    pub box_score: Option<f64>,
    /// F for the row's time and --fastest-s; without a box score, the part
    /// that differs between settings (0.325 KP + 0.35 T).
    pub expected_final: f64,
    /// `expected_final` leaves the box half out.
    pub without_box_half: bool,
}

/// The keypoint, box and expected final columns ("-" where unknown; a
/// final without the box half is marked `*`).
pub fn score_columns(score: Option<RowScore>) -> String {
    match score {
        None => format!("{:>8} {:>5} {:>7}", "-", "-", "-"),
        Some(s) => format!(
            "{:>8.4} {:>5} {:>6.4}{}",
            s.keypoint_score,
            s.box_score.map_or("-".into(), |b| format!("{b:.2}")),
            s.expected_final,
            if s.without_box_half { "*" } else { " " }
        ),
    }
}

/// What the final column means, for `fastest_s`, given the rows' scores
/// (none: no column to explain).
pub fn final_note(scores: impl IntoIterator<Item = RowScore>, fastest_s: f64) -> Option<String> {
    let scored: Vec<RowScore> = scores.into_iter().collect();
    if scored.is_empty() {
        return None;
    }
    let mut note = format!(
        "final: expected final score, 0.65 (0.5 box + 0.5 keypoint) + 0.35 speed, speed for each row's seconds against a fastest competitor at {fastest_s} s (--fastest-s)."
    );
    if scored.iter().any(|s| s.without_box_half) {
        note.push_str(
            "\n*: no box score (give --clip-image/--clip-text, or --assume-box-score): the final leaves the box half out (0.325 keypoint + 0.35 speed), which ranks settings alike when their box scores are equal and over 0.2.",
        );
    }
    Some(note)
}

#[cfg(feature = "score")]
pub struct BenchScorer {
    measured: sv_score::scorer::Measured,
    clip: Option<sv_score::Clip>,
    scoring: ScoringArgs,
}

#[cfg(feature = "score")]
impl BenchScorer {
    /// Measures the clip; `Err` with the reason when it cannot score.
    pub fn new(
        clip: &str,
        scoring: &ScoringArgs,
        ort_library: Option<&Path>,
    ) -> anyhow::Result<BenchScorer> {
        let files = scoring.check()?;
        let path = Path::new(clip);
        anyhow::ensure!(
            path.is_file(),
            "scores need the clip as a local file, not {clip}"
        );
        let mut model = files
            .map(|(image, text)| sv_score::Clip::load(&image, &text, ort_library))
            .transpose()
            .map_err(crate::score::classify)?;
        let measured = sv_score::scorer::Measured::measure(
            path,
            sv_score::Decode::Sequential,
            model.as_mut(),
        )?;
        Ok(BenchScorer {
            measured,
            clip: model,
            scoring: scoring.clone(),
        })
    }

    /// Scores one setting's answer, which took `seconds`.
    pub fn score(&mut self, answer: &serde_json::Value, seconds: f64) -> anyhow::Result<RowScore> {
        let answer = sv_score::Answer::from_json(answer)?;
        let report = self.measured.score(
            &answer,
            sv_score::Options {
                clip: self.clip.as_mut(),
                assume_box_score: self.scoring.assume_box_score,
                box_seed: self.scoring.box_seed,
                time: Some((seconds, self.scoring.fastest_s)),
                ..sv_score::Options::default()
            },
        )?;
        let time = (seconds, self.scoring.fastest_s);
        Ok(match report.final_score {
            Some(f) => RowScore {
                keypoint_score: report.keypoint_score,
                box_score: report.box_score,
                expected_final: f,
                without_box_half: false,
            },
            None => RowScore {
                keypoint_score: report.keypoint_score,
                box_score: None,
                expected_final: sv_score::outcome::Outcome::without_box_half(
                    report.keypoint_score,
                    time,
                ),
                without_box_half: true,
            },
        })
    }
}

#[cfg(not(feature = "score"))]
pub struct BenchScorer;

#[cfg(not(feature = "score"))]
impl BenchScorer {
    pub fn new(
        _clip: &str,
        _scoring: &ScoringArgs,
        _ort_library: Option<&Path>,
    ) -> anyhow::Result<BenchScorer> {
        anyhow::bail!("{}", crate::score::NOT_BUILT)
    }

    pub fn score(
        &mut self,
        _answer: &serde_json::Value,
        _seconds: f64,
    ) -> anyhow::Result<RowScore> {
        anyhow::bail!("{}", crate::score::NOT_BUILT)
    }
}
