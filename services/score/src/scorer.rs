//! One answer scored on one clip, end to end, as a validator would: the
//! frame pass (pitch lines, and with CLIP the pitch filter), the keypoint
//! score on the pitch frames, the box rules, with CLIP the box score on a
//! second, in-order pass, and quality, speed and final.

use std::collections::HashMap;
use std::path::Path;

use opencv::core::Mat;

use crate::answer::Answer;
use crate::boxes::{self, BoxScore, frame::FrameScore};
use crate::clip::{Clip, Question, image::Rgb, preprocess};
use crate::error::ScoreError;
use crate::keypoints::{self, KeypointInputs, KeypointTerms, lines};
use crate::outcome::Outcome;
use crate::pitch_filter::{self, PitchCheck};
pub use crate::report::{PitchFrames, Report, VideoInfo};
use crate::video::{Decode, Video};

/// The validator skips a challenge with fewer pitch frames than this.
pub const MIN_PITCH_FRAMES: usize = 75;
/// Frames put through the CLIP encoder at once in the frame pass.
const CLIP_BATCH: usize = 16;

/// How to score.
#[derive(Default)]
pub struct Options<'a> {
    /// The CLIP encoder and prompts; without it every frame is a pitch frame
    /// and there is no box score.
    pub clip: Option<&'a mut Clip>,
    /// How the frame pass reads the clip (in order, or seeking like the
    /// validator).
    pub decode: Decode,
    /// `(response time, fastest competitor's time)`, seconds.
    pub time: Option<(f64, f64)>,
    /// The box score to take when CLIP is not given.
    pub assume_box_score: Option<f64>,
    /// Seed of the box-frame draw (used past 100 pitch frames).
    pub box_seed: u64,
    /// Score an answer that lacks some of the clip's frames.
    pub allow_missing_frames: bool,
}

/// Scores `answer` on the clip at `video`.
pub fn score(
    video: &Path,
    answer: &Answer,
    mut options: Options<'_>,
) -> Result<Report, ScoreError> {
    let measured = Measured::measure(video, options.decode, options.clip.as_deref_mut())?;
    measured.score(answer, options)
}

/// What a validator finds in a clip before it looks at any answer: its
/// size, the frames that decode, each frame's pitch lines and, with CLIP,
/// its pitch checks. Measured once, it scores any number of answers.
pub struct Measured {
    path: std::path::PathBuf,
    width: i32,
    height: i32,
    frame_count: u64,
    decoded: Vec<u64>,
    lines: HashMap<u64, Vec<lines::Segment>>,
    /// With CLIP: each decoded frame's pitch checks, in order.
    checks: Option<Vec<(u64, PitchCheck)>>,
}

impl Measured {
    /// The frame pass over the clip (with CLIP when given).
    pub fn measure(
        video: &Path,
        decode: Decode,
        clip: Option<&mut Clip>,
    ) -> Result<Measured, ScoreError> {
        let mut reader = Video::open(video)?;
        let mut measured = Measured {
            path: video.to_owned(),
            width: reader.width,
            height: reader.height,
            frame_count: reader.frame_count,
            decoded: Vec::new(),
            lines: HashMap::new(),
            checks: clip.as_ref().map(|_| Vec::new()),
        };
        measured.frame_pass(&mut reader, decode, clip)?;
        Ok(measured)
    }

    /// The pitch frames: the filter's with CLIP, else every decoded frame.
    pub fn pitch_frames(&self) -> PitchFrames {
        let (source, heuristic_passed, frames) = match &self.checks {
            Some(checks) => (
                "clip",
                Some(
                    checks
                        .iter()
                        .filter(|(_, c)| (0.7..=1.0).contains(&c.heuristic))
                        .count(),
                ),
                checks
                    .iter()
                    .filter(|(_, c)| c.is_pitch())
                    .map(|(n, _)| *n)
                    .collect(),
            ),
            None => ("every frame", None, self.decoded.clone()),
        };
        PitchFrames {
            source,
            count: frames.len(),
            heuristic_passed,
            frames,
        }
    }

    /// Each decoded frame's segments and (with CLIP) pitch checks.
    pub fn frames(&self) -> impl Iterator<Item = (u64, &[lines::Segment], Option<PitchCheck>)> {
        self.decoded.iter().map(move |n| {
            let check = self
                .checks
                .as_ref()
                .and_then(|c| c.iter().find(|(m, _)| m == n).map(|(_, c)| *c));
            (*n, self.lines.get(n).map_or(&[][..], Vec::as_slice), check)
        })
    }

    /// Scores one answer. `options.clip` must be the encoder the clip was
    /// measured with, if any (it also scores the boxes).
    pub fn score(&self, answer: &Answer, mut options: Options<'_>) -> Result<Report, ScoreError> {
        check_frames(answer, self.frame_count, options.allow_missing_frames)?;
        let (width, height) = (self.width, self.height);
        let mut notes = Vec::new();
        let pitch_frames = self.pitch_frames();
        if self.checks.is_none() {
            notes.push(
                "No CLIP encoder given: every frame counts as a pitch frame, and there is no box score."
                    .into(),
            );
        }
        if pitch_frames.count < MIN_PITCH_FRAMES {
            notes.push(format!(
                "{} pitch frames: a validator skips a challenge with fewer than {MIN_PITCH_FRAMES} (no score at all).",
                pitch_frames.count
            ));
        }

        let on_pitch = answer.only(|n| pitch_frames.frames.binary_search(&n).is_ok());
        let inputs = KeypointInputs {
            frames: &on_pitch,
            pitch_frames: &pitch_frames.frames,
            lines: &self.lines,
            width,
            height,
        };
        let (keypoint_terms, keypoint_error) = match keypoints::terms(&inputs) {
            Ok(terms) => (terms, None),
            Err(crash) => {
                notes.push(format!(
                    "The validator's keypoint scoring would raise ({}) and score the keypoints 0.",
                    crash.0
                ));
                (KeypointTerms::default(), Some(crash.0))
            }
        };
        let keypoint_score = if keypoint_error.is_some() {
            0.0
        } else {
            keypoint_terms.final_score() / 100.0
        };

        let box_rules = boxes::rules(answer, &pitch_frames.frames, width, height);
        let box_details = match options.clip.as_deref_mut() {
            Some(clip) => Some(box_pass(
                &self.path,
                answer,
                &pitch_frames.frames,
                options.box_seed,
                clip,
            )?),
            None => None,
        };
        let box_score = box_details
            .as_ref()
            .map(|b| b.score)
            .or(options.assume_box_score);
        let outcome = Outcome::new(keypoint_score, box_score, options.time);
        if box_score.is_none() {
            notes.push("Quality and final need the box score: give --clip-image and --clip-text, or --assume-box-score.".into());
        }
        Ok(Report {
            keypoint_score,
            keypoint_terms,
            keypoint_error,
            box_score,
            box_score_assumed: box_details.is_none() && box_score.is_some(),
            box_details,
            box_rules,
            quality: outcome.quality,
            speed: outcome.speed,
            final_score: outcome.final_score,
            frames_scored: on_pitch.len(),
            pitch_frames,
            video: VideoInfo {
                width,
                height,
                frames: self.decoded.len() as u64,
            },
            notes,
        })
    }

    fn frame_pass(
        &mut self,
        video: &mut Video,
        decode: Decode,
        mut clip: Option<&mut Clip>,
    ) -> Result<(), ScoreError> {
        let mut pending: Vec<(u64, f64, Vec<f32>)> = Vec::new();
        video.for_each_frame(decode, |index, frame| {
            let cv = |source| ScoreError::OpenCv {
                frame: index,
                source,
            };
            self.decoded.push(index);
            self.lines.insert(index, lines::detect(frame).map_err(cv)?);
            if let Some(clip) = clip.as_deref_mut() {
                let jpeg = pitch_filter::jpeg_round_trip(frame).map_err(cv)?;
                let heuristic = pitch_filter::heuristic(&jpeg).map_err(cv)?;
                let rgb = Rgb::from_bgr(&jpeg).map_err(cv)?;
                pending.push((index, heuristic, preprocess::pitch_input(&rgb)));
                if pending.len() == CLIP_BATCH {
                    self.flush(clip, &mut pending)?;
                }
            }
            Ok(())
        })?;
        if let Some(clip) = clip {
            self.flush(clip, &mut pending)?;
        }
        Ok(())
    }

    /// CLIP on the pending frames: P(pitch) when "a football pitch" wins, else 0.
    fn flush(
        &mut self,
        clip: &mut Clip,
        pending: &mut Vec<(u64, f64, Vec<f32>)>,
    ) -> Result<(), ScoreError> {
        let inputs: Vec<Vec<f32>> = pending
            .iter_mut()
            .map(|p| std::mem::take(&mut p.2))
            .collect();
        let embeddings = clip.embed(&inputs)?;
        let probabilities = clip.probabilities(Question::Pitch, &embeddings);
        if let Some(checks) = self.checks.as_mut() {
            for ((index, heuristic, _), p) in pending.drain(..).zip(probabilities) {
                let pitch = if p[0] >= p[1] { p[0] } else { 0.0 };
                checks.push((
                    index,
                    PitchCheck {
                        heuristic,
                        clip: Some(pitch),
                    },
                ));
            }
        }
        Ok(())
    }
}

/// The answer must be for this clip: no frame past its end, and all of its
/// frames unless `allow_missing`.
pub fn check_frames(
    answer: &Answer,
    frame_count: u64,
    allow_missing: bool,
) -> Result<(), ScoreError> {
    let out_of_clip = answer.frames().iter().any(|(n, _)| *n >= frame_count);
    let short = (answer.len() as u64) < frame_count && !allow_missing;
    if out_of_clip || short {
        let min = answer.frames().iter().map(|(n, _)| *n).min();
        let max = answer.frames().iter().map(|(n, _)| *n).max();
        return Err(ScoreError::FrameCount {
            answer: answer.len(),
            clip: frame_count as usize,
            range: match (min, max) {
                (Some(a), Some(b)) => format!(
                    "{a}..={b} in the answer, 0..={} in the clip",
                    frame_count - 1
                ),
                _ => "none in the answer".into(),
            },
        });
    }
    Ok(())
}

/// The box score: the sampled pitch frames the answer has objects on, read
/// in order as the validator's box scoring reads them.
fn box_pass(
    video: &Path,
    answer: &Answer,
    pitch_frames: &[u64],
    seed: u64,
    clip: &mut Clip,
) -> Result<BoxScore, ScoreError> {
    let sampled = boxes::sample(pitch_frames, seed);
    let wanted: Vec<u64> = sampled
        .iter()
        .copied()
        .filter(|&n| answer.get(n).is_some_and(|f| !f.objects.is_empty()))
        .collect();
    let mut outcomes: Vec<(u64, FrameScore)> = Vec::with_capacity(wanted.len());
    if !wanted.is_empty() {
        let mut reader = Video::open(video)?;
        reader.for_each_frame(Decode::Sequential, |index, frame: &Mat| {
            if wanted.binary_search(&index).is_err() {
                return Ok(());
            }
            let rgb = Rgb::from_bgr(frame).map_err(|source| ScoreError::OpenCv {
                frame: index,
                source,
            })?;
            let objects = answer.get(index).map_or(&[][..], |f| &f.objects);
            outcomes.push((index, boxes::frame::evaluate(clip, &rgb, objects)?));
            Ok(())
        })?;
    }
    Ok(boxes::box_score(sampled.len(), &outcomes))
}
