//! What infer produces and track consumes.

/// One detector box in source pixels, `[x1, y1, x2, y2]`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Detection {
    pub bbox: [f32; 4],
    pub confidence: f32,
    /// Player model classes: 0 ball, 1 goalkeeper, 2 player, 3 referee.
    pub class_id: u32,
}

/// A pitch keypoint in source pixels. Following ultralytics 8.3.48, `x` and
/// `y` are already `0.0` when `confidence < 0.5`; the confidence is kept.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Keypoint {
    pub x: f32,
    pub y: f32,
    pub confidence: f32,
}

/// Everything infer found in one frame.
#[derive(Debug, Clone, PartialEq)]
pub struct FrameDetections {
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
    pub id: u64,
    pub bbox: [f32; 4],
    pub class_id: u32,
}

/// Everything track produces for one frame.
#[derive(Debug, Clone, PartialEq)]
pub struct FrameTracks {
    pub index: u64,
    pub objects: Vec<TrackedObject>,
    pub keypoints: Option<Vec<Keypoint>>,
}
