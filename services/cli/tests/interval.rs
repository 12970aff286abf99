//! `--infer-interval N` as operators use it: the models on keyframes only,
//! track filling the frames between; bad values exit 64 naming the flag
//! wherever they come from; `scorevision bench --sweep-interval` measures
//! the intervals against the every-frame answer; the four processes of
//! the distributed mode answer exactly as the embedded pipeline does.

mod support;

use std::collections::{BTreeMap, HashMap};
use std::process::{Command, Output};

use serde_json::Value;
use support::cluster::{Cluster, ClusterOptions};
use support::{fixture, scorevision_on_fixtures, signed};

fn scorevision(subcommand: &str, clip: &std::path::Path, extra: &[&str]) -> Command {
    let mut command = scorevision_on_fixtures(subcommand, clip);
    command.args(extra);
    command
}

fn stderr(run: &Output) -> String {
    String::from_utf8_lossy(&run.stderr).into_owned()
}

/// `process CLIP --infer-interval N`: the answer's frames and the summary.
fn process(clip: &std::path::Path, interval: &str) -> (Vec<Value>, String) {
    let out = tempfile::NamedTempFile::new().unwrap();
    let run = scorevision("process", clip, &["--infer-interval", interval, "--out"])
        .arg(out.path())
        .output()
        .unwrap();
    assert!(run.status.success(), "{}", stderr(&run));
    let json: Value = serde_json::from_slice(&std::fs::read(out.path()).unwrap()).unwrap();
    (json["frames"].as_array().unwrap().clone(), stderr(&run))
}

#[test]
fn every_other_frame_is_inferred_and_every_frame_answered() {
    let clip = fixture("clip/sample_720p.mp4");
    let (frames, summary) = process(&clip, "2");
    assert_eq!(frames.len(), 50);
    for (i, f) in frames.iter().enumerate() {
        assert_eq!(f["frame_number"], i as u64);
        assert_eq!(f["keypoints"].as_array().unwrap().len(), 32, "frame {i}");
    }
    // Frames 0, 2, ..., 48 and the last, 49; the summary counts both sides.
    assert!(
        summary.contains("26 frames inferred, 24 between keyframes (0 scene cuts)"),
        "{summary}"
    );
    assert!(summary.contains("24 frames filled"), "{summary}");
    // The keyframes' answers are the every-frame answer's on the frames
    // before any track could differ (ids start alike; boxes are the
    // detector's), and a filled frame has boxes too.
    let (every, summary_1) = process(&clip, "1");
    assert!(summary_1.contains("50 frames inferred"), "{summary_1}");
    assert!(!summary_1.contains("between keyframes"), "{summary_1}");
    assert_eq!(frames[0], every[0]);
    assert_eq!(frames[0]["keypoints"], every[0]["keypoints"]);
    assert!(!frames[1]["objects"].as_array().unwrap().is_empty());
}

#[test]
fn a_clip_shorter_than_the_interval_is_answered_on_every_frame() {
    let dir = tempfile::tempdir().unwrap();
    let short = dir.path().join("three.mp4");
    let made = Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-i"])
        .arg(fixture("clip/sample_720p.mp4"))
        .args(["-frames:v", "3", "-c:v", "libx264", "-pix_fmt", "yuv420p"])
        .arg(&short)
        .status()
        .unwrap();
    assert!(made.success());
    let (frames, summary) = process(&short, "5");
    assert_eq!(frames.len(), 3);
    // Fewer frames than the interval: the models run on every one.
    assert!(summary.contains("3 frames inferred"), "{summary}");
    assert!(!summary.contains("between keyframes"), "{summary}");
    let (every, _) = process(&short, "1");
    assert_eq!(frames, every, "the every-frame answer");
    assert!(
        frames
            .iter()
            .all(|f| f["keypoints"].as_array().unwrap().len() == 32)
    );
}

#[test]
fn a_bad_interval_exits_64_naming_the_flag() {
    let clip = fixture("clip/sample_720p.mp4");
    let check = |run: Output, what: &str| {
        let text = stderr(&run);
        assert_eq!(run.status.code(), Some(64), "{what}: {text}");
        assert!(text.contains("--infer-interval"), "{what}: {text}");
    };
    for bad in ["0", "two", "-3", "1.5"] {
        let run = scorevision("process", &clip, &[&format!("--infer-interval={bad}")])
            .output()
            .unwrap();
        check(run, bad);
    }
    let run = scorevision("process", &clip, &[])
        .env("SV_INFER_INTERVAL", "0")
        .output()
        .unwrap();
    check(run, "SV_INFER_INTERVAL=0");
    let dir = tempfile::tempdir().unwrap();
    let settings = dir.path().join("infer.toml");
    std::fs::write(&settings, "[infer]\ninfer_interval = 0\n").unwrap();
    let run = scorevision(
        "process",
        &clip,
        &["--infer-config", settings.to_str().unwrap()],
    )
    .output()
    .unwrap();
    check(run, "infer_interval = 0");
}

#[test]
fn every_pipeline_command_takes_the_flag() {
    for subcommand in ["process", "serve", "infer", "bench"] {
        let run = Command::new(env!("CARGO_BIN_EXE_scorevision"))
            .args([subcommand, "--help"])
            .output()
            .unwrap();
        let help = String::from_utf8_lossy(&run.stdout);
        assert!(
            help.contains("--infer-interval <N>") && help.contains("SV_INFER_INTERVAL"),
            "{subcommand}: {help}"
        );
    }
}

#[test]
fn bench_sweeps_intervals_against_the_every_frame_answer() {
    let clip = fixture("clip/sample_720p.mp4");
    let json = tempfile::NamedTempFile::new().unwrap();
    // 1 is measured even when not listed: the others are compared with it.
    let run = scorevision(
        "bench",
        &clip,
        &["--sweep-batch", "1", "--sweep-interval", "2", "--runs", "1"],
    )
    .arg("--json")
    .arg(json.path())
    .output()
    .unwrap();
    let out = String::from_utf8_lossy(&run.stdout);
    assert!(run.status.success(), "{}\n{out}", stderr(&run));
    let rows: Vec<Value> = serde_json::from_slice(&std::fs::read(json.path()).unwrap()).unwrap();
    let intervals: Vec<u64> = rows
        .iter()
        .map(|r| r["interval"].as_u64().unwrap())
        .collect();
    assert_eq!(intervals, vec![1, 2]);
    assert!(rows[0]["agreement"].is_null(), "{rows:?}");
    let agreement = rows[1]["agreement"].as_f64().unwrap();
    assert!((0.5..=1.0).contains(&agreement), "{rows:?}");
    assert!(out.contains("interval") && out.contains("agree"), "{out}");
    assert!(out.contains("Best: "), "{out}");
    // A floor above what interval 2 keeps recommends every frame; one it
    // meets, interval 2 (unless every frame was faster on a loaded machine).
    if agreement < 1.0 {
        let strict = scorevision(
            "bench",
            &clip,
            &[
                "--sweep-batch",
                "1",
                "--sweep-interval",
                "1,2",
                "--runs",
                "1",
                "--min-agreement",
                "1",
            ],
        )
        .output()
        .unwrap();
        let out = String::from_utf8_lossy(&strict.stdout);
        assert!(strict.status.success(), "{}", stderr(&strict));
        assert!(!out.contains("--infer-interval 2"), "{out}");
    }
    for (flag, value) in [("--sweep-interval", "0,2"), ("--min-agreement", "1.5")] {
        let run = scorevision("bench", &clip, &[flag, value])
            .output()
            .unwrap();
        assert_eq!(
            run.status.code(),
            Some(64),
            "{flag} {value}: {}",
            stderr(&run)
        );
        assert!(stderr(&run).contains(flag), "{}", stderr(&run));
    }
}

/// Infer (in its own process) decides the keyframes and track (in another)
/// fills the frames between: the same answer as the embedded pipeline, on
/// the clip with two cuts, frames through the shared-memory ring (infer
/// holds one frame back to see whether it is the last before a cut).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_processes_answer_like_the_embedded_pipeline() -> anyhow::Result<()> {
    let cluster = Cluster::start(ClusterOptions {
        transport: "shm",
        env: BTreeMap::from([("SV_INFER_INTERVAL".to_string(), "2".to_string())]),
    })
    .await?;
    let clip = fixture("clip/motion_720p.mp4");
    let files = HashMap::from([("/motion.mp4".to_string(), std::fs::read(&clip)?)]);
    let addr = sv_tests::http::serve_files(files).await?;
    let url = format!("http://{addr}/motion.mp4");
    let reply = signed::challenge(cluster.gateway_http, &url, "interval").await?;
    anyhow::ensure!(reply.status == 200, "{reply:?}\n{}", cluster.logs());
    let (embedded, summary) = process(&clip, "2");
    assert_eq!(embedded.len(), 150);
    assert!(
        reply.body["frames"].as_array() == Some(&embedded),
        "the four processes answered differently from the embedded pipeline"
    );
    // Frames 0, 2, ..., 68, both sides of the cuts at 70 and 110, every
    // other frame after each cut, and the last.
    assert!(
        summary.contains("78 frames inferred, 72 between keyframes (2 scene cuts)"),
        "{summary}"
    );
    let infer = cluster.infer.log();
    let line = |message: &str| {
        infer
            .lines()
            .find(|l| l.contains(message))
            .unwrap_or_else(|| panic!("no {message:?} in the infer log:\n{infer}"))
    };
    let chosen = line("Keyframes chosen.");
    for field in ["keyframes=78", "between=72", "cuts=2"] {
        assert!(chosen.contains(field), "{chosen}");
    }
    // Every frame's pixels crossed once, decode to infer; track got marks
    // and filled them.
    let received = line("Frames received from decode.");
    assert!(received.contains("frames=150"), "{received}");
    let track = cluster.track.log();
    let filled = (track.lines())
        .find(|l| l.contains("Frames between keyframes filled."))
        .unwrap_or_else(|| panic!("no fill report in the track log:\n{track}"));
    assert!(filled.contains("filled=72"), "{filled}");
    Ok(())
}
