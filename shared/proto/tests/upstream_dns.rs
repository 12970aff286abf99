//! A DNS answer that changes while running moves traffic: the resolver task
//! adds a replica that appears, drops one that disappears, and keeps the
//! last set when a lookup fails. Three real gRPC servers on loopback stand in
//! for pods; a scripted resolver stands in for the headless Service.

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sv_proto::upstream::{Resolve, ResolveFuture};
use sv_proto::{Upstream, UpstreamConfig};
use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::Code;
use tonic::transport::Server;
use tonic_health::ServingStatus;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

/// Guards every wait against a hang; never a timing assertion.
const PATIENCE: Duration = Duration::from_secs(10);

/// What the fake DNS answers for "stage.test" right now (`None`: the lookup
/// fails), and how many lookups it has answered in total.
#[derive(Default)]
struct Script {
    answer: Mutex<Option<Vec<SocketAddr>>>,
    lookups: AtomicUsize,
}

#[derive(Clone)]
struct ScriptedDns(Arc<Script>);

impl Resolve for ScriptedDns {
    fn resolve<'a>(&'a self, host: &'a str, port: u16) -> ResolveFuture<'a> {
        Box::pin(async move {
            assert_eq!((host, port), ("stage.test", 50051));
            let answer = self.0.answer.lock().expect("script lock").clone();
            self.0.lookups.fetch_add(1, Ordering::SeqCst);
            answer.ok_or_else(|| io::Error::other("scripted lookup failure"))
        })
    }
}

impl ScriptedDns {
    /// Sets the next answer and returns once the resolver task has looked
    /// the name up twice since, so the answer has been acted on at least once.
    async fn answer(&self, answer: Option<Vec<SocketAddr>>) {
        *self.0.answer.lock().expect("script lock") = answer;
        let seen = self.0.lookups.load(Ordering::SeqCst);
        tokio::time::timeout(PATIENCE, async {
            while self.0.lookups.load(Ordering::SeqCst) < seen + 2 {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await
        .expect("the resolver task stopped looking the name up");
    }
}

/// A gRPC server whose health service knows only `name` (SERVING): a check
/// for another replica's name answers NOT_FOUND, which tells who answered.
async fn replica(name: &'static str) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("local addr");
    let (reporter, service) = tonic_health::server::health_reporter();
    reporter
        .set_service_status(name, ServingStatus::Serving)
        .await;
    tokio::spawn(async move {
        // Keeps the reporter (and so the status) alive with the server.
        let _reporter = reporter;
        Server::builder()
            .add_service(service)
            .serve_with_incoming(TcpListenerStream::new(listener))
            .await
            .expect("replica server");
    });
    addr
}

/// Which replica took one call through the upstream's channel: asks for
/// "a", which only A knows, so SERVING means A and NOT_FOUND means B (the
/// only other server there is).
async fn who_answers(up: &Upstream) -> &'static str {
    let mut client = HealthClient::new(up.channel());
    let request = HealthCheckRequest {
        service: "a".to_string(),
    };
    match tokio::time::timeout(PATIENCE, client.check(request)).await {
        Ok(Ok(response)) => {
            assert_eq!(response.into_inner().status, ServingStatus::Serving as i32);
            "a"
        }
        Ok(Err(status)) if status.code() == Code::NotFound => "b",
        Ok(Err(status)) => panic!("call failed: {status}"),
        Err(_) => panic!("no replica answered within {PATIENCE:?}"),
    }
}

/// Calls until `done` says the recent answers are as expected.
async fn call_until(up: &Upstream, what: &str, mut done: impl FnMut(&'static str) -> bool) {
    tokio::time::timeout(PATIENCE, async { while !done(who_answers(up).await) {} })
        .await
        .unwrap_or_else(|_| panic!("traffic never moved: {what}"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changing_answer_moves_traffic_and_a_failed_lookup_keeps_it() {
    let a = replica("a").await;
    let b = replica("b").await;
    let dns = ScriptedDns(Arc::new(Script::default()));
    *dns.0.answer.lock().expect("script lock") = Some(vec![a]);
    let mut config = UpstreamConfig::new(["http://stage.test:50051"]);
    config.resolve_every = Duration::from_millis(100);
    let up = Upstream::with_resolver(&config, dns.clone()).expect("upstream");

    // Only A is known: every call reaches A.
    for _ in 0..20 {
        assert_eq!(who_answers(&up).await, "a");
    }

    // B appears: traffic reaches B as well, and still A.
    dns.answer(Some(vec![a, b])).await;
    call_until(&up, "B added, never reached", |who| who == "b").await;
    call_until(&up, "A dropped when B was added", |who| who == "a").await;

    // A disappears: after the in-flight settling, only B takes calls.
    dns.answer(Some(vec![b])).await;
    let mut in_a_row = 0;
    call_until(&up, "A removed, still reached", |who| {
        in_a_row = if who == "b" { in_a_row + 1 } else { 0 };
        in_a_row >= 20
    })
    .await;

    // The lookup fails: the last answer (B) stands, nothing is emptied.
    dns.answer(None).await;
    dns.answer(None).await;
    for _ in 0..20 {
        assert_eq!(who_answers(&up).await, "b");
    }
}
