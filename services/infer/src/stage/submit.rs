//! How decided frames ([`Slot`]s) become submissions to the worker: at
//! most a batch of keyframes each, with the frames between keyframes in
//! their place, so the forwarding task can put every answer back in frame
//! order.

use sv_core::{Frame, FrameDetections, StageError};

use crate::keyframes::Slot;

/// One frame of a submission, in frame order.
pub(super) enum Order {
    /// The batch's next answer.
    Key,
    Between(u64),
}

/// Consecutive frames being gathered into one submission.
#[derive(Default)]
pub(super) struct Submission {
    pub keyframes: Vec<Frame>,
    pub order: Vec<Order>,
}

impl Submission {
    /// The frames again, decided, in order.
    pub fn into_slots(self) -> impl Iterator<Item = Slot> {
        let mut keyframes = self.keyframes.into_iter();
        self.order.into_iter().filter_map(move |o| match o {
            Order::Key => keyframes.next().map(Slot::Key),
            Order::Between(index) => Some(Slot::Between(index)),
        })
    }
}

/// Decided frames as submissions of at most `batch_size` keyframes each, in
/// frame order; frames between keyframes go with the keyframe before them
/// (or alone, when no keyframe precedes them in `slots`).
pub(super) fn submissions(slots: impl Iterator<Item = Slot>, batch_size: usize) -> Vec<Submission> {
    let mut out: Vec<Submission> = Vec::new();
    for slot in slots {
        match slot {
            Slot::Key(frame) => {
                let full = out
                    .last()
                    .is_none_or(|s| s.keyframes.len() >= batch_size.max(1));
                if full {
                    out.push(Submission::default());
                }
                if let Some(s) = out.last_mut() {
                    s.keyframes.push(frame);
                    s.order.push(Order::Key);
                }
            }
            Slot::Between(index) => {
                if out.is_empty() {
                    out.push(Submission::default());
                }
                if let Some(s) = out.last_mut() {
                    s.order.push(Order::Between(index));
                }
            }
        }
    }
    out
}

/// A submission's frames in order: each keyframe's answer, and the mark of
/// each frame between keyframes.
pub(super) fn in_order(
    answers: Vec<FrameDetections>,
    order: Vec<Order>,
) -> Result<Vec<FrameDetections>, StageError> {
    let mut answers = answers.into_iter();
    order
        .into_iter()
        .map(|o| match o {
            Order::Key => answers.next().ok_or_else(|| {
                StageError::internal("infer: a batch answered fewer frames than it was given")
            }),
            Order::Between(index) => Ok(FrameDetections::between(index)),
        })
        .collect()
}
