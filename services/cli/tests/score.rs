//! `scorevision score` as an operator runs it: the real binary on the
//! fixture clip and the answers the goldens were made from
//! (tests/fixtures/score), the JSON keys the issue names, CLIP from the test
//! stand-in, and the exit codes of bad input (64: usage or model files; 1:
//! data that cannot be scored).
#![cfg(feature = "score")]

use std::path::PathBuf;
use std::process::{Command, Output};

use serde_json::Value;

fn fixture(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures")
        .join(rel)
}

fn score(answer: &PathBuf, extra: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_scorevision"))
        .arg("score")
        .arg(fixture("clip/sample_720p.mp4"))
        .arg(answer)
        .args(extra)
        .output()
        .expect("running scorevision")
}

fn golden_case(answer: &str, pitch: &str) -> Value {
    let golden: Value =
        serde_json::from_slice(&std::fs::read(fixture("score/golden.json")).unwrap()).unwrap();
    golden["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["answer"] == answer && c["pitch_frames"] == pitch)
        .cloned()
        .expect("a golden case")
}

fn json(out: &Output) -> Value {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("--json prints JSON")
}

#[test]
fn json_carries_the_validators_keypoint_score_and_says_what_is_missing() {
    let reference = fixture("score/answers/reference.json");
    let report = json(&score(&reference, &["--json"]));
    for key in [
        "keypoint_score",
        "keypoint_terms",
        "box_score",
        "quality",
        "speed",
        "final",
        "frames_scored",
    ] {
        assert!(report.get(key).is_some(), "no {key}: {report}");
    }
    let want = golden_case("answers/reference.json", "all")["keypoint_score"]
        .as_f64()
        .unwrap();
    let got = report["keypoint_score"].as_f64().unwrap();
    assert!(
        (got - want).abs() < 1e-4,
        "ours {got}, the validator's {want}"
    );
    assert_eq!(report["frames_scored"], 50);
    assert!(
        report["box_score"].is_null() && report["quality"].is_null() && report["final"].is_null()
    );
    assert!(report["speed"].is_null(), "no --time-s, no speed");
    assert_eq!(report["pitch_frames"]["source"], "every frame");
    let notes = report["notes"].to_string();
    assert!(
        notes.contains("every frame counts as a pitch frame"),
        "{notes}"
    );

    // A time and an assumed box score give speed and final by the formula.
    let report = json(&score(
        &reference,
        &["--json", "--time-s", "2.5", "--assume-box-score", "0.6"],
    ));
    let speed = (-5.0f64 * 1.5 / 14.0).exp();
    let quality = 0.5 * 0.6 + 0.5 * got;
    assert!((report["speed"].as_f64().unwrap() - speed).abs() < 1e-12);
    assert!((report["quality"].as_f64().unwrap() - quality).abs() < 1e-12);
    assert!((report["final"].as_f64().unwrap() - (0.65 * quality + 0.35 * speed)).abs() < 1e-12);
    assert_eq!(report["box_score_assumed"], true);

    // The text form names each term.
    let text = score(&reference, &[]);
    let text = String::from_utf8_lossy(&text.stdout);
    for term in [
        "avg_keypoint_score",
        "mean_on_line",
        "scene_consistency",
        "Box rules",
        "needs CLIP",
    ] {
        assert!(text.contains(term), "{term}: {text}");
    }
}

#[test]
fn with_the_clip_stand_in_the_pitch_frames_and_box_score_are_the_validators() {
    let case = golden_case("answers/reference.json", "clip");
    let report = json(&score(
        &fixture("score/answers/reference.json"),
        &[
            "--json",
            "--clip-image",
            fixture("score/clip/encoder.onnx").to_str().unwrap(),
            "--clip-text",
            fixture("score/clip/text_embeddings.json").to_str().unwrap(),
            "--time-s",
            "2.5",
        ],
    ));
    assert_eq!(report["pitch_frames"]["source"], "clip");
    assert_eq!(report["pitch_frames"]["count"], 25);
    assert_eq!(report["box_score"].as_f64(), case["box_score"].as_f64());
    let kp = report["keypoint_score"].as_f64().unwrap();
    assert!((kp - case["keypoint_score"].as_f64().unwrap()).abs() < 1e-4);
    let fin = &case["finals"][0];
    assert!((report["final"].as_f64().unwrap() - fin["final"].as_f64().unwrap()).abs() < 1e-4);
}

fn fails(out: &Output, code: i32, says: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "{stderr}");
    assert!(stderr.contains(says), "expected {says:?} in: {stderr}");
}

#[test]
fn bad_input_gets_a_clear_message_and_the_right_exit_code() {
    let dir = tempfile::tempdir().unwrap();
    let bad_json = dir.path().join("bad.json");
    std::fs::write(&bad_json, "{\"frames\": [").unwrap();
    fails(&score(&bad_json, &[]), 1, "is not JSON");

    let perturbed = fixture("score/answers/perturbed.json");
    fails(&score(&perturbed, &[]), 1, "has 49 frames but the clip 50");
    assert!(
        score(&perturbed, &["--allow-missing-frames"])
            .status
            .success()
    );

    let not_video = dir.path().join("clip.mp4");
    std::fs::write(&not_video, "not a video").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_scorevision"))
        .arg("score")
        .arg(&not_video)
        .arg(fixture("score/answers/reference.json"))
        .output()
        .unwrap();
    fails(&out, 1, "does not decode");

    let reference = fixture("score/answers/reference.json");
    let image = fixture("score/clip/encoder.onnx");
    fails(
        &score(&reference, &["--clip-image", image.to_str().unwrap()]),
        64,
        "--clip-image needs --clip-text",
    );
    let text = fixture("score/clip/text_embeddings.json");
    for (model, what) in [
        ("wrong_input.onnx", "has input"),
        ("wrong_output.onnx", "has output"),
    ] {
        let out = score(
            &reference,
            &[
                "--clip-image",
                fixture(&format!("score/clip/{model}")).to_str().unwrap(),
                "--clip-text",
                text.to_str().unwrap(),
            ],
        );
        fails(&out, 64, what);
        fails(&out, 64, "[batch, 3, 224, 224]");
        fails(&out, 64, "[batch, 512]");
    }
    let short_text = dir.path().join("text.json");
    std::fs::write(&short_text, "{\"texts\": {\"grass\": [1.0]}}").unwrap();
    let out = score(
        &reference,
        &[
            "--clip-image",
            image.to_str().unwrap(),
            "--clip-text",
            short_text.to_str().unwrap(),
        ],
    );
    fails(&out, 64, "expected 512");
}
