//! `sv_decode::serve` in process on port 0: the frames a remote client gets,
//! inline or through the shared-memory ring, are the file's to the bit; a
//! shutdown turns health off while the video in flight is sent whole.

mod common;

use std::path::Path;
use std::time::Duration;

use common::{config, sample_clip};
use futures::StreamExt;
use sv_core::{Frame, FrameSource, VideoRequest};
use sv_decode::grpc::{FrameTransport, Remote, RemoteConfig, ShmOptions};
use sv_decode::{DecodeConfig, ServeConfig, decode_file};
use sv_proto::upstream::await_health;
use sv_proto::{ServeError, ServerOptions};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// Guards every wait against a hang; never a timing assertion.
const PATIENCE: Duration = Duration::from_secs(60);
/// How often a test asks a server for its health.
const STEP: Duration = Duration::from_millis(20);

struct Served {
    url: String,
    shutdown: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<Result<(), ServeError>>,
}

/// Decode on a port of its own; `shm`: the ring directory.
async fn start(shm: Option<&Path>) -> Served {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let (shutdown, stop) = oneshot::channel::<()>();
    let config = ServeConfig {
        // A test names the clip by path, as `--allow-local-files` lets it.
        decode: DecodeConfig {
            local_files: true,
            warm_up: false,
            ..config()
        },
        shm: shm.map(ShmOptions::new),
        server: ServerOptions {
            grace: PATIENCE,
            upstream_health: None,
            ..ServerOptions::default()
        },
    };
    let task = tokio::spawn(sv_decode::serve(config, listener, async move {
        let _ = stop.await;
    }));
    let served = Served {
        url,
        shutdown,
        task,
    };
    let up = await_health(&served.url, PATIENCE, STEP, |h| h == Some(true)).await;
    assert!(up, "decode never turned SERVING");
    served
}

fn remote(url: &str, transport: FrameTransport, shm: Option<&Path>) -> Remote {
    let mut config = RemoteConfig::new([url]);
    config.transport = transport;
    if let Some(dir) = shm {
        config.shm_dir = dir.to_path_buf();
    }
    Remote::connect(&config).expect("remote")
}

fn file_frames() -> Vec<Frame> {
    let mut frames = Vec::new();
    decode_file(&sample_clip(), &config(), |f| {
        frames.push(f);
        true
    })
    .expect("the sample clip decodes");
    frames
}

fn request(id: &str) -> VideoRequest {
    VideoRequest::new(id, sample_clip().display().to_string())
}

fn assert_same_frames(got: &[Frame], want: &[Frame]) {
    assert_eq!(got.len(), want.len(), "frame count");
    for (g, w) in got.iter().zip(want) {
        assert_eq!(
            (g.index, g.width, g.height, g.stride),
            (w.index, w.width, w.height, w.stride),
            "frame {}",
            w.index
        );
        assert!(g.data == w.data, "frame {}: pixels differ", w.index);
    }
}

/// Checks each frame of the sample clip from `remote` as it comes and lets
/// it go: a frame read through the ring holds its slot until dropped.
async fn assert_frames_over(remote: &Remote, id: &str, want: &[Frame]) {
    let mut stream = remote.frames(request(id));
    let mut count = 0;
    while let Some(item) = tokio::time::timeout(PATIENCE, stream.next())
        .await
        .expect("the next frame in time")
    {
        let frame = item.expect("a frame");
        let expected = want.get(count).expect("no more frames than the file's");
        assert_same_frames(std::slice::from_ref(&frame), std::slice::from_ref(expected));
        count += 1;
    }
    assert_eq!(count, want.len(), "frame count");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frames_inline_and_through_the_ring_are_the_file_s() {
    let shm = tempfile::tempdir().expect("ring dir");
    let served = start(Some(shm.path())).await;
    let want = file_frames();
    let inline = remote(&served.url, FrameTransport::Inline, None);
    assert_frames_over(&inline, "inline", &want).await;
    let ring = remote(&served.url, FrameTransport::SharedMemory, Some(shm.path()));
    assert_frames_over(&ring, "ring", &want).await;
    let wire = ring.wire_stats();
    let per_frame = wire
        .message_bytes
        .load(std::sync::atomic::Ordering::Relaxed) as f64
        / wire
            .frames
            .load(std::sync::atomic::Ordering::Relaxed)
            .max(1) as f64;
    assert!(
        per_frame < 1000.0,
        "{per_frame} bytes per frame: not by handle"
    );
    let _ = served.shutdown.send(());
    served
        .task
        .await
        .expect("serve task")
        .expect("a clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_turns_health_off_and_the_video_in_flight_is_sent_whole() {
    let served = start(None).await;
    let client = remote(&served.url, FrameTransport::Inline, None);
    let mut stream = client.frames(request("drain"));
    // One frame in: decode is mid-video, held back by this slow consumer.
    let first = tokio::time::timeout(PATIENCE, stream.next()).await;
    let first = first.expect("in time").expect("a frame").expect("ok");
    assert_eq!(first.index, 0);

    let _ = served.shutdown.send(());
    let down = await_health(&served.url, PATIENCE, STEP, |h| h != Some(true)).await;
    assert!(down, "still SERVING after the shutdown signal");

    let mut got = vec![first];
    got.extend(
        tokio::time::timeout(PATIENCE, stream.collect::<Vec<_>>())
            .await
            .expect("the rest in time")
            .into_iter()
            .map(|f| f.expect("no error while draining")),
    );
    assert_same_frames(&got, &file_frames());
    tokio::time::timeout(PATIENCE, served.task)
        .await
        .expect("serve returned after the drain")
        .expect("serve task")
        .expect("a clean stop");
}
