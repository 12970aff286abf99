//! One frame between two keyframes, answered from them: what
//! [`super::Filler`] sends for a frame infer ran no model on.
//!
//! - A track in both keyframes: its box interpolated linearly, with its id
//!   (the class of the nearer keyframe).
//! - A track in one keyframe only (it appeared, or was lost): shown on the
//!   frames nearer that keyframe (the middle frame, when there is one,
//!   counts as the earlier keyframe's: a track lost there and one new in
//!   the later keyframe are often the same object, which must not show
//!   twice), held there or carried by the Kalman filter's velocity
//!   ([`OneSided`]).
//! - A keypoint visible in both keyframes: interpolated; otherwise the
//!   nearer keyframe's point (visible or not). No pitch in the nearer
//!   keyframe: none here either, so the answer's 32-pair rule applies as on
//!   any frame.

use std::collections::HashMap;

use sv_core::{FrameTracks, Keypoint, TrackedObject};

/// What a keyframe leaves for the frames after and before it.
#[derive(Debug, Clone, PartialEq)]
pub struct Keyframe {
    /// The keyframe's frame index.
    pub index: u64,
    /// What the tracker answered for the keyframe.
    pub objects: Vec<TrackedObject>,
    /// The keyframe's pitch keypoints from infer (`None`: no pitch found).
    pub keypoints: Option<Vec<Keypoint>>,
    /// Each tracker id's centre motion per frame (x, y), from the Kalman
    /// filter's velocity at this keyframe.
    pub motion: HashMap<u64, [f32; 2]>,
}

/// Where a track seen in one keyframe only goes on the frames near it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum OneSided {
    /// The keyframe's box, unmoved.
    Hold,
    /// The keyframe's box moved by the track's Kalman velocity (forward
    /// from the keyframe before, backward from the keyframe after).
    /// Measured against holding (tests/bench/README.md, "Infer interval"):
    /// the better box agreement with the every-frame answer wherever the
    /// two differ (N = 2: 0.849 against 0.842 on the sample clip, 0.579
    /// against 0.575 on the motion clip).
    #[default]
    Carry,
}

/// Frame `index` (strictly between `before` and `after`) from the two.
pub fn between(
    before: &Keyframe,
    after: &Keyframe,
    index: u64,
    one_sided: OneSided,
) -> FrameTracks {
    let span = after.index.saturating_sub(before.index).max(1) as f32;
    let from_before = index.saturating_sub(before.index) as f32;
    let t = from_before / span;
    let to_after = span - from_before;
    let nearer_before = from_before <= to_after;
    let mut objects = Vec::with_capacity(before.objects.len().max(after.objects.len()));
    for a in &before.objects {
        match after.objects.iter().find(|b| b.id == a.id) {
            Some(b) => objects.push(TrackedObject {
                id: a.id,
                bbox: std::array::from_fn(|k| a.bbox[k] + (b.bbox[k] - a.bbox[k]) * t),
                class_id: if nearer_before {
                    a.class_id
                } else {
                    b.class_id
                },
            }),
            None if nearer_before => objects.push(moved(a, before, from_before, one_sided)),
            None => {}
        }
    }
    if to_after < from_before {
        for b in &after.objects {
            if !before.objects.iter().any(|a| a.id == b.id) {
                objects.push(moved(b, after, -to_after, one_sided));
            }
        }
    }
    FrameTracks {
        index,
        objects,
        keypoints: keypoints(before, after, t, nearer_before),
    }
}

/// `object` of `keyframe`, `frames` frames later (earlier when negative).
fn moved(
    object: &TrackedObject,
    keyframe: &Keyframe,
    frames: f32,
    one_sided: OneSided,
) -> TrackedObject {
    let [dx, dy] = match (one_sided, keyframe.motion.get(&object.id)) {
        (OneSided::Carry, Some([vx, vy])) => [vx * frames, vy * frames],
        _ => [0.0, 0.0],
    };
    let b = object.bbox;
    TrackedObject {
        bbox: [b[0] + dx, b[1] + dy, b[2] + dx, b[3] + dy],
        ..*object
    }
}

/// Whether a keypoint is in the answer: ultralytics zeroes the point of a
/// keypoint under confidence 0.5, and `[0.0, 0.0]` means "not visible".
fn visible(k: &Keypoint) -> bool {
    k.x != 0.0 || k.y != 0.0
}

fn keypoints(
    before: &Keyframe,
    after: &Keyframe,
    t: f32,
    nearer_before: bool,
) -> Option<Vec<Keypoint>> {
    let nearer = if nearer_before { before } else { after };
    match (&before.keypoints, &after.keypoints) {
        (Some(a), Some(b)) if a.len() == b.len() => Some(
            a.iter()
                .zip(b)
                .map(|(ka, kb)| {
                    if visible(ka) && visible(kb) {
                        let lerp = |p: f32, q: f32| p + (q - p) * t;
                        Keypoint {
                            x: lerp(ka.x, kb.x),
                            y: lerp(ka.y, kb.y),
                            confidence: lerp(ka.confidence, kb.confidence),
                        }
                    } else if nearer_before {
                        *ka
                    } else {
                        *kb
                    }
                })
                .collect(),
        ),
        _ => nearer.keypoints.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(id: u64, x: f32) -> TrackedObject {
        TrackedObject {
            id,
            bbox: [x, 10.0, x + 20.0, 50.0],
            class_id: 2,
        }
    }

    fn point(x: f32, y: f32) -> Keypoint {
        let confidence = if x == 0.0 && y == 0.0 { 0.2 } else { 0.9 };
        Keypoint { x, y, confidence }
    }

    fn keyframe(
        index: u64,
        objects: Vec<TrackedObject>,
        keypoints: Option<Vec<Keypoint>>,
    ) -> Keyframe {
        Keyframe {
            index,
            motion: objects.iter().map(|o| (o.id, [2.0, 0.0])).collect(),
            objects,
            keypoints,
        }
    }

    #[test]
    fn a_track_at_both_ends_is_interpolated_with_its_id() {
        let a = keyframe(10, vec![object(1, 0.0)], None);
        let b = keyframe(14, vec![object(1, 40.0)], None);
        let f = between(&a, &b, 11, OneSided::Hold);
        assert_eq!(f.index, 11);
        assert_eq!(
            f.objects,
            vec![TrackedObject {
                bbox: [10.0, 10.0, 30.0, 50.0],
                ..object(1, 0.0)
            }]
        );
        assert_eq!(between(&a, &b, 13, OneSided::Hold).objects[0].bbox[0], 30.0);
    }

    #[test]
    fn a_track_at_one_end_is_kept_for_the_nearer_half() {
        // 1 is lost at the second keyframe, 2 is new there.
        let a = keyframe(0, vec![object(1, 0.0)], None);
        let b = keyframe(4, vec![object(2, 100.0)], None);
        let ids = |i| {
            between(&a, &b, i, OneSided::Hold)
                .objects
                .iter()
                .map(|o| o.id)
                .collect::<Vec<_>>()
        };
        assert_eq!(ids(1), vec![1]);
        assert_eq!(
            ids(2),
            vec![1],
            "the middle frame is the earlier keyframe's"
        );
        assert_eq!(ids(3), vec![2]);
        // Held: the keyframe's box. Carried: moved by 2 px per frame, forward
        // from the first keyframe and backward from the second.
        assert_eq!(between(&a, &b, 1, OneSided::Hold).objects[0].bbox[0], 0.0);
        assert_eq!(between(&a, &b, 1, OneSided::Carry).objects[0].bbox[0], 2.0);
        assert_eq!(between(&a, &b, 3, OneSided::Carry).objects[0].bbox[0], 98.0);
    }

    #[test]
    fn keypoints_visible_at_both_ends_are_interpolated_the_rest_held_from_the_nearer() {
        let a = keyframe(
            0,
            vec![],
            Some(vec![point(10.0, 20.0), point(0.0, 0.0), point(5.0, 5.0)]),
        );
        let b = keyframe(
            2,
            vec![],
            Some(vec![point(30.0, 40.0), point(7.0, 7.0), point(0.0, 0.0)]),
        );
        let k = between(&a, &b, 1, OneSided::Hold).keypoints.unwrap();
        assert_eq!((k[0].x, k[0].y), (20.0, 30.0));
        // Invisible at one end: the nearer keyframe's (the middle: the first).
        assert_eq!((k[1].x, k[1].y), (0.0, 0.0));
        assert_eq!((k[2].x, k[2].y), (5.0, 5.0));
        assert_eq!(k.len(), 3);
        let c = keyframe(
            3,
            vec![],
            Some(vec![point(30.0, 40.0), point(7.0, 7.0), point(0.0, 0.0)]),
        );
        let k = between(&a, &c, 2, OneSided::Hold).keypoints.unwrap();
        assert_eq!((k[1].x, k[1].y, k[2].x), (7.0, 7.0, 0.0));
        // No pitch at one end: the nearer keyframe's keypoints, or none.
        let none = keyframe(4, vec![], None);
        assert!(between(&a, &none, 1, OneSided::Hold).keypoints.is_some());
        assert!(between(&a, &none, 3, OneSided::Hold).keypoints.is_none());
    }
}
