//! The pitch model the validator's keypoint score measures against: the 32
//! vertices of score-vision's `SoccerPitchConfiguration`, in centimetres,
//! `x` along the 120 m length and `y` across the 70 m width. Keypoint `i` of
//! an answer is vertex `i`.

/// The pitch's width (across, the y axis), cm.
pub const WIDTH_CM: f64 = 7000.0;
/// The pitch's length (along, the x axis), cm.
pub const LENGTH_CM: f64 = 12000.0;

/// The 32 vertices `(x, y)` in cm, in keypoint order.
pub const VERTICES: [(f32, f32); 32] = [
    (0.0, 0.0),
    (0.0, 1450.0),
    (0.0, 2584.0),
    (0.0, 4416.0),
    (0.0, 5550.0),
    (0.0, 7000.0),
    (550.0, 2584.0),
    (550.0, 4416.0),
    (1100.0, 3500.0),
    (2015.0, 1450.0),
    (2015.0, 2584.0),
    (2015.0, 4416.0),
    (2015.0, 5550.0),
    (6000.0, 0.0),
    (6000.0, 2585.0),
    (6000.0, 4415.0),
    (6000.0, 7000.0),
    (9985.0, 1450.0),
    (9985.0, 2584.0),
    (9985.0, 4416.0),
    (9985.0, 5550.0),
    (10900.0, 3500.0),
    (11450.0, 2584.0),
    (11450.0, 4416.0),
    (12000.0, 0.0),
    (12000.0, 1450.0),
    (12000.0, 2584.0),
    (12000.0, 4416.0),
    (12000.0, 5550.0),
    (12000.0, 7000.0),
    (5085.0, 3500.0),
    (6915.0, 3500.0),
];

/// The homography target of vertex `index` for a `width` x `height` video.
///
/// Quirk kept: the validator scales x (along the 12000 cm length) by
/// `width / 7000` and y (across the 7000 cm width) by `height / 12000`, so
/// the target plane is a stretched pitch (about 2194 x 420 at 1280x720) and
/// every RANSAC threshold and reprojection error is measured in its units.
/// The f32 vertex is widened before the multiplication, as numpy does.
pub fn scaled_vertex(index: usize, width: i32, height: i32) -> Option<[f64; 2]> {
    let (x, y) = *VERTICES.get(index)?;
    Some([
        f64::from(x) * (f64::from(width) / WIDTH_CM),
        f64::from(y) * (f64::from(height) / LENGTH_CM),
    ])
}

/// The outline the validator's "inside the pitch" test uses: vertices 1, 6,
/// 30 and 25 in cm, unscaled (quirk: the tested point is in scaled units).
pub const OUTLINE_CM: [(i32, i32); 4] = [(0, 0), (0, 7000), (12000, 7000), (12000, 0)];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scaled_targets_stretch_the_pitch_as_the_validator_does() {
        // Vertex 25 (index 24), the far corner: 12000 * 1280 / 7000.
        let [x, y] = scaled_vertex(24, 1280, 720).unwrap();
        assert!((x - 2194.285714285714).abs() < 1e-9, "{x}");
        assert_eq!(y, 0.0);
        let [_, y] = scaled_vertex(5, 1280, 720).unwrap();
        assert!((y - 420.0).abs() < 1e-12, "{y}");
        assert_eq!(scaled_vertex(32, 1280, 720), None);
    }
}
