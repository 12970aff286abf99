//! A loopback HTTP/1.1 server for tests that need a video URL, written once
//! for every crate's tests (sv-decode's own included, so it depends on no
//! crate of ours).
//!
//! [`Server::start`] takes a function from the [`Request`] (its path, and
//! how many times that path was asked for) to a [`Reply`]: a status, a body
//! and how to send it (after a delay, paced, held back until a [`Gate`]
//! opens, cut short of its Content-Length, or followed by a silence). Every
//! reply says `Connection: close` and the connection is closed after it.
//! [`serve_files`] is the common case: fixed bodies by path, 404 otherwise.

#![warn(missing_docs)]

mod reply;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream};

pub use reply::{Body, Gate, Length, Pace, Reply};

/// What a reply may depend on.
#[derive(Debug, Clone)]
pub struct Request {
    /// The request target, e.g. `/clip.mp4`.
    pub path: String,
    /// Requests for this path so far, this one included (1 for the first).
    pub hit: usize,
    /// The server's own address (for redirects to another host or port).
    pub server: SocketAddr,
}

type Route = dyn Fn(&Request) -> Reply + Send + Sync;

/// A server on 127.0.0.1 that runs until the runtime ends, counting the
/// requests per path.
#[derive(Debug, Clone)]
pub struct Server {
    /// Where it listens: 127.0.0.1 and a port the OS chose.
    pub addr: SocketAddr,
    hits: Arc<Mutex<HashMap<String, usize>>>,
}

impl Server {
    /// Binds 127.0.0.1:0 and answers every request with `route`.
    pub async fn start(
        route: impl Fn(&Request) -> Reply + Send + Sync + 'static,
    ) -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let hits = Arc::new(Mutex::new(HashMap::new()));
        let route: Arc<Route> = Arc::new(route);
        let counter = hits.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(answer(stream, addr, route.clone(), counter.clone()));
            }
        });
        Ok(Self { addr, hits })
    }

    /// `http://127.0.0.1:<port><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Requests for `path` so far.
    pub fn hits(&self, path: &str) -> usize {
        self.hits
            .lock()
            .map_or(0, |hits| hits.get(path).copied().unwrap_or(0))
    }
}

/// Serves `files` (path -> body, as `video/mp4`) on 127.0.0.1 until the
/// runtime ends; any other path is a 404.
pub async fn serve_files(files: HashMap<String, Vec<u8>>) -> std::io::Result<SocketAddr> {
    let files: HashMap<String, Body> = files
        .into_iter()
        .map(|(path, body)| (path, Body::from(body)))
        .collect();
    let server = Server::start(move |request| match files.get(&request.path) {
        Some(body) => Reply::video(body.clone()),
        None => Reply::not_found(),
    })
    .await?;
    Ok(server.addr)
}

async fn answer(
    mut stream: TcpStream,
    server: SocketAddr,
    route: Arc<Route>,
    hits: Arc<Mutex<HashMap<String, usize>>>,
) {
    let mut head = Vec::with_capacity(1024);
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    let head = String::from_utf8_lossy(&head);
    let path = head.split_whitespace().nth(1).unwrap_or("/").to_owned();
    let hit = match hits.lock() {
        Ok(mut hits) => {
            let n = hits.entry(path.clone()).or_insert(0);
            *n += 1;
            *n
        }
        Err(_) => return,
    };
    let reply = route(&Request { path, hit, server });
    reply.send(stream).await;
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::time::Duration;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    /// The raw response to `GET path`, read until the server closes.
    async fn raw_get(server: &Server, path: &str) -> String {
        let mut stream = TcpStream::connect(server.addr).await.unwrap();
        stream
            .write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())
            .await
            .unwrap();
        let mut response = Vec::new();
        stream.read_to_end(&mut response).await.unwrap();
        String::from_utf8_lossy(&response).into_owned()
    }

    #[tokio::test]
    async fn replies_say_what_they_were_told_and_count_hits() {
        let sent = Arc::new(AtomicU64::new(0));
        let counted = sent.clone();
        let server = Server::start(move |request| match request.path.as_str() {
            "/cut" => Reply::video(b"abcdef".to_vec()).cut_after(2),
            "/again" if request.hit == 1 => Reply::status("503 Service Unavailable"),
            "/again" => Reply::redirect("/cut"),
            "/repeat" => Reply::status("200 OK")
                .length(Length::Absent)
                .body(Body::Repeat {
                    pattern: Arc::new(b"xy".to_vec()),
                    len: 5,
                })
                .count_into(counted.clone()),
            _ => Reply::not_found(),
        })
        .await
        .unwrap();
        assert_eq!(
            raw_get(&server, "/cut").await,
            "HTTP/1.1 200 OK\r\nContent-Type: video/mp4\r\nContent-Length: 6\r\n\
             Connection: close\r\n\r\nab"
        );
        assert!(
            raw_get(&server, "/again")
                .await
                .starts_with("HTTP/1.1 503 ")
        );
        assert!(
            raw_get(&server, "/again")
                .await
                .contains("\r\nLocation: /cut\r\n")
        );
        assert_eq!(server.hits("/again"), 2);
        assert_eq!(
            raw_get(&server, "/repeat").await,
            "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nxyxyx"
        );
        assert_eq!(sent.load(Ordering::SeqCst), 5);
        assert!(
            raw_get(&server, "/nothing")
                .await
                .starts_with("HTTP/1.1 404 ")
        );
    }

    #[tokio::test]
    async fn a_held_back_body_waits_for_its_gate() {
        let gate = Gate::default();
        let sent_all = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let reply = Reply::video(b"0123456789".to_vec())
            .hold(4, gate.clone())
            .on_sent_all(sent_all.clone());
        let server = Server::start(move |_| reply.clone()).await.unwrap();
        let mut stream = TcpStream::connect(server.addr).await.unwrap();
        stream.write_all(b"GET / HTTP/1.1\r\n\r\n").await.unwrap();
        let mut seen = Vec::new();
        let mut buf = [0u8; 256];
        while !seen.ends_with(b"\r\n\r\n0123") {
            let n = stream.read(&mut buf).await.unwrap();
            assert_ne!(n, 0, "closed early: {}", String::from_utf8_lossy(&seen));
            seen.extend_from_slice(&buf[..n]);
        }
        // Nothing more until the gate opens.
        let more = tokio::time::timeout(Duration::from_millis(200), stream.read(&mut buf)).await;
        assert!(more.is_err(), "sent past the gate");
        assert!(!sent_all.load(Ordering::SeqCst));
        gate.open();
        let mut rest = Vec::new();
        stream.read_to_end(&mut rest).await.unwrap();
        assert_eq!(rest, b"456789");
        assert!(sent_all.load(Ordering::SeqCst));
    }
}
