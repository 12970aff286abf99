//! Challenges as a validator sends them: signed by the independent Python
//! fiber client (tests/fiber/sign_and_send.py; `make test-deps` installs its
//! virtualenv).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Command;

use anyhow::{Context, Result, bail};
use serde_json::Value;

use super::cluster::BOB;
use super::workspace_root;

pub use sv_tests::http::get as http_get;

fn python() -> Result<PathBuf> {
    let python = std::env::var_os("SV_FIBER_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join(".venv-fiber/bin/python"));
    if !python.exists() {
        bail!(
            "{} does not exist: run tests/fiber/setup.sh (make test-deps) or set SV_FIBER_PYTHON",
            python.display()
        );
    }
    Ok(python)
}

/// The gateway's answer to one signed challenge.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub body: Value,
}

impl Reply {
    pub fn detail(&self) -> &str {
        self.body["detail"].as_str().unwrap_or("")
    }
}

/// Sends one valid signed challenge for `video_url` (off the runtime's
/// threads: the client blocks until the gateway answers).
pub async fn challenge(gateway: SocketAddr, video_url: &str, challenge_id: &str) -> Result<Reply> {
    let mut command = Command::new(python()?);
    command
        .arg(workspace_root().join("tests/fiber/sign_and_send.py"))
        .args(["--url", &format!("http://{gateway}"), "--miner-hotkey", BOB])
        .args(["--video-url", video_url, "--challenge-id", challenge_id])
        .args(["--case", "valid"]);
    let output = tokio::task::spawn_blocking(move || command.output()).await??;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        bail!(
            "sign_and_send.py failed: {}\n{stdout}\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let line = stdout
        .lines()
        .next()
        .context("the client printed nothing")?;
    let v: Value =
        serde_json::from_str(line).with_context(|| format!("client printed {line:?}"))?;
    Ok(Reply {
        status: v["status"].as_u64().unwrap_or_default() as u16,
        body: v["body"].clone(),
    })
}
