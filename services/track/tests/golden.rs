//! Golden comparison against supervision 0.22.0's `sv.ByteTrack()`.
//!
//! Every `tests/fixtures/bytetrack/<scenario>.json` (made by
//! `make_goldens.py` there) holds the input detections and the reference
//! output of each frame. For every frame the output must have the same
//! detections in the same order, exactly the same tracker ids and classes,
//! and boxes within 1e-4.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use sv_core::{Detection, TrackedObject};
use sv_track::bytetrack::{ByteTrack, ByteTrackConfig};

#[derive(Deserialize)]
struct Golden {
    scenario: String,
    config: Config,
    frames: Vec<Frame>,
}

#[derive(Deserialize)]
struct Config {
    track_activation_threshold: f64,
    lost_track_buffer: u32,
    minimum_matching_threshold: f64,
    frame_rate: u32,
    minimum_consecutive_frames: u32,
}

#[derive(Deserialize)]
struct Frame {
    /// [x1, y1, x2, y2, conf, class_id]
    dets: Vec<[f64; 6]>,
    /// [[x1, y1, x2, y2], tracker_id, class_id]
    out: Vec<([f64; 4], u64, u32)>,
}

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/bytetrack")
}

fn load_goldens() -> Vec<Golden> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(fixture_dir())
        .expect("tests/fixtures/bytetrack is missing")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .filter(|p| p.file_name().is_some_and(|n| n != "unit_cases.json"))
        .collect();
    paths.sort();
    paths
        .iter()
        .map(|p| {
            let text = std::fs::read_to_string(p).unwrap();
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        })
        .collect()
}

fn config(c: &Config) -> ByteTrackConfig {
    ByteTrackConfig {
        track_activation_threshold: c.track_activation_threshold as f32,
        lost_track_buffer: c.lost_track_buffer,
        minimum_matching_threshold: c.minimum_matching_threshold as f32,
        frame_rate: c.frame_rate,
        minimum_consecutive_frames: c.minimum_consecutive_frames,
    }
}

/// The inputs as numpy saw them: Python float -> float32.
fn detections(f: &Frame) -> Vec<Detection> {
    f.dets
        .iter()
        .map(|d| Detection {
            bbox: [d[0] as f32, d[1] as f32, d[2] as f32, d[3] as f32],
            confidence: d[4] as f32,
            class_id: d[5] as u32,
        })
        .collect()
}

/// None if equal, else a description of the first difference.
fn diff(got: &[TrackedObject], want: &[([f64; 4], u64, u32)]) -> Option<String> {
    let show = |g: &[TrackedObject]| {
        g.iter()
            .map(|o| (o.id, o.class_id, o.bbox))
            .collect::<Vec<_>>()
    };
    if got.len() != want.len() {
        return Some(format!(
            "{} outputs, want {}: got {:?}, want {:?}",
            got.len(),
            want.len(),
            show(got),
            want
        ));
    }
    for (k, (g, (bbox, id, class))) in got.iter().zip(want).enumerate() {
        let box_ok = g
            .bbox
            .iter()
            .zip(bbox)
            .all(|(a, b)| (f64::from(*a) - b).abs() <= 1e-4);
        if g.id != *id || g.class_id != *class || !box_ok {
            return Some(format!(
                "output {k}: got id {} class {} box {:?}, want id {id} class {class} box {bbox:?}",
                g.id, g.class_id, g.bbox
            ));
        }
    }
    None
}

/// Runs one scenario; returns (frames compared, failure messages).
fn check(g: &Golden, tracker: &mut ByteTrack) -> (usize, Vec<String>) {
    let mut failures = Vec::new();
    for (i, f) in g.frames.iter().enumerate() {
        let got = tracker.update(&detections(f));
        if let Some(d) = diff(&got, &f.out) {
            // Frames are 1-based like supervision's frame_id.
            failures.push(format!("scenario {} frame {}: {d}", g.scenario, i + 1));
        }
    }
    (g.frames.len(), failures)
}

#[test]
fn golden_scenarios_match_supervision() {
    let goldens = load_goldens();
    assert!(
        goldens.len() >= 12,
        "expected at least 12 golden scenarios, found {}",
        goldens.len()
    );
    let mut report = Vec::new();
    let mut frames = 0;
    let mut bad_frames = 0;
    for g in &goldens {
        let (n, failures) = check(g, &mut ByteTrack::new(config(&g.config)));
        frames += n;
        bad_frames += failures.len();
        if let Some(first) = failures.first() {
            report.push(format!("{first} ({} of {n} frames differ)", failures.len()));
        }
    }
    assert!(
        report.is_empty(),
        "{bad_frames} of {frames} frames differ; first per scenario:\n{}",
        report.join("\n")
    );
    eprintln!(
        "{} scenarios, {frames} frames identical to supervision 0.22.0",
        goldens.len()
    );
}

#[test]
fn reset_replays_identically() {
    let goldens = load_goldens();
    let g = goldens
        .iter()
        .find(|g| g.scenario == "appear_leave")
        .expect("appear_leave.json");
    let mut tracker = ByteTrack::new(config(&g.config));
    for _ in 0..2 {
        let (_, failures) = check(g, &mut tracker);
        assert!(failures.is_empty(), "{}", failures[0]);
        tracker.reset();
    }
}
