//! [`Cluster`]: decode, infer, track (and optionally the gateway) as real
//! processes. Dropping it kills whatever still runs.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

use super::fixture;

/// Our signing client's miner hotkey (//Bob) and the validator's (//Alice).
pub const BOB: &str = "5FHneW46xGXgs5mUiveU4sbTyGBzmstUspZC92UhjJM694ty";
pub const ALICE: &str = "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY";

/// The drain a SIGTERM gets: long enough for a challenge on a loaded
/// 2-core machine, short enough to notice a hang.
const GRACE_S: &str = "60";

pub use sv_tests::ports::free_port;

/// One `scorevision <stage>` process.
pub struct Service {
    pub name: &'static str,
    pub addr: SocketAddr,
    /// Where a stage server answers `GET /metrics` (a port of its own,
    /// never the stage's fixed default: tests run side by side).
    pub metrics: Option<SocketAddr>,
    args: Vec<String>,
    env: BTreeMap<String, String>,
    log: PathBuf,
    child: Option<Child>,
    /// RLIMIT_NOFILE (soft and hard) the process starts under.
    descriptor_limit: Option<u64>,
}

impl Service {
    /// `scorevision ARGS` listening on `port`, logging into `dir`; not
    /// started. A stage server gets a free metrics port unless ARGS name one.
    pub fn new(
        name: &'static str,
        port: u16,
        mut args: Vec<String>,
        env: BTreeMap<String, String>,
        dir: &Path,
    ) -> Self {
        let stage = matches!(
            args.first().map(String::as_str),
            Some("decode" | "infer" | "track")
        );
        let metrics = (stage && !args.iter().any(|a| a == "--metrics-listen")).then(|| {
            let addr = SocketAddr::from(([127, 0, 0, 1], free_port()));
            args.extend(["--metrics-listen".into(), addr.to_string()]);
            addr
        });
        Self {
            name,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            metrics,
            args,
            env,
            log: dir.join(format!("{name}.log")),
            child: None,
            descriptor_limit: None,
        }
    }

    /// Starts the process under a descriptor limit of `n` (soft and hard,
    /// so it cannot raise it), as a container with a low limit would.
    pub fn with_descriptor_limit(mut self, n: u64) -> Self {
        self.descriptor_limit = Some(n);
        self
    }

    /// Starts (or restarts) the process; its log is appended to.
    pub fn start(&mut self) -> Result<()> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)?;
        let mut command = Command::new(env!("CARGO_BIN_EXE_scorevision"));
        if let Some(n) = self.descriptor_limit {
            use std::os::unix::process::CommandExt;
            let limit = libc::rlimit {
                rlim_cur: n,
                rlim_max: n,
            };
            // SAFETY: between fork and exec only setrlimit runs, an
            // async-signal-safe system call; nothing is allocated.
            unsafe {
                command.pre_exec(move || {
                    if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) == 0 {
                        Ok(())
                    } else {
                        Err(std::io::Error::last_os_error())
                    }
                });
            }
        }
        let child = command
            .args(&self.args)
            .envs(&self.env)
            // Decode says at DEBUG when a consumer left (the cancellation test).
            .env("RUST_LOG", "info,ort=warn,sv_decode::stage=debug")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("starting scorevision {}", self.name))?;
        self.child = Some(child);
        Ok(())
    }

    /// SIGKILL, as a crash or an OOM kill would.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERM, as Kubernetes stops a pod.
    pub fn terminate(&self) -> Result<()> {
        let pid = self.child.as_ref().context("not running")?.id();
        let status = Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()?;
        anyhow::ensure!(status.success(), "kill -TERM {pid} failed");
        Ok(())
    }

    /// Waits for the process to exit on its own.
    pub fn wait_exit(&mut self, within: Duration) -> Result<std::process::ExitStatus> {
        let child = self.child.as_mut().context("not running")?;
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = child.try_wait()? {
                self.child = None;
                return Ok(status);
            }
            if Instant::now() > deadline {
                bail!("{} still running after {within:?}", self.name);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The stage server's `GET /metrics`.
    pub async fn metrics_text(&self) -> Result<String> {
        let addr = self.metrics.context("no metrics port")?;
        sv_tests::http::get(addr, "/metrics").await
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The health status of `service` ("" for the server), or None when the
    /// process does not answer.
    pub async fn health(&self, service: &str) -> Option<ServingStatus> {
        let channel = tonic::transport::Endpoint::from_shared(self.url())
            .ok()?
            .connect_timeout(Duration::from_millis(500))
            .connect()
            .await
            .ok()?;
        let reply = HealthClient::new(channel)
            .check(HealthCheckRequest {
                service: service.to_string(),
            })
            .await
            .ok()?;
        ServingStatus::try_from(reply.into_inner().status).ok()
    }

    /// Waits until health says SERVING (models loaded and warmed).
    pub async fn wait_serving(&self, within: Duration) -> Result<()> {
        let deadline = Instant::now() + within;
        loop {
            if self.health("").await == Some(ServingStatus::Serving) {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!(
                    "{} not SERVING after {within:?}; log:\n{}",
                    self.name,
                    self.log()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        self.kill();
    }
}

#[derive(Debug, Clone, Default)]
pub struct ClusterOptions {
    /// `inline` or `shm`.
    pub transport: &'static str,
    /// Extra environment for every process (e.g. the OTLP endpoint).
    pub env: BTreeMap<String, String>,
}

/// The four services; `dir` holds logs, the gateway config and the rings.
pub struct Cluster {
    pub decode: Service,
    pub infer: Service,
    pub track: Service,
    pub gateway: Service,
    pub gateway_http: SocketAddr,
    pub dir: tempfile::TempDir,
}

impl Cluster {
    /// Starts all four and waits until each is SERVING / ready.
    pub async fn start(options: ClusterOptions) -> Result<Self> {
        let dir = tempfile::tempdir()?;
        let shm = dir.path().join("shm");
        std::fs::create_dir(&shm)?;
        let env = |service: &str| {
            let mut env = options.env.clone();
            env.insert("OTEL_SERVICE_NAME".into(), format!("scorevision-{service}"));
            env
        };
        let (decode_port, infer_port, track_port) = (free_port(), free_port(), free_port());
        let listen = |port: u16| format!("127.0.0.1:{port}");
        let mut decode = Service::new(
            "decode",
            decode_port,
            vec![
                "decode".into(),
                "--listen".into(),
                listen(decode_port),
                // Test videos come from a loopback server; nothing else private.
                "--allow-net".into(),
                "127.0.0.1/32".into(),
                "--shm-dir".into(),
                shm.display().to_string(),
                "--grace-s".into(),
                GRACE_S.into(),
            ],
            env("decode"),
            dir.path(),
        );
        let mut infer = Service::new(
            "infer",
            infer_port,
            vec![
                "infer".into(),
                "--listen".into(),
                listen(infer_port),
                "--decode".into(),
                format!("http://127.0.0.1:{decode_port}"),
                "--frame-transport".into(),
                options.transport.into(),
                "--shm-dir".into(),
                shm.display().to_string(),
                "--player".into(),
                fixture("models/players.onnx").display().to_string(),
                "--pitch".into(),
                fixture("models/pitch.onnx").display().to_string(),
                "--providers".into(),
                "cpu".into(),
                "--grace-s".into(),
                GRACE_S.into(),
            ],
            env("infer"),
            dir.path(),
        );
        let mut track = Service::new(
            "track",
            track_port,
            vec![
                "track".into(),
                "--listen".into(),
                listen(track_port),
                "--infer".into(),
                format!("http://127.0.0.1:{infer_port}"),
                "--grace-s".into(),
                GRACE_S.into(),
            ],
            env("track"),
            dir.path(),
        );
        let gateway_port = free_port();
        let config = write_gateway_config(dir.path(), gateway_port)?;
        let mut gateway = Service::new(
            "gateway",
            gateway_port,
            vec![
                "gateway".into(),
                "--track".into(),
                format!("http://127.0.0.1:{track_port}"),
                "--config".into(),
                config.display().to_string(),
            ],
            env("gateway"),
            dir.path(),
        );
        for service in [&mut decode, &mut infer, &mut track, &mut gateway] {
            service.start()?;
        }
        for service in [&decode, &infer, &track] {
            service.wait_serving(Duration::from_secs(90)).await?;
        }
        let cluster = Self {
            gateway_http: gateway.addr,
            decode,
            infer,
            track,
            gateway,
            dir,
        };
        cluster.wait_gateway_ready(Duration::from_secs(30)).await?;
        Ok(cluster)
    }

    /// Waits for GET /readyz to say ready (track SERVING).
    pub async fn wait_gateway_ready(&self, within: Duration) -> Result<()> {
        let deadline = Instant::now() + within;
        loop {
            if let Ok(body) = super::signed::http_get(self.gateway_http, "/readyz").await
                && body.contains("true")
            {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!(
                    "gateway not ready after {within:?}; log:\n{}",
                    self.gateway.log()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Every service's log, for a failed assertion's message.
    pub fn logs(&self) -> String {
        [&self.decode, &self.infer, &self.track, &self.gateway]
            .iter()
            .map(|s| format!("----- {} -----\n{}", s.name, s.log()))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// The gateway's TOML: loopback port, one slot and no queue (so a leaked
/// slot shows as a 503), our hotkey //Bob, //Alice staked.
pub fn write_gateway_config(dir: &Path, port: u16) -> Result<PathBuf> {
    write_gateway_config_with(dir, port, "")
}

/// [`write_gateway_config`] with `extra` top-level TOML lines.
pub fn write_gateway_config_with(dir: &Path, port: u16, extra: &str) -> Result<PathBuf> {
    let stakes = dir.join("stakes.json");
    std::fs::write(&stakes, format!("{{\"{ALICE}\": 5000.0}}"))?;
    let path = dir.join("gateway.toml");
    std::fs::write(
        &path,
        format!(
            "host = \"127.0.0.1\"\nport = {port}\nmax_concurrent = 1\nqueue_depth = 0\nshutdown_grace_s = 10\n{extra}\n\
             [hotkey]\nss58 = \"{BOB}\"\n\n[stake]\nsource = \"static\"\nfile = \"{}\"\n",
            stakes.display()
        ),
    )?;
    Ok(path)
}

/// `scorevision serve` on the fixture models (CPU), its gateway config
/// carrying `gateway_toml` lines, with `extra` flags; ready (/readyz 200).
pub async fn serve(
    dir: &Path,
    extra: &[&str],
    gateway_toml: &str,
    descriptor_limit: Option<u64>,
) -> Result<Service> {
    let port = free_port();
    let config = write_gateway_config_with(dir, port, gateway_toml)?;
    let mut args: Vec<String> = vec!["serve".into(), "--config".into()];
    args.push(config.display().to_string());
    for model in [
        ("--player", "models/players.onnx"),
        ("--pitch", "models/pitch.onnx"),
    ] {
        args.push(model.0.into());
        args.push(fixture(model.1).display().to_string());
    }
    args.extend(["--providers".into(), "cpu".into()]);
    args.extend(extra.iter().map(|s| s.to_string()));
    let mut service = Service::new("serve", port, args, Default::default(), dir);
    if let Some(n) = descriptor_limit {
        service = service.with_descriptor_limit(n);
    }
    service.start()?;
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        if let Ok((200, _)) = sv_tests::http::get_any(service.addr, "/readyz").await {
            return Ok(service);
        }
        if Instant::now() > deadline {
            bail!("serve not ready:\n{}", service.log());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
