//! A miner's answer as the validator stores it.
//!
//! The validator receives `{"frames": [{"frame_number", "keypoints",
//! "objects"}, ...]}` and keeps, per frame, only `keypoints` (when it is a
//! list) and `objects` (when it is a list), with every keypoint coordinate
//! and box coordinate rounded to 2 decimals (`round(float(v), 2)`); frames
//! are keyed by `str(frame_number)`, a later duplicate replacing an earlier
//! one in place. Scoring then reads that stored form, so this module builds
//! exactly it. Answers the validator would not store at all (a frame without
//! `frame_number`, `frames` not a list) or could not key (a frame number
//! that is not an integer) are refused with the reason.

use std::collections::HashMap;
use std::path::Path;

use serde_json::Value;

use crate::error::ScoreError;

/// One stored frame.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Frame {
    /// The keypoint rows as sent (normally 32 `[x, y]` pairs), rounded;
    /// `None` when the answer had no `keypoints` list (the validator's
    /// keypoint scoring then raises and scores 0).
    pub keypoints: Option<Vec<Vec<f64>>>,
    /// The objects, in the miner's order (an absent list is an empty one).
    pub objects: Vec<Object>,
}

/// One stored object.
#[derive(Debug, Clone, PartialEq)]
pub struct Object {
    /// `[x1, y1, x2, y2]` rounded, or whatever count of values was sent;
    /// `None` without a `bbox` key.
    pub bbox: Option<Vec<f64>>,
    /// The class id as a number (Python compares `2.0 == 2`), `None` when
    /// absent or not a number.
    pub class_id: Option<f64>,
    /// The tracker id, as its JSON text (`None` when absent).
    pub id: Option<String>,
}

impl Object {
    /// True when the class id equals `class` (as Python's `==` would).
    pub fn is_class(&self, class: u32) -> bool {
        self.class_id == Some(f64::from(class))
    }
}

/// The stored answer: frames by number, in the order the validator keeps.
#[derive(Debug, Clone, Default)]
pub struct Answer {
    frames: Vec<(u64, Frame)>,
    index: HashMap<u64, usize>,
}

impl Answer {
    /// Reads and normalises an answer file.
    pub fn read(path: &Path) -> Result<Answer, ScoreError> {
        let text = std::fs::read(path).map_err(|source| ScoreError::ReadAnswer {
            path: path.to_owned(),
            source,
        })?;
        let value: Value =
            serde_json::from_slice(&text).map_err(|source| ScoreError::AnswerJson {
                path: path.to_owned(),
                source,
            })?;
        Answer::from_json(&value)
    }

    /// Normalises a parsed answer as the validator does on receipt.
    pub fn from_json(value: &Value) -> Result<Answer, ScoreError> {
        let bad = |reason: AnswerFault| ScoreError::BadAnswer { reason };
        let frames = match value.get("frames") {
            Some(Value::Array(frames)) => frames,
            Some(other) => return Err(bad(AnswerFault::FramesNotAList(kind(other)))),
            None => return Err(bad(AnswerFault::NoFrames)),
        };
        let mut answer = Answer::default();
        for (position, frame) in frames.iter().enumerate() {
            let number = frame_number(frame)
                .map_err(|fault| bad(AnswerFault::FrameNumber { position, fault }))?;
            let stored =
                stored_frame(frame).map_err(|fault| bad(AnswerFault::Frame { number, fault }))?;
            answer.insert(number, stored);
        }
        Ok(answer)
    }

    /// Adds a frame; a number already present is replaced where it stands
    /// (a Python dict keeps the first position of a key).
    pub fn insert(&mut self, number: u64, frame: Frame) {
        match self.index.get(&number) {
            Some(&at) => self.frames[at].1 = frame,
            None => {
                self.index.insert(number, self.frames.len());
                self.frames.push((number, frame));
            }
        }
    }

    /// The frames in stored order.
    pub fn frames(&self) -> &[(u64, Frame)] {
        &self.frames
    }

    /// The stored frame numbered `number`, if the answer has one.
    pub fn get(&self, number: u64) -> Option<&Frame> {
        self.index.get(&number).map(|&at| &self.frames[at].1)
    }

    /// How many distinct frame numbers the answer holds (a duplicate counts
    /// once).
    pub fn len(&self) -> usize {
        self.frames.len()
    }

    /// True when the answer holds no frame.
    pub fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }

    /// The frames whose number is in `keep`, in stored order (the
    /// validator's `filtered_frames`).
    pub fn only(&self, keep: impl Fn(u64) -> bool) -> Answer {
        let mut out = Answer::default();
        for (number, frame) in &self.frames {
            if keep(*number) {
                out.insert(*number, frame.clone());
            }
        }
        out
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

fn frame_number(frame: &Value) -> Result<u64, FrameNumberFault> {
    match frame.get("frame_number") {
        None => Err(FrameNumberFault::Missing),
        Some(Value::Number(n)) => n
            .as_u64()
            .ok_or_else(|| FrameNumberFault::Negative(n.to_string())),
        Some(other) => Err(FrameNumberFault::NotAnInteger(kind(other))),
    }
}

fn stored_frame(frame: &Value) -> Result<Frame, ValueFault> {
    let keypoints = match frame.get("keypoints") {
        Some(Value::Array(rows)) => Some(
            rows.iter()
                .enumerate()
                .map(|(index, row)| {
                    rounded(row).map_err(|fault| ValueFault::Keypoint {
                        index,
                        fault: Box::new(fault),
                    })
                })
                .collect::<Result<Vec<_>, _>>()?,
        ),
        _ => None,
    };
    let objects = match frame.get("objects") {
        Some(Value::Array(objects)) => objects
            .iter()
            .enumerate()
            .map(|(index, o)| {
                stored_object(o).map_err(|fault| ValueFault::Object {
                    index,
                    fault: Box::new(fault),
                })
            })
            .collect::<Result<Vec<_>, _>>()?,
        _ => Vec::new(),
    };
    Ok(Frame { keypoints, objects })
}

fn stored_object(object: &Value) -> Result<Object, ValueFault> {
    let Value::Object(map) = object else {
        return Err(ValueFault::NotAnObject(kind(object)));
    };
    let bbox = map
        .get("bbox")
        .map(|b| rounded(b).map_err(|fault| ValueFault::Bbox(Box::new(fault))))
        .transpose()?;
    let class_id = map.get("class_id").and_then(Value::as_f64);
    let id = map.get("id").map(id_text);
    Ok(Object { bbox, class_id, id })
}

/// An id's identity as Python's dict would see it: `7` and `7.0` are the
/// same key.
fn id_text(id: &Value) -> String {
    match id.as_f64() {
        Some(v) if v.fract() == 0.0 && v.abs() < 1e15 => format!("{}", v as i64),
        _ => id.to_string(),
    }
}

/// `[round(float(v), 2) for v in row]` for a list of numbers.
fn rounded(row: &Value) -> Result<Vec<f64>, ValueFault> {
    let Value::Array(values) = row else {
        return Err(ValueFault::NotAList(kind(row)));
    };
    values
        .iter()
        .map(|v| {
            v.as_f64()
                .map(round2)
                .ok_or_else(|| ValueFault::NotANumber(kind(v)))
        })
        .collect()
}

/// Why the validator would not store (or could not score) an answer,
/// naming the place in it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AnswerFault {
    /// `frames` is there but is not a list (its JSON kind).
    #[error(
        "`frames` is {0}, not a list: the validator stores such an answer empty and scores it 0"
    )]
    FramesNotAList(&'static str),
    /// The answer has no `frames` key.
    #[error("no `frames` list")]
    NoFrames,
    /// A frame's `frame_number` cannot key it.
    #[error("frame {position} of the list: {fault} (the validator would not store this answer)")]
    FrameNumber {
        /// The frame's place in the `frames` list, from 0.
        position: usize,
        /// What is wrong with its number.
        fault: FrameNumberFault,
    },
    /// A value inside the frame is not what the validator reads.
    #[error("frame_number {number}: {fault}")]
    Frame {
        /// The frame's `frame_number`.
        number: u64,
        /// The value and what is wrong with it.
        fault: ValueFault,
    },
}

/// What is wrong with a frame's `frame_number`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FrameNumberFault {
    /// The frame has none.
    #[error("no `frame_number`")]
    Missing,
    /// A number, but negative or fractional (its JSON text).
    #[error("frame_number {0} is not a non-negative integer (the validator cannot score it)")]
    Negative(String),
    /// Not a number at all (its JSON kind).
    #[error(
        "frame_number is {0}, not an integer (refused here rather than guessing how the validator would key it)"
    )]
    NotAnInteger(&'static str),
}

/// A keypoint row, object or box that is not what the validator reads.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ValueFault {
    /// The keypoint row at `index` (from 0).
    #[error("keypoint {index}: {fault}")]
    Keypoint {
        /// Its place in `keypoints`.
        index: usize,
        /// What is wrong with it.
        fault: Box<ValueFault>,
    },
    /// The object at `index` (from 0).
    #[error("object {index}: {fault}")]
    Object {
        /// Its place in `objects`.
        index: usize,
        /// What is wrong with it.
        fault: Box<ValueFault>,
    },
    /// The object's `bbox`.
    #[error("bbox: {0}")]
    Bbox(Box<ValueFault>),
    /// Not a JSON object (its JSON kind).
    #[error("{0} instead of an object")]
    NotAnObject(&'static str),
    /// Not a list of numbers (its JSON kind).
    #[error("{0} instead of a list of numbers")]
    NotAList(&'static str),
    /// A list entry that is not a number (its JSON kind).
    #[error("{0} instead of a number")]
    NotANumber(&'static str),
}

/// Python's `round(x, 2)`: the decimal nearest the exact binary value, ties
/// to even. Rust's formatting rounds the same way.
pub fn round2(x: f64) -> f64 {
    format!("{x:.2}").parse().unwrap_or(x)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rounding_is_pythons() {
        for (x, want) in [
            (0.125, 0.12),
            (0.375, 0.38),
            (2.675, 2.67),
            (1.005, 1.0),
            (-0.125, -0.12),
        ] {
            assert_eq!(round2(x), want, "{x}");
        }
    }

    #[test]
    fn the_stored_form_keeps_lists_rounds_and_keys_by_number() {
        let answer = Answer::from_json(&json!({"frames": [
            {"frame_number": 3, "keypoints": [[1.234, 5.678]], "objects": [{"id": 7.0, "bbox": [1.005, 2, 3, 4], "class_id": 2}]},
            {"frame_number": 1, "keypoints": "none", "objects": 5},
            {"frame_number": 3, "keypoints": [[0, 0]]},
        ]}))
        .unwrap();
        let numbers: Vec<u64> = answer.frames().iter().map(|(n, _)| *n).collect();
        assert_eq!(numbers, [3, 1], "a duplicate replaces in place");
        assert_eq!(answer.get(3).unwrap().keypoints, Some(vec![vec![0.0, 0.0]]));
        assert!(answer.get(3).unwrap().objects.is_empty());
        let one = answer.get(1).unwrap();
        assert_eq!((one.keypoints.clone(), one.objects.len()), (None, 0));
        let first = Answer::from_json(&json!({"frames": [
            {"frame_number": 0, "keypoints": [[1.234, 5.678]], "objects": [{"id": 7.0, "bbox": [1.005, 2, 3, 4], "class_id": 2}]}
        ]}))
        .unwrap();
        let frame = first.get(0).unwrap();
        assert_eq!(frame.keypoints, Some(vec![vec![1.23, 5.68]]));
        let object = &frame.objects[0];
        assert_eq!(object.bbox, Some(vec![1.0, 2.0, 3.0, 4.0]));
        assert_eq!(object.id.as_deref(), Some("7"));
        assert!(object.is_class(2) && !object.is_class(0));
    }

    #[test]
    fn answers_the_validator_would_not_store_are_refused_with_the_reason() {
        for (answer, says) in [
            (json!({"frames": {"0": {}}}), "not a list"),
            (json!({"frame": []}), "no `frames`"),
            (json!({"frames": [{"keypoints": []}]}), "no `frame_number`"),
            (
                json!({"frames": [{"frame_number": 1.5}]}),
                "not a non-negative integer",
            ),
            (json!({"frames": [{"frame_number": "4"}]}), "a string"),
            (
                json!({"frames": [{"frame_number": 0, "keypoints": [["a", 1]]}]}),
                "keypoint 0",
            ),
            (
                json!({"frames": [{"frame_number": 0, "objects": [{"bbox": "x"}]}]}),
                "object 0: bbox",
            ),
        ] {
            let err = Answer::from_json(&answer).unwrap_err().to_string();
            assert!(err.contains(says), "{answer}: {err}");
        }
    }
}
