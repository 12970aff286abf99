//! The report of one answer's score, as JSON (the field names are the
//! `--json` keys) and as text for a person.

use std::fmt;

use serde::Serialize;

use crate::boxes::{BoxRules, BoxScore};
use crate::keypoints::KeypointTerms;

/// Which frames counted, and why.
#[derive(Debug, Clone, Serialize)]
pub struct PitchFrames {
    /// "clip" (the validator's filter) or "every frame" (no CLIP given).
    pub source: &'static str,
    /// How many frames counted (the length of `frames`).
    pub count: usize,
    /// Frames whose heuristic score alone would pass (CLIP only).
    pub heuristic_passed: Option<usize>,
    /// The frame numbers that counted, ascending.
    pub frames: Vec<u64>,
}

/// The clip as the validator measured it.
#[derive(Debug, Clone, Serialize)]
pub struct VideoInfo {
    /// Frame width as OpenCV reports it, pixels.
    pub width: i32,
    /// Frame height as OpenCV reports it, pixels.
    pub height: i32,
    /// Frames that decoded.
    pub frames: u64,
}

/// Everything `scorevision score` prints.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// KP/100, 0..1 (0 where the validator's scoring would raise).
    pub keypoint_score: f64,
    /// The terms KP is made of (all zero where the scoring would raise).
    pub keypoint_terms: KeypointTerms,
    /// Why the validator's keypoint scoring would raise, if it would.
    pub keypoint_error: Option<String>,
    /// B, 0..1: measured with CLIP, else the assumed value, else null.
    pub box_score: Option<f64>,
    /// True when `box_score` is the assumed value (`--assume-box-score`),
    /// not measured with CLIP.
    pub box_score_assumed: bool,
    /// How the box score came about, frame by frame (CLIP only).
    pub box_details: Option<BoxScore>,
    /// What the box rules do to the answer on every pitch frame (without
    /// CLIP too).
    pub box_rules: BoxRules,
    /// Q = 0.5 B + 0.5 KP, 0..1; null without a box score.
    pub quality: Option<f64>,
    /// T, 0..1; null without a response time.
    pub speed: Option<f64>,
    /// F = 0.65 Q + 0.35 T (`final` in JSON); null unless both are known.
    #[serde(rename = "final")]
    pub final_score: Option<f64>,
    /// The answer's pitch frames the keypoint score was computed on.
    pub frames_scored: usize,
    /// Which frames counted as pitch frames, and why.
    pub pitch_frames: PitchFrames,
    /// The clip's size and decoded frames.
    pub video: VideoInfo,
    /// Sentences for the reader about what limits the figures (no CLIP,
    /// too few pitch frames, a keypoint scoring that would raise, ...).
    pub notes: Vec<String>,
}

fn or_dash(v: Option<f64>, digits: usize) -> String {
    v.map_or("-".into(), |v| format!("{v:.digits$}"))
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = &self.keypoint_terms;
        writeln!(
            f,
            "Keypoint score: {:.4} (KP {:.2} of 100) on {} pitch frames of the answer",
            self.keypoint_score,
            self.keypoint_score * 100.0,
            self.frames_scored
        )?;
        if let Some(e) = &self.keypoint_error {
            writeln!(f, "  the validator's scoring would raise: {e}")?;
        }
        let rows: [(&str, &str, f64, &str); 9] = [
            (
                "A",
                "avg_keypoint_score",
                t.avg_keypoint_score,
                "0..100, weight 0.25",
            ),
            ("L", "mean_on_line", t.mean_on_line, "0..1, weight 0.40"),
            ("I", "mean_inside", t.mean_inside, "0..1, weight 0.20"),
            (
                "S",
                "keypoint_stability",
                t.keypoint_stability,
                "0..1, weight 0.05",
            ),
            (
                "P",
                "player_plausibility",
                t.player_plausibility,
                "0..1, weight 0.10 with J",
            ),
            ("J", "player_score", t.player_score, "0..100"),
            ("C", "scene_consistency", t.scene_consistency, "multiplier"),
            ("M", "mean_scale", t.mean_scale, "multiplier (M + V) / 2"),
            ("V", "scale_valid", t.scale_valid, ""),
        ];
        for (symbol, name, value, note) in rows {
            writeln!(f, "  {symbol} {name:<20} {value:>9.4}  {note}")?;
        }
        writeln!(
            f,
            "  frames with a homography: {}; scene cuts: {}",
            t.frames_with_homography, t.scene_transitions
        )?;
        let p = &self.pitch_frames;
        writeln!(
            f,
            "Pitch frames: {} of {} decoded ({}{})",
            p.count,
            self.video.frames,
            p.source,
            p.heuristic_passed
                .map_or(String::new(), |n| format!("; {n} pass the heuristic alone"))
        )?;
        let r = &self.box_rules;
        writeln!(
            f,
            "Box rules on {} pitch frames: {} boxes, {} too small, {} in the scoreboard zone; {} frames left without a box, {} malformed; area factor {:.3} on average ({} frames penalised); coverage {:.3} ({} frames with objects)",
            r.frames,
            r.boxes,
            r.dropped_too_small,
            r.dropped_scoreboard,
            r.frames_all_dropped,
            r.frames_malformed,
            r.mean_area_factor,
            r.frames_area_penalised,
            r.coverage,
            r.frames_with_objects
        )?;
        match (&self.box_details, self.box_score) {
            (Some(b), _) => writeln!(
                f,
                "Box score: {:.2} (mean frame score {:.4} on {} frames, {} dropped, coverage {:.3}, {} frames sampled)",
                b.score,
                b.mean_frame_score,
                b.frames_scored,
                b.frames_dropped,
                b.coverage,
                b.frames_sampled
            )?,
            (None, Some(b)) => writeln!(f, "Box score: {b:.2} (assumed)")?,
            (None, None) => writeln!(f, "Box score: - (needs CLIP)")?,
        }
        writeln!(
            f,
            "Quality: {}  Speed: {}  Final: {}",
            or_dash(self.quality, 4),
            or_dash(self.speed, 4),
            or_dash(self.final_score, 4)
        )?;
        for note in &self.notes {
            writeln!(f, "Note: {note}")?;
        }
        Ok(())
    }
}
