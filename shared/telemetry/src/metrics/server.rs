//! [`serve`]: `GET /metrics` on a port of its own, for the stage servers
//! (`scorevision decode|infer|track --metrics-listen`). The gateway serves
//! its exposition on its own port instead, beside the validator API.

use std::future::Future;

use axum::Router;
use axum::http::header;
use axum::routing::get;
use tokio::net::TcpListener;

use super::{CONTENT_TYPE, Exposition};

/// Answers `GET /metrics` with `exposition` on `listener` until `shutdown`
/// resolves; every other path is a 404.
pub async fn serve(
    listener: TcpListener,
    exposition: Exposition,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = Router::new().route(
        "/metrics",
        get(move || {
            let text = exposition.render();
            async move { ([(header::CONTENT_TYPE, CONTENT_TYPE)], text) }
        }),
    );
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(%addr, "Listening (metrics).");
    }
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use prometheus_client::metrics::counter::Counter;
    use prometheus_client::registry::Registry;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    async fn get(addr: std::net::SocketAddr, path: &str) -> String {
        let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
        let request = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await.expect("write");
        let mut response = String::new();
        stream.read_to_string(&mut response).await.expect("read");
        response
    }

    #[tokio::test]
    async fn serves_the_exposition_until_shut_down() {
        let counter = Counter::<u64>::default();
        let mut registry = Registry::with_prefix("sv_test");
        registry.register("frames", "Frames", counter.clone());
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(serve(
            listener,
            Exposition::new(Arc::new(registry)),
            async move {
                let _ = stopped.await;
            },
        ));
        counter.inc_by(7);
        let response = get(addr, "/metrics").await;
        assert!(response.starts_with("HTTP/1.1 200"), "{response}");
        assert!(
            response.contains(&format!("content-type: {CONTENT_TYPE}")),
            "{response}"
        );
        assert!(response.contains("sv_test_frames_total 7\n"), "{response}");
        assert!(response.ends_with("# EOF\n"), "{response}");
        assert!(get(addr, "/").await.starts_with("HTTP/1.1 404"));
        let _ = stop.send(());
        server.await.expect("task").expect("a clean stop");
    }
}
