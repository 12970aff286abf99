//! One frame's box score with CLIP (the validator's `evaluate_frame`).
//!
//! Quirks kept: each kept box is cut from the RGB frame in the miner's
//! order and then painted black in the frame, so a later box sees black
//! where earlier ones overlap it, and the ball is judged on a 4x crop of the
//! blacked-out frame (its own box black); only the first ball is judged,
//! every later one is "not a football"; Python's slicing (truncated
//! coordinates, negative ones counting from the far edge, ends clipped).

use super::area::area_factor;
use super::labels::{Label, frame_points};
use super::rules::{corners, dropped_by};
use crate::answer::Object;
use crate::clip::image::Rgb;
use crate::clip::{Clip, Question, argmax, preprocess};
use crate::error::ScoreError;

/// How a scale of 4 around the ball is cut.
const BALL_CONTEXT: f64 = 4.0;

/// A frame's outcome: its score, or why the validator would drop it
/// (raise inside `evaluate_frame`, which leaves it out of the average).
#[derive(Debug, Clone, PartialEq)]
pub enum FrameScore {
    /// The validator scores the frame.
    Scored {
        /// The frame's box score: the boxes' area factor times their
        /// normalised points (0 when no box is kept).
        score: f64,
        /// For each kept box, in the miner's order: (the miner's class,
        /// what CLIP decided it shows).
        labels: Vec<(Label, Label)>,
    },
    /// The validator would raise on this frame and leave it out of the
    /// average; the reason, in words.
    Dropped(String),
}

/// `evaluate_frame(frame, objects)` on the BGR frame as RGB.
pub fn evaluate(
    clip: &mut Clip,
    frame: &Rgb,
    objects: &[Object],
) -> Result<FrameScore, ScoreError> {
    let (w, h) = (frame.width as i32, frame.height as i32);
    let mut kept: Vec<(&Object, [f64; 4])> = Vec::new();
    for object in objects {
        if object.class_id.is_none() {
            return Ok(FrameScore::Dropped("an object without a class_id".into()));
        }
        let c = match corners(object) {
            Ok(c) => c,
            Err(why) => return Ok(FrameScore::Dropped(why)),
        };
        if dropped_by(object, c, f64::from(w)).is_none() {
            kept.push((object, c));
        }
    }
    if kept.is_empty() {
        return Ok(FrameScore::Scored {
            score: 0.0,
            labels: Vec::new(),
        });
    }
    let predicted: Vec<Label> = kept.iter().map(|(o, _)| Label::predicted(o)).collect();
    let mut image = frame.clone();
    let rois: Vec<Rgb> = kept
        .iter()
        .map(|(_, c)| cut_and_blacken(&mut image, *c))
        .collect();
    let Some(inputs) = processor_inputs(&rois) else {
        return Ok(FrameScore::Dropped("an empty or one-row box crop".into()));
    };
    let embeddings = clip.embed(&inputs)?;
    let person = clip.probabilities(Question::PersonOrGrass, &embeddings);
    let roles = clip.probabilities(Question::Role, &embeddings);

    let mut expected: Vec<Label> = vec![Label::Other; kept.len()];
    let balls: Vec<usize> = (0..kept.len())
        .filter(|&i| predicted[i] == Label::Football)
        .collect();
    if let Some((&first, rest)) = balls.split_first() {
        for &i in rest {
            expected[i] = Label::NotFootball;
        }
        let Some(context) = ball_context(&image, kept[first].1) else {
            return Ok(FrameScore::Dropped("the ball's 4x crop is empty".into()));
        };
        let Some(input) = processor_inputs(std::slice::from_ref(&context)) else {
            return Ok(FrameScore::Dropped("the ball's 4x crop is one row".into()));
        };
        let e = clip.embed(&input)?;
        let round = clip.probabilities(Question::Round, &e)[0][0];
        expected[first] = if round < 0.5 {
            Label::NotFootball
        } else if argmax(&clip.probabilities(Question::Ball, &e)[0]) == 0 {
            Label::Football
        } else {
            Label::NotFootball
        };
    }
    let refined: Vec<usize> = (0..kept.len())
        .filter(|i| !balls.contains(i) && person[*i][0] > 0.08)
        .collect();
    // The role question is asked of these crops as one batch: the same
    // channel-axis guess from its first crop.
    if refined
        .first()
        .is_some_and(|&i| rois[i].height == 1 || rois[i].height == 3)
    {
        return Ok(FrameScore::Dropped(
            "a one-row box crop first in the role batch".into(),
        ));
    }
    for i in (0..kept.len()).filter(|i| !balls.contains(i)) {
        expected[i] = if refined.contains(&i) {
            Label::role(argmax(&roles[i]))
        } else {
            Label::Grass
        };
    }
    let labels: Vec<(Label, Label)> = predicted.into_iter().zip(expected).collect();
    let boxes: Vec<[f64; 4]> = kept.iter().map(|(_, c)| *c).collect();
    Ok(FrameScore::Scored {
        score: area_factor(&boxes, w, h) * frame_points(&labels),
        labels,
    })
}

/// The processor's inputs, or `None` where transformers would raise: an
/// empty crop, or a first crop 1 or 3 rows tall (its channel axis is
/// guessed from the first image, and such a crop reads as channels-first).
fn processor_inputs(rois: &[Rgb]) -> Option<Vec<Vec<f32>>> {
    if rois.first().is_some_and(|r| r.height == 1 || r.height == 3) {
        return None;
    }
    rois.iter().map(preprocess::crop_input).collect()
}

/// Python's `a[start:stop]` bounds on an axis of `len`.
fn py_slice(start: f64, stop: f64, len: usize) -> (usize, usize) {
    let len = len as i64;
    let norm = |v: f64| {
        let v = v as i64; // int(): truncation toward zero
        let v = if v < 0 { v + len } else { v };
        v.clamp(0, len) as usize
    };
    let (a, b) = (norm(start), norm(stop));
    (a, b.max(a))
}

/// `roi = rgb[y1:y2, x1:x2].copy(); rgb[y1:y2, x1:x2] = 0`.
fn cut_and_blacken(image: &mut Rgb, [x1, y1, x2, y2]: [f64; 4]) -> Rgb {
    let (xa, xb) = py_slice(x1, x2, image.width);
    let (ya, yb) = py_slice(y1, y2, image.height);
    let roi = image.crop(xa, ya, xb - xa, yb - ya);
    for y in ya..yb {
        let row = y * image.width * 3;
        image.data[row + xa * 3..row + xb * 3].fill(0);
    }
    roi
}

/// `crop_and_return_scaled_roi(rgb, bbox, 4.0)`: the box grown 4x about its
/// centre, edges rounded (ties to even), low edges clamped to 0 and high
/// ones to the last row/column (which the exclusive slice then leaves out).
fn ball_context(image: &Rgb, [x1, y1, x2, y2]: [f64; 4]) -> Option<Rgb> {
    let (w, h) = (x2 - x1, y2 - y1);
    if w <= 0.0 || h <= 0.0 {
        return None;
    }
    let (cx, cy) = (x1 + w / 2.0, y1 + h / 2.0);
    let (hw, hh) = (w * BALL_CONTEXT / 2.0, h * BALL_CONTEXT / 2.0);
    let edge = |v: f64| v.round_ties_even() as i64;
    let nx1 = edge(cx - hw).max(0);
    let nx2 = edge(cx + hw).min(image.width as i64 - 1);
    let ny1 = edge(cy - hh).max(0);
    let ny2 = edge(cy + hh).min(image.height as i64 - 1);
    if nx2 <= nx1 || ny2 <= ny1 {
        return None;
    }
    Some(image.crop(
        nx1 as usize,
        ny1 as usize,
        (nx2 - nx1) as usize,
        (ny2 - ny1) as usize,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slices_are_pythons() {
        assert_eq!(py_slice(10.7, 20.2, 100), (10, 20));
        assert_eq!(
            py_slice(-5.5, 20.0, 100),
            (95, 95),
            "-5 counts from the end"
        );
        assert_eq!(py_slice(90.0, 130.0, 100), (90, 100));
        assert_eq!(py_slice(-0.5, 3.0, 100), (0, 3), "int(-0.5) is 0");
    }

    #[test]
    fn a_box_is_cut_then_blackened_so_later_overlaps_see_black() {
        let mut image = Rgb {
            width: 4,
            height: 2,
            data: vec![9; 24],
        };
        let first = cut_and_blacken(&mut image, [0.0, 0.0, 2.0, 2.0]);
        assert!(first.data.iter().all(|&v| v == 9));
        let second = cut_and_blacken(&mut image, [1.0, 0.0, 3.0, 1.0]);
        assert_eq!(second.data, [0, 0, 0, 9, 9, 9]);
    }

    #[test]
    fn the_ball_context_is_four_times_the_box() {
        let image = Rgb {
            width: 100,
            height: 50,
            data: vec![1; 100 * 50 * 3],
        };
        let c = ball_context(&image, [40.0, 20.0, 44.0, 24.0]).unwrap();
        assert_eq!((c.width, c.height), (16, 16));
        let edge = ball_context(&image, [96.0, 46.0, 100.0, 50.0]).unwrap();
        assert_eq!(
            (edge.width, edge.height),
            (9, 9),
            "clamped to the last index, exclusive"
        );
        assert!(ball_context(&image, [5.0, 5.0, 5.0, 9.0]).is_none());
    }
}
