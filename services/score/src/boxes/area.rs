//! The area factor (the validator's `multiplication_factor`): a frame's box
//! score is scaled down when its kept boxes are large on average or cover
//! much of the frame.

/// `exp(-80 (avg - 0.015))` past 1.5% of the frame per box on average,
/// else `exp(-3 (cover - 0.15))` past 15% covered in all, else 1.
pub fn area_factor(boxes: &[[f64; 4]], width: i32, height: i32) -> f64 {
    if boxes.is_empty() {
        return 1.0;
    }
    let total: f64 = boxes
        .iter()
        .map(|[x1, y1, x2, y2]| (x2 - x1).abs() * (y2 - y1).abs())
        .sum();
    let cover = total / (f64::from(height) * f64::from(width));
    let average = cover / boxes.len() as f64;
    if average <= 0.015 {
        if cover <= 0.15 {
            1.0
        } else {
            (-3.0 * (cover - 0.15)).exp()
        }
    } else {
        (-80.0 * (average - 0.015)).exp()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_boxes_are_free_and_large_ones_cost() {
        // 20 boxes of 20x50 px in 1280x720: 0.11% each, 2.2% in all.
        let small = vec![[0.0, 0.0, 20.0, 50.0]; 20];
        assert_eq!(area_factor(&small, 1280, 720), 1.0);
        // One box of a quarter of the frame: exp(-80 * 0.235).
        let big = [[0.0, 0.0, 640.0, 360.0]];
        assert!((area_factor(&big, 1280, 720) - (-80.0f64 * 0.235).exp()).abs() < 1e-12);
        // 150 boxes of 1% each: 150% covered, average under 1.5%.
        let many = vec![[0.0, 0.0, 128.0, 72.0]; 150];
        assert!((area_factor(&many, 1280, 720) - (-3.0f64 * 1.35).exp()).abs() < 1e-12);
    }
}
