//! The infer stage against ultralytics 8.3.48 itself: the golden outputs
//! were made by ultralytics on the same models and the same (saved) frames,
//! so any difference is ours. Preprocessing must be bit-exact (letterbox
//! md5); boxes, classes, scores and keypoints must agree. Every check runs
//! on each model family's fixtures (YOLOv8, YOLO11: `sv_tests::FAMILIES`).

use md5::{Digest, Md5};
use sv_core::Frame;
use sv_infer::model::{ModelOutput, YoloModel};
use sv_infer::post::PoseInstance;
use sv_tests::golden::{Golden, ModelGolden};
use sv_tests::{Family, golden_frames, open_model};

fn iou(a: [f64; 4], b: [f64; 4]) -> f64 {
    let w = (a[2].min(b[2]) - a[0].max(b[0])).max(0.0);
    let h = (a[3].min(b[3]) - a[1].max(b[1])).max(0.0);
    let inter = w * h;
    let union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter;
    if union <= 0.0 {
        if a == b { 1.0 } else { 0.0 }
    } else {
        inter / union
    }
}

fn widen(b: [f32; 4]) -> [f64; 4] {
    b.map(f64::from)
}

/// Same count, and per box (in NMS order): IoU >= 0.99, the same class and
/// a score within 1e-4.
fn compare_boxes(what: &str, frame: u64, ours: &[([f32; 4], f32, u32)], golden: &ModelGolden) {
    assert_eq!(
        ours.len(),
        golden.xyxy.len(),
        "{what} frame {frame}: {} boxes, ultralytics found {}",
        ours.len(),
        golden.xyxy.len()
    );
    for (i, (bbox, conf, class)) in ours.iter().enumerate() {
        let overlap = iou(widen(*bbox), golden.xyxy[i]);
        assert!(
            overlap >= 0.99,
            "{what} frame {frame} box {i}: IoU {overlap} ({bbox:?} vs {:?})",
            golden.xyxy[i]
        );
        assert_eq!(
            f64::from(*class),
            golden.cls[i],
            "{what} frame {frame} box {i}: class"
        );
        assert!(
            (f64::from(*conf) - golden.conf[i]).abs() < 1e-4,
            "{what} frame {frame} box {i}: conf {conf} vs {}",
            golden.conf[i]
        );
    }
}

fn compare_keypoints(fam: &str, frame: u64, ours: &[PoseInstance], golden: &ModelGolden) {
    for (i, (pose, want)) in ours.iter().zip(&golden.keypoints).enumerate() {
        assert_eq!(
            pose.keypoints.len(),
            want.len(),
            "{fam} frame {frame} instance {i}: keypoint count"
        );
        for (k, (kp, w)) in pose.keypoints.iter().zip(want).enumerate() {
            let (dx, dy) = (
                (f64::from(kp.x) - w[0]).abs(),
                (f64::from(kp.y) - w[1]).abs(),
            );
            assert!(
                dx <= 0.5 && dy <= 0.5,
                "{fam} frame {frame} instance {i} keypoint {k}: ({}, {}) vs ({}, {})",
                kp.x,
                kp.y,
                w[0],
                w[1]
            );
            assert!(
                (f64::from(kp.confidence) - w[2]).abs() < 1e-4,
                "{fam} frame {frame} keypoint {k}: visibility"
            );
        }
    }
}

fn md5_hex(bytes: &[u8]) -> String {
    Md5::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Letterboxing is bit-exact: same input shape, same bytes.
fn check_letterbox(what: &str, model: &YoloModel, frame: &Frame, golden: &ModelGolden) {
    let lb = model.letterbox(frame.width, frame.height);
    assert_eq!(
        [lb.out_h, lb.out_w],
        golden.input_shape,
        "{what} frame {}: input shape",
        frame.index
    );
    let mut canvas = vec![0; (lb.out_w * lb.out_h * 3) as usize];
    lb.draw(frame, &mut canvas);
    assert_eq!(
        md5_hex(&canvas),
        golden.letterbox_rgb_md5,
        "{what} frame {}: letterboxed pixels differ",
        frame.index
    );
}

fn setup(family: &Family) -> (Golden, Vec<Frame>, YoloModel, YoloModel) {
    let golden = family.golden().unwrap();
    let frames = golden_frames(&golden).unwrap();
    let players = open_model(&family.player_model(), 1280).unwrap();
    let pitch = open_model(&family.pitch_model(), 640).unwrap();
    (golden, frames, players, pitch)
}

fn run_parity(family: &Family, batch: usize) {
    let (golden, frames, mut players, mut pitch) = setup(family);
    let fam = family.name;
    assert_eq!(frames.len(), golden.frames.len());
    let (mut boxes, mut keypoints_visible) = (0, 0);
    for (chunk, goldens) in frames.chunks(batch).zip(golden.frames.chunks(batch)) {
        let player_out = players.predict(chunk).unwrap();
        let pitch_out = pitch.predict(chunk).unwrap();
        for ((frame, g), (p, q)) in chunk
            .iter()
            .zip(goldens)
            .zip(player_out.into_iter().zip(pitch_out))
        {
            check_letterbox(&format!("{fam} players"), &players, frame, &g.players);
            check_letterbox(&format!("{fam} pitch"), &pitch, frame, &g.pitch);
            let ModelOutput::Detections(dets) = p else {
                panic!("{fam} player model gave poses")
            };
            let ours: Vec<_> = dets
                .iter()
                .map(|d| (d.bbox, d.confidence, d.class_id))
                .collect();
            compare_boxes(&format!("{fam} players"), frame.index, &ours, &g.players);
            let ModelOutput::Poses(poses) = q else {
                panic!("{fam} pitch model gave plain detections")
            };
            let ours: Vec<_> = poses
                .iter()
                .map(|p| {
                    (
                        p.detection.bbox,
                        p.detection.confidence,
                        p.detection.class_id,
                    )
                })
                .collect();
            compare_boxes(&format!("{fam} pitch"), frame.index, &ours, &g.pitch);
            compare_keypoints(fam, frame.index, &poses, &g.pitch);
            boxes += dets.len();
            keypoints_visible += poses.first().map_or(0, |p| {
                p.keypoints.iter().filter(|k| k.confidence >= 0.5).count()
            });
        }
    }
    // The fixtures are only a test if the models actually find things.
    assert!(
        boxes >= frames.len(),
        "{fam}: only {boxes} player boxes in {} frames",
        frames.len()
    );
    assert!(
        keypoints_visible > 0,
        "{fam}: no visible pitch keypoint in any frame"
    );
}

/// One module of tests per model family, all running the same checks.
macro_rules! per_family {
    ($($module:ident => $family:expr),* $(,)?) => {
        $(mod $module {
            #[test]
            fn matches_ultralytics_one_frame_at_a_time() {
                super::run_parity(&$family, 1);
            }

            #[test]
            fn matches_ultralytics_in_batches_of_four() {
                // Batching must not change a single number.
                super::run_parity(&$family, 4);
            }
        })*

        #[test]
        fn every_family_is_tested() {
            sv_tests::assert_every_family_tested(&[$(stringify!($module)),*]);
        }
    };
}

per_family!(yolov8 => sv_tests::YOLOV8, yolo11 => sv_tests::YOLO11);
