//! On a machine with an NVIDIA GPU (`cargo test -p scorevision --test gpu --
//! --ignored`, with ORT_DYLIB_PATH pointing at onnxruntime-gpu): every
//! combination of NVDEC or software decode with the CUDA or CPU provider
//! answers the clip and the process exits 0. An earlier build died with
//! SIGSEGV after writing its answer when `--hardware-decode off` still let
//! GStreamer pick the stateless NVDEC decoder with the CUDA provider loaded;
//! SV_CRASH_REPORT=1 makes any such crash print its call stack here.
//! Measured on an H200 with the release build (tests/gpu/infer-check.sh):
//! every combination exited 0.

use std::process::Command;

fn fixture(rel: &str) -> String {
    format!("{}/../../tests/fixtures/{rel}", env!("CARGO_MANIFEST_DIR"))
}

#[test]
#[ignore = "needs an NVIDIA GPU and onnxruntime-gpu (ORT_DYLIB_PATH)"]
fn every_decoder_and_provider_combination_exits_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    for decode in ["auto", "off"] {
        for providers in ["cuda,cpu", "cpu"] {
            let out = dir.path().join(format!("{decode}-{providers}.json"));
            let run = Command::new(env!("CARGO_BIN_EXE_scorevision"))
                .arg("process")
                .arg(fixture("clip/sample_720p.mp4"))
                .args(["--player", &fixture("models/players.onnx")])
                .args(["--pitch", &fixture("models/pitch.onnx")])
                .args(["--hardware-decode", decode, "--providers", providers])
                .arg("--out")
                .arg(&out)
                .env("SV_CRASH_REPORT", "1")
                .output()
                .unwrap();
            let stderr = String::from_utf8_lossy(&run.stderr);
            assert!(
                run.status.success(),
                "{decode} decode, {providers}: {:?}\n{stderr}",
                run.status
            );
            assert!(!stderr.contains("fatal signal"), "{stderr}");
            let json: serde_json::Value =
                serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
            assert_eq!(json["frames"].as_array().map(Vec::len), Some(50));
        }
    }
}
