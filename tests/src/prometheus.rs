//! A real Prometheus, Debian's package (`tests/prometheus/setup.sh` unpacks
//! it into `.prometheus/`), for the tests that check our `/metrics` with
//! the consumer they are written for: it scrapes the given targets every
//! second and answers PromQL over its HTTP API.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use serde_json::Value;

/// The `prometheus` binary: `SV_PROMETHEUS`, else the one unpacked into
/// `.prometheus/`, else one on `PATH`; `None` when there is none.
pub fn binary() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("SV_PROMETHEUS") {
        return Some(PathBuf::from(path));
    }
    let unpacked = Path::new(env!("CARGO_MANIFEST_DIR")).join("../.prometheus/usr/bin/prometheus");
    if unpacked.is_file() {
        return Some(unpacked);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join("prometheus"))
        .find(|p| p.is_file())
}

/// One scrape target: a job name, its `/metrics` address, and labels
/// Prometheus adds to its series (as Kubernetes discovery would add
/// `namespace` and `pod`).
pub struct Target {
    /// The `job` label Prometheus gives its series.
    pub job: &'static str,
    /// Where `/metrics` is served.
    pub addr: SocketAddr,
    /// Extra (name, value) labels on every series scraped from it.
    pub labels: Vec<(&'static str, String)>,
}

/// A running Prometheus; killed when dropped.
pub struct Prometheus {
    child: Child,
    addr: SocketAddr,
    dir: tempfile::TempDir,
}

impl Prometheus {
    /// Starts `binary` scraping `targets` every second, and waits until it
    /// is ready.
    pub async fn start(binary: &Path, targets: &[Target]) -> anyhow::Result<Self> {
        let dir = tempfile::tempdir()?;
        let mut config =
            String::from("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n");
        for t in targets {
            config += &format!(
                "  - job_name: {}\n    static_configs:\n      - targets: ['{}']\n        labels:\n",
                t.job, t.addr
            );
            for (k, v) in &t.labels {
                config += &format!("          {k}: '{v}'\n");
            }
            if t.labels.is_empty() {
                config += "          {}\n";
            }
        }
        let config_path = dir.path().join("prometheus.yml");
        std::fs::write(&config_path, config)?;
        let port = crate::ports::free_port();
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let log = std::fs::File::create(dir.path().join("prometheus.log"))?;
        let child = Command::new(binary)
            .arg(format!("--config.file={}", config_path.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address={addr}"))
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        let prometheus = Self { child, addr, dir };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok((200, _)) = crate::http::get_any(addr, "/-/ready").await {
                return Ok(prometheus);
            }
            if Instant::now() > deadline {
                bail!("Prometheus not ready:\n{}", prometheus.log());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Prometheus' own log.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("prometheus.log")).unwrap_or_default()
    }

    /// An instant query's `data.result`; an error for a query Prometheus
    /// refuses (a parse or evaluation error).
    pub async fn query(&self, expr: &str) -> anyhow::Result<Value> {
        let path = format!("/api/v1/query?query={}", percent_encode(expr));
        let (status, body) = crate::http::get_any(self.addr, &path).await?;
        let answer: Value =
            serde_json::from_str(&body).with_context(|| format!("{expr}: answered {body}"))?;
        ensure!(
            status == 200 && answer["status"] == "success",
            "{expr}: {status} {body}"
        );
        Ok(answer["data"]["result"].clone())
    }

    /// The value of `expr`'s single sample, once `ready` accepts it
    /// (scrapes come every second); an error after `within`.
    pub async fn value_when(
        &self,
        expr: &str,
        within: Duration,
        ready: impl Fn(f64) -> bool,
    ) -> anyhow::Result<f64> {
        let deadline = Instant::now() + within;
        loop {
            let result = self.query(expr).await?;
            if let Some(value) = single_value(&result)
                && ready(value)
            {
                return Ok(value);
            }
            if Instant::now() > deadline {
                bail!("{expr}: still {result} after {within:?}\n{}", self.log());
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The value of a vector result with exactly one sample.
pub fn single_value(result: &Value) -> Option<f64> {
    match result.as_array()?.as_slice() {
        [one] => one["value"][1].as_str()?.parse().ok(),
        _ => None,
    }
}

/// Everything but RFC 3986's unreserved characters, percent-encoded.
fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_are_percent_encoded() {
        assert_eq!(
            percent_encode("sum(rate(a{b=\"c\"}[1m]))"),
            "sum%28rate%28a%7Bb%3D%22c%22%7D%5B1m%5D%29%29"
        );
    }
}
