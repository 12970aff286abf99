//! Class-aware NMS as ultralytics 8.3.48 runs it through torchvision
//! (docs/PARITY.md B2): boxes of different classes are pushed apart by
//! `class * 7680` (in f32, which loses precision the same way), then greedy
//! suppression with a strict `IoU > threshold`.

/// ultralytics' `max_wh`: the per-class offset that makes NMS class-aware.
const MAX_WH: f32 = 7680.0;

/// A candidate after the confidence filter, in anchor order.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Candidate {
    /// Corners `[x1, y1, x2, y2]` in letterboxed input pixels.
    pub xyxy: [f32; 4],
    /// The best class score, above the confidence threshold.
    pub score: f32,
    /// The class with that score (the first on ties).
    pub class_id: u32,
    /// The anchor it came from, to fetch keypoints for the survivors.
    pub anchor: usize,
}

/// Indices into `candidates` of the survivors, best first, at most `max_det`.
pub fn non_max_suppression(
    candidates: &[Candidate],
    iou_threshold: f32,
    max_det: usize,
) -> Vec<usize> {
    // torchvision sorts by score, descending; its sort is not stable, a
    // stable one agrees everywhere except exact ties.
    let mut order: Vec<usize> = (0..candidates.len()).collect();
    order.sort_by(|&a, &b| candidates[b].score.total_cmp(&candidates[a].score));
    let boxes: Vec<[f32; 4]> = candidates
        .iter()
        .map(|c| {
            let offset = c.class_id as f32 * MAX_WH;
            c.xyxy.map(|v| v + offset)
        })
        .collect();
    let areas: Vec<f32> = boxes
        .iter()
        .map(|b| (b[2] - b[0]) * (b[3] - b[1]))
        .collect();
    let mut suppressed = vec![false; candidates.len()];
    let mut keep = Vec::new();
    for (rank, &i) in order.iter().enumerate() {
        if suppressed[i] {
            continue;
        }
        keep.push(i);
        if keep.len() == max_det {
            break;
        }
        let bi = boxes[i];
        for &j in &order[rank + 1..] {
            if suppressed[j] {
                continue;
            }
            let bj = boxes[j];
            let w = (bi[2].min(bj[2]) - bi[0].max(bj[0])).max(0.0);
            let h = (bi[3].min(bj[3]) - bi[1].max(bj[1])).max(0.0);
            let inter = w * h;
            let iou = inter / (areas[i] + areas[j] - inter);
            if iou > iou_threshold {
                suppressed[j] = true;
            }
        }
    }
    keep
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cand(xyxy: [f32; 4], score: f32, class_id: u32) -> Candidate {
        Candidate {
            xyxy,
            score,
            class_id,
            anchor: 0,
        }
    }

    #[test]
    fn suppresses_overlaps_of_the_same_class_only() {
        let c = [
            cand([0.0, 0.0, 10.0, 10.0], 0.9, 2),
            cand([1.0, 0.0, 11.0, 10.0], 0.8, 2), // IoU 0.818 with the first
            cand([1.0, 0.0, 11.0, 10.0], 0.7, 3), // same box, other class
            cand([50.0, 50.0, 60.0, 60.0], 0.95, 2),
        ];
        assert_eq!(non_max_suppression(&c, 0.7, 300), vec![3, 0, 2]);
    }

    #[test]
    fn iou_equal_to_threshold_is_kept() {
        // IoU exactly 0.5: suppression needs IoU > threshold.
        let c = [
            cand([0.0, 0.0, 2.0, 1.0], 0.9, 0),
            cand([0.0, 0.0, 1.0, 1.0], 0.8, 0),
        ];
        assert_eq!(non_max_suppression(&c, 0.5, 300), vec![0, 1]);
        assert_eq!(non_max_suppression(&c, 0.49, 300), vec![0]);
    }

    #[test]
    fn stops_at_max_det() {
        let c: Vec<_> = (0..10)
            .map(|i| cand([i as f32 * 20.0, 0.0, i as f32 * 20.0 + 5.0, 5.0], 0.5, 0))
            .collect();
        assert_eq!(non_max_suppression(&c, 0.7, 3).len(), 3);
    }
}
