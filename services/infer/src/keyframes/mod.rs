//! Which frames infer runs the models on (`--infer-interval N`).
//!
//! With N = 1 (the default) every frame is a keyframe and nothing here
//! touches the frames. With N >= 2, frames 0, N, 2N, ... are keyframes, and
//! so are the last frame and both frames at a scene cut (the last frame of
//! the old shot and the first of the new; see [`scene`]), so no frame is
//! ever answered from keyframes on both sides of a cut. The frames between
//! keyframes are dropped here, after the cut measure has seen their pixels:
//! infer sends track only their index
//! ([`FrameDetections::between`](sv_core::FrameDetections::between)), and
//! track fills them from the keyframes on either side.
//!
//! Whether a frame is the last, or the last before a cut, is known only
//! when the next one arrives, so [`Keyframes`] holds one frame back. A clip
//! shorter than N frames is inferred on every frame: until its N-th frame
//! arrives (or it ends first) its opening frames are held undecided.

pub mod scene;

use sv_core::Frame;

pub use scene::{SCENE_CUT_THRESHOLD, Thumbnail};

/// One frame, decided.
#[derive(Debug)]
pub enum Slot {
    /// A keyframe: the models run on it.
    Key(Frame),
    /// A frame between keyframes, by index.
    Between(u64),
}

/// How many frames were decided which way.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Frames the models ran on.
    pub keyframes: u64,
    /// Frames sent on by index alone, for track to fill in.
    pub between: u64,
    /// Scene cuts found (each makes the frames on both sides keyframes).
    pub cuts: u64,
}

/// The keyframe decision for one video.
#[derive(Debug)]
pub struct Keyframes {
    interval: u64,
    cut_threshold: f32,
    last_key: Option<u64>,
    /// The frame before the newest one, while it is not yet known whether it
    /// is the last (or the last before a cut).
    held: Option<Frame>,
    previous: Option<Thumbnail>,
    /// The opening frames, held until the clip is known to have at least
    /// `interval` frames (`None` once it is).
    opening: Option<Vec<Frame>>,
    counts: Counts,
}

impl Keyframes {
    /// `interval`: a keyframe every that many frames (0 is taken as 1);
    /// `cut_threshold`: see [`SCENE_CUT_THRESHOLD`].
    pub fn new(interval: u32, cut_threshold: f32) -> Self {
        Self {
            interval: u64::from(interval.max(1)),
            cut_threshold,
            last_key: None,
            held: None,
            previous: None,
            opening: Some(Vec::new()),
            counts: Counts::default(),
        }
    }

    /// Decides `frame` and, where it settles it, the held one; appends what
    /// is decided to `out`, in frame order.
    pub fn push(&mut self, frame: Frame, out: &mut Vec<Slot>) {
        if self.interval == 1 {
            self.key(frame, out);
            return;
        }
        if let Some(mut opening) = self.opening.take() {
            opening.push(frame);
            if (opening.len() as u64) < self.interval {
                self.opening = Some(opening);
                return;
            }
            // N frames at least: decide the opening as any other frames.
            for frame in opening {
                self.decide(frame, out);
            }
            return;
        }
        self.decide(frame, out);
    }

    fn decide(&mut self, frame: Frame, out: &mut Vec<Slot>) {
        let thumbnail = Thumbnail::of(&frame);
        let cut = self
            .previous
            .as_ref()
            .is_some_and(|p| p.difference(&thumbnail) > self.cut_threshold);
        self.previous = Some(thumbnail);
        self.counts.cuts += u64::from(cut);
        if let Some(held) = self.held.take() {
            if cut {
                self.key(held, out);
            } else {
                self.counts.between += 1;
                out.push(Slot::Between(held.index));
            }
        }
        let due = self
            .last_key
            .is_none_or(|k| frame.index.saturating_sub(k) >= self.interval);
        if due || cut {
            self.key(frame, out);
        } else {
            self.held = Some(frame);
        }
    }

    /// The video ended: the held frame, if any, was the last one; a clip
    /// that ended before its N-th frame is inferred on every frame.
    pub fn finish(&mut self, out: &mut Vec<Slot>) {
        for frame in self.opening.take().unwrap_or_default() {
            self.key(frame, out);
        }
        if let Some(held) = self.held.take() {
            self.key(held, out);
        }
    }

    /// The decisions so far in this video.
    pub fn counts(&self) -> Counts {
        self.counts
    }

    fn key(&mut self, frame: Frame, out: &mut Vec<Slot>) {
        self.last_key = Some(frame.index);
        self.counts.keyframes += 1;
        out.push(Slot::Key(frame));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 64x36 frame of one grey level.
    fn frame(index: u64, grey: u8) -> Frame {
        Frame::rgb(index, 64, 36, vec![grey; 64 * 36 * 3].into())
    }

    /// The decision for frames of these grey levels: 'K' or '.' per frame.
    fn decide(interval: u32, greys: &[u8]) -> (String, Counts) {
        let mut keyframes = Keyframes::new(interval, SCENE_CUT_THRESHOLD);
        let mut out = Vec::new();
        for (i, &g) in greys.iter().enumerate() {
            keyframes.push(frame(i as u64, g), &mut out);
        }
        keyframes.finish(&mut out);
        let mut marks = String::new();
        for (i, slot) in out.iter().enumerate() {
            let index = match slot {
                Slot::Key(f) => {
                    marks.push('K');
                    f.index
                }
                Slot::Between(index) => {
                    marks.push('.');
                    *index
                }
            };
            assert_eq!(index, i as u64, "frames leave in order, each once");
        }
        (marks, keyframes.counts())
    }

    #[test]
    fn every_nth_frame_and_the_last() {
        let same = [50u8; 10];
        assert_eq!(decide(1, &same).0, "KKKKKKKKKK");
        assert_eq!(decide(2, &same).0, "K.K.K.K.KK");
        assert_eq!(decide(3, &same).0, "K..K..K..K");
        assert_eq!(decide(4, &same).0, "K...K...KK");
        let (marks, counts) = decide(4, &same[..9]);
        assert_eq!(marks, "K...K...K");
        assert_eq!(
            counts,
            Counts {
                keyframes: 3,
                between: 6,
                cuts: 0
            }
        );
    }

    #[test]
    fn a_clip_shorter_than_the_interval_is_inferred_on_every_frame() {
        assert_eq!(decide(5, &[50, 50, 50]).0, "KKK");
        assert_eq!(decide(5, &[50, 50, 50, 50]).0, "KKKK");
        assert_eq!(decide(5, &[50]).0, "K");
        assert_eq!(decide(3, &[]).0, "");
        // N frames or more: the interval applies from the first frame.
        assert_eq!(decide(5, &[50; 5]).0, "K...K");
        assert_eq!(decide(5, &[50; 7]).0, "K....KK");
        assert_eq!(decide(2, &[50, 50]).0, "KK");
    }

    #[test]
    fn both_sides_of_a_cut_are_keyframes() {
        // A cut at frame 5 (grey 50 -> 200).
        let greys = [50, 50, 50, 50, 50, 200, 200, 200, 200, 200];
        let (marks, counts) = decide(4, &greys);
        assert_eq!(marks, "K...KK...K");
        assert_eq!(counts.cuts, 1);
        // At N = 3 the frame before the cut is already a keyframe.
        assert_eq!(decide(3, &greys).0, "K..KKK..KK");
        // Every frame a cut: every frame a keyframe.
        assert_eq!(decide(3, &[0, 100, 0, 100, 0]).0, "KKKKK");
    }
}
