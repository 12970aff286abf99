//! `scorevision annotate` as an operator runs it: the real binary on the
//! bundled clip (50 frames), with answers written here so every mark's place
//! and colour is known.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{Value, json};

/// The colours README.md documents: player boxes cyan, ball orange, keypoints red.
const PLAYER: [u8; 3] = [0, 255, 255];
const BALL: [u8; 3] = [255, 128, 0];
const KEYPOINT: [u8; 3] = [255, 0, 0];
const FRAMES: usize = 50;

fn annotate(clip: &Path, result: &Path, extra: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_scorevision"))
        .arg("annotate")
        .arg(clip)
        .arg(result)
        .args(["--hardware-decode", "off"])
        .args(extra)
        .output()
        .expect("running scorevision")
}

/// An answer of `frames` frames, each carrying `keypoints` and `objects`.
fn answer(frames: usize, keypoints: Value, objects: Value) -> Value {
    let frames: Vec<Value> = (0..frames)
        .map(|i| json!({"frame_number": i, "keypoints": keypoints, "objects": objects}))
        .collect();
    json!({"challenge_id": "annotate-test", "frames": frames, "processing_time": 1.0})
}

fn write_json(dir: &Path, name: &str, value: &Value) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, serde_json::to_vec(value).unwrap()).unwrap();
    path
}

fn pngs_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".png"))
        .collect();
    names.sort();
    names
}

/// A decoded PNG's pixel lookup.
struct Picture(sv_core::Frame);

impl Picture {
    fn load(path: &Path) -> Self {
        Self(sv_tests::png_frames::load_png(path, 0).unwrap())
    }

    fn at(&self, x: u32, y: u32) -> [u8; 3] {
        let i = (y * self.0.stride + 3 * x) as usize;
        self.0.data[i..i + 3].try_into().unwrap()
    }
}

fn ok(run: &Output) -> String {
    let stderr = String::from_utf8_lossy(&run.stderr).into_owned();
    assert!(run.status.success(), "annotate failed: {stderr}");
    stderr
}

#[test]
fn pngs_show_every_frame_with_its_boxes_and_keypoints_where_the_answer_says() {
    let tmp = tempfile::tempdir().unwrap();
    let clip = sv_tests::sample_clip();
    // The same clip with nothing to draw but the frame number...
    let plain = write_json(
        tmp.path(),
        "plain.json",
        &answer(FRAMES, json!([]), json!([])),
    );
    // ... and with a player, a ball and one visible keypoint (the other 31
    // are [0, 0]: not visible, not drawn).
    let mut keypoints = vec![json!([0.0, 0.0]); 32];
    keypoints[5] = json!([900.0, 300.0]);
    let objects = json!([
        {"id": 7, "bbox": [100.0, 200.0, 300.0, 400.0], "class_id": 2},
        {"id": 1, "bbox": [600.0, 520.0, 630.0, 550.0], "class_id": 0},
    ]);
    let marked = write_json(
        tmp.path(),
        "marked.json",
        &answer(FRAMES, json!(keypoints), objects),
    );
    let (plain_dir, marked_dir) = (tmp.path().join("plain"), tmp.path().join("marked"));
    ok(&annotate(
        &clip,
        &plain,
        &["--frames", plain_dir.to_str().unwrap()],
    ));
    let stderr = ok(&annotate(
        &clip,
        &marked,
        &["--frames", marked_dir.to_str().unwrap()],
    ));
    assert!(stderr.contains("50 frames annotated"), "{stderr}");

    // One picture per frame, named in frame order.
    let names = pngs_in(&marked_dir);
    let expected: Vec<String> = (0..FRAMES).map(|i| format!("frame_{i:04}.png")).collect();
    assert_eq!(names, expected);
    assert_eq!(pngs_in(&plain_dir), expected);

    for index in [0, 17, 49] {
        let name = format!("frame_{index:04}.png");
        let (plain, marked) = (
            Picture::load(&plain_dir.join(&name)),
            Picture::load(&marked_dir.join(&name)),
        );
        assert_eq!((marked.0.width, marked.0.height), (1280, 720));
        // The box's edges are in the player colour, 2 pixels thick at 720p.
        for (x, y) in [
            (100, 300),
            (101, 300),
            (300, 300),
            (299, 300),
            (200, 200),
            (200, 400),
            (100, 200),
            (300, 400),
        ] {
            assert_eq!(
                marked.at(x, y),
                PLAYER,
                "frame {index}: box edge at ({x}, {y})"
            );
        }
        for (x, y) in [(600, 535), (630, 535), (615, 520), (615, 550)] {
            assert_eq!(
                marked.at(x, y),
                BALL,
                "frame {index}: ball edge at ({x}, {y})"
            );
        }
        // Well inside and well outside the boxes the clip shows through, unchanged.
        for (x, y) in [
            (200, 300),
            (150, 250),
            (250, 350),
            (50, 300),
            (400, 300),
            (200, 450),
            (200, 150),
            (615, 535),
            (700, 600),
        ] {
            assert_eq!(
                marked.at(x, y),
                plain.at(x, y),
                "frame {index}: ({x}, {y}) is not a mark"
            );
            assert_ne!(marked.at(x, y), PLAYER);
        }
        // The keypoint: a red dot at its coordinates, its index to the right.
        assert_eq!(marked.at(900, 300), KEYPOINT, "frame {index}: keypoint 5");
        assert_eq!(marked.at(903, 303), KEYPOINT);
        let label: Vec<[u8; 3]> = (908..925)
            .flat_map(|x| (290..311).map(move |y| (x, y)))
            .map(|(x, y)| marked.at(x, y))
            .collect();
        assert!(
            label.contains(&[255, 255, 255]) && label.contains(&[0, 0, 0]),
            "frame {index}: index label"
        );
        // [0, 0] points are not drawn: the corner is the clip's.
        for (x, y) in [(0, 0), (1, 1), (3, 3)] {
            assert_eq!(
                marked.at(x, y),
                plain.at(x, y),
                "frame {index}: a [0, 0] keypoint was drawn"
            );
        }
        // The frame number's tab in the top-left corner.
        assert_eq!(marked.at(8, 8), [0, 0, 0]);
    }

    // Below the frame number, an unmarked picture is the frame exactly as the
    // miner decoded it (the reference's OpenCV frames, bit for bit).
    let golden = Picture::load(&sv_tests::fixture("frames/0003.png"));
    let plain = Picture::load(&plain_dir.join("frame_0003.png"));
    let below_label = (plain.0.stride * 40) as usize;
    assert!(
        plain.0.data[below_label..] == golden.0.data[below_label..],
        "frame 3 differs from the decoded frame"
    );
}

#[test]
fn the_mp4_has_one_h264_frame_per_clip_frame() {
    let tmp = tempfile::tempdir().unwrap();
    let result = write_json(
        tmp.path(),
        "result.json",
        &answer(
            FRAMES,
            json!(vec![json!([640.0, 360.0]); 32]),
            json!([{"id": 3, "bbox": [10, 160, 60, 260], "class_id": 1}]),
        ),
    );
    let out = tmp.path().join("preview.mp4");
    let stderr = ok(&annotate(
        &sv_tests::sample_clip(),
        &result,
        &["--out", out.to_str().unwrap()],
    ));
    assert!(stderr.contains("H.264"), "{stderr}");
    assert_eq!(sv_tests::ffprobe_frame_count(&out).unwrap(), FRAMES as u64);
    let probe = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-select_streams",
            "v:0",
            "-show_entries",
            "stream=codec_name,width,height,r_frame_rate",
            "-of",
            "csv=p=0",
        ])
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&probe.stdout).trim(),
        "h264,1280,720,25/1"
    );
    assert!(!tmp.path().join("preview.mp4.partial").exists());
}

#[test]
fn an_answer_for_another_clip_is_refused_and_leaves_no_preview() {
    let tmp = tempfile::tempdir().unwrap();
    for frames in [49, 51] {
        let result = write_json(
            tmp.path(),
            "other.json",
            &answer(frames, json!([]), json!([])),
        );
        let (out, dir) = (tmp.path().join("preview.mp4"), tmp.path().join("frames"));
        let run = annotate(
            &sv_tests::sample_clip(),
            &result,
            &[
                "--out",
                out.to_str().unwrap(),
                "--frames",
                dir.to_str().unwrap(),
            ],
        );
        let stderr = String::from_utf8_lossy(&run.stderr);
        assert_eq!(run.status.code(), Some(64), "{frames} frames: {stderr}");
        assert!(
            stderr.contains(&format!("has {frames} frames")) && stderr.contains("decodes to 50"),
            "{stderr}"
        );
        assert!(!out.exists() && !tmp.path().join("preview.mp4.partial").exists());
        assert!(pngs_in(&dir).is_empty(), "no half set of pictures");
    }
}

#[test]
fn bad_input_files_are_refused_with_a_clear_message() {
    let tmp = tempfile::tempdir().unwrap();
    let clip = sv_tests::sample_clip();
    let out = tmp.path().join("preview.mp4");
    let out_args = ["--out", out.to_str().unwrap()];
    let gap = json!({"frames": [
        {"frame_number": 0, "keypoints": [], "objects": []},
        {"frame_number": 2, "keypoints": [], "objects": []},
    ]});
    let cases: [(PathBuf, &str); 4] = [
        (
            std::fs::write(tmp.path().join("bad.json"), "{\"frames\": [")
                .map(|()| tmp.path().join("bad.json"))
                .unwrap(),
            "not a validator answer",
        ),
        (
            write_json(
                tmp.path(),
                "shape.json",
                &json!({"frames": [{"frame_number": 0}]}),
            ),
            "not a validator answer",
        ),
        (
            write_json(tmp.path(), "gap.json", &gap),
            "frames[1] has frame_number 2",
        ),
        (tmp.path().join("missing.json"), "cannot read"),
    ];
    for (result, says) in cases {
        let run = annotate(&clip, &result, &out_args);
        let stderr = String::from_utf8_lossy(&run.stderr);
        assert_eq!(
            run.status.code(),
            Some(64),
            "{}: {stderr}",
            result.display()
        );
        assert!(
            stderr.contains(says) && stderr.contains(result.file_name().unwrap().to_str().unwrap()),
            "{stderr}"
        );
    }
    // A clip that is not there fails the run (exit 1, as `process` does).
    let result = write_json(tmp.path(), "ok.json", &answer(FRAMES, json!([]), json!([])));
    let run = annotate(&tmp.path().join("nowhere.mp4"), &result, &out_args);
    assert_eq!(
        run.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(!out.exists());
    // No output named: a usage error.
    let run = annotate(&clip, &result, &[]);
    assert_eq!(run.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&run.stderr).contains("--out"));
}
