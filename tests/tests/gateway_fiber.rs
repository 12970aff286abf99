//! The real gateway on 127.0.0.1:0 against the independent Python fiber
//! client (tests/fiber/sign_and_send.py, substrate-interface 1.7.10).
//!
//! Each case asserts the exact status, then that a valid request right after
//! still succeeds. The track stage is a test double that really downloads the
//! video through sv-decode's `Fetcher` (so 404, private-address and oversized
//! videos fail for real) and then emits a few frames.
//!
//! Needs the fiber virtualenv: `tests/fiber/setup.sh` (or `$SV_FIBER_PYTHON`).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use futures::StreamExt;
use serde_json::Value;
use sv_core::{
    FrameTracks, Keypoint, StageError, TrackSource, TrackStream, TrackedObject, VideoRequest,
};
use sv_decode::fetch::{FetchPolicy, Fetcher};
use sv_gateway::{GatewayConfig, HotkeyConfig, StakeConfig};
use sv_tests::http;
use tokio::net::TcpListener;

const ALICE: &str = "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY";
const BOB: &str = "5FHneW46xGXgs5mUiveU4sbTyGBzmstUspZC92UhjJM694ty";
const CHARLIE: &str = "5FLSigC9HGRKVhB9FiEo4Y3koPsNmBmLJbpXg2mp1hXcS59Y";
const MAX_VIDEO_BYTES: u64 = 64 * 1024;
const FRAMES: u64 = 3;

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_owned()
}

fn python() -> PathBuf {
    let python = std::env::var_os("SV_FIBER_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join(".venv-fiber/bin/python"));
    assert!(
        python.exists(),
        "fiber interop tests need the Python client's virtualenv: {} does not exist. \
         Run tests/fiber/setup.sh (or set SV_FIBER_PYTHON to a python with substrate-interface==1.7.10 and httpx).",
        python.display()
    );
    python
}

/// `n` bytes that open like an MP4 (`ftyp`, then an `mdat` of filler): the
/// download takes them, no demuxer can decode them.
fn undecodable_mp4(n: usize) -> Vec<u8> {
    let mut body = b"\0\0\0\x18ftypisom\0\0\x02\0isomiso2\0\0\x10\0mdat".to_vec();
    body.resize(n.max(body.len()), 0x42);
    body.truncate(n);
    body
}

/// Serves test videos: `/clip.mp4` (small, not a video), `/big.mp4` (over
/// the cap), `/slow.mp4` (small, after a pause, to hold a slot),
/// `/sample.mp4` (the real fixture clip); 404 otherwise.
async fn video_server() -> SocketAddr {
    let sample: http::Body = std::fs::read(sv_tests::sample_clip())
        .unwrap_or_default()
        .into();
    let undecodable = |n| http::Reply::video(undecodable_mp4(n));
    let server = http::Server::start(move |request| match request.path.as_str() {
        "/clip.mp4" => undecodable(4096),
        "/big.mp4" => undecodable(MAX_VIDEO_BYTES as usize * 2),
        "/slow.mp4" => undecodable(4096).delay(Duration::from_millis(1500)),
        "/sample.mp4" => http::Reply::video(sample.clone()),
        _ => http::Reply::not_found(),
    })
    .await
    .unwrap();
    server.addr
}

/// Downloads the video for real, then emits `FRAMES` tracked frames.
struct DownloadingTracks {
    fetcher: Arc<Fetcher>,
    dir: Arc<tempfile::TempDir>,
}

impl TrackSource for DownloadingTracks {
    fn track(&self, request: VideoRequest) -> TrackStream {
        let fetcher = self.fetcher.clone();
        let dest = self
            .dir
            .path()
            .join(format!("{}.video", request.challenge_id));
        let work = async move {
            let result = fetcher.download(&request.video_url, &dest).await;
            let _ = std::fs::remove_file(&dest);
            result.map_err(StageError::from)?;
            Ok::<_, StageError>((0..FRAMES).map(|index| FrameTracks {
                index,
                objects: vec![TrackedObject {
                    id: 1 + index,
                    bbox: [10.0, 20.0, 30.5, 40.25],
                    class_id: 2,
                }],
                keypoints: Some(vec![
                    Keypoint {
                        x: 1.5,
                        y: 2.5,
                        confidence: 0.9
                    };
                    32
                ]),
            }))
        };
        Box::pin(futures::stream::once(work).flat_map(|result| match result {
            Ok(frames) => futures::stream::iter(frames.map(Ok).collect::<Vec<_>>()),
            Err(e) => futures::stream::iter(vec![Err(e)]),
        }))
    }
}

struct Gateway {
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<Result<(), sv_gateway::Error>>,
    _dir: Arc<tempfile::TempDir>,
}

impl Gateway {
    /// Starts the real `serve` with a static stake file: Alice 5000 TAO,
    /// Charlie 10 TAO; our hotkey is Bob's.
    async fn start(max_concurrent: usize, queue_depth: usize) -> Result<Self> {
        let dir = Arc::new(tempfile::tempdir()?);
        let policy = FetchPolicy {
            max_bytes: MAX_VIDEO_BYTES,
            retries: 0,
            allow_nets: vec!["127.0.0.1/32".parse()?],
            ..FetchPolicy::default()
        };
        let tracks = DownloadingTracks {
            fetcher: Arc::new(Fetcher::new(policy)?),
            dir: dir.clone(),
        };
        Self::start_with(max_concurrent, queue_depth, Arc::new(tracks), dir).await
    }

    /// Starts the real `serve` in front of `tracks`.
    async fn start_with(
        max_concurrent: usize,
        queue_depth: usize,
        tracks: Arc<dyn TrackSource>,
        dir: Arc<tempfile::TempDir>,
    ) -> Result<Self> {
        let stakes = dir.path().join("stakes.json");
        std::fs::write(
            &stakes,
            serde_json::json!({ ALICE: 5000.0, CHARLIE: 10.0 }).to_string(),
        )?;
        let config = GatewayConfig {
            max_concurrent,
            queue_depth,
            hotkey: HotkeyConfig {
                ss58: Some(BOB.into()),
                ..HotkeyConfig::default()
            },
            stake: StakeConfig::Static { file: stakes },
            ..GatewayConfig::default()
        };
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(sv_gateway::serve(config, listener, tracks, async move {
            let _ = stopped.await;
        }));
        Ok(Self {
            addr,
            stop: Some(stop),
            task,
            _dir: dir,
        })
    }

    async fn stop(mut self) -> Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        tokio::time::timeout(Duration::from_secs(30), self.task)
            .await??
            .context("gateway serve")
    }
}

#[derive(Debug)]
struct Reply {
    case: String,
    status: u16,
    body: Value,
}

/// Runs the Python client for one case (off the runtime thread: the gateway
/// answers on this runtime while the client waits).
async fn client(gateway: SocketAddr, video_url: &str, args: &[&str]) -> Result<Vec<Reply>> {
    let mut command = Command::new(python());
    command
        .arg(workspace_root().join("tests/fiber/sign_and_send.py"))
        .args([
            "--url",
            &format!("http://{gateway}"),
            "--miner-hotkey",
            BOB,
            "--video-url",
            video_url,
        ])
        .args(args);
    let output = tokio::task::spawn_blocking(move || command.output()).await??;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        bail!(
            "sign_and_send.py {args:?} failed: {}\n{stdout}\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
    }
    stdout
        .lines()
        .map(|line| {
            let v: Value =
                serde_json::from_str(line).with_context(|| format!("client printed {line:?}"))?;
            Ok(Reply {
                case: v["case"].as_str().unwrap_or_default().to_owned(),
                status: v["status"].as_u64().unwrap_or_default() as u16,
                body: v["body"].clone(),
            })
        })
        .collect()
}

fn detail(reply: &Reply) -> &str {
    reply.body["detail"].as_str().unwrap_or("")
}

fn assert_answer(reply: &Reply) {
    assert_eq!(reply.status, 200, "{reply:?}");
    let body = reply.body.as_object().expect("a JSON object");
    let mut keys: Vec<_> = body.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["challenge_id", "frames", "processing_time"]);
    assert!(
        body["challenge_id"]
            .as_str()
            .unwrap()
            .starts_with("fiber-test-")
    );
    let frames = body["frames"].as_array().unwrap();
    assert_eq!(frames.len(), FRAMES as usize);
    for (i, frame) in frames.iter().enumerate() {
        assert_eq!(frame["frame_number"], i as u64);
        assert_eq!(frame["keypoints"].as_array().unwrap().len(), 32);
        assert_eq!(
            frame["objects"][0]["bbox"],
            serde_json::json!([10.0, 20.0, 30.5, 40.25])
        );
    }
    assert!(body["processing_time"].as_f64().unwrap() > 0.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fiber_client_cases() -> Result<()> {
    let videos = video_server().await;
    let clip = format!("http://{videos}/clip.mp4");
    let gateway = Gateway::start(1, 0).await?;
    let at = gateway.addr;

    // (case args, video URL, expected status, words the detail must contain)
    // The "private address" is loopback outside the allow-list (127.0.0.1/32):
    // refused like 10.x or 192.168.x, but harmless should the guard ever fail.
    let other_loopback = format!("http://127.0.0.2:{}/clip.mp4", videos.port());
    let missing = format!("http://{videos}/missing.mp4");
    let big = format!("http://{videos}/big.mp4");
    let cases: Vec<(Vec<&str>, &str, u16, &str)> = vec![
        (vec!["--case", "valid"], clip.as_str(), 200, ""),
        (
            vec!["--case", "missing-header", "--drop-header", "nonce"],
            clip.as_str(),
            422,
            "missing header 'nonce'",
        ),
        (
            vec!["--case", "missing-header", "--drop-header", "signature"],
            clip.as_str(),
            422,
            "missing header 'signature'",
        ),
        (
            vec!["--case", "malformed-ss58"],
            clip.as_str(),
            401,
            "validator-hotkey",
        ),
        (
            vec!["--case", "bad-signature-hex"],
            clip.as_str(),
            401,
            "hex",
        ),
        (
            vec!["--case", "wrong-length-signature"],
            clip.as_str(),
            401,
            "63 bytes",
        ),
        (
            vec!["--case", "other-key"],
            clip.as_str(),
            401,
            "signature does not match",
        ),
        (
            vec!["--case", "body-changed"],
            clip.as_str(),
            401,
            "signature does not match",
        ),
        (vec!["--case", "stale-nonce"], clip.as_str(), 401, "stale"),
        (vec!["--case", "future-nonce"], clip.as_str(), 401, "future"),
        (
            vec!["--case", "malformed-nonce"],
            clip.as_str(),
            401,
            "malformed",
        ),
        // Above fiber's 10^20 ns bound, with and without a suffix.
        (vec!["--case", "absurd-nonce"], clip.as_str(), 401, "absurd"),
        // Bare str(time_ns) nonces (Score's newer validators): the same
        // window as fiber's suffixed ones.
        (
            vec!["--bare-nonce", "--case", "valid"],
            clip.as_str(),
            200,
            "",
        ),
        (
            vec!["--bare-nonce", "--case", "stale-nonce"],
            clip.as_str(),
            401,
            "stale",
        ),
        (
            vec!["--bare-nonce", "--case", "future-nonce"],
            clip.as_str(),
            401,
            "future",
        ),
        (
            vec!["--bare-nonce", "--case", "absurd-nonce"],
            clip.as_str(),
            401,
            "absurd",
        ),
        (
            vec!["--case", "wrong-miner"],
            clip.as_str(),
            401,
            "miner-hotkey",
        ),
        (
            vec!["--validator-uri", "//Charlie"],
            clip.as_str(),
            403,
            "below the minimum",
        ),
        (
            vec!["--validator-uri", "//Dave"],
            clip.as_str(),
            403,
            "not in the metagraph",
        ),
        (
            vec!["--case", "no-video-url"],
            clip.as_str(),
            400,
            "no video_url",
        ),
        (vec![], missing.as_str(), 422, "404"),
        (vec![], other_loopback.as_str(), 422, "non-public address"),
        (vec![], big.as_str(), 413, "byte limit"),
    ];
    let mut failures = Vec::new();
    for (args, video, status, words) in &cases {
        let mut args = args.clone();
        args.extend(["--then-valid", "--valid-video-url", &clip]);
        let replies = client(at, video, &args).await?;
        let [case, then] = &replies[..] else {
            bail!("{args:?}: expected 2 replies, got {replies:?}")
        };
        if case.status != *status || !detail(case).contains(words) {
            failures.push(format!(
                "{args:?} {video}: expected {status} with {words:?}, got {case:?}"
            ));
        }
        assert_eq!(then.case, "then-valid");
        assert_answer(then);
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));

    // Rejections answered before the body is read must not break the
    // client's keep-alive connection for the next request.
    let replies = client(
        at,
        &clip,
        &["--case", "malformed-ss58", "--then-valid", "--repeat", "25"],
    )
    .await?;
    let statuses: Vec<u16> = replies.iter().map(|r| r.status).collect();
    assert_eq!(statuses, [401, 200].repeat(25), "{replies:?}");

    // A replayed request: first answered, second refused, then still
    // serving; with fiber's suffixed nonce and with a bare time_ns one.
    for form in [&[][..], &["--bare-nonce"][..]] {
        let mut args = vec!["--case", "replay", "--then-valid"];
        args.extend(form);
        let replies = client(at, &clip, &args).await?;
        let statuses: Vec<u16> = replies.iter().map(|r| r.status).collect();
        assert_eq!(statuses, [200, 401, 200], "{args:?}: {replies:?}");
        assert!(detail(&replies[1]).contains("already used"), "{args:?}");
    }

    // Two at once with one slot and no queue: one answer, one fast 503.
    let slow = format!("http://{videos}/slow.mp4");
    let replies = client(
        at,
        &slow,
        &["--case", "concurrent", "--concurrent", "2", "--then-valid"],
    )
    .await?;
    let mut statuses: Vec<u16> = replies[..2].iter().map(|r| r.status).collect();
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 503], "{replies:?}");
    let busy = replies.iter().find(|r| r.status == 503).unwrap();
    assert!(detail(busy).contains("busy"), "{busy:?}");
    assert_eq!(replies[2].status, 200, "{replies:?}");

    gateway.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_queue_slot_lets_the_second_challenge_wait() -> Result<()> {
    let videos = video_server().await;
    let gateway = Gateway::start(1, 1).await?;
    let slow = format!("http://{videos}/slow.mp4");
    let replies = client(
        gateway.addr,
        &slow,
        &["--case", "concurrent", "--concurrent", "2"],
    )
    .await?;
    for reply in &replies {
        assert_answer(reply);
    }
    // The metrics saw both answers and the queue wait.
    let metrics = sv_tests::http::get(gateway.addr, "/metrics").await?;
    assert!(
        metrics.contains(r#"sv_gateway_challenges_total{outcome="ok"} 2"#),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"sv_gateway_stage_duration_seconds_count{stage="queue"} 2"#),
        "{metrics}"
    );
    let availability: Value = serde_json::from_str(
        sv_tests::http::get(gateway.addr, "/availability")
            .await?
            .trim(),
    )?;
    assert_eq!(availability, serde_json::json!({"available": true}));
    gateway.stop().await
}

/// The embedded pipeline (decode -> infer -> track on the fixture models),
/// fetching from loopback only.
fn real_pipeline() -> Result<Arc<dyn TrackSource>> {
    let mut decode = sv_decode::DecodeConfig::default();
    decode.fetch.allow_nets = vec!["127.0.0.1/32".parse()?];
    decode.fetch.retries = 0;
    let decode = sv_decode::Stage::new(decode)?;
    let infer = sv_infer::InferConfig::new(sv_tests::player_model(), sv_tests::pitch_model());
    let infer = Arc::new(sv_infer::Stage::new(decode, &infer)?);
    Ok(Arc::new(sv_track::Stage::new(
        infer,
        sv_track::ByteTrackConfig::default(),
    )))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_challenge_for_the_fixture_clip_gets_the_full_answer() -> Result<()> {
    let videos = video_server().await;
    let dir = Arc::new(tempfile::tempdir()?);
    let gateway = Gateway::start_with(1, 0, real_pipeline()?, dir).await?;
    let sample = format!("http://{videos}/sample.mp4");

    let answer = client(gateway.addr, &sample, &["--case", "valid"])
        .await?
        .remove(0);
    assert_eq!(answer.status, 200, "{answer:?}");
    let frames = answer.body["frames"].as_array().expect("frames");
    let expected = sv_tests::ffprobe_frame_count(&sv_tests::sample_clip())?;
    assert_eq!(frames.len() as u64, expected, "one entry per decoded frame");
    let mut objects = 0;
    for (i, frame) in frames.iter().enumerate() {
        assert_eq!(frame["frame_number"], i as u64);
        // 32 points in every frame, pitch found or not (keypoints_when_missing = "zeros").
        let keypoints = frame["keypoints"].as_array().unwrap().len();
        assert_eq!(keypoints, 32, "frame {i}");
        objects += frame["objects"].as_array().unwrap().len();
    }
    assert!(objects > 0, "the models tracked nothing in the whole clip");

    // Bytes that are not a video: a clear client-side error, then the next
    // challenge is served as before.
    let not_video = format!("http://{videos}/clip.mp4");
    let reply = client(gateway.addr, &not_video, &["--case", "valid"])
        .await?
        .remove(0);
    assert!((400..500).contains(&reply.status), "{reply:?}");
    assert!(
        detail(&reply).contains("not a decodable video"),
        "{reply:?}"
    );
    let again = client(gateway.addr, &sample, &["--case", "valid"])
        .await?
        .remove(0);
    assert_eq!(again.status, 200, "{again:?}");
    assert_eq!(
        again.body["frames"].as_array().unwrap().len() as u64,
        expected
    );
    gateway.stop().await
}
