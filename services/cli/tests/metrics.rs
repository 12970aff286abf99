//! Every stage tells Prometheus how it is doing: after one challenge
//! through the four processes, each stage server's `/metrics` holds its
//! series, of the right types, and their counts agree with the frames
//! answered (decode's frames, infer's keyframes and batch slots, track's
//! frames and fills); the embedded `serve` shows all of them on the
//! gateway's `/metrics`; `process --metrics-listen` serves while it runs;
//! and a real Prometheus (Debian's, where installed) scrapes the stages
//! and answers the dashboard's and the infer autoscaler's queries.

mod support;

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use serde_json::Value;
use support::cluster::{Cluster, ClusterOptions, Service, free_port};
use support::{fixture, sample_clip_url, scorevision_on_fixtures, signed, workspace_root};
use sv_tests::openmetrics::{self, Exposition};
use sv_tests::prometheus::{self, Prometheus, Target};

/// Infer as a GPU would run it, on the CPU: every run padded to 8 frames,
/// the models on one frame in two (so fill, slots and fills all move).
fn infer_env() -> ClusterOptions {
    let mut options = ClusterOptions {
        transport: "inline",
        ..Default::default()
    };
    for (key, value) in [
        ("SV_BATCH_SIZE", "8"),
        ("SV_PAD_BATCHES", "on"),
        ("SV_INFER_INTERVAL", "2"),
    ] {
        options.env.insert(key.into(), value.into());
    }
    options
}

/// Scrapes `service` until `check` passes on what it says (gauges settle
/// a moment after the answer), or fails with the last reason.
async fn settled<T>(service: &Service, check: impl Fn(&Exposition) -> Result<T>) -> Result<T> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let text = service.metrics_text().await?;
        let parsed =
            openmetrics::parse(&text).with_context(|| format!("{}:\n{text}", service.name))?;
        match check(&parsed) {
            Ok(value) => return Ok(value),
            Err(e) if Instant::now() > deadline => {
                return Err(e.context(format!("{}'s metrics:\n{text}", service.name)));
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
}

fn expect_eq(what: &str, got: f64, want: f64) -> Result<()> {
    ensure!(got == want, "{what}: {got}, expected {want}");
    Ok(())
}

/// What every stage server adds: streams open, the limit, refusals.
fn server_series(m: &Exposition, stage: &str) -> Result<()> {
    m.expect_kind(&format!("sv_{stage}_streams"), "gauge")?;
    m.expect_kind(&format!("sv_{stage}_max_streams"), "gauge")?;
    m.expect_kind(&format!("sv_{stage}_streams_refused"), "counter")?;
    expect_eq(
        "streams open",
        m.sum(&format!("sv_{stage}_streams"), &[]),
        0.0,
    )
}

fn decode_series(m: &Exposition, clip_bytes: f64) -> Result<()> {
    // `sv_decode_failures` is written from its first failure on (a family
    // without series writes nothing): sv-decode's metrics tests count one.
    for (name, kind) in [
        ("sv_decode_clips", "counter"),
        ("sv_decode_frames", "counter"),
        ("sv_decode_duration_seconds", "histogram"),
        ("sv_decode_first_frame_seconds", "histogram"),
        ("sv_decode_download_seconds", "histogram"),
        ("sv_decode_first_byte_seconds", "histogram"),
        ("sv_decode_download_bytes", "counter"),
        ("sv_decode_download_retries", "counter"),
        ("sv_decode_in_flight", "gauge"),
    ] {
        m.expect_kind(name, kind)?;
    }
    server_series(m, "decode")?;
    let ok = [("outcome", "ok")];
    expect_eq("clips ok", m.sum("sv_decode_clips_total", &ok), 1.0)?;
    expect_eq("clips", m.sum("sv_decode_clips_total", &[]), 1.0)?;
    // No GPU here: the software decoder made every frame.
    let software = [("hardware", "false")];
    expect_eq("frames", m.sum("sv_decode_frames_total", &software), 50.0)?;
    let decoder = m
        .find("sv_decode_frames_total", &[])
        .next()
        .context("no frames")?;
    ensure!(
        decoder
            .labels
            .get("decoder")
            .is_some_and(|d| d.starts_with("avdec_")),
        "{decoder:?}"
    );
    for name in ["duration", "first_frame", "download", "first_byte"] {
        let count = m.sum(&format!("sv_decode_{name}_seconds_count"), &[]);
        expect_eq(name, count, 1.0)?;
    }
    expect_eq(
        "bytes",
        m.sum("sv_decode_download_bytes_total", &[]),
        clip_bytes,
    )?;
    expect_eq("in flight", m.sum("sv_decode_in_flight", &[]), 0.0)
}

/// Infer's checks; returns the frames answered between keyframes.
fn infer_series(m: &Exposition) -> Result<f64> {
    // `sv_infer_provider_fallbacks` is written only for a session that fell
    // back (none here: CPU was asked for); sv-infer's metrics tests hold it.
    for (name, kind) in [
        ("sv_infer_runs", "counter"),
        ("sv_infer_frames", "counter"),
        ("sv_infer_batch_slots", "counter"),
        ("sv_infer_batch_fill_ratio", "histogram"),
        ("sv_infer_run_seconds", "histogram"),
        ("sv_infer_retried_runs", "counter"),
        ("sv_infer_lane_busy_seconds", "counter"),
        ("sv_infer_queued_frames", "gauge"),
        ("sv_infer_pipeline_batches", "gauge"),
        ("sv_infer_lanes", "gauge"),
        ("sv_infer_sessions", "gauge"),
        ("sv_infer_answered_frames", "counter"),
        ("sv_infer_scene_cuts", "counter"),
    ] {
        m.expect_kind(name, kind)?;
    }
    server_series(m, "infer")?;
    let inferred = m.sum("sv_infer_answered_frames_total", &[("how", "inferred")]);
    let between = m.sum(
        "sv_infer_answered_frames_total",
        &[("how", "between_keyframes")],
    );
    expect_eq("frames answered", inferred + between, 50.0)?;
    ensure!(
        between >= 20.0,
        "{between} frames between keyframes at interval 2"
    );
    // The device profile picks the lane count (cores); each lane holds one
    // session per model.
    let lanes = m.sum("sv_infer_lanes", &[]);
    ensure!(lanes >= 1.0, "{lanes} lanes");
    for model in ["players", "pitch"] {
        let labels = [("model", model), ("provider", "cpu")];
        let runs = m.sum("sv_infer_runs_total", &labels);
        let frames = m.sum("sv_infer_frames_total", &labels);
        let slots = m.sum("sv_infer_batch_slots_total", &labels);
        let retried = m.sum("sv_infer_retried_runs_total", &labels);
        expect_eq(&format!("{model}: retried runs"), retried, 0.0)?;
        expect_eq(&format!("{model}: frames run"), frames, inferred)?;
        expect_eq(&format!("{model}: slots"), slots, 8.0 * runs)?;
        ensure!(
            frames < slots,
            "{model}: {frames} frames fill {slots} slots exactly?"
        );
        // Each run's fill is its frames over 8: they add up to frames / 8.
        let fill = m.sum("sv_infer_batch_fill_ratio_sum", &labels);
        ensure!((fill - frames / 8.0).abs() < 1e-9, "{model}: fill {fill}");
        expect_eq(
            &format!("{model}: fills observed"),
            m.sum("sv_infer_batch_fill_ratio_count", &labels),
            runs,
        )?;
        expect_eq(
            &format!("{model}: run times observed"),
            m.sum("sv_infer_run_seconds_count", &labels),
            runs,
        )?;
        expect_eq(
            &format!("{model}: sessions"),
            m.sum("sv_infer_sessions", &labels),
            lanes,
        )?;
    }
    let busy = m.sum("sv_infer_lane_busy_seconds_total", &[]);
    let run_time = m.sum("sv_infer_run_seconds_sum", &[]);
    ensure!(
        busy > 0.0 && (busy - run_time).abs() < 1e-6,
        "busy {busy}, runs {run_time}"
    );
    expect_eq("queued", m.sum("sv_infer_queued_frames", &[]), 0.0)?;
    expect_eq(
        "in the pipeline",
        m.sum("sv_infer_pipeline_batches", &[]),
        0.0,
    )?;
    // No GPU, so no GPU series (and no error).
    ensure!(m.kind("sv_infer_gpu_memory_used_bytes").is_none());
    Ok(between)
}

fn track_series(m: &Exposition, between: f64) -> Result<()> {
    for (name, kind) in [
        ("sv_track_frames", "counter"),
        ("sv_track_filled_frames", "counter"),
        ("sv_track_frame_seconds", "histogram"),
        ("sv_track_active_tracks", "gauge"),
        ("sv_track_in_flight", "gauge"),
    ] {
        m.expect_kind(name, kind)?;
    }
    server_series(m, "track")?;
    expect_eq("frames", m.sum("sv_track_frames_total", &[]), 50.0)?;
    expect_eq(
        "filled",
        m.sum("sv_track_filled_frames_total", &[]),
        between,
    )?;
    // One time per frame received from infer.
    expect_eq(
        "frame times",
        m.sum("sv_track_frame_seconds_count", &[]),
        50.0,
    )?;
    expect_eq("active tracks", m.sum("sv_track_active_tracks", &[]), 0.0)?;
    expect_eq("in flight", m.sum("sv_track_in_flight", &[]), 0.0)
}

/// One challenge through `gateway`, answered with the clip's 50 frames.
async fn one_challenge(
    gateway: std::net::SocketAddr,
    id: &str,
    logs: impl Fn() -> String,
) -> Result<()> {
    let url = sample_clip_url().await?;
    let reply = signed::challenge(gateway, &url, id).await?;
    ensure!(reply.status == 200, "{reply:?}\n{}", logs());
    ensure!(reply.body["frames"].as_array().map(Vec::len) == Some(50));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_stage_serves_its_series_and_they_count_the_clip() -> Result<()> {
    let cluster = Cluster::start(infer_env()).await?;
    one_challenge(cluster.gateway_http, "metrics", || cluster.logs()).await?;
    let clip_bytes = std::fs::metadata(fixture("clip/sample_720p.mp4"))?.len() as f64;
    settled(&cluster.decode, |m| decode_series(m, clip_bytes)).await?;
    let between = settled(&cluster.infer, infer_series).await?;
    settled(&cluster.track, |m| track_series(m, between)).await?;
    // No label names the challenge ("metrics") or the video's URL.
    for service in [&cluster.decode, &cluster.infer, &cluster.track] {
        let text = service.metrics_text().await?;
        let m = openmetrics::parse(&text)?;
        let values = m.samples.iter().flat_map(|s| s.labels.values());
        for value in values {
            ensure!(
                value != "metrics" && !value.contains("sample.mp4"),
                "{value}"
            );
        }
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_embedded_serve_shows_every_stage_on_the_gateway_s_metrics() -> Result<()> {
    let dir = tempfile::tempdir()?;
    // The clip is served from loopback, which the miner refuses unless told.
    let serve =
        support::cluster::serve(dir.path(), &["--allow-net", "127.0.0.1/32"], "", None).await?;
    one_challenge(serve.addr, "embedded", || serve.log()).await?;
    let text = signed::http_get(serve.addr, "/metrics").await?;
    let m = openmetrics::parse(&text).with_context(|| text.clone())?;
    expect_eq(
        "gateway frames",
        m.sum("sv_gateway_frames_total", &[]),
        50.0,
    )?;
    expect_eq("decoded", m.sum("sv_decode_frames_total", &[]), 50.0)?;
    let inferred = [("how", "inferred")];
    expect_eq(
        "inferred",
        m.sum("sv_infer_answered_frames_total", &inferred),
        50.0,
    )?;
    let players = [("model", "players")];
    expect_eq("run frames", m.sum("sv_infer_frames_total", &players), 50.0)?;
    expect_eq("tracked", m.sum("sv_track_frames_total", &[]), 50.0)?;
    m.expect_kind("sv_infer_run_seconds", "histogram")?;
    // The gateway's own slots, not a stage server's streams.
    ensure!(m.kind("sv_infer_streams").is_none(), "{text}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn process_serves_metrics_while_the_clip_runs_when_asked() -> Result<()> {
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], free_port()));
    let out = tempfile::NamedTempFile::new()?;
    let mut run = scorevision_on_fixtures("process", fixture("clip/sample_720p.mp4"))
        .args(["--metrics-listen", &addr.to_string(), "--out"])
        .arg(out.path())
        .stderr(std::process::Stdio::null())
        .spawn()?;
    // Polled until the clip ends: the port answers for as long as it runs.
    let mut seen = None;
    while run.try_wait()?.is_none() {
        if let Ok(text) = sv_tests::http::get(addr, "/metrics").await {
            seen = Some(text);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    ensure!(run.wait()?.success(), "process failed");
    let text = seen.context("the metrics port never answered while the clip ran")?;
    let m = openmetrics::parse(&text)?;
    for family in ["sv_decode_frames", "sv_infer_runs", "sv_track_frames"] {
        m.expect_kind(family, "counter")?;
    }
    Ok(())
}

/// Every PromQL expression of the Grafana dashboard, its variables set as
/// Grafana would.
fn dashboard_queries() -> Result<Vec<(String, String)>> {
    let path = workspace_root().join("deploy/grafana/scorevision.json");
    let dashboard: Value = serde_json::from_str(&std::fs::read_to_string(&path)?)?;
    let mut out = Vec::new();
    for panel in dashboard["panels"].as_array().context("no panels")? {
        for target in panel["targets"].as_array().into_iter().flatten() {
            let expr = target["expr"].as_str().context("a target without expr")?;
            let expr = expr
                .replace("$namespace", "scorevision")
                .replace("$__rate_interval", "1m");
            out.push((panel["title"].as_str().unwrap_or("?").to_owned(), expr));
        }
    }
    Ok(out)
}

/// The query of infer's ScaledObject in k8s/base/infer.yaml.
fn infer_autoscaler_query() -> Result<String> {
    let path = workspace_root().join("k8s/base/infer.yaml");
    let text = std::fs::read_to_string(&path)?;
    let (_, scaled) = text
        .split_once("kind: ScaledObject")
        .context("no ScaledObject in infer.yaml")?;
    let line = scaled
        .lines()
        .find_map(|l| l.trim().strip_prefix("query: "))
        .context("no query")?;
    Ok(line.trim_matches('\'').to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_prometheus_scrapes_the_stages_and_answers_the_dashboard_and_the_autoscaler()
-> Result<()> {
    let Some(binary) = prometheus::binary() else {
        eprintln!(
            "SKIPPED: no prometheus binary (tests/prometheus/setup.sh unpacks Debian's; or set SV_PROMETHEUS)"
        );
        return Ok(());
    };
    let cluster = Cluster::start(infer_env()).await?;
    let target = |job: &'static str, addr: Option<std::net::SocketAddr>| -> Result<Target> {
        Ok(Target {
            job,
            addr: addr.with_context(|| format!("{job}: no metrics port"))?,
            labels: vec![
                ("namespace", "scorevision".into()),
                ("pod", format!("{job}-0")),
            ],
        })
    };
    let targets = [
        target("decode", cluster.decode.metrics)?,
        target("infer", cluster.infer.metrics)?,
        target("track", cluster.track.metrics)?,
        target("gateway", Some(cluster.gateway_http))?,
    ];
    let prometheus = Prometheus::start(&binary, &targets).await?;
    let patience = Duration::from_secs(30);
    // Every endpoint parsed: a failed scrape leaves `up` at 0.
    prometheus
        .value_when("sum(up)", patience, |up| up == 4.0)
        .await?;
    one_challenge(cluster.gateway_http, "prometheus", || cluster.logs()).await?;
    for expr in [
        "sum(sv_decode_frames_total)",
        "sum(sv_infer_answered_frames_total)",
        "sum(sv_track_frames_total)",
        "sum(sv_gateway_frames_total)",
    ] {
        prometheus.value_when(expr, patience, |v| v == 50.0).await?;
    }
    let p50 = "histogram_quantile(0.5, sum by (le) (rate(sv_infer_run_seconds_bucket[1m])))";
    let run = prometheus.value_when(p50, patience, |v| v > 0.0).await?;
    ensure!(run < 16.0, "median run {run} s");
    let fill = "sum(rate(sv_infer_frames_total[1m])) / sum(rate(sv_infer_batch_slots_total[1m]))";
    let fill = prometheus.value_when(fill, patience, |v| v > 0.0).await?;
    ensure!(fill <= 1.0, "batch fill {fill}");
    // The autoscaler's query evaluates to one number: infer's load.
    let keda = infer_autoscaler_query()?;
    let busy = prometheus.value_when(&keda, patience, |v| v >= 0.0).await?;
    ensure!(busy <= 1.0, "{keda}: {busy} busy lanes per replica");
    // The dashboard's every query parses and evaluates.
    let mut refused = Vec::new();
    for (title, expr) in dashboard_queries()? {
        if let Err(e) = prometheus.query(&expr).await {
            refused.push(format!("{title}: {e}"));
        }
    }
    if !refused.is_empty() {
        bail!("queries Prometheus refused:\n{}", refused.join("\n"));
    }
    Ok(())
}
