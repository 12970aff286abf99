//! The distributed mode as operators run it: `scorevision decode`, `infer`,
//! `track` and `gateway` as four processes on loopback, a challenge signed
//! by the independent fiber client.

mod support;

use std::collections::HashMap;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serde_json::Value;
use support::cluster::{Cluster, ClusterOptions};
use support::{fixture, sample_clip_url, scorevision_on_fixtures, signed};
use tonic_health::pb::health_check_response::ServingStatus;

/// The embedded pipeline's frames for the fixture clip (`scorevision process`).
fn embedded_frames() -> Result<Value> {
    let out = tempfile::NamedTempFile::new()?;
    let run = scorevision_on_fixtures("process", fixture("clip/sample_720p.mp4"))
        .arg("--out")
        .arg(out.path())
        .output()?;
    anyhow::ensure!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let json: Value = serde_json::from_slice(&std::fs::read(out.path())?)?;
    Ok(json["frames"].clone())
}

async fn same_json_as_embedded(transport: &'static str) -> Result<()> {
    let cluster = Cluster::start(ClusterOptions {
        transport,
        ..Default::default()
    })
    .await?;
    let url = sample_clip_url().await?;
    let reply = signed::challenge(cluster.gateway_http, &url, "same-json").await?;
    anyhow::ensure!(reply.status == 200, "{reply:?}\n{}", cluster.logs());
    let distributed = &reply.body["frames"];
    assert_eq!(distributed.as_array().map(Vec::len), Some(50));
    let embedded = embedded_frames()?;
    // Ids, boxes and keypoints: the same bits, not just close.
    assert!(
        *distributed == embedded,
        "the four processes answered differently from the embedded pipeline"
    );
    let infer_log = cluster.infer.log();
    let line = infer_log
        .lines()
        .find(|l| l.contains("Frames received from decode."))
        .with_context(|| format!("no wire report in the infer log:\n{infer_log}"))?;
    assert!(line.contains(&format!("transport={transport}")), "{line}");
    // Bytes on the wire per frame: the 2.7 MB of pixels, or a handle.
    let bytes: f64 = line
        .split("wire_bytes_per_frame=")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .context("no wire_bytes_per_frame")?
        .parse()?;
    match transport {
        "inline" => assert!(bytes >= 1280.0 * 720.0 * 3.0, "{line}"),
        _ => assert!(bytes < 200.0, "{line}"),
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_processes_answer_like_the_embedded_pipeline_inline() -> Result<()> {
    same_json_as_embedded("inline").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_processes_answer_like_the_embedded_pipeline_through_shared_memory() -> Result<()> {
    same_json_as_embedded("shm").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_infer_fails_the_challenge_fast_and_the_next_one_succeeds() -> Result<()> {
    let mut cluster = Cluster::start(ClusterOptions {
        transport: "inline",
        ..Default::default()
    })
    .await?;
    let url = sample_clip_url().await?;
    let gateway = cluster.gateway_http;
    let pending = {
        let url = url.clone();
        tokio::spawn(async move { signed::challenge(gateway, &url, "killed").await })
    };
    // Let frames flow through every stage, then kill infer mid-challenge.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert!(
        !pending.is_finished(),
        "the challenge ended before infer was killed"
    );
    cluster.infer.kill();
    let killed_at = Instant::now();
    let reply = pending.await??;
    let took = killed_at.elapsed();
    assert!(reply.status >= 500, "{reply:?}");
    assert!(
        reply.detail().contains("infer"),
        "the error should name the stage that went away: {reply:?}"
    );
    assert!(took < Duration::from_secs(10), "the error took {took:?}");

    // With infer gone the gateway says so: not ready, naming the stage, and
    // a challenge is refused at once (503) instead of accepted and failed.
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let (status, body) = sv_tests::http::get_any(gateway, "/readyz").await?;
        if status == 503 && body.contains("the infer stage has no serving replica") {
            break;
        }
        assert!(Instant::now() < deadline, "readyz still says {body}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let refused = signed::challenge(gateway, &url, "while-down").await?;
    assert_eq!(refused.status, 503, "{refused:?}");
    assert!(refused.detail().contains("infer stage"), "{refused:?}");

    // The slot was freed (one slot, no queue: a leak would be a 503) and the
    // next challenge succeeds once infer is back and the gateway ready.
    cluster.infer.start()?;
    cluster.infer.wait_serving(Duration::from_secs(90)).await?;
    cluster.wait_gateway_ready(Duration::from_secs(30)).await?;
    let reply = signed::challenge(gateway, &url, "after-restart").await?;
    assert_eq!(reply.status, 200, "{reply:?}\n{}", cluster.logs());
    assert_eq!(reply.body["frames"].as_array().map(Vec::len), Some(50));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_in_flight_work_and_health_says_so() -> Result<()> {
    let mut cluster = Cluster::start(ClusterOptions {
        transport: "inline",
        ..Default::default()
    })
    .await?;
    assert_eq!(
        cluster.infer.health("scorevision.v1.Infer").await,
        Some(ServingStatus::Serving)
    );
    assert_eq!(
        cluster.decode.health("scorevision.v1.Decode").await,
        Some(ServingStatus::Serving)
    );
    assert_eq!(
        cluster.track.health("scorevision.v1.Track").await,
        Some(ServingStatus::Serving)
    );

    let url = sample_clip_url().await?;
    let gateway = cluster.gateway_http;
    let pending = tokio::spawn(async move { signed::challenge(gateway, &url, "drain").await });
    // The first frames reach infer within a few hundred milliseconds and the
    // 50 frames take seconds more (about 4 s here unloaded), so SIGTERM at
    // 1.5 s lands mid-challenge with a wide margin on either side.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    if pending.is_finished() {
        let early = pending.await?;
        panic!(
            "the challenge ended before SIGTERM: {:?}\n{}",
            early.map(|r| (r.status, r.body.to_string())),
            cluster.logs()
        );
    }
    cluster.infer.terminate()?;
    // Health turns NOT_SERVING (or the port closes) at once ...
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        match cluster.infer.health("").await {
            Some(ServingStatus::Serving) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(50)).await
            }
            Some(ServingStatus::Serving) => panic!("infer still SERVING after SIGTERM"),
            _ => break,
        }
    }
    // ... while the challenge in flight still finishes, whole.
    let reply = pending.await??;
    assert_eq!(reply.status, 200, "{reply:?}\n{}", cluster.logs());
    assert_eq!(reply.body["frames"].as_array().map(Vec::len), Some(50));
    let status = cluster.infer.wait_exit(Duration::from_secs(15))?;
    assert!(
        status.success(),
        "infer exited with {status}\n{}",
        cluster.infer.log()
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_service_offers_reflection() -> Result<()> {
    use tonic_reflection::pb::v1::ServerReflectionRequest;
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;

    let cluster = Cluster::start(ClusterOptions {
        transport: "inline",
        ..Default::default()
    })
    .await?;
    for (service, name) in [
        (&cluster.decode, "scorevision.v1.Decode"),
        (&cluster.infer, "scorevision.v1.Infer"),
        (&cluster.track, "scorevision.v1.Track"),
    ] {
        let channel = tonic::transport::Endpoint::from_shared(service.url())?
            .connect()
            .await?;
        let mut client = ServerReflectionClient::new(channel);
        let request = ServerReflectionRequest {
            host: String::new(),
            message_request: Some(MessageRequest::ListServices(String::new())),
        };
        let mut replies = client
            .server_reflection_info(futures::stream::iter([request]))
            .await?
            .into_inner();
        let reply = replies.message().await?.context("no reflection reply")?;
        let Some(MessageResponse::ListServicesResponse(list)) = reply.message_response else {
            panic!("unexpected reflection reply {reply:?}");
        };
        let names: Vec<_> = list.service.into_iter().map(|s| s.name).collect();
        assert!(names.iter().any(|n| n == name), "{names:?}");
        assert!(
            names.iter().any(|n| n == "grpc.health.v1.Health"),
            "{names:?}"
        );
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_leaves_stops_the_whole_chain_down_to_decode() -> Result<()> {
    let cluster = Cluster::start(ClusterOptions {
        transport: "shm",
        ..Default::default()
    })
    .await?;
    // A long video: the fixture clip looped to 500 frames, so decode is far
    // from done when the client goes.
    let long = cluster.dir.path().join("long.mp4");
    let made = Command::new("ffmpeg")
        .args(["-v", "error", "-stream_loop", "9", "-i"])
        .arg(fixture("clip/sample_720p.mp4"))
        .args(["-c", "copy", "-y"])
        .arg(&long)
        .status()?;
    anyhow::ensure!(made.success(), "ffmpeg could not loop the clip");
    let videos = sv_tests::http::serve_files(HashMap::from([(
        "/long.mp4".to_string(),
        std::fs::read(&long)?,
    )]))
    .await?;
    let mut ask = Command::new(env!("CARGO_BIN_EXE_scorevision"))
        .arg("ask")
        .arg(format!("http://{videos}/long.mp4"))
        .args(["--track", &cluster.track.url(), "--out", "/dev/null"])
        .stderr(std::process::Stdio::null())
        .spawn()?;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert!(
        ask.try_wait()?.is_none(),
        "the 500-frame challenge ended too soon"
    );
    ask.kill()?;
    ask.wait()?;
    // Track's stream closes, infer's request is dropped, decode stops.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !cluster
        .decode
        .log()
        .contains("Decode stopped: the consumer left.")
    {
        assert!(
            Instant::now() < deadline,
            "decode kept going after the client left:\n{}",
            cluster.logs()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        !cluster.decode.log().contains("Video decoded."),
        "decode finished the whole video for nobody"
    );
    // No ring is left behind in the shared directory.
    let rings = std::fs::read_dir(cluster.dir.path().join("shm"))?.count();
    assert_eq!(rings, 0, "a ring file outlived its stream");
    Ok(())
}
