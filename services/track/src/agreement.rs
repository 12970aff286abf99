//! [`Agreement`]: how closely one answer follows another, frame by frame.
//! Used to measure what `--infer-interval` costs: an answer with the models
//! run on keyframes only against the every-frame answer of the same models
//! (tests/bench/README.md, `scorevision bench --sweep-interval`).
//!
//! - Boxes: in each frame, boxes of the same class are paired greedily,
//!   highest IoU first, each box at most once; recall is the share of the
//!   reference's boxes paired, precision the share of the answer's, at IoU
//!   0.5 and at 0.7.
//! - Ids: the boxes paired at IoU 0.5 give (reference id, answer id) pairs
//!   over the whole clip; ids map one to one, most frequent pairs first
//!   (the two answers' trackers number their tracks independently), and id
//!   consistency is the share of paired boxes whose pair is in the map.
//! - Keypoints: the distance in pixels between points visible in both
//!   (`[0.0, 0.0]` is not visible), and the share of the 32 pairs whose
//!   visibility agrees (a frame with `[]` counts as 32 invisible points).

use std::collections::HashMap;

use sv_core::{FrameResult, ObjectResult, PITCH_KEYPOINTS};

/// What [`Agreement::between`] measured; rates are 0 to 1.
#[derive(Debug, Clone, PartialEq)]
pub struct Agreement {
    /// Frames compared: the longer of the two answers.
    pub frames: usize,
    /// Boxes in the reference, over every frame.
    pub reference_boxes: usize,
    /// Boxes in the answer, over every frame.
    pub answer_boxes: usize,
    /// Share of the reference's boxes paired with an answer box of the same
    /// class at IoU 0.5 or more (1 when the reference has none).
    pub recall_50: f64,
    /// Share of the answer's boxes paired at IoU 0.5 or more (1 when the
    /// answer has none).
    pub precision_50: f64,
    /// As `recall_50`, counting only pairs that overlap at IoU 0.7 or more.
    pub recall_70: f64,
    /// As `precision_50`, counting only pairs that overlap at IoU 0.7 or more.
    pub precision_70: f64,
    /// Share of the boxes paired at IoU 0.5 whose ids agree under the
    /// one-to-one id map (1 when nothing was paired).
    pub id_consistency: f64,
    /// Keypoints visible in both answers: mean of their distance, pixels
    /// (0 when none is).
    pub keypoint_mean_px: f64,
    /// Keypoints visible in both answers: 95th percentile (nearest rank) of
    /// their distance, pixels (0 when none is).
    pub keypoint_p95_px: f64,
    /// Share of keypoints visible in both or in neither.
    pub visibility: f64,
}

impl Agreement {
    /// `answer` against `reference`, frame by frame (a frame missing from
    /// one side counts as a frame with nothing in it).
    pub fn between(reference: &[FrameResult], answer: &[FrameResult]) -> Self {
        let empty = FrameResult {
            frame_number: 0,
            keypoints: Vec::new(),
            objects: Vec::new(),
        };
        let frames = reference.len().max(answer.len());
        let mut counts = Counts::default();
        for i in 0..frames {
            let r = reference.get(i).unwrap_or(&empty);
            let a = answer.get(i).unwrap_or(&empty);
            counts.boxes(&r.objects, &a.objects);
            counts.keypoints(&r.keypoints, &a.keypoints);
        }
        counts.finish(frames)
    }

    /// Box agreement: the lower of recall and precision at IoU 0.5, what
    /// `scorevision bench --min-agreement` holds a setting to.
    pub fn boxes(&self) -> f64 {
        self.recall_50.min(self.precision_50)
    }
}

#[derive(Debug, Default)]
struct Counts {
    reference_boxes: usize,
    answer_boxes: usize,
    paired_50: usize,
    paired_70: usize,
    /// (reference id, answer id) -> boxes paired at IoU 0.5.
    ids: HashMap<(u64, u64), usize>,
    distances: Vec<f64>,
    points: usize,
    visibility_agrees: usize,
}

impl Counts {
    fn boxes(&mut self, reference: &[ObjectResult], answer: &[ObjectResult]) {
        self.reference_boxes += reference.len();
        self.answer_boxes += answer.len();
        let mut candidates: Vec<(f64, usize, usize)> = Vec::new();
        for (i, r) in reference.iter().enumerate() {
            for (j, a) in answer.iter().enumerate() {
                let overlap = iou(&r.bbox, &a.bbox);
                if r.class_id == a.class_id && overlap >= 0.5 {
                    candidates.push((overlap, i, j));
                }
            }
        }
        candidates.sort_by(|x, y| y.0.total_cmp(&x.0));
        let mut used_r = vec![false; reference.len()];
        let mut used_a = vec![false; answer.len()];
        for (overlap, i, j) in candidates {
            if used_r[i] || used_a[j] {
                continue;
            }
            used_r[i] = true;
            used_a[j] = true;
            self.paired_50 += 1;
            self.paired_70 += usize::from(overlap >= 0.7);
            *self.ids.entry((reference[i].id, answer[j].id)).or_default() += 1;
        }
    }

    fn keypoints(&mut self, reference: &[[f64; 2]], answer: &[[f64; 2]]) {
        let none = [0.0, 0.0];
        for k in 0..reference.len().max(answer.len()).max(PITCH_KEYPOINTS) {
            let r = reference.get(k).unwrap_or(&none);
            let a = answer.get(k).unwrap_or(&none);
            let (seen_r, seen_a) = (*r != none, *a != none);
            self.points += 1;
            self.visibility_agrees += usize::from(seen_r == seen_a);
            if seen_r && seen_a {
                self.distances.push((r[0] - a[0]).hypot(r[1] - a[1]));
            }
        }
    }

    fn finish(mut self, frames: usize) -> Agreement {
        let rate = |n: usize, of: usize| if of == 0 { 1.0 } else { n as f64 / of as f64 };
        // One to one, most frequent pairs first.
        let mut pairs: Vec<((u64, u64), usize)> = self.ids.into_iter().collect();
        pairs.sort_by(|x, y| y.1.cmp(&x.1).then(x.0.cmp(&y.0)));
        let (mut mapped_r, mut mapped_a) = (Vec::new(), Vec::new());
        let mut consistent = 0;
        for ((r, a), n) in pairs {
            if !mapped_r.contains(&r) && !mapped_a.contains(&a) {
                mapped_r.push(r);
                mapped_a.push(a);
                consistent += n;
            }
        }
        self.distances.sort_by(f64::total_cmp);
        let d = &self.distances;
        let mean = if d.is_empty() {
            0.0
        } else {
            d.iter().sum::<f64>() / d.len() as f64
        };
        let p95 = d
            .get((d.len() * 95).div_ceil(100).saturating_sub(1))
            .copied()
            .unwrap_or(0.0);
        Agreement {
            frames,
            reference_boxes: self.reference_boxes,
            answer_boxes: self.answer_boxes,
            recall_50: rate(self.paired_50, self.reference_boxes),
            precision_50: rate(self.paired_50, self.answer_boxes),
            recall_70: rate(self.paired_70, self.reference_boxes),
            precision_70: rate(self.paired_70, self.answer_boxes),
            id_consistency: rate(consistent, self.paired_50),
            keypoint_mean_px: mean,
            keypoint_p95_px: p95,
            visibility: rate(self.visibility_agrees, self.points),
        }
    }
}

fn iou(a: &[f64; 4], b: &[f64; 4]) -> f64 {
    let w = (a[2].min(b[2]) - a[0].max(b[0])).max(0.0);
    let h = (a[3].min(b[3]) - a[1].max(b[1])).max(0.0);
    let inter = w * h;
    let area = |r: &[f64; 4]| (r[2] - r[0]).max(0.0) * (r[3] - r[1]).max(0.0);
    let union = area(a) + area(b) - inter;
    if union <= 0.0 { 0.0 } else { inter / union }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(id: u64, x: f64, class_id: u32) -> ObjectResult {
        ObjectResult {
            id,
            bbox: [x, 0.0, x + 10.0, 20.0],
            class_id,
        }
    }

    fn frame(n: u64, objects: Vec<ObjectResult>, keypoints: Vec<[f64; 2]>) -> FrameResult {
        FrameResult {
            frame_number: n,
            keypoints,
            objects,
        }
    }

    #[test]
    fn an_answer_agrees_with_itself() {
        let f = vec![frame(
            0,
            vec![object(1, 0.0, 2), object(2, 50.0, 0)],
            vec![[3.0, 4.0]; 32],
        )];
        let a = Agreement::between(&f, &f);
        assert_eq!(
            (a.recall_50, a.precision_70, a.id_consistency, a.visibility),
            (1.0, 1.0, 1.0, 1.0)
        );
        assert_eq!((a.keypoint_mean_px, a.boxes()), (0.0, 1.0));
    }

    #[test]
    fn shifted_missing_and_extra_boxes_count() {
        let reference = vec![frame(
            0,
            vec![object(1, 0.0, 2), object(2, 50.0, 2)],
            vec![],
        )];
        // One box 2 px off (IoU 8/12 = 0.67: paired at 0.5, not at 0.7),
        // one missing, one extra, one of another class on top of it.
        let answer = vec![frame(
            0,
            vec![object(7, 2.0, 2), object(8, 200.0, 2), object(9, 50.0, 3)],
            vec![],
        )];
        let a = Agreement::between(&reference, &answer);
        assert_eq!((a.recall_50, a.recall_70), (0.5, 0.0));
        assert!((a.precision_50 - 1.0 / 3.0).abs() < 1e-12);
        assert_eq!(a.id_consistency, 1.0, "ids are compared through the map");
    }

    #[test]
    fn an_id_switch_breaks_consistency() {
        let reference: Vec<_> = (0..4)
            .map(|n| frame(n, vec![object(1, 0.0, 2)], vec![]))
            .collect();
        let answer: Vec<_> = (0..4)
            .map(|n| frame(n, vec![object(if n < 3 { 5 } else { 6 }, 0.0, 2)], vec![]))
            .collect();
        assert_eq!(Agreement::between(&reference, &answer).id_consistency, 0.75);
    }

    #[test]
    fn keypoints_are_compared_where_both_are_visible() {
        let mut r = vec![[0.0, 0.0]; 32];
        let mut a = vec![[0.0, 0.0]; 32];
        r[0] = [10.0, 10.0];
        a[0] = [13.0, 14.0];
        r[1] = [5.0, 5.0];
        let got = Agreement::between(&[frame(0, vec![], r)], &[frame(0, vec![], a)]);
        assert_eq!(got.keypoint_mean_px, 5.0);
        assert_eq!(got.visibility, 31.0 / 32.0);
        // `[]` is 32 invisible points.
        let empty = Agreement::between(
            &[frame(0, vec![], vec![])],
            &[frame(0, vec![], vec![[0.0, 0.0]; 32])],
        );
        assert_eq!(empty.visibility, 1.0);
    }
}
