//! Downloads against a tiny HTTP server on 127.0.0.1 (allow-listed), and the
//! guard with loopback not allow-listed. No traffic leaves the machine: the
//! refused targets are loopback addresses too.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use sv_core::ErrorKind;
use sv_test_http::{Body, Length, Pace, Reply, Server};
use tokio::net::TcpListener;

use super::*;

/// `n` bytes that start like an MP4 (an `ftyp` box), so the sniffing lets
/// them through.
fn video_body(n: usize) -> Vec<u8> {
    let mut body = b"\0\0\0\x18ftypisom\0\0\x02\0isomiso2".to_vec();
    body.resize(n.max(body.len()), 7);
    body.truncate(n);
    body
}

/// Serves a fixed set of paths; counts requests per path.
async fn start_server() -> Server {
    let ok = |len| Reply::video(video_body(len));
    let plain = || Reply::status("200 OK");
    Server::start(move |request| match request.path.as_str() {
        "/ok" => ok(1000),
        "/404" => Reply::not_found(),
        "/500" => Reply::status("500 Internal Server Error"),
        "/flaky" if request.hit == 1 => Reply::status("503 Service Unavailable"),
        "/flaky" => ok(10),
        "/redirect" => Reply::redirect("/ok"),
        "/loop" => Reply::redirect("/loop"),
        "/to-other-loopback" => {
            Reply::redirect(format!("http://127.0.0.2:{}/ok", request.server.port()))
        }
        "/to-file" => Reply::redirect("file:///etc/passwd"),
        "/html" => plain().content_type(Some("text/html")).body(&b"<html"[..]),
        "/declared-big" => plain().length(Length::Declared(1_000_000)),
        "/undeclared-big" => plain().length(Length::Absent).body(video_body(5000)),
        // A web page served as a video, far over the size cap: refused on
        // its first bytes, long before the cap.
        "/page" => plain()
            .content_type(Some("application/octet-stream"))
            .length(Length::Absent)
            .body(Body::Repeat {
                pattern: Arc::new(b"<!DOCTYPE html><html><body>".to_vec()),
                len: 1_000_000,
            }),
        "/empty" => plain(),
        // Headers, then one byte every 50 ms: each read in time, the
        // transfer hopeless.
        "/trickle" => ok(1000).pace(Pace::Chunks {
            size: 1,
            pause: Duration::from_millis(50),
        }),
        // Takes the request, never answers.
        "/silent" => Reply::silent().delay(Duration::from_secs(10)),
        "/stall" => plain()
            .body(&b"abc"[..])
            .length(Length::Declared(100))
            .linger(Duration::from_secs(10)),
        "/cut" => plain().body(&b"abc"[..]).length(Length::Declared(100)),
        _ => Reply::not_found(),
    })
    .await
    .unwrap()
}

fn policy() -> FetchPolicy {
    FetchPolicy {
        max_bytes: 2000,
        read_timeout: Duration::from_millis(300),
        total_timeout: Duration::from_secs(10),
        backoff: Duration::from_millis(10),
        allow_nets: vec!["127.0.0.1/32".parse().unwrap()],
        ..FetchPolicy::default()
    }
}

async fn fetch(policy: FetchPolicy, url: &str) -> (Result<u64, FetchError>, bool) {
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("video");
    let result = Fetcher::new(policy).unwrap().download(url, &dest).await;
    (result, dest.exists())
}

#[tokio::test]
async fn downloads_and_follows_redirects() {
    let server = start_server().await;
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("video");
    let fetcher = Fetcher::new(policy()).unwrap();
    assert_eq!(
        fetcher.download(&server.url("/ok"), &dest).await.unwrap(),
        1000
    );
    assert_eq!(std::fs::read(&dest).unwrap(), video_body(1000));
    assert_eq!(
        fetcher
            .download(&server.url("/redirect"), &dest)
            .await
            .unwrap(),
        1000
    );
}

#[tokio::test]
async fn client_errors_are_not_retried() {
    let server = start_server().await;
    let (result, exists) = fetch(policy(), &server.url("/404")).await;
    let err = result.unwrap_err();
    assert!(
        matches!(err, FetchError::Status { status: 404, .. }),
        "{err}"
    );
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert!(!exists);
    assert_eq!(server.hits("/404"), 1);
}

#[tokio::test]
async fn server_errors_are_retried_with_backoff() {
    let server = start_server().await;
    let err = fetch(policy(), &server.url("/500")).await.0.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::VideoUnavailable);
    assert_eq!(server.hits("/500"), 3, "one attempt and two retries");
    assert_eq!(fetch(policy(), &server.url("/flaky")).await.0.unwrap(), 10);
    assert_eq!(server.hits("/flaky"), 2);
}

#[tokio::test]
async fn enforces_the_size_cap() {
    let server = start_server().await;
    let (result, exists) = fetch(policy(), &server.url("/declared-big")).await;
    assert!(
        matches!(
            result,
            Err(FetchError::TooLarge {
                declared: Some(1_000_000),
                ..
            })
        ),
        "{result:?}"
    );
    assert!(!exists);
    let (result, exists) = fetch(policy(), &server.url("/undeclared-big")).await;
    let err = result.unwrap_err();
    assert!(
        matches!(err, FetchError::TooLarge { declared: None, .. }),
        "{err}"
    );
    assert_eq!(err.kind(), ErrorKind::ResourceExhausted);
    assert!(!exists, "partial file removed");
    assert_eq!(server.hits("/undeclared-big"), 1);
}

#[tokio::test]
async fn refuses_html_and_bad_redirects() {
    let server = start_server().await;
    let err = fetch(policy(), &server.url("/html")).await.0.unwrap_err();
    assert!(matches!(err, FetchError::NotAVideo { .. }), "{err}");
    let err = fetch(policy(), &server.url("/loop")).await.0.unwrap_err();
    assert!(
        matches!(err, FetchError::TooManyRedirects { max: 5, .. }),
        "{err}"
    );
    assert_eq!(server.hits("/loop"), 6);
    let err = fetch(policy(), &server.url("/to-file"))
        .await
        .0
        .unwrap_err();
    assert!(matches!(err, FetchError::UnsupportedScheme { .. }), "{err}");
    let err = fetch(policy(), "ftp://127.0.0.1/x").await.0.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
}

#[tokio::test]
async fn times_out_and_retries_cut_transfers() {
    let server = start_server().await;
    let policy = FetchPolicy {
        retries: 1,
        ..policy()
    };
    let err = fetch(policy.clone(), &server.url("/stall"))
        .await
        .0
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::DeadlineExceeded, "{err}");
    assert_eq!(server.hits("/stall"), 2, "a timeout is transient");
    let err = fetch(policy.clone(), &server.url("/cut"))
        .await
        .0
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::VideoUnavailable, "{err}");
    assert_eq!(server.hits("/cut"), 2);
    let total = FetchPolicy {
        total_timeout: Duration::from_millis(100),
        read_timeout: Duration::from_secs(5),
        ..policy
    };
    let err = fetch(total, &server.url("/stall")).await.0.unwrap_err();
    assert!(
        matches!(
            err,
            FetchError::Timeout {
                what: "download",
                ..
            }
        ),
        "{err}"
    );
}

#[tokio::test]
async fn a_host_that_never_answers_fails_fast_and_is_not_retried() {
    let server = start_server().await;
    let policy = FetchPolicy {
        retries: 2,
        first_byte_timeout: Duration::from_millis(300),
        ..policy()
    };
    let started = std::time::Instant::now();
    let err = fetch(policy, &server.url("/silent")).await.0.unwrap_err();
    assert!(matches!(err, FetchError::NoResponse { .. }), "{err}");
    assert_eq!(err.kind(), ErrorKind::DeadlineExceeded);
    assert_eq!(err.culprit(), "video host");
    assert_eq!(
        server.hits("/silent"),
        1,
        "retried a host that never answered"
    );
    // One wait for the headers (connect time included), no second attempt:
    // far below the 10 s the server would keep the connection.
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert!(err.to_string().contains("sent no response"), "{err}");
}

#[tokio::test]
async fn connection_refused_is_unavailable() {
    // Bind then drop: nothing listens on the port any more.
    let port = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let policy = FetchPolicy {
        retries: 1,
        ..policy()
    };
    let err = fetch(policy, &format!("http://127.0.0.1:{port}/ok"))
        .await
        .0
        .unwrap_err();
    assert!(matches!(err, FetchError::Connect { .. }), "{err}");
    assert_eq!(err.kind(), ErrorKind::VideoUnavailable);
}

#[tokio::test]
async fn guard_refuses_loopback_unless_allow_listed() {
    let server = start_server().await;
    let closed = FetchPolicy {
        allow_nets: Vec::new(),
        ..policy()
    };
    // IP literal.
    let err = fetch(closed.clone(), &server.url("/ok"))
        .await
        .0
        .unwrap_err();
    assert!(matches!(err, FetchError::ForbiddenTarget { .. }), "{err}");
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    // A name that resolves to loopback: refused inside the resolver.
    let err = fetch(
        closed.clone(),
        &format!("http://localhost:{}/ok", server.addr.port()),
    )
    .await
    .0
    .unwrap_err();
    assert!(matches!(err, FetchError::ForbiddenTarget { .. }), "{err}");
    assert_eq!(server.hits("/ok"), 0, "nothing was fetched");
    // A redirect from an allowed host to one that is not.
    let err = fetch(policy(), &server.url("/to-other-loopback"))
        .await
        .0
        .unwrap_err();
    assert!(matches!(err, FetchError::ForbiddenTarget { .. }), "{err}");
    // With the switch on, everything is allowed (development only).
    let open = FetchPolicy {
        allow_private: true,
        ..closed
    };
    assert_eq!(
        fetch(open, &format!("http://localhost:{}/ok", server.addr.port()))
            .await
            .0
            .unwrap(),
        1000
    );
}

/// A log sink for one test's subscriber.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn credentials_in_a_url_reach_no_message_and_no_log() {
    let server = start_server().await;
    let log = Captured::default();
    let writer = log.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let closed = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let port = server.addr.port();
    let policy = FetchPolicy {
        retries: 1,
        ..policy()
    };
    let mut messages = Vec::new();
    for url in [
        format!("http://user:s3cret@127.0.0.1:{port}/404"),
        format!("http://user:s3cret@127.0.0.1:{port}/500"),
        format!("http://user:s3cret@127.0.0.1:{closed}/ok"),
        format!("http://user:s3cret@127.0.0.2:{port}/ok"),
        format!("http://user:s3cret@127.0.0.1:{port}/redirect?to=x"),
        "http://user:s3cret@[::1/x".to_string(),
    ] {
        let (result, _) = fetch(policy.clone(), &url).await;
        let text = match result {
            Ok(_) => format!("{url}: fetched"),
            Err(e) => {
                let text = format!("{e} | {e:?}");
                format!("{text} | {}", sv_core::StageError::from(e).message)
            }
        };
        messages.push(text);
    }
    let log = String::from_utf8(log.0.lock().unwrap().clone()).unwrap();
    assert!(log.contains("retrying"), "the 500 was retried: {log}");
    for text in messages.iter().chain([&log]) {
        assert!(!text.contains("s3cret"), "{text}");
    }
    assert!(
        messages[0].contains("http://***@127.0.0.1"),
        "{}",
        messages[0]
    );
}

#[tokio::test]
async fn a_body_that_is_no_video_is_refused_on_its_first_bytes() {
    let server = start_server().await;
    let policy = FetchPolicy {
        max_bytes: 10_000_000,
        ..policy()
    };
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("video");
    let fetcher = Fetcher::new(policy.clone()).unwrap();
    let err = fetcher
        .download(&server.url("/page"), &dest)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, FetchError::NotAVideoBody { start, .. } if start.contains("<!DOCTYPE")),
        "{err}"
    );
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert!(!err.is_transient());
    assert!(!dest.exists(), "nothing of it was kept");
    assert_eq!(server.hits("/page"), 1);
    let err = fetch(policy.clone(), &server.url("/empty"))
        .await
        .0
        .unwrap_err();
    assert!(matches!(err, FetchError::NotAVideoBody { .. }), "{err}");
    // With sniffing off (a general downloader), any body is taken.
    let open = FetchPolicy {
        sniff_video: false,
        max_bytes: 2_000_000,
        ..policy
    };
    assert_eq!(
        fetch(open, &server.url("/page")).await.0.unwrap(),
        1_000_000
    );
}

/// What a body sink saw.
#[derive(Default)]
struct Recorder {
    begun: usize,
    bytes: usize,
}

impl BodySink for Recorder {
    async fn begin(&mut self) -> Result<(), FetchError> {
        self.begun += 1;
        self.bytes = 0;
        Ok(())
    }
    async fn write(&mut self, chunk: &[u8]) -> Result<(), FetchError> {
        self.bytes += chunk.len();
        Ok(())
    }
    async fn end(&mut self) -> Result<(), FetchError> {
        Ok(())
    }
}

#[tokio::test]
async fn the_sink_never_sees_a_body_refused_by_its_first_bytes() {
    let server = start_server().await;
    let fetcher = Fetcher::new(FetchPolicy {
        max_bytes: 10_000_000,
        ..policy()
    })
    .unwrap();
    let mut sink = Recorder::default();
    assert!(
        fetcher
            .download_into(&server.url("/page"), &mut sink)
            .await
            .is_err()
    );
    assert_eq!((sink.begun, sink.bytes), (0, 0));
    assert_eq!(
        fetcher
            .download_into(&server.url("/ok"), &mut sink)
            .await
            .unwrap(),
        1000
    );
    assert_eq!((sink.begun, sink.bytes), (1, 1000));
}

#[tokio::test]
async fn a_trickling_host_is_given_up_after_one_window() {
    let server = start_server().await;
    // 20 bytes/s arrive, each byte well within the read timeout.
    let policy = FetchPolicy {
        read_timeout: Duration::from_secs(5),
        min_rate: Some(MinRate {
            bytes_per_s: 100,
            window: Duration::from_millis(500),
        }),
        ..policy()
    };
    let (result, exists) = fetch(policy.clone(), &server.url("/trickle")).await;
    let err = result.unwrap_err();
    let FetchError::TooSlow {
        received, min_rate, ..
    } = &err
    else {
        panic!("{err}");
    };
    assert!(*received < 1000 && *min_rate == 100, "{err}");
    assert_eq!(err.kind(), ErrorKind::DeadlineExceeded);
    assert!(!err.is_transient(), "a trickle is not retried");
    assert_eq!(server.hits("/trickle"), 1);
    assert!(!exists);
    let text = sv_core::StageError::from(err).message;
    assert!(
        text.starts_with("video host: ") && text.contains("too slow"),
        "{text}"
    );
    // A host far above the floor is not cut, whatever its size.
    assert_eq!(fetch(policy, &server.url("/ok")).await.0.unwrap(), 1000);
}
