//! What infer produces and track consumes.

/// One detector box in source pixels, `[x1, y1, x2, y2]`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Detection {
    /// Top-left and bottom-right corners `[x1, y1, x2, y2]` in source pixels,
    /// clipped to the frame.
    pub bbox: [f32; 4],
    /// The detector's class score in `0.0..=1.0`; only boxes above the
    /// confidence threshold reach this type.
    pub confidence: f32,
    /// Player model classes: 0 ball, 1 goalkeeper, 2 player, 3 referee.
    pub class_id: u32,
}

/// A pitch keypoint in source pixels. Following ultralytics 8.3.48, `x` and
/// `y` are already `0.0` when `confidence < 0.5`; the confidence is kept.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Keypoint {
    /// Horizontal position in source pixels (`0.0` when not visible).
    pub x: f32,
    /// Vertical position in source pixels (`0.0` when not visible).
    pub y: f32,
    /// The pitch model's visibility score in `0.0..=1.0`.
    pub confidence: f32,
}

/// Everything infer found in one frame.
#[derive(Debug, Clone, PartialEq)]
pub struct FrameDetections {
    /// The [`Frame::index`](crate::Frame::index) these results belong to.
    pub index: u64,
    /// Player model detections in NMS order (descending confidence).
    pub detections: Vec<Detection>,
    /// The 32 keypoints of the highest-scoring pitch instance, or `None`
    /// when the pitch model found no instance in this frame.
    pub keypoints: Option<Vec<Keypoint>>,
    /// Infer ran no model on this frame: it lies between two keyframes
    /// (`--infer-interval` 2 or more), carries no detections or keypoints,
    /// and track answers it from the keyframes on either side.
    pub between_keyframes: bool,
}

impl FrameDetections {
    /// What infer sends for a frame between keyframes: its index alone.
    pub fn between(index: u64) -> Self {
        Self {
            index,
            detections: Vec::new(),
            keypoints: None,
            between_keyframes: true,
        }
    }
}

/// A detection the tracker kept, with its tracker id. `bbox` is the
/// detector's box, not the Kalman estimate (as the reference miner sends).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrackedObject {
    /// Tracker id, starting at 1 for each video; stays the same while the
    /// tracker follows the same object from frame to frame.
    pub id: u64,
    /// `[x1, y1, x2, y2]` in source pixels: the matched detection's box on
    /// a keyframe, interpolated from the keyframes on a frame between them.
    pub bbox: [f32; 4],
    /// The matched detection's class (see [`Detection::class_id`]).
    pub class_id: u32,
}

/// Everything track produces for one frame.
#[derive(Debug, Clone, PartialEq)]
pub struct FrameTracks {
    /// The [`Frame::index`](crate::Frame::index) these results belong to.
    pub index: u64,
    /// The detections the tracker kept in this frame, with their ids (on a
    /// frame between keyframes, answered from the keyframes around it).
    pub objects: Vec<TrackedObject>,
    /// The 32 pitch keypoints: infer's on a keyframe, taken or interpolated
    /// from the nearer keyframes between them; `None` when there is no pitch.
    pub keypoints: Option<Vec<Keypoint>>,
}
