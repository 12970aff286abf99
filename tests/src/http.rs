//! HTTP for the tests: the loopback video server of `sv-test-http`
//! ([`Server`], [`serve_files`]; re-exported so the crates that test with
//! sv-tests need no other dependency), and a minimal client ([`get`]).

use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

pub use sv_test_http::{Body, Gate, Length, Pace, Reply, Request, Server, serve_files};

/// A minimal HTTP/1.1 GET returning the body of a 200 (chunked or not).
pub async fn get(addr: SocketAddr, path: &str) -> anyhow::Result<String> {
    let (status, body) = get_any(addr, path).await?;
    anyhow::ensure!(status == 200, "GET {path}: status {status}: {body}");
    Ok(body)
}

/// GET with any status: (status code, body).
pub async fn get_any(addr: SocketAddr, path: &str) -> anyhow::Result<(u16, String)> {
    let mut stream = tokio::net::TcpStream::connect(addr).await?;
    stream
        .write_all(
            format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes(),
        )
        .await?;
    let mut response = String::new();
    stream.read_to_string(&mut response).await?;
    let (head, body) = response
        .split_once("\r\n\r\n")
        .ok_or_else(|| anyhow::anyhow!("GET {path}: no end of headers"))?;
    let status = head
        .strip_prefix("HTTP/1.1 ")
        .and_then(|rest| rest.get(..3))
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| anyhow::anyhow!("GET {path}: no status in {head}"))?;
    let chunked = head.lines().skip(1).any(|line| {
        line.split_once(':').is_some_and(|(k, v)| {
            k.trim().eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked")
        })
    });
    Ok((
        status,
        if chunked {
            dechunk(body)
        } else {
            body.to_owned()
        },
    ))
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if n == 0 || rest.len() < n + 2 {
            break;
        }
        out.push_str(&rest[..n]);
        body = &rest[n + 2..];
    }
    out
}
