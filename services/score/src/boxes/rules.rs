//! The box rules both halves of the validator apply before looking at a
//! box: a minimum size (balls exempt) and the scoreboard zone.
//!
//! Quirk kept: "touching the scoreboard zone" is any box whose top edge is at
//! or above y = 150 px (absolute pixels, whatever the resolution) and that is
//! not wholly left of, right of or above the frame, so a player standing near
//! the far touchline of a wide shot is dropped too.

use crate::answer::Object;

/// Boxes narrower than this (px) are dropped, balls excepted.
pub const MIN_WIDTH: f64 = 15.0;
/// Boxes shorter than this (px) are dropped, balls excepted.
pub const MIN_HEIGHT: f64 = 40.0;
/// The bottom of the scoreboard zone, px from the top.
pub const SCOREBOARD_BOTTOM: f64 = 150.0;
/// The class id of the ball.
pub const BALL: u32 = 0;

/// `x1, y1, x2, y2 = obj["bbox"]`: an object without exactly four values
/// makes the validator raise.
pub fn corners(object: &Object) -> Result<[f64; 4], String> {
    match object.bbox.as_deref() {
        Some(&[x1, y1, x2, y2]) => Ok([x1, y1, x2, y2]),
        Some(other) => Err(format!("a bbox of {} values", other.len())),
        None => Err("an object without a bbox".into()),
    }
}

/// `is_bbox_large_enough`: balls always; others at least 15 x 40 px.
pub fn large_enough(object: &Object, [x1, y1, x2, y2]: [f64; 4]) -> bool {
    object.is_class(BALL) || (x2 - x1 >= MIN_WIDTH && y2 - y1 >= MIN_HEIGHT)
}

/// `is_touching_scoreboard_zone` for a frame `width` px wide.
pub fn touches_scoreboard([x1, y1, x2, y2]: [f64; 4], width: f64) -> bool {
    !(x2 < 0.0 || x1 > width || y2 < 0.0 || y1 > SCOREBOARD_BOTTOM)
}

/// Why a box was dropped, if it was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dropped {
    /// A non-ball box under 15 x 40 px ([`large_enough`]).
    TooSmall,
    /// A box reaching into the scoreboard band at the top of the frame
    /// ([`touches_scoreboard`]).
    Scoreboard,
}

/// The rule that drops `object`, in the validator's order (size first).
pub fn dropped_by(object: &Object, corners: [f64; 4], width: f64) -> Option<Dropped> {
    if !large_enough(object, corners) {
        Some(Dropped::TooSmall)
    } else if touches_scoreboard(corners, width) {
        Some(Dropped::Scoreboard)
    } else {
        None
    }
}

/// The boxes the keypoint score looks at (`filter_valid_bboxes_for_keypoints`),
/// in the miner's order.
pub fn kept_for_keypoints(objects: &[Object], width: i32) -> Result<Vec<[f64; 4]>, String> {
    let mut kept = Vec::new();
    for object in objects {
        let c = corners(object)?;
        if dropped_by(object, c, f64::from(width)).is_none() {
            kept.push(c);
        }
    }
    Ok(kept)
}

/// A box's centre.
pub fn centre([x1, y1, x2, y2]: [f64; 4]) -> [f64; 2] {
    [(x1 + x2) / 2.0, (y1 + y2) / 2.0]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(class: f64, bbox: [f64; 4]) -> Object {
        Object {
            bbox: Some(bbox.to_vec()),
            class_id: Some(class),
            id: None,
        }
    }

    #[test]
    fn size_then_scoreboard() {
        let player = object(2.0, [100.0, 200.0, 115.0, 240.0]);
        assert_eq!(dropped_by(&player, corners(&player).unwrap(), 1280.0), None);
        let thin = object(2.0, [100.0, 200.0, 114.99, 240.0]);
        assert_eq!(
            dropped_by(&thin, corners(&thin).unwrap(), 1280.0),
            Some(Dropped::TooSmall)
        );
        let ball = object(0.0, [100.0, 200.0, 101.0, 201.0]);
        assert_eq!(dropped_by(&ball, corners(&ball).unwrap(), 1280.0), None);
        // Top edge at 150 px: in the zone; at 150.01: out of it.
        let high = object(2.0, [100.0, 150.0, 120.0, 200.0]);
        assert_eq!(
            dropped_by(&high, corners(&high).unwrap(), 1280.0),
            Some(Dropped::Scoreboard)
        );
        let low = object(2.0, [100.0, 150.01, 120.0, 200.0]);
        assert_eq!(dropped_by(&low, corners(&low).unwrap(), 1280.0), None);
        // Wholly right of the frame: not in the zone.
        let right = object(2.0, [1281.0, 10.0, 1300.0, 60.0]);
        assert_eq!(dropped_by(&right, corners(&right).unwrap(), 1280.0), None);
        let short = Object {
            bbox: Some(vec![1.0, 2.0, 3.0]),
            ..player
        };
        assert!(corners(&short).unwrap_err().contains("3 values"));
    }
}
