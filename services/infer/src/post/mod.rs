//! Postprocessing of YOLOv8 outputs exactly as ultralytics 8.3.48 does it
//! (docs/PARITY.md B): confidence filter, class-aware NMS, and mapping
//! boxes and keypoints from letterboxed input pixels back to the frame.

pub mod nms;

use sv_core::{Detection, Keypoint};

use crate::pre::Letterbox;
use nms::{Candidate, non_max_suppression};

/// ultralytics' `max_nms`: candidates kept before NMS.
const MAX_NMS: usize = 30_000;
/// ultralytics 8.3.48 zeroes the coordinates of keypoints below this.
pub const KEYPOINT_VISIBLE: f32 = 0.5;

/// The limits postprocessing applies, as ultralytics' predict arguments.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Thresholds {
    /// `conf`: candidates need a best class score strictly above this
    /// (`0.0..=1.0`).
    pub confidence: f32,
    /// `iou`: NMS drops a box whose IoU with a better one of its class is
    /// strictly above this (`0.0..=1.0`).
    pub iou: f32,
    /// `max_det`: the most detections kept per image, best first.
    pub max_det: usize,
}

impl Default for Thresholds {
    /// ultralytics predict defaults: conf 0.25, iou 0.7, max_det 300.
    fn default() -> Self {
        Self {
            confidence: 0.25,
            iou: 0.7,
            max_det: 300,
        }
    }
}

/// One image's slice of the output tensor `[4 + nc + extra, anchors]`.
pub struct Prediction<'a> {
    /// Row-major values: rows (cx, cy, w, h in letterboxed input pixels,
    /// then one score per class, then keypoints) of `anchors` values each.
    pub data: &'a [f32],
    /// Anchor points (candidate boxes) in the image: 8400 at 640x640.
    pub anchors: usize,
    /// Class-score rows, the number of the model's class names.
    pub classes: usize,
}

impl Prediction<'_> {
    fn at(&self, row: usize, anchor: usize) -> f32 {
        self.data[row * self.anchors + anchor]
    }

    /// Confidence filter and xywh -> xyxy, in anchor order.
    fn candidates(&self, confidence: f32) -> Vec<Candidate> {
        let mut out = Vec::new();
        for anchor in 0..self.anchors {
            let (mut best, mut class_id) = (self.at(4, anchor), 0);
            for c in 1..self.classes {
                let score = self.at(4 + c, anchor);
                if score > best {
                    (best, class_id) = (score, c);
                }
            }
            if best > confidence {
                let (cx, cy) = (self.at(0, anchor), self.at(1, anchor));
                let (hw, hh) = (self.at(2, anchor) / 2.0, self.at(3, anchor) / 2.0);
                out.push(Candidate {
                    xyxy: [cx - hw, cy - hh, cx + hw, cy + hh],
                    score: best,
                    class_id: class_id as u32,
                    anchor,
                });
            }
        }
        if out.len() > MAX_NMS {
            out.sort_by(|a, b| b.score.total_cmp(&a.score));
            out.truncate(MAX_NMS);
        }
        out
    }

    /// NMS survivors, best first.
    fn survivors(&self, thresholds: &Thresholds) -> Vec<Candidate> {
        let candidates = self.candidates(thresholds.confidence);
        non_max_suppression(&candidates, thresholds.iou, thresholds.max_det)
            .into_iter()
            .map(|i| candidates[i])
            .collect()
    }
}

/// `scale_boxes` + clip: letterboxed pixels -> frame pixels (PARITY B3).
fn scale_box(xyxy: [f32; 4], lb: &Letterbox) -> [f32; 4] {
    let (pad_x, pad_y, gain) = lb.box_transform();
    let (w, h) = (lb.src_w as f32, lb.src_h as f32);
    [
        ((xyxy[0] - pad_x) / gain).clamp(0.0, w),
        ((xyxy[1] - pad_y) / gain).clamp(0.0, h),
        ((xyxy[2] - pad_x) / gain).clamp(0.0, w),
        ((xyxy[3] - pad_y) / gain).clamp(0.0, h),
    ]
}

/// Detections of a detect model in frame pixels, NMS order.
pub fn detections(
    prediction: &Prediction<'_>,
    lb: &Letterbox,
    thresholds: &Thresholds,
) -> Vec<Detection> {
    prediction
        .survivors(thresholds)
        .into_iter()
        .map(|c| Detection {
            bbox: scale_box(c.xyxy, lb),
            confidence: c.score,
            class_id: c.class_id,
        })
        .collect()
}

/// A pose instance: its (rounded) box, score and keypoints in frame pixels.
#[derive(Debug, Clone, PartialEq)]
pub struct PoseInstance {
    /// The instance's box in frame pixels, rounded to whole pixels as the
    /// pose predictor does, and its score.
    pub detection: Detection,
    /// Its keypoints in the model's order, in frame pixels; those below
    /// [`KEYPOINT_VISIBLE`] are at (0, 0) with their confidence kept.
    pub keypoints: Vec<Keypoint>,
}

/// Pose instances in frame pixels, NMS order (PARITY B4): keypoints use the
/// unrounded pad, are clipped to the frame, and those with confidence below
/// 0.5 get (0, 0) as `Results.keypoints.xy` gives them.
pub fn poses(
    prediction: &Prediction<'_>,
    lb: &Letterbox,
    thresholds: &Thresholds,
    keypoints: usize,
) -> Vec<PoseInstance> {
    let (pad_x, pad_y, gain) = lb.keypoint_transform();
    let (w, h) = (lb.src_w as f32, lb.src_h as f32);
    let first = 4 + prediction.classes;
    prediction
        .survivors(thresholds)
        .into_iter()
        .map(|c| {
            let keypoints = (0..keypoints)
                .map(|k| {
                    let row = first + 3 * k;
                    let x = ((prediction.at(row, c.anchor) - pad_x) / gain).clamp(0.0, w);
                    let y = ((prediction.at(row + 1, c.anchor) - pad_y) / gain).clamp(0.0, h);
                    let confidence = prediction.at(row + 2, c.anchor);
                    if confidence < KEYPOINT_VISIBLE {
                        Keypoint {
                            x: 0.0,
                            y: 0.0,
                            confidence,
                        }
                    } else {
                        Keypoint { x, y, confidence }
                    }
                })
                .collect();
            // The pose predictor rounds its boxes (torch round: half to even).
            let bbox = scale_box(c.xyxy, lb).map(f32::round_ties_even);
            PoseInstance {
                detection: Detection {
                    bbox,
                    confidence: c.score,
                    class_id: c.class_id,
                },
                keypoints,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A [4 + nc, anchors] tensor with the given (cx, cy, w, h, scores...) columns.
    fn tensor(columns: &[Vec<f32>]) -> Vec<f32> {
        let rows = columns[0].len();
        (0..rows)
            .flat_map(|r| columns.iter().map(move |c| c[r]))
            .collect()
    }

    #[test]
    fn filters_maps_back_and_orders_by_score() {
        let lb = Letterbox::new(1920, 1080, (1280, 1280), 32, true); // 736x1280, top 8, gain 2/3
        let data = tensor(&[
            vec![100.0, 108.0, 20.0, 40.0, 0.1, 0.2, 0.9, 0.0], // player, kept
            vec![300.0, 308.0, 10.0, 10.0, 0.25, 0.0, 0.0, 0.0], // exactly conf: dropped (strict)
            vec![640.0, 368.0, 30.0, 30.0, 0.0, 0.95, 0.0, 0.3], // goalkeeper, best
        ]);
        let p = Prediction {
            data: &data,
            anchors: 3,
            classes: 4,
        };
        let d = detections(&p, &lb, &Thresholds::default());
        assert_eq!(d.len(), 2);
        assert_eq!((d[0].class_id, d[1].class_id), (1, 2));
        let gain = (2.0f64 / 3.0) as f32;
        assert_eq!(
            d[1].bbox,
            [
                (90.0 - 0.0) / gain,
                (88.0 - 8.0) / gain,
                110.0 / gain,
                (128.0 - 8.0) / gain
            ]
        );
    }

    #[test]
    fn keypoints_below_half_confidence_are_zeroed_after_clipping() {
        let lb = Letterbox::new(640, 384, (640, 640), 32, true); // identity: no resize, no pad
        let mut columns = vec![vec![320.0, 192.0, 100.0, 100.0, 0.8]];
        columns[0].extend([700.0, 10.0, 0.9, 50.0, 60.0, 0.49]);
        let data = tensor(&columns);
        let p = Prediction {
            data: &data,
            anchors: 1,
            classes: 1,
        };
        let poses = poses(&p, &lb, &Thresholds::default(), 2);
        assert_eq!(
            poses[0].keypoints[0],
            Keypoint {
                x: 640.0,
                y: 10.0,
                confidence: 0.9
            }
        );
        assert_eq!(
            poses[0].keypoints[1],
            Keypoint {
                x: 0.0,
                y: 0.0,
                confidence: 0.49
            }
        );
    }
}
