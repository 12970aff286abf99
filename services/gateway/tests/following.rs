//! The distributed gateway's readiness in process: `serve_following` in
//! front of three stage servers (health only) on port 0, each following
//! the one below as `scorevision decode|infer|track` do. /readyz names the
//! missing stage until every stage is SERVING, and again when one goes.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use sv_core::{TrackSource, TrackStream, VideoRequest};
use sv_gateway::{GatewayConfig, StakeConfig};
use sv_proto::{ServeError, ServerOptions, StageServer, Upstream, UpstreamConfig, chain};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tonic::service::Routes;

/// Guards every wait against a hang; the one timing assertion is the
/// issue's bound on noticing a killed stage.
const PATIENCE: Duration = Duration::from_secs(40);

/// Our hotkey (//Bob) and a staked validator (//Alice).
const BOB: &str = "5FHneW46xGXgs5mUiveU4sbTyGBzmstUspZC92UhjJM694ty";
const ALICE: &str = "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY";

/// No challenge is sent in this test.
struct NoTracks;

impl TrackSource for NoTracks {
    fn track(&self, _request: VideoRequest) -> TrackStream {
        Box::pin(futures::stream::empty())
    }
}

struct Stage {
    url: String,
    warm: Option<oneshot::Sender<()>>,
    shutdown: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<Result<(), ServeError>>,
}

/// A stage server answering health only, following `below` when given.
async fn stage(service: &'static str, below: Option<&Stage>) -> Stage {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let (warm, warmed) = oneshot::channel::<()>();
    let (shutdown, stop) = oneshot::channel::<()>();
    let options = ServerOptions {
        grace: Duration::from_secs(1),
        upstream_health: below
            .map(|b| Upstream::new(&UpstreamConfig::new([b.url.as_str()])).expect("link")),
        ..ServerOptions::default()
    };
    let server = StageServer::new(service, Routes::default(), options);
    let task = tokio::spawn(server.serve(
        listener,
        async move {
            let _ = warmed.await;
            Ok::<(), std::convert::Infallible>(())
        },
        async move {
            let _ = stop.await;
        },
    ));
    Stage {
        url,
        warm: Some(warm),
        shutdown: Some(shutdown),
        task,
    }
}

impl Stage {
    fn warm_up(&mut self) {
        let _ = self.warm.take().expect("once").send(());
    }

    async fn stop(&mut self) {
        let _ = self.shutdown.take().expect("once").send(());
        tokio::time::timeout(PATIENCE, &mut self.task)
            .await
            .expect("the stage stopped")
            .expect("serve task")
            .expect("a clean stop");
    }
}

/// GET /readyz: the status and the body.
async fn readyz(gateway: SocketAddr) -> (u16, String) {
    let mut stream = tokio::net::TcpStream::connect(gateway)
        .await
        .expect("the gateway listens");
    stream
        .write_all(b"GET /readyz HTTP/1.1\r\nHost: gateway\r\nConnection: close\r\n\r\n")
        .await
        .expect("request sent");
    let mut reply = String::new();
    stream.read_to_string(&mut reply).await.expect("reply read");
    let status = reply
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("a status line");
    (status, reply)
}

async fn wait_readyz(gateway: SocketAddr, status: u16, says: &str) {
    let mut last = (0, String::new());
    let waited = tokio::time::timeout(PATIENCE, async {
        loop {
            last = readyz(gateway).await;
            if last.0 == status && last.1.contains(says) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await;
    assert!(
        waited.is_ok(),
        "/readyz never said {status} {says:?}; last: {last:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_follows_every_stage_behind_track() {
    let mut decode = stage(chain::DECODE, None).await;
    let mut infer = stage(chain::INFER, Some(&decode)).await;
    let mut track = stage(chain::TRACK, Some(&infer)).await;
    infer.warm_up();
    track.warm_up();

    let dir = tempfile::tempdir().expect("tempdir");
    let (gateway, shutdown, served) = gateway_following(&track, dir.path()).await;

    // Decode is not warm: everything above it is down because of it.
    wait_readyz(gateway, 503, "the decode stage has no serving replica").await;
    decode.warm_up();
    wait_readyz(gateway, 200, "\"ready\":true").await;
    // Decode goes away: the gateway says so, naming it.
    decode.stop().await;
    wait_readyz(gateway, 503, "the decode stage has no serving replica").await;

    let _ = shutdown.send(());
    tokio::time::timeout(PATIENCE, served)
        .await
        .expect("the gateway stopped")
        .expect("gateway task")
        .expect("a clean stop");
    track.stop().await;
    infer.stop().await;
}

/// The gateway in front of `track`'s health, as `scorevision gateway` runs it.
async fn gateway_following(
    track: &Stage,
    dir: &std::path::Path,
) -> (
    SocketAddr,
    oneshot::Sender<()>,
    tokio::task::JoinHandle<Result<(), sv_gateway::Error>>,
) {
    let stakes = dir.join("stakes.json");
    std::fs::write(&stakes, format!("{{\"{ALICE}\": 5000.0}}")).expect("stakes");
    let mut config = GatewayConfig::default();
    config.hotkey.ss58 = Some(BOB.into());
    config.stake = StakeConfig::Static { file: stakes };
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let gateway = listener.local_addr().expect("addr");
    let track_health = Upstream::new(&UpstreamConfig::new([track.url.as_str()])).expect("link");
    let (shutdown, stop) = oneshot::channel::<()>();
    let tracks: Arc<dyn TrackSource> = Arc::new(NoTracks);
    let served = tokio::spawn(sv_gateway::serve_following(
        config,
        listener,
        tracks,
        track_health,
        async move {
            let _ = stop.await;
        },
    ));
    (gateway, shutdown, served)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_stage_two_hops_down_is_seen_within_a_second() {
    let mut decode = stage(chain::DECODE, None).await;
    let mut infer = stage(chain::INFER, Some(&decode)).await;
    let mut track = stage(chain::TRACK, Some(&infer)).await;
    for stage in [&mut decode, &mut infer, &mut track] {
        stage.warm_up();
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let (gateway, shutdown, served) = gateway_following(&track, dir.path()).await;
    wait_readyz(gateway, 200, "\"ready\":true").await;
    // Killed: its task aborted, connections cut, no drain and no NOT_SERVING.
    decode.task.abort();
    let killed = std::time::Instant::now();
    wait_readyz(gateway, 503, "the decode stage").await;
    let seen = killed.elapsed();
    // Every hop follows a Watch stream: the break travels as fast as the
    // messages (polling every 2 s per hop took 1.6-4.7 s).
    assert!(seen < Duration::from_secs(1), "seen after {seen:?}");
    println!("decode killed: the gateway's /readyz said so after {seen:?}");
    let _ = shutdown.send(());
    let _ = tokio::time::timeout(PATIENCE, served).await;
    track.stop().await;
    infer.stop().await;
}
