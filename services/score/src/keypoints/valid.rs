//! Which keypoints count (the validator's `get_valid_keypoints`): not
//! exactly `(0, 0)`, optionally inside the frame, then thinned greedily.
//!
//! Quirk kept: the thinning walks the points by index and drops any point
//! closer than 25 px to one already kept, even when the later one is the
//! right one. Every caller in the validator thins (min_dist 25).

/// The distance under which a later keypoint is dropped, px.
const MIN_DIST: f64 = 25.0;

/// Points and their original indices.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Valid {
    /// The kept `[x, y]` points, pixels, in index order.
    pub points: Vec<[f64; 2]>,
    /// Each kept point's index in the answer's keypoint list (which pitch
    /// point it is), parallel to `points`.
    pub indices: Vec<usize>,
}

impl Valid {
    /// How many points were kept.
    pub fn len(&self) -> usize {
        self.points.len()
    }

    /// True when no point was kept.
    pub fn is_empty(&self) -> bool {
        self.points.is_empty()
    }

    /// The point at original index `index`, if kept.
    pub fn at(&self, index: usize) -> Option<[f64; 2]> {
        self.indices
            .iter()
            .position(|&i| i == index)
            .map(|at| self.points[at])
    }
}

/// `get_valid_keypoints(points, W, H)` with `bounds = Some((W, H))`, or
/// without bounds.
pub fn valid_keypoints(points: &[[f64; 2]], bounds: Option<(i32, i32)>) -> Valid {
    let mut valid = Valid::default();
    for (index, &[x, y]) in points.iter().enumerate() {
        if x == 0.0 && y == 0.0 {
            continue;
        }
        if let Some((w, h)) = bounds
            && !(x >= 0.0 && x < f64::from(w) && y >= 0.0 && y < f64::from(h))
        {
            continue;
        }
        let far = valid
            .points
            .iter()
            .all(|&[px, py]| distance([x, y], [px, py]) >= MIN_DIST);
        if far {
            valid.points.push([x, y]);
            valid.indices.push(index);
        }
    }
    valid
}

/// Euclidean distance (numpy's `linalg.norm` of the difference).
pub fn distance(a: [f64; 2], b: [f64; 2]) -> f64 {
    let (dx, dy) = (a[0] - b[0], a[1] - b[1]);
    (dx * dx + dy * dy).sqrt()
}

/// The sorted common indices of two sets (numpy's `intersect1d`).
pub fn common_indices(a: &Valid, b: &Valid) -> Vec<usize> {
    let mut common: Vec<usize> = a
        .indices
        .iter()
        .copied()
        .filter(|i| b.indices.contains(i))
        .collect();
    common.sort_unstable();
    common.dedup();
    common
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zeros_and_out_of_frame_points_are_dropped_then_close_ones_by_index() {
        let points = [
            [0.0, 0.0],
            [100.0, 100.0],
            [110.0, 100.0], // 10 px from index 1: dropped although valid
            [1280.0, 5.0],  // x == W: outside (strict)
            [200.0, 100.0],
            [-0.0, 0.0],
        ];
        let v = valid_keypoints(&points, Some((1280, 720)));
        assert_eq!(v.indices, [1, 4]);
        let unbounded = valid_keypoints(&points, None);
        assert_eq!(unbounded.indices, [1, 3, 4]);
        assert_eq!(unbounded.at(3), Some([1280.0, 5.0]));
        assert_eq!(common_indices(&v, &unbounded), [1, 4]);
        // Exactly 25 px apart: both kept (>=).
        let edge = valid_keypoints(&[[10.0, 10.0], [35.0, 10.0]], None);
        assert_eq!(edge.len(), 2);
    }
}
