//! `sv_track::serve` in process on port 0, over a scripted upstream: the
//! tracks that cross the wire are the ones the stage makes in process, and
//! a shutdown turns health off while the stream in flight finishes.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use sv_core::{
    Detection, DetectionSource, DetectionStream, FrameDetections, Keypoint, StageError,
    TrackSource, VideoRequest,
};
use sv_proto::upstream::await_health;
use sv_proto::{ServeError, ServerOptions, UpstreamConfig};
use sv_track::{ByteTrackConfig, ServeConfig, Stage};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};
use tokio_stream::wrappers::ReceiverStream;

/// Guards every wait against a hang; never a timing assertion.
const PATIENCE: Duration = Duration::from_secs(15);
/// How often a test asks a server for its health.
const STEP: Duration = Duration::from_millis(20);

/// Frame `index`: two players walking right, the ball still, and keypoints
/// on every other frame.
fn detections(index: u64) -> FrameDetections {
    let x = index as f32 * 6.0;
    let player = |x0: f32, confidence: f32| Detection {
        bbox: [x0 + x, 100.0, x0 + x + 40.0, 180.0],
        confidence,
        class_id: 2,
    };
    let ball = Detection {
        bbox: [600.0, 400.0, 610.0, 410.0],
        confidence: 0.7,
        class_id: 0,
    };
    let keypoints = index.is_multiple_of(2).then(|| {
        (0..32)
            .map(|k| Keypoint {
                x: k as f32,
                y: index as f32,
                confidence: 0.9,
            })
            .collect()
    });
    FrameDetections {
        index,
        detections: vec![player(100.0, 0.9), player(400.0, 0.8), ball],
        keypoints,
        between_keyframes: false,
    }
}

type Detections = mpsc::Receiver<Result<FrameDetections, StageError>>;

/// Each call's detections come from the next queued receiver, or are the
/// first `frames` of [`detections`] when none is queued.
#[derive(Clone)]
struct Scripted {
    frames: u64,
    queued: Arc<Mutex<Vec<Detections>>>,
}

impl Scripted {
    fn new(frames: u64) -> Self {
        Self {
            frames,
            queued: Arc::default(),
        }
    }

    /// The sender of the next call's detections.
    fn next_stream(&self) -> mpsc::Sender<Result<FrameDetections, StageError>> {
        let (tx, rx) = mpsc::channel(4);
        self.queued.lock().expect("script lock").push(rx);
        tx
    }
}

impl DetectionSource for Scripted {
    fn detect(&self, _request: VideoRequest) -> DetectionStream {
        match self.queued.lock().expect("script lock").pop() {
            Some(rx) => Box::pin(ReceiverStream::new(rx)),
            None => Box::pin(futures::stream::iter(
                (0..self.frames).map(|i| Ok(detections(i))),
            )),
        }
    }
}

struct Served {
    url: String,
    shutdown: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<Result<(), ServeError>>,
}

async fn start(upstream: Scripted) -> Served {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let (shutdown, stop) = oneshot::channel::<()>();
    let config = ServeConfig {
        bytetrack: ByteTrackConfig::default(),
        server: ServerOptions {
            grace: PATIENCE,
            upstream_health: None,
            ..ServerOptions::default()
        },
    };
    let task = tokio::spawn(sv_track::serve(config, upstream, listener, async move {
        let _ = stop.await;
    }));
    Served {
        url,
        shutdown,
        task,
    }
}

async fn wait_serving(url: &str) {
    let up = await_health(url, PATIENCE, STEP, |h| h == Some(true)).await;
    assert!(up, "track never turned SERVING");
}

fn remote(url: &str) -> sv_track::grpc::Remote {
    sv_track::grpc::Remote::connect(&UpstreamConfig::new([url])).expect("remote")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tracks_over_the_wire_are_the_stage_s_own() {
    let served = start(Scripted::new(30)).await;
    wait_serving(&served.url).await;
    let request = VideoRequest::new("wire", "https://example.com/clip.mp4");
    let remote = remote(&served.url);
    let over_the_wire: Vec<_> = remote
        .track(request.clone())
        .map(|item| item.expect("a track frame"))
        .collect()
        .await;
    let in_process: Vec<_> = Stage::new(Scripted::new(30), ByteTrackConfig::default())
        .track(request)
        .map(|item| item.expect("a track frame"))
        .collect()
        .await;
    assert_eq!(over_the_wire.len(), 30);
    assert!(
        over_the_wire.iter().any(|f| !f.objects.is_empty()),
        "nothing was tracked: the comparison would prove nothing"
    );
    assert_eq!(over_the_wire, in_process);
    let _ = served.shutdown.send(());
    served
        .task
        .await
        .expect("serve task")
        .expect("a clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_turns_health_off_and_the_stream_in_flight_finishes() {
    let upstream = Scripted::new(0);
    let served = start(upstream.clone()).await;
    wait_serving(&served.url).await;
    let detections_in = upstream.next_stream();
    let remote = remote(&served.url);
    let mut stream = remote.track(VideoRequest::new("drain", "https://example.com/clip.mp4"));
    detections_in.send(Ok(detections(0))).await.expect("open");
    let first = tokio::time::timeout(PATIENCE, stream.next()).await;
    assert_eq!(
        first.expect("in time").expect("an item").expect("ok").index,
        0
    );

    let _ = served.shutdown.send(());
    let down = await_health(&served.url, PATIENCE, STEP, |h| h != Some(true)).await;
    assert!(down, "still SERVING after the shutdown signal");

    for index in 1..5 {
        detections_in
            .send(Ok(detections(index)))
            .await
            .expect("still draining");
    }
    drop(detections_in);
    let rest: Vec<u64> = tokio::time::timeout(PATIENCE, stream.collect::<Vec<_>>())
        .await
        .expect("the stream ended")
        .into_iter()
        .map(|item| item.expect("no error while draining").index)
        .collect();
    assert_eq!(rest, vec![1, 2, 3, 4]);
    tokio::time::timeout(PATIENCE, served.task)
        .await
        .expect("serve returned after the drain")
        .expect("serve task")
        .expect("a clean stop");
}
