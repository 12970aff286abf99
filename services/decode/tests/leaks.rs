//! No leaks, however a clip ends: many clips (good, corrupt, not a video,
//! cancelled by a consumer that leaves, a download that fails) decoded in
//! one process leave the live pipelines, the open file descriptors and the
//! download directory exactly where they were before.
//!
//! One test in its own binary: descriptors are process-wide, so nothing else
//! may run beside it.

mod common;

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{Answer, config, sample_clip, serve};
use futures::StreamExt;
use sv_core::{FrameSource, VideoRequest};
use sv_decode::pipeline::live_pipelines;
use sv_decode::{Stage, decode_file};

fn open_fds() -> Vec<String> {
    std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| {
            let target = std::fs::read_link(e.path()).unwrap_or_default();
            format!(
                "{} -> {}",
                e.file_name().to_string_lossy(),
                target.display()
            )
        })
        .collect()
}

/// Frames until the end (or `limit`, then the stream is dropped), and
/// whether it ended in an error.
async fn take(local: &Stage, url: &str, limit: usize) -> (usize, bool) {
    let mut stream = local.frames(VideoRequest::new("leak", url));
    let mut frames = 0;
    while let Some(item) = stream.next().await {
        match item {
            Ok(_) => frames += 1,
            Err(_) => return (frames, true),
        }
        if frames == limit {
            return (frames, false);
        }
    }
    (frames, false)
}

/// Waits until no video is in flight and no pipeline is alive: a consumer
/// that leaves stops its decode in the background.
async fn settle(local: &Stage) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while (local.in_flight() > 0 || live_pipelines() > 0) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn files_in(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn every_clip_releases_its_pipeline_and_descriptors() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let downloads = dir.path().join("downloads");
        std::fs::create_dir(&downloads).unwrap();
        let bytes = std::fs::read(sample_clip()).unwrap();
        let truncated = dir.path().join("truncated.mp4");
        std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
        let text = dir.path().join("text.mp4");
        std::fs::write(&text, b"not a video\n".repeat(200)).unwrap();
        let body = Arc::new(bytes.clone());
        let server = serve(HashMap::from([
            ("/clip.mp4", Answer::Whole(body.clone())),
            ("/missing.mp4", Answer::Status("404 Not Found")),
            (
                "/cut.mp4",
                Answer::Cut {
                    body: body.clone(),
                    first: bytes.len() / 2,
                },
            ),
        ]))
        .await;
        let mut config = config();
        config.download_dir = downloads.clone();
        config.fetch.retries = 0;
        let local = Stage::new(config.clone()).unwrap();
        let clip = sample_clip().display().to_string();

        let round = || async {
            assert_eq!(take(&local, &clip, usize::MAX).await, (50, false));
            assert_eq!(
                take(&local, &server.url("/clip.mp4"), usize::MAX).await,
                (50, false)
            );
            assert!(
                take(&local, truncated.to_str().unwrap(), usize::MAX)
                    .await
                    .1
            );
            assert!(take(&local, text.to_str().unwrap(), usize::MAX).await.1);
            assert!(
                take(&local, &server.url("/missing.mp4"), usize::MAX)
                    .await
                    .1
            );
            assert!(take(&local, &server.url("/cut.mp4"), usize::MAX).await.1);
            // A consumer that leaves after two frames, local and downloaded.
            assert_eq!(take(&local, &clip, 2).await, (2, false));
            settle(&local).await;
            assert_eq!(take(&local, &server.url("/clip.mp4"), 2).await, (2, false));
            settle(&local).await;
            // The blocking API, its error path included.
            let cfg = config.clone();
            let (ok, err) = tokio::task::spawn_blocking({
                let truncated = truncated.clone();
                move || {
                    let ok = decode_file(&sample_clip(), &cfg, |_| true);
                    (
                        ok.map(|s| s.frames).ok(),
                        decode_file(&truncated, &cfg, |_| true).is_err(),
                    )
                }
            })
            .await
            .unwrap();
            assert_eq!((ok, err), (Some(50), true));
            settle(&local).await;
        };

        // One round first: GStreamer loads its plugins, tokio and reqwest
        // open what they keep for the life of the process.
        round().await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        let baseline = open_fds();
        assert_eq!(live_pipelines(), 0, "pipelines alive after the first round");

        for _ in 0..5 {
            round().await;
        }
        settle(&local).await;
        assert_eq!(live_pipelines(), 0, "pipelines alive after five rounds");
        // Descriptors close as sockets and threads wind down; give them a
        // moment before comparing, but compare exactly.
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut now = open_fds();
        while now.len() != baseline.len() && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
            now = open_fds();
        }
        assert_eq!(
            now.len(),
            baseline.len(),
            "open descriptors changed\nbefore: {baseline:#?}\nafter: {now:#?}"
        );
        assert_eq!(
            files_in(&downloads),
            Vec::<String>::new(),
            "downloads left behind"
        );
    });
}
