//! A miner that meets untrusted input (issue 12): the decode stage reads no
//! local file for a gRPC caller unless told to, and videos come only from
//! public addresses plus the networks `--allow-net` names, on `process`,
//! `serve` and `decode` alike.

mod support;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use futures::StreamExt;
use support::cluster::{Service, free_port};
use support::{fixture, scorevision_on_fixtures, signed};
use sv_core::{ErrorKind, FrameSource, StageError, VideoRequest};
use sv_decode::grpc::{Remote, RemoteConfig};

/// The fixture clip on a loopback server: (address, URL of the clip).
async fn clip_server() -> Result<(SocketAddr, String)> {
    let clip = std::fs::read(fixture("clip/sample_720p.mp4"))?;
    let addr =
        sv_tests::http::serve_files(HashMap::from([("/clip.mp4".to_string(), clip)])).await?;
    Ok((addr, format!("http://{addr}/clip.mp4")))
}

/// A lone `scorevision decode` with `extra` flags, SERVING.
async fn decode_stage(dir: &std::path::Path, extra: &[&str]) -> Result<Service> {
    let port = free_port();
    let mut args: Vec<String> = vec!["decode".into(), "--listen".into()];
    args.push(format!("127.0.0.1:{port}"));
    args.extend(extra.iter().map(|s| s.to_string()));
    let mut decode = Service::new("decode", port, args, Default::default(), dir);
    decode.start()?;
    decode.wait_serving(Duration::from_secs(60)).await?;
    Ok(decode)
}

/// Frames a decode stage sends for `url`, or the error that ended them.
async fn frames_from(decode: &Service, url: &str) -> Result<Result<usize, StageError>> {
    let remote = Remote::connect(&RemoteConfig::new([decode.url()]))?;
    let mut stream = remote.frames(VideoRequest::new("hardening", url));
    let mut frames = 0;
    while let Some(item) = stream.next().await {
        match item {
            Ok(_) => frames += 1,
            Err(e) => return Ok(Err(e)),
        }
    }
    Ok(Ok(frames))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn decode_reads_local_files_for_grpc_callers_only_when_started_to() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let clip = fixture("clip/sample_720p.mp4").canonicalize()?;
    let text = dir.path().join("notes.txt");
    std::fs::write(&text, "not a video\n")?;
    let there = clip.display().to_string();
    let decode = decode_stage(dir.path(), &[]).await?;
    // Existing clip, existing text file, missing file, system file, in every
    // spelling: one refusal, the same words, nothing about the file system.
    let mut refusals = Vec::new();
    for url in [
        there.clone(),
        format!("file://{there}"),
        format!("FILE://{there}"),
        text.display().to_string(),
        "/nonexistent/clip.mp4".to_string(),
        "/etc/passwd".to_string(),
    ] {
        let error = match frames_from(&decode, &url).await? {
            Ok(frames) => bail!("{url}: {frames} frames sent to a gRPC caller"),
            Err(e) => e,
        };
        assert_eq!(error.kind, ErrorKind::InvalidInput, "{url}: {error}");
        assert!(
            error.message.contains("--allow-local-files"),
            "{url}: {error}"
        );
        refusals.push(error.message);
    }
    refusals.dedup();
    assert_eq!(refusals.len(), 1, "answers differ by file: {refusals:#?}");
    // http(s) still works, the scheme's case notwithstanding.
    let allowed = decode_stage(dir.path(), &["--allow-net", "127.0.0.1/32"]).await?;
    let (_, url) = clip_server().await?;
    let upper = url.replacen("http://", "HTTP://", 1);
    assert_eq!(frames_from(&allowed, &upper).await?, Ok(50));

    // Started with the flag, the same stage decodes the local clip.
    let local = decode_stage(dir.path(), &["--allow-local-files"]).await?;
    assert_eq!(frames_from(&local, &there).await?, Ok(50));
    assert_eq!(
        frames_from(&local, &format!("file://{there}")).await?,
        Ok(50)
    );
    Ok(())
}

fn process(clip: &str, extra: &[&str]) -> Result<std::process::Output> {
    let dir = tempfile::tempdir()?;
    Ok(scorevision_on_fixtures("process", clip)
        .arg("--out")
        .arg(dir.path().join("out.json"))
        .args(extra)
        .output()?)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn process_downloads_from_the_networks_allow_net_names_only() -> Result<()> {
    let (_, url) = clip_server().await?;
    let run = |extra: &'static [&'static str]| {
        let url = url.clone();
        tokio::task::spawn_blocking(move || process(&url, extra))
    };
    for refused in [
        &[][..],
        &["--allow-net", "127.0.0.2/32"],
        &["--allow-net", "10.0.0.0/8"],
    ] {
        let out = run(refused).await??;
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{refused:?}: {stderr}");
        assert!(
            stderr.contains("non-public address"),
            "{refused:?}: {stderr}"
        );
    }
    for allowed in [
        &["--allow-net", "127.0.0.1/32"][..],
        &["--allow-net", "10.0.0.0/8,127.0.0.1"],
        &["--allow-private-urls"],
    ] {
        let out = run(allowed).await??;
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{allowed:?}: {stderr}");
        assert!(stderr.contains("50 frames"), "{allowed:?}: {stderr}");
    }
    let out = run(&["--allow-net", "127.0.0.1/33"]).await??;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("is not a network"), "{stderr}");
    Ok(())
}

/// `scorevision serve` on the fixture models with `extra` flags, ready.
async fn serve(dir: &std::path::Path, extra: &[&str]) -> Result<(Service, SocketAddr)> {
    let service = support::cluster::serve(dir, extra, "", None).await?;
    let addr = service.addr;
    Ok((service, addr))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_takes_allow_net_too() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let (server, url) = clip_server().await?;
    let (service, gateway) = serve(dir.path(), &["--allow-net", "127.0.0.1/32"]).await?;
    let reply = signed::challenge(gateway, &url, "allowed").await?;
    assert_eq!(reply.status, 200, "{reply:?}\n{}", service.log());
    assert_eq!(reply.body["frames"].as_array().map(Vec::len), Some(50));
    // Loopback outside the named network stays refused.
    let other = format!("http://127.0.0.2:{}/clip.mp4", server.port());
    let reply = signed::challenge(gateway, &other, "refused").await?;
    assert_eq!(reply.status, 422, "{reply:?}");
    assert!(reply.detail().contains("non-public address"), "{reply:?}");
    // A local path never reaches the pipeline.
    let reply = signed::challenge(gateway, "/etc/passwd", "local").await?;
    assert_eq!(reply.status, 400, "{reply:?}");
    Ok(())
}

/// Files in `dir` whose name starts with `prefix`.
fn files(dir: &std::path::Path, prefix: &str) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|name| name.starts_with(prefix))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_decode_removes_what_its_killed_predecessor_left() -> Result<()> {
    use support::cluster::{Cluster, ClusterOptions};
    let tmp = tempfile::tempdir()?;
    let mut cluster = Cluster::start(ClusterOptions {
        transport: "shm",
        env: [("TMPDIR".to_string(), tmp.path().display().to_string())].into(),
    })
    .await?;
    let shm = cluster.dir.path().join("shm");
    // A 500-frame clip, so decode is mid-video when it is killed.
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
    // A download of a process that still runs (this test): never touched.
    let ours = tmp
        .path()
        .join(format!("scorevision-{}-1-0.video", std::process::id()));
    std::fs::write(&ours, b"in use")?;

    let mut ask = Command::new(env!("CARGO_BIN_EXE_scorevision"))
        .arg("ask")
        .arg(format!("http://{videos}/long.mp4"))
        .args(["--track", &cluster.track.url(), "--out", "/dev/null"])
        .stderr(std::process::Stdio::null())
        .spawn()?;
    let deadline = Instant::now() + Duration::from_secs(30);
    while files(&shm, "sv-").is_empty() || files(tmp.path(), "scorevision-").len() < 2 {
        assert!(
            Instant::now() < deadline,
            "no ring and download appeared:\n{}",
            cluster.logs()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    cluster.decode.kill();
    let _ = ask.kill();
    let _ = ask.wait();
    let rings = files(&shm, "sv-");
    let downloads = files(tmp.path(), "scorevision-");
    assert_eq!(rings.len(), 1, "{rings:?}");
    assert_eq!(downloads.len(), 2, "{downloads:?}");

    cluster.decode.start()?;
    cluster.decode.wait_serving(Duration::from_secs(60)).await?;
    assert_eq!(files(&shm, "sv-"), Vec::<String>::new(), "ring left");
    let ours_name = ours.file_name().unwrap().to_string_lossy().into_owned();
    assert_eq!(
        files(tmp.path(), "scorevision-"),
        vec![ours_name],
        "download left, or a live process's removed"
    );
    assert!(
        cluster
            .decode
            .log()
            .contains("Removed what stopped processes left behind."),
        "{}",
        cluster.decode.log()
    );
    // And the restarted stage serves.
    cluster.wait_gateway_ready(Duration::from_secs(30)).await?;
    let reply = signed::challenge(
        cluster.gateway_http,
        &format!("http://{videos}/long.mp4"),
        "after-restart",
    )
    .await?;
    assert_eq!(reply.status, 200, "{reply:?}\n{}", cluster.logs());
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_validator_reads_the_real_culprit_and_nothing_internal() -> Result<()> {
    use support::cluster::{Cluster, ClusterOptions};
    let cluster = Cluster::start(ClusterOptions {
        transport: "inline",
        ..Default::default()
    })
    .await?;
    // MP4 boxes that no demuxer can read: past the sniffing, refused by
    // GStreamer, whose messages name our download and its elements.
    let mut broken = b"\0\0\0\x18ftypisom\0\0\x02\0isomiso2".to_vec();
    broken.extend(b"\0\0\x10\0mdat".iter().chain([0x42u8; 4096].iter()));
    let videos =
        sv_tests::http::serve_files(HashMap::from([("/broken.mp4".to_string(), broken)])).await?;
    let closed = free_port();
    let gateway = cluster.gateway_http;

    // A host nobody answers on: the video host is named, no stage is.
    let unreachable = format!("http://user:s3cret@127.0.0.1:{closed}/clip.mp4");
    let reply = signed::challenge(gateway, &unreachable, "unreachable").await?;
    assert_eq!(reply.status, 502, "{reply:?}");
    assert!(
        reply
            .detail()
            .starts_with("video host: cannot reach http://***@127.0.0.1:"),
        "{reply:?}"
    );
    assert!(!reply.detail().contains("stage"), "{reply:?}");

    // A host answering 404 and one answering 503.
    let reply = signed::challenge(gateway, &format!("http://{videos}/missing.mp4"), "404").await?;
    assert_eq!(reply.status, 422, "{reply:?}");
    assert!(reply.detail().starts_with("video host: "), "{reply:?}");

    // Not decodable: no path, no temporary name, no PID.
    let reply =
        signed::challenge(gateway, &format!("http://{videos}/broken.mp4"), "broken").await?;
    assert_eq!(reply.status, 422, "{reply:?}");
    let detail = reply.detail();
    assert!(detail.contains("not a decodable video"), "{reply:?}");
    // Our temporary names carry the PID as "-<pid>-".
    let decode_pid = format!("-{}-", cluster.decode.pid().context("decode runs")?);
    for internal in [
        "/tmp",
        "scorevision-",
        ".video",
        "/Gst",
        decode_pid.as_str(),
    ] {
        assert!(!detail.contains(internal), "{internal:?} in {detail:?}");
    }

    // No process logged the password.
    let logs = cluster.logs();
    assert!(logs.contains("http://***@127.0.0.1"), "{logs}");
    assert!(!logs.contains("s3cret"), "{logs}");
    Ok(())
}

/// A video host at its worst: `/trickle` sends a byte every 50 ms, `/page`
/// a 300 MB web page (counting what it managed to send).
async fn bad_host(sent: std::sync::Arc<std::sync::atomic::AtomicU64>) -> Result<SocketAddr> {
    use std::sync::Arc;
    use sv_tests::http::{Body, Pace, Reply, Server};
    let server = Server::start(move |request| {
        if request.path.contains("/trickle") {
            let video = Body::Repeat {
                pattern: Arc::new(b"\0\0\0\x18ftypisom".to_vec()),
                len: 1_000_000,
            };
            Reply::video(video)
                .count_into(sent.clone())
                .pace(Pace::Chunks {
                    size: 1,
                    pause: Duration::from_millis(50),
                })
        } else {
            let page = Body::Repeat {
                pattern: Arc::new(b"<!DOCTYPE html><html><body>".repeat(2400)),
                len: 300_000_000,
            };
            Reply::video(page).count_into(sent.clone())
        }
    })
    .await?;
    Ok(server.addr)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trickling_host_and_a_huge_page_end_early_with_clear_statuses() -> Result<()> {
    use std::sync::atomic::Ordering;
    let dir = tempfile::tempdir()?;
    let sent = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let host = bad_host(sent.clone()).await?;
    // 1 kB/s over 2 s: the trickle (20 bytes/s) is far below.
    let (service, gateway) = serve(
        dir.path(),
        &[
            "--allow-net",
            "127.0.0.1/32",
            "--min-download-rate",
            "1",
            "--min-download-window-s",
            "2",
        ],
    )
    .await?;
    let reply = signed::challenge(gateway, &format!("http://{host}/trickle"), "trickle").await?;
    assert_eq!(reply.status, 504, "{reply:?}\n{}", service.log());
    assert!(
        reply.detail().starts_with("video host: ") && reply.detail().contains("too slow"),
        "{reply:?}"
    );

    sent.store(0, Ordering::SeqCst);
    let reply = signed::challenge(gateway, &format!("http://{host}/page"), "page").await?;
    assert_eq!(reply.status, 422, "{reply:?}");
    assert!(
        reply
            .detail()
            .contains("is not a video: it starts with \"<!DOCTYPE"),
        "{reply:?}"
    );
    // Refused on its first bytes: the host got rid of a few socket buffers'
    // worth, not of 300 MB.
    let sent = sent.load(Ordering::SeqCst);
    assert!(sent < 30_000_000, "{sent} bytes sent before the refusal");

    // And the miner serves the next challenge.
    let (_, url) = clip_server().await?;
    let reply = signed::challenge(gateway, &url, "after").await?;
    assert_eq!(reply.status, 200, "{reply:?}");
    Ok(())
}
