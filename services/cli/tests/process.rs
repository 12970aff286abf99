//! `scorevision process` as an operator runs it: the real binary on the
//! bundled clip, and the exit codes of bad input.

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

fn fixture(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures")
        .join(rel)
}

fn scorevision(clip: &str, extra: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_scorevision"))
        .arg("process")
        .arg(clip)
        .arg("--player")
        .arg(fixture("models/players.onnx"))
        .arg("--pitch")
        .arg(fixture("models/pitch.onnx"))
        .args(extra)
        .output()
        .expect("running scorevision")
}

#[test]
fn process_writes_one_validator_frame_per_decoded_frame() {
    let out = std::env::temp_dir().join(format!("sv-cli-test-{}.json", std::process::id()));
    let clip = fixture("clip/sample_720p.mp4");
    let run = scorevision(
        clip.to_str().unwrap(),
        &["--out", out.to_str().unwrap(), "--challenge-id", "c-42"],
    );
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "scorevision failed: {stderr}");
    // The per-stage summary names the decoder, the device profile and the
    // provider each model ran on.
    assert!(
        stderr.contains("50 frames")
            && stderr.contains("decoder avdec_h264")
            && stderr.contains("CPU, batch 1")
            && stderr.contains("FP32 models")
            && stderr.contains("players CPU")
            && stderr.contains("pitch CPU"),
        "{stderr}"
    );

    let json: Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    std::fs::remove_file(&out).ok();
    assert_eq!(json["challenge_id"], "c-42");
    assert!(json["processing_time"].as_f64().unwrap() > 0.0);
    let frames = json["frames"].as_array().unwrap();
    assert_eq!(frames.len(), 50, "one entry per frame ffprobe counts");
    let mut objects = 0;
    for (i, frame) in frames.iter().enumerate() {
        assert_eq!(frame["frame_number"].as_u64(), Some(i as u64));
        let keypoints = frame["keypoints"].as_array().unwrap();
        // By default every frame carries 32 points, pitch found or not.
        assert_eq!(keypoints.len(), 32, "frame {i}");
        for kp in keypoints {
            let (x, y) = (kp[0].as_f64().unwrap(), kp[1].as_f64().unwrap());
            assert!(
                (0.0..=1280.0).contains(&x) && (0.0..=720.0).contains(&y),
                "frame {i}: keypoint {kp}"
            );
        }
        for object in frame["objects"].as_array().unwrap() {
            assert!(object["id"].as_u64().unwrap() >= 1);
            assert!(object["class_id"].as_u64().unwrap() <= 3);
            let b: Vec<f64> = object["bbox"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_f64().unwrap())
                .collect();
            assert!(
                b.len() == 4 && b[0] <= b[2] && b[1] <= b[3] && b[2] <= 1280.0 && b[3] <= 720.0,
                "{object}"
            );
            objects += 1;
        }
    }
    assert!(objects > 0, "no tracked objects in the whole clip");
}

#[test]
fn a_missing_model_is_a_configuration_error() {
    let run = Command::new(env!("CARGO_BIN_EXE_scorevision"))
        .args([
            "process",
            "clip.mp4",
            "--player",
            "/nonexistent/players.onnx",
            "--pitch",
            "/nonexistent/pitch.onnx",
        ])
        .output()
        .unwrap();
    assert_eq!(
        run.status.code(),
        Some(64),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(String::from_utf8_lossy(&run.stderr).contains("player model"));
}

#[test]
fn a_bad_clip_fails_with_a_clear_message() {
    let run = scorevision("/nonexistent/clip.mp4", &[]);
    assert_eq!(run.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(stderr.contains("does not exist"), "{stderr}");
}

#[test]
fn fp16_models_run_when_asked_and_settings_come_from_a_toml_table() {
    let dir = tempfile::tempdir().unwrap();
    let settings = dir.path().join("infer.toml");
    std::fs::write(&settings, "[infer]\nprecision = \"fp16\"\nbatch_size = 3\n").unwrap();
    let out = dir.path().join("out.json");
    let clip = fixture("clip/sample_720p.mp4");
    let run = scorevision(
        clip.to_str().unwrap(),
        &[
            "--player-fp16",
            fixture("models/players_fp16io.onnx").to_str().unwrap(),
            "--pitch-fp16",
            fixture("models/pitch_fp16io.onnx").to_str().unwrap(),
            "--infer-config",
            settings.to_str().unwrap(),
            "--pad-batches",
            "on",
            "--out",
            out.to_str().unwrap(),
        ],
    );
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "scorevision failed: {stderr}");
    assert!(
        stderr.contains("batch 3 (padded)")
            && stderr.contains("FP16 models")
            && stderr.contains("players_fp16io CPU"),
        "{stderr}"
    );
    let json: Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    assert_eq!(json["frames"].as_array().unwrap().len(), 50);
}

#[test]
fn a_misspelt_setting_in_the_toml_table_is_a_configuration_error() {
    let dir = tempfile::tempdir().unwrap();
    let settings = dir.path().join("infer.toml");
    std::fs::write(&settings, "[infer]\nbatchsize = 3\n").unwrap();
    let run = scorevision(
        fixture("clip/sample_720p.mp4").to_str().unwrap(),
        &["--infer-config", settings.to_str().unwrap()],
    );
    assert_eq!(run.status.code(), Some(64));
    assert!(String::from_utf8_lossy(&run.stderr).contains("batchsize"));
}

#[test]
fn the_memory_limit_settles_the_batch_or_refuses_to_start() {
    let clip = fixture("clip/sample_720p.mp4");
    let clip = clip.to_str().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.json");
    // Batches of 32 under 128 MB on one lane: the summary says where they
    // settled (two lanes share the arena, and settle lower).
    let run = scorevision(
        clip,
        &[
            "--providers",
            "cpu",
            "--lanes",
            "1",
            "--batch-size",
            "32",
            "--memory-limit-mb",
            "128",
            "--out",
            out.to_str().unwrap(),
        ],
    );
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "scorevision failed: {stderr}");
    assert!(
        stderr.contains(
            "memory limit 128 MB, settled at warm-up: pitch 16 (32 ran out of memory), players 4 (8 ran out of memory)"
        ),
        "{stderr}"
    );
    let json: Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    assert_eq!(json["frames"].as_array().unwrap().len(), 50);
    // 1 MB holds not one frame: no answer, a clear refusal.
    let run = scorevision(clip, &["--providers", "cpu", "--memory-limit-mb", "1"]);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(1), "{stderr}");
    assert!(run.stdout.is_empty(), "no answer");
    assert!(
        stderr.contains(
            "model pitch does not fit on the CPU within the 1 MB memory limit (--memory-limit-mb)"
        ),
        "{stderr}"
    );
    // A limit of nothing is a configuration error, from the variable too.
    let run = Command::new(env!("CARGO_BIN_EXE_scorevision"))
        .args(["process", clip, "--player"])
        .arg(fixture("models/players.onnx"))
        .arg("--pitch")
        .arg(fixture("models/pitch.onnx"))
        .env("SV_MEMORY_LIMIT_MB", "0")
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(64));
    assert!(String::from_utf8_lossy(&run.stderr).contains("--memory-limit-mb 0"));
}

/// The fixture clip with frames 20-22 painted black (the pitch model finds
/// no pitch there), re-encoded.
fn clip_with_blank_frames(dir: &std::path::Path) -> PathBuf {
    let out = dir.join("blanks.mp4");
    let made = Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-i"])
        .arg(fixture("clip/sample_720p.mp4"))
        .args([
            "-vf",
            "drawbox=enable='between(n,20,22)':x=0:y=0:w=iw:h=ih:color=black:t=fill",
            "-c:v",
            "libx264",
            "-pix_fmt",
            "yuv420p",
        ])
        .arg(&out)
        .status()
        .expect("running ffmpeg");
    assert!(made.success(), "ffmpeg could not paint the clip");
    out
}

fn keypoints_of(run: &std::process::Output, out: &std::path::Path) -> Vec<Vec<Value>> {
    assert!(
        run.status.success(),
        "scorevision failed: {}",
        String::from_utf8_lossy(&run.stderr)
    );
    let json: Value = serde_json::from_slice(&std::fs::read(out).unwrap()).unwrap();
    json["frames"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["keypoints"].as_array().unwrap().clone())
        .collect()
}

/// Frames without a pitch instance: 32 `[0.0, 0.0]` pairs by default, `[]`
/// (the reference miner's answer) with `--keypoints-when-missing empty` or
/// `SV_KEYPOINTS_WHEN_MISSING=empty`; frames with one are the same every way.
#[test]
fn keypoints_when_missing_switches_between_zeros_and_the_reference() {
    let dir = tempfile::tempdir().unwrap();
    let clip = clip_with_blank_frames(dir.path());
    let clip = clip.to_str().unwrap();
    let out = dir.path().join("out.json");
    let out_arg = out.to_str().unwrap();

    let run = scorevision(clip, &["--out", out_arg]);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(stderr.contains("pitch found in 47/50 frames"), "{stderr}");
    let by_default = keypoints_of(&run, &out);
    let run = scorevision(
        clip,
        &["--out", out_arg, "--keypoints-when-missing", "zeros"],
    );
    assert_eq!(keypoints_of(&run, &out), by_default);
    let run = scorevision(
        clip,
        &["--out", out_arg, "--keypoints-when-missing", "empty"],
    );
    let reference = keypoints_of(&run, &out);
    let run = Command::new(env!("CARGO_BIN_EXE_scorevision"))
        .args(["process", clip, "--out", out_arg, "--player"])
        .arg(fixture("models/players.onnx"))
        .arg("--pitch")
        .arg(fixture("models/pitch.onnx"))
        .env("SV_KEYPOINTS_WHEN_MISSING", "empty")
        .output()
        .unwrap();
    assert_eq!(keypoints_of(&run, &out), reference, "the SV_ variable");

    assert_eq!((by_default.len(), reference.len()), (50, 50));
    let zero_pairs = vec![serde_json::json!([0.0, 0.0]); 32];
    for (i, (ours, theirs)) in by_default.iter().zip(&reference).enumerate() {
        if (20..=22).contains(&i) {
            assert_eq!(ours, &zero_pairs, "frame {i}");
            assert!(theirs.is_empty(), "frame {i}: {theirs:?}");
        } else {
            assert_eq!(ours.len(), 32, "frame {i}");
            assert_eq!(ours, theirs, "frame {i}");
        }
    }

    let run = scorevision(
        clip,
        &["--out", out_arg, "--keypoints-when-missing", "none"],
    );
    assert_eq!(run.status.code(), Some(2), "a clap usage error");
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        stderr.contains("zeros") && stderr.contains("empty"),
        "{stderr}"
    );
}
