//! The track stage's side of `--infer-interval`: infer runs the models on
//! keyframes only and marks the frames between
//! ([`FrameDetections::between_keyframes`]); [`Filler`] tracks the
//! keyframes and answers each marked frame from the keyframes on either
//! side ([`between()`]) once the later one has arrived. Infer makes the last
//! frame and both sides of every scene cut keyframes, so nothing is filled
//! across a cut or past the end.
//!
//! Track fills because it has what filling needs: the tracker ids that say
//! which box in one keyframe is which box in the next, and the Kalman
//! velocities. With every frame a keyframe (the default) the filler only
//! forwards: each frame is tracked as it arrives, as before.

mod between;

pub use between::{Keyframe, OneSided, between};

use sv_core::{FrameDetections, FrameTracks};

use crate::bytetrack::ByteTrack;

/// One challenge's tracker and the frames waiting for their next keyframe.
#[derive(Debug)]
pub struct Filler {
    tracker: ByteTrack,
    one_sided: OneSided,
    last: Option<Keyframe>,
    /// Frames between `last` and the next keyframe, in order.
    waiting: Vec<u64>,
    filled: u64,
}

impl Filler {
    /// Fills around `tracker`'s keyframes, placing tracks seen in one
    /// keyframe only as `one_sided` says; `tracker` should be fresh (one
    /// per challenge).
    pub fn new(tracker: ByteTrack, one_sided: OneSided) -> Self {
        Self {
            tracker,
            one_sided,
            last: None,
            waiting: Vec::new(),
            filled: 0,
        }
    }

    /// Takes infer's next frame and appends every frame it completes to
    /// `out`, in order: nothing for a frame between keyframes, the frames
    /// waiting and then the keyframe itself for a keyframe.
    pub fn push(&mut self, frame: FrameDetections, out: &mut Vec<FrameTracks>) {
        if frame.between_keyframes {
            self.waiting.push(frame.index);
            return;
        }
        let frames = self
            .last
            .as_ref()
            .map_or(1, |k| frame.index.saturating_sub(k.index).max(1));
        let objects = self.tracker.update_after(frames, &frame.detections);
        let motion = self
            .tracker
            .velocities()
            .map(|(id, v)| (id, [v[0] as f32, v[1] as f32].map(|p| p / frames as f32)))
            .collect();
        let key = Keyframe {
            index: frame.index,
            objects,
            keypoints: frame.keypoints,
            motion,
        };
        self.flush(Some(&key), out);
        out.push(FrameTracks {
            index: key.index,
            objects: key.objects.clone(),
            keypoints: key.keypoints.clone(),
        });
        self.last = Some(key);
    }

    /// The stream ended: frames still waiting (infer always ends on a
    /// keyframe, so only an upstream that does not) hold the last keyframe.
    pub fn finish(&mut self, out: &mut Vec<FrameTracks>) {
        self.flush(None, out);
    }

    /// Frames answered from keyframes so far.
    pub fn filled(&self) -> u64 {
        self.filled
    }

    /// Tracks the tracker follows now.
    pub fn active_tracks(&self) -> usize {
        self.tracker.active_tracks()
    }

    fn flush(&mut self, next: Option<&Keyframe>, out: &mut Vec<FrameTracks>) {
        for index in self.waiting.drain(..) {
            self.filled += 1;
            out.push(match (&self.last, next) {
                (Some(before), Some(after)) => between(before, after, index, self.one_sided),
                (Some(only), None) | (None, Some(only)) => FrameTracks {
                    index,
                    objects: only.objects.clone(),
                    keypoints: only.keypoints.clone(),
                },
                (None, None) => FrameTracks {
                    index,
                    objects: Vec::new(),
                    keypoints: None,
                },
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sv_core::Detection;

    fn detections(index: u64, x: f32) -> FrameDetections {
        FrameDetections {
            index,
            detections: vec![Detection {
                bbox: [x, 0.0, x + 20.0, 40.0],
                confidence: 0.9,
                class_id: 2,
            }],
            keypoints: None,
            between_keyframes: false,
        }
    }

    fn run(frames: Vec<FrameDetections>) -> (Vec<FrameTracks>, u64) {
        let mut filler = Filler::new(ByteTrack::default(), OneSided::Hold);
        let mut out = Vec::new();
        for f in frames {
            filler.push(f, &mut out);
        }
        filler.finish(&mut out);
        (out, filler.filled())
    }

    #[test]
    fn every_frame_a_keyframe_is_plain_tracking() {
        let frames: Vec<_> = (0..6).map(|i| detections(i, 4.0 * i as f32)).collect();
        let mut tracker = ByteTrack::default();
        let want: Vec<_> = frames
            .iter()
            .map(|f| tracker.update(&f.detections))
            .collect();
        let (out, filled) = run(frames);
        assert_eq!(filled, 0);
        assert_eq!(
            out.iter().map(|f| f.objects.clone()).collect::<Vec<_>>(),
            want
        );
    }

    #[test]
    fn frames_between_keyframes_come_out_in_order_filled() {
        let frames = vec![
            detections(0, 0.0),
            FrameDetections::between(1),
            detections(2, 8.0),
            FrameDetections::between(3),
            FrameDetections::between(4),
            detections(5, 20.0),
        ];
        let (out, filled) = run(frames);
        assert_eq!(filled, 3);
        assert_eq!(
            out.iter().map(|f| f.index).collect::<Vec<_>>(),
            vec![0, 1, 2, 3, 4, 5]
        );
        assert_eq!(out[1].objects[0].bbox[0], 4.0);
        assert_eq!(out[1].objects[0].id, 1);
        assert!((out[4].objects[0].bbox[0] - 16.0).abs() < 1e-4);
    }

    #[test]
    fn frames_after_the_last_keyframe_hold_it() {
        let (out, filled) = run(vec![detections(0, 0.0), FrameDetections::between(1)]);
        assert_eq!(filled, 1);
        assert_eq!(out[1].objects, out[0].objects);
        let (out, _) = run(vec![FrameDetections::between(0)]);
        assert_eq!((out.len(), out[0].objects.len()), (1, 0));
    }
}
