//! [`StageServer`] in process on port 0: health NOT_SERVING until the
//! warm-up resolves, a failed warm-up, the drain on shutdown (in-flight
//! streams finish; the grace period cuts what does not), reflection, a
//! stage following the health of the stage below it, and the stream limit
//! with its series on the metrics port.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::registry::Registry;
use sv_core::{FrameTracks, StageError, VideoRequest};
use sv_proto::client::RemoteStage;
use sv_proto::server::answer;
use sv_proto::upstream::{await_health, server_health};
use sv_proto::v1::track_client::TrackClient;
use sv_proto::v1::track_server::{Track, TrackServer};
use sv_proto::v1::{self, TrackMessage};
use sv_proto::{ServeError, ServerOptions, StageServer, Upstream, UpstreamConfig, chain};
use sv_telemetry::metrics::Exposition;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};
use tokio_stream::wrappers::ReceiverStream;
use tonic::service::Routes;
use tonic::{Request, Response, Status};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

/// Guards every wait against a hang; never a timing assertion.
const PATIENCE: Duration = Duration::from_secs(15);

type Items = mpsc::Receiver<Result<FrameTracks, StageError>>;

/// A track service whose next stream is whatever the test queued.
#[derive(Clone, Default)]
struct Scripted(Arc<Mutex<Vec<Items>>>);

impl Scripted {
    /// The sender of the next call's stream.
    fn next_stream(&self) -> mpsc::Sender<Result<FrameTracks, StageError>> {
        let (tx, rx) = mpsc::channel(4);
        self.0.lock().expect("script lock").push(rx);
        tx
    }
}

#[tonic::async_trait]
impl Track for Scripted {
    type TrackStream = ReceiverStream<Result<TrackMessage, Status>>;

    async fn track(
        &self,
        request: Request<v1::VideoRequest>,
    ) -> Result<Response<Self::TrackStream>, Status> {
        let request = sv_proto::server::incoming(request);
        let items = self
            .0
            .lock()
            .expect("script lock")
            .pop()
            .ok_or_else(|| Status::failed_precondition("no stream scripted"))?;
        Ok(Response::new(answer::<TrackMessage, FrameTracks, _>(
            &request,
            ReceiverStream::new(items),
        )))
    }
}

struct Running {
    addr: SocketAddr,
    /// Warms the stage up (a warm-up that waits for it).
    warm: Option<oneshot::Sender<Result<(), std::io::Error>>>,
    shutdown: Option<oneshot::Sender<()>>,
    served: tokio::task::JoinHandle<Result<(), ServeError>>,
}

impl Running {
    fn warm_up(&mut self, result: Result<(), std::io::Error>) {
        let _ = self.warm.take().expect("warmed once").send(result);
    }

    fn shut_down(&mut self) {
        let _ = self.shutdown.take().expect("shut down once").send(());
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    async fn served(self) -> Result<(), ServeError> {
        tokio::time::timeout(PATIENCE, self.served)
            .await
            .expect("the server did not stop")
            .expect("the serve task")
    }
}

/// `service` on a port of its own, warm once the test says so.
async fn start(service: &'static str, source: Scripted, options: ServerOptions) -> Running {
    start_with_metrics(service, source, options, Exposition::default()).await
}

/// [`start`], with the stage's own series `metrics`.
async fn start_with_metrics(
    service: &'static str,
    source: Scripted,
    options: ServerOptions,
    metrics: Exposition,
) -> Running {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("local addr");
    let (warm, warmed) = oneshot::channel::<Result<(), std::io::Error>>();
    let (shutdown, stop) = oneshot::channel::<()>();
    let server = StageServer::new(service, Routes::new(TrackServer::new(source)), options)
        .with_metrics(metrics);
    let served = tokio::spawn(server.serve(
        listener,
        async move { warmed.await.unwrap_or(Ok(())) },
        async move {
            let _ = stop.await;
        },
    ));
    Running {
        addr,
        warm: Some(warm),
        shutdown: Some(shutdown),
        served,
    }
}

fn options(grace: Duration) -> ServerOptions {
    ServerOptions {
        grace,
        upstream_health: None,
        ..ServerOptions::default()
    }
}

/// `service`'s status on the server at `addr`; `None` when nothing answers.
async fn health(addr: SocketAddr, service: &str) -> Option<ServingStatus> {
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .ok()?
        .connect_timeout(Duration::from_millis(500))
        .connect()
        .await
        .ok()?;
    let mut client = HealthClient::new(channel);
    let check = client.check(HealthCheckRequest {
        service: service.to_string(),
    });
    let reply = tokio::time::timeout(Duration::from_secs(2), check)
        .await
        .ok()?
        .ok()?;
    ServingStatus::try_from(reply.into_inner().status).ok()
}

async fn wait_for(addr: SocketAddr, service: &str, wanted: ServingStatus) {
    tokio::time::timeout(PATIENCE, async {
        while health(addr, service).await != Some(wanted) {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("{service:?} at {addr} never became {wanted:?}"));
}

fn tracks(index: u64) -> FrameTracks {
    FrameTracks {
        index,
        objects: Vec::new(),
        keypoints: None,
    }
}

/// A stream from the server at `url`, through the client every stage uses.
fn call(
    url: &str,
    id: &str,
) -> std::pin::Pin<Box<dyn futures::Stream<Item = Result<FrameTracks, StageError>> + Send>> {
    let remote = RemoteStage::connect(&UpstreamConfig::new([url])).expect("remote");
    let request = VideoRequest::new(id, "https://example.com/clip.mp4");
    let stream = remote.call::<TrackMessage, FrameTracks, _, _>(
        "track",
        &request,
        |channel, wire| async move { TrackClient::new(channel).track(wire).await },
    );
    // The remote (its channel) lives as long as the stream.
    Box::pin(stream.map(move |item| {
        let _keep = &remote;
        item
    }))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_is_not_serving_until_the_warm_up_resolves() {
    let mut server = start(chain::TRACK, Scripted::default(), options(PATIENCE)).await;
    for service in ["", chain::TRACK] {
        assert_eq!(
            health(server.addr, service).await,
            Some(ServingStatus::NotServing),
            "{service:?} before the warm-up"
        );
    }
    // What the stages' own tests wait on says the same.
    let url = format!("http://{}", server.addr);
    let step = Duration::from_millis(20);
    assert_eq!(server_health(&url, PATIENCE).await, Some(false));
    assert!(!await_health(&url, Duration::from_millis(300), step, |h| h == Some(true)).await);
    server.warm_up(Ok(()));
    wait_for(server.addr, "", ServingStatus::Serving).await;
    assert_eq!(
        health(server.addr, chain::TRACK).await,
        Some(ServingStatus::Serving)
    );
    assert_eq!(server_health(&url, PATIENCE).await, Some(true));
    assert!(await_health(&url, PATIENCE, step, |h| h == Some(true)).await);
    server.shut_down();
    server.served().await.expect("a clean stop");
    // Nobody answers on the port any more.
    assert_eq!(server_health(&url, PATIENCE).await, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_warm_up_stops_the_server_and_says_why() {
    let mut server = start(chain::INFER, Scripted::default(), options(PATIENCE)).await;
    let addr = server.addr;
    assert_eq!(health(addr, "").await, Some(ServingStatus::NotServing));
    server.warm_up(Err(std::io::Error::other("no models here")));
    let err = server.served().await.expect_err("the warm-up failed");
    assert!(matches!(err, ServeError::Stage(_)), "{err:?}");
    assert_eq!(err.to_string(), "no models here");
    // Nothing serves the port any more.
    assert_eq!(health(addr, "").await, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_turns_health_off_and_lets_streams_in_flight_finish() {
    let source = Scripted::default();
    let mut server = start(chain::TRACK, source.clone(), options(PATIENCE)).await;
    server.warm_up(Ok(()));
    wait_for(server.addr, "", ServingStatus::Serving).await;

    let items = source.next_stream();
    let mut stream = call(&server.url(), "drain");
    items
        .send(Ok(tracks(0)))
        .await
        .expect("the server takes items");
    let first = tokio::time::timeout(PATIENCE, stream.next()).await;
    assert_eq!(first.expect("an item").expect("open").expect("ok").index, 0);

    server.shut_down();
    // Health says NOT_SERVING at once, or no longer answers new connections.
    tokio::time::timeout(PATIENCE, async {
        while health(server.addr, "").await == Some(ServingStatus::Serving) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("still SERVING after the shutdown signal");
    assert!(!server.served.is_finished(), "stopped with a stream open");

    // The stream in flight still ends whole, and then the server stops.
    for index in 1..3 {
        items.send(Ok(tracks(index))).await.expect("still draining");
    }
    drop(items);
    let rest: Vec<u64> = tokio::time::timeout(PATIENCE, stream.collect::<Vec<_>>())
        .await
        .expect("the stream ended")
        .into_iter()
        .map(|item| item.expect("no error while draining").index)
        .collect();
    assert_eq!(rest, vec![1, 2]);
    server.served().await.expect("a clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_grace_period_cuts_streams_that_do_not_finish() {
    let source = Scripted::default();
    let mut server = start(
        chain::TRACK,
        source.clone(),
        options(Duration::from_millis(300)),
    )
    .await;
    server.warm_up(Ok(()));
    wait_for(server.addr, "", ServingStatus::Serving).await;
    let items = source.next_stream();
    let mut stream = call(&server.url(), "stuck");
    items
        .send(Ok(tracks(0)))
        .await
        .expect("the server takes items");
    let first = tokio::time::timeout(PATIENCE, stream.next()).await;
    assert!(matches!(first, Ok(Some(Ok(_)))), "{first:?}");

    server.shut_down();
    server
        .served()
        .await
        .expect("the grace period ends it cleanly");
    // The client's stream ends without its explicit end: an error, not a hang.
    let rest = tokio::time::timeout(PATIENCE, stream.collect::<Vec<_>>())
        .await
        .expect("the cut stream ended");
    assert!(
        rest.last().is_some_and(Result::is_err),
        "a cut stream must not look complete: {rest:?}"
    );
    drop(items);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reflection_lists_the_stage_and_health() {
    use tonic_reflection::pb::v1::ServerReflectionRequest;
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;

    let mut server = start(chain::TRACK, Scripted::default(), options(PATIENCE)).await;
    let channel = tonic::transport::Endpoint::from_shared(server.url())
        .expect("url")
        .connect()
        .await
        .expect("connect");
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut replies = ServerReflectionClient::new(channel)
        .server_reflection_info(futures::stream::iter([request]))
        .await
        .expect("reflection")
        .into_inner();
    let reply = replies.message().await.expect("a reply").expect("one");
    let Some(MessageResponse::ListServicesResponse(list)) = reply.message_response else {
        panic!("unexpected reflection reply {reply:?}");
    };
    let names: Vec<_> = list.service.into_iter().map(|s| s.name).collect();
    for wanted in [chain::TRACK, "grpc.health.v1.Health"] {
        assert!(names.iter().any(|n| n == wanted), "{wanted} in {names:?}");
    }
    // Shut down before it ever warmed: the server stops all the same.
    drop(replies);
    server.shut_down();
    server.served().await.expect("a clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stage_serves_only_while_the_stage_below_does_and_relays_it() {
    let mut below = start(chain::DECODE, Scripted::default(), options(PATIENCE)).await;
    let upstream = Upstream::new(&UpstreamConfig::new([below.url()])).expect("upstream");
    let mut above = start(
        chain::INFER,
        Scripted::default(),
        ServerOptions {
            grace: PATIENCE,
            upstream_health: Some(upstream),
            ..ServerOptions::default()
        },
    )
    .await;
    above.warm_up(Ok(()));
    // Warm itself, but decode is not: NOT_SERVING, and decode relayed as such.
    wait_for(above.addr, chain::DECODE, ServingStatus::NotServing).await;
    assert_eq!(
        health(above.addr, "").await,
        Some(ServingStatus::NotServing)
    );

    below.warm_up(Ok(()));
    wait_for(above.addr, "", ServingStatus::Serving).await;
    assert_eq!(
        health(above.addr, chain::DECODE).await,
        Some(ServingStatus::Serving)
    );

    // Decode goes away: infer follows it down.
    below.shut_down();
    below.served().await.expect("a clean stop");
    wait_for(above.addr, "", ServingStatus::NotServing).await;
    assert_eq!(
        health(above.addr, chain::DECODE).await,
        Some(ServingStatus::NotServing)
    );
    above.shut_down();
    above.served().await.expect("a clean stop");
}

/// The body of `GET path` on `addr` (HTTP/1.1, `Connection: close`).
async fn http_get(addr: SocketAddr, path: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let request = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut response = String::new();
    stream.read_to_string(&mut response).await.expect("read");
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    response
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_beyond_the_limit_are_refused_at_once_and_a_closed_one_frees_its_place() {
    let source = Scripted::default();
    let metrics_listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let metrics_addr = metrics_listener.local_addr().expect("addr");
    let options = ServerOptions {
        max_streams: 2,
        metrics: Some(metrics_listener),
        ..options(PATIENCE)
    };
    // The stage's own series are served beside the server's.
    let answered = Counter::<u64>::default();
    let mut stage = Registry::with_prefix("sv_track");
    stage.register("frames", "Frames answered", answered.clone());
    let mut server = start_with_metrics(
        chain::TRACK,
        source.clone(),
        options,
        Exposition::new(Arc::new(stage)),
    )
    .await;
    server.warm_up(Ok(()));
    wait_for(server.addr, "", ServingStatus::Serving).await;
    let url = server.url();
    // Two streams open and unread beyond their first item.
    let mut held = Vec::new();
    for id in ["a", "b"] {
        let items = source.next_stream();
        let mut stream = call(&url, id);
        items.send(Ok(tracks(0))).await.expect("scripted");
        let first = tokio::time::timeout(PATIENCE, stream.next()).await;
        assert!(matches!(first, Ok(Some(Ok(_)))), "{id}: {first:?}");
        held.push((items, stream));
    }
    // The third is refused before the stage sees it, saying why.
    let refused = tokio::time::timeout(PATIENCE, call(&url, "c").next())
        .await
        .expect("an answer");
    let error = match refused {
        Some(Err(e)) => e,
        other => panic!("a third stream was served: {other:?}"),
    };
    assert_eq!(error.kind, sv_core::ErrorKind::Overloaded, "{error}");
    assert!(error.message.contains("2 streams already open"), "{error}");
    answered.inc_by(2);
    let text = http_get(metrics_addr, "/metrics").await;
    for line in [
        "# TYPE sv_track_streams gauge\nsv_track_streams 2.0\n",
        "sv_track_max_streams 2.0\n",
        "# TYPE sv_track_streams_refused counter\nsv_track_streams_refused_total 1\n",
        "sv_track_frames_total 2\n",
    ] {
        assert!(text.contains(line), "{line:?} not in\n{text}");
    }
    // Probes are never limited.
    assert_eq!(health(server.addr, "").await, Some(ServingStatus::Serving));
    // One stream goes: its place is free again.
    drop(held.pop());
    let items = source.next_stream();
    let served = tokio::time::timeout(PATIENCE, async {
        loop {
            let mut stream = call(&url, "d");
            match stream.next().await {
                Some(Err(e)) if e.kind == sv_core::ErrorKind::Overloaded => {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                _ => return stream,
            }
        }
    });
    items.send(Ok(tracks(0))).await.expect("scripted");
    let stream = served.await.expect("a place freed up");
    // Every stream ends, so the drain has nothing to wait for.
    drop((items, stream, held));
    server.shut_down();
    server.served().await.expect("a clean stop");
}

/// The next update of a health watch.
async fn next(
    updates: &mut tokio_stream::wrappers::ReceiverStream<sv_proto::health_watch::Statuses>,
) -> sv_proto::health_watch::Statuses {
    tokio::time::timeout(PATIENCE, updates.next())
        .await
        .expect("an update")
        .expect("the watch runs")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_health_watch_sees_a_stage_killed_and_back_at_once() {
    let mut first = start(chain::DECODE, Scripted::default(), options(PATIENCE)).await;
    first.warm_up(Ok(()));
    let upstream = Upstream::new(&UpstreamConfig::new([first.url()])).expect("upstream");
    let mut updates = upstream.watch_statuses(&[chain::DECODE], Duration::from_millis(50));
    assert_eq!(next(&mut updates).await, Ok(vec![Some(true)]));
    // Killed (its task aborted: connections cut, no drain), and a new one
    // on the same address straight away, warm before any poll would ask.
    let addr = first.addr;
    first.served.abort();
    let killed = std::time::Instant::now();
    // The aborted task lets go of its listener on the runtime's next turn.
    let listener = tokio::time::timeout(PATIENCE, async {
        loop {
            match TcpListener::bind(addr).await {
                Ok(listener) => return listener,
                Err(_) => tokio::time::sleep(Duration::from_millis(5)).await,
            }
        }
    })
    .await
    .expect("the same port again");
    let (_stop, stop) = oneshot::channel::<()>();
    let server = StageServer::new(
        chain::DECODE,
        Routes::new(TrackServer::new(Scripted::default())),
        options(PATIENCE),
    );
    let again = tokio::spawn(server.serve(
        listener,
        async { Ok::<(), std::convert::Infallible>(()) },
        async move {
            let _ = stop.await;
        },
    ));
    // The break is seen, then the new replica.
    let broken = next(&mut updates).await;
    let seen_after = killed.elapsed();
    assert!(broken.is_err(), "the kill went unseen: {broken:?}");
    assert!(
        seen_after < Duration::from_secs(1),
        "seen after {seen_after:?}"
    );
    let mut back = next(&mut updates).await;
    while back.is_err() {
        back = next(&mut updates).await;
    }
    assert_eq!(back, Ok(vec![Some(true)]));
    again.abort();
}
