//! Runs the distributed mode for tests: the real `scorevision` binary as
//! four processes (decode, infer, track, gateway) on loopback ports, each
//! logging to a file that is printed when a test fails.

#![allow(dead_code)] // each test file uses a different part

pub mod cluster;
pub mod signed;

use std::path::PathBuf;

pub fn fixture(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures")
        .join(rel)
}

pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}
