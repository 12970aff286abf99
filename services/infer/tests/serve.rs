//! `sv_infer::serve` in process on port 0 with the fixture models: SERVING
//! once the models are warm, and the detections a remote client gets for
//! the fixture frames are the ones the stage makes in process.

use std::path::{Path, PathBuf};
use std::time::Duration;

use futures::StreamExt;
use sv_core::{DetectionSource, Frame, FrameSource, FrameStream, VideoRequest};
use sv_infer::{InferConfig, Provider, ServeConfig, Stage};
use sv_proto::upstream::await_health;
use sv_proto::{ServerOptions, UpstreamConfig};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// Guards every wait against a hang; never a timing assertion.
const PATIENCE: Duration = Duration::from_secs(120);

fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures")
        .join(rel)
}

/// One of the PNGs the fixture script saved from OpenCV (8-bit RGB).
fn png_frame(index: u64) -> Frame {
    let path = fixture(&format!("frames/{index:04}.png"));
    let file = std::fs::File::open(&path).expect("fixture frame");
    let mut reader = png::Decoder::new(std::io::BufReader::new(file))
        .read_info()
        .expect("a PNG");
    let mut data = vec![0; reader.output_buffer_size().expect("a sane size")];
    let info = reader.next_frame(&mut data).expect("a frame");
    assert_eq!(info.color_type, png::ColorType::Rgb, "{}", path.display());
    data.truncate(info.buffer_size());
    Frame::rgb(index, info.width, info.height, data.into())
}

/// The three fixture frames, whatever video is asked for.
struct Frames;

impl FrameSource for Frames {
    fn frames(&self, _request: VideoRequest) -> FrameStream {
        Box::pin(futures::stream::iter((0..3).map(|i| Ok(png_frame(i)))))
    }
}

fn infer_config() -> InferConfig {
    let mut config = InferConfig::new(fixture("models/players.onnx"), fixture("models/pitch.onnx"));
    config.providers = vec![Provider::Cpu];
    config.lanes = 1;
    config
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn detections_over_the_wire_are_the_stage_s_own() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let (shutdown, stop) = oneshot::channel::<()>();
    let config = ServeConfig {
        infer: infer_config(),
        server: ServerOptions {
            grace: PATIENCE,
            upstream_health: None,
            ..ServerOptions::default()
        },
    };
    let served = tokio::spawn(sv_infer::serve(config, Frames, listener, async move {
        let _ = stop.await;
    }));
    let up = await_health(&url, PATIENCE, Duration::from_millis(100), |h| {
        assert!(!served.is_finished(), "serve stopped before it was warm");
        h == Some(true)
    })
    .await;
    assert!(up, "infer never turned SERVING");

    let request = VideoRequest::new("wire", "https://example.com/clip.mp4");
    let remote = sv_infer::grpc::Remote::connect(&UpstreamConfig::new([&url])).expect("remote");
    let over_the_wire: Vec<_> = remote
        .detect(request.clone())
        .map(|item| item.expect("detections"))
        .collect()
        .await;
    let stage = Stage::new(Frames, &infer_config()).expect("the fixture models load");
    let in_process: Vec<_> = stage
        .detect(request)
        .map(|item| item.expect("detections"))
        .collect()
        .await;
    assert_eq!(over_the_wire.len(), 3);
    assert!(
        over_the_wire.iter().any(|f| !f.detections.is_empty()),
        "nothing was detected: the comparison would prove nothing"
    );
    assert_eq!(over_the_wire, in_process);

    let _ = shutdown.send(());
    tokio::time::timeout(PATIENCE, served)
        .await
        .expect("serve returned")
        .expect("serve task")
        .expect("a clean stop");
}
