//! Runs the distributed mode for tests: the real `scorevision` binary as
//! four processes (decode, infer, track, gateway) on loopback ports, each
//! logging to a file that is printed when a test fails.

#![allow(dead_code)] // each test file uses a different part

pub mod cluster;
pub mod signed;

use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::path::PathBuf;
use std::process::Command;

pub fn fixture(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures")
        .join(rel)
}

/// The arguments of `scorevision SUBCOMMAND CLIP` on the fixture models
/// and the CPU provider; a test adds its own after them.
pub fn on_fixtures(subcommand: &str, clip: impl AsRef<OsStr>) -> Vec<OsString> {
    vec![
        subcommand.into(),
        clip.as_ref().to_owned(),
        "--player".into(),
        fixture("models/players.onnx").into(),
        "--pitch".into(),
        fixture("models/pitch.onnx").into(),
        "--providers".into(),
        "cpu".into(),
    ]
}

/// `scorevision SUBCOMMAND CLIP` on the fixture models and the CPU provider
/// ([`on_fixtures`]).
pub fn scorevision_on_fixtures(subcommand: &str, clip: impl AsRef<OsStr>) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_scorevision"));
    command.args(on_fixtures(subcommand, clip));
    command
}

pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The fixture clip over loopback HTTP, as validators send URLs.
pub async fn sample_clip_url() -> anyhow::Result<String> {
    let clip = std::fs::read(fixture("clip/sample_720p.mp4"))?;
    let addr =
        sv_tests::http::serve_files(HashMap::from([("/sample.mp4".to_string(), clip)])).await?;
    Ok(format!("http://{addr}/sample.mp4"))
}
