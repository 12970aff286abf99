//! The validator port's own accept loop: every connection under a watch,
//! and a cap on how many are open.
//!
//! Why not `axum::serve`: it runs hyper without a timer, so a client that
//! sends half a request holds its descriptor forever. 1100 such connections
//! under a 1024-descriptor limit made the gateway fail every `accept` ("Too
//! many open files") and a signed challenge waited 31 s. Here:
//!
//! - a connection must send its request's headers within
//!   [`Limits::header_read_timeout`] of connecting, or of its first byte
//!   after a finished request; a keep-alive connection with no request goes
//!   after [`Limits::idle_timeout`] (module `watch`);
//! - at [`Limits::max_connections`] open connections, a new one closes the
//!   connection that has waited longest without a request being served
//!   (module `table`), so a flood of idle or half-sent connections evicts itself
//!   while a validator's request, whose headers arrive within milliseconds,
//!   is never the one closed; only when every connection is serving a
//!   request is the newcomer closed at once; and while evicted connections
//!   are still closing (a burst outpaces them), new ones wait in the
//!   kernel's backlog rather than take descriptors;
//! - the soft descriptor limit is raised to the hard one at start, and the
//!   cap leaves half of it to everything else the process opens ([`fds`]).
//!
//! Shutdown: intake stops, every connection is asked to finish its request
//! and close (hyper's graceful shutdown), and [`serve_connections`] returns
//! once all have; the caller bounds that with its grace period.

pub mod fds;
mod table;
mod watch;

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch as signal;
use tower::ServiceExt;
use tracing::{debug, warn};

use table::{Admission, Table};
use watch::{Watch, Watched};

/// How long connections may wait and how many may be open.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    /// A request's headers must arrive within this of the connection's
    /// start, or of the first byte after the previous request.
    pub header_read_timeout: Duration,
    /// A keep-alive connection with no request in flight is closed after this.
    pub idle_timeout: Duration,
    /// Open connections at most; the descriptor limit may lower it ([`fds`]).
    pub max_connections: usize,
}

/// Serves `app` on `listener` until `stopping` turns true, then lets every
/// connection finish its request and returns once all are closed.
pub async fn serve_connections(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    mut stopping: signal::Receiver<bool>,
) {
    let table = Arc::new(Table::new(limits.max_connections));
    // hyper's defaults, as axum::serve had them; the watch does the timing.
    let builder = auto::Builder::new(TokioExecutor::new());
    let mut accept_errors = AcceptErrors::default();
    loop {
        let accepted = tokio::select! {
            accepted = async {
                table.room().await;
                listener.accept().await
            } => accepted,
            _ = stopping.wait_for(|stop| *stop) => break,
        };
        let stream = match accepted {
            Ok((stream, _peer)) => stream,
            Err(e) => {
                accept_errors.wait_after(e).await;
                continue;
            }
        };
        let watch = Arc::new(Watch::new(limits));
        let guard = match table.admit(watch.clone()) {
            Admission::Admitted(guard) => guard,
            Admission::Full => {
                // Every open connection is serving a request: this one is
                // closed at once (dropped), which costs nothing.
                debug!(
                    cap = table.cap(),
                    "Connection refused: every connection is busy."
                );
                continue;
            }
        };
        let task = connection(
            stream,
            app.clone(),
            builder.clone(),
            watch,
            stopping.clone(),
        );
        tokio::spawn(async move {
            task.await;
            drop(guard);
        });
    }
    table.closed().await;
}

/// One connection until it closes, is evicted, times out or, once the
/// server is stopping, has finished its request.
async fn connection(
    stream: TcpStream,
    app: Router,
    builder: auto::Builder<TokioExecutor>,
    watch: Arc<Watch>,
    mut stopping: signal::Receiver<bool>,
) {
    let _ = stream.set_nodelay(true);
    let io = TokioIo::new(Watched::new(stream, watch.clone()));
    let requests = watch.clone();
    let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
        let in_flight = requests.begin_request();
        let app = app.clone();
        async move {
            let response = app.oneshot(request.map(Body::new)).await;
            // The response is made; writing it out is the connection's
            // business, and a client too slow to read it is idle again.
            drop(in_flight);
            Ok::<_, Infallible>(response.unwrap_or_else(|never| match never {}))
        }
    });
    let conn = builder.serve_connection(io, service);
    let mut conn = std::pin::pin!(conn);
    let mut shutting_down = false;
    loop {
        tokio::select! {
            result = conn.as_mut() => {
                if let Err(e) = result {
                    debug!(error = %e, "Connection ended with an error.");
                }
                return;
            }
            expired = watch.expired() => {
                debug!(reason = expired.as_str(), "Connection closed.");
                return;
            }
            _ = stopping.wait_for(|stop| *stop), if !shutting_down => {
                shutting_down = true;
                conn.as_mut().graceful_shutdown();
            }
        }
    }
}

/// Accept errors: a connection reset before it was accepted is nothing; a
/// full descriptor table (which the cap should prevent) or another resource
/// error gets a short pause so the loop does not spin, and a warning at most
/// once a second.
#[derive(Default)]
struct AcceptErrors {
    last_warning: Option<tokio::time::Instant>,
}

impl AcceptErrors {
    async fn wait_after(&mut self, error: std::io::Error) {
        use std::io::ErrorKind::*;
        if matches!(
            error.kind(),
            ConnectionAborted | ConnectionReset | ConnectionRefused | Interrupted
        ) {
            return;
        }
        let now = tokio::time::Instant::now();
        if self
            .last_warning
            .is_none_or(|at| now.duration_since(at) >= Duration::from_secs(1))
        {
            warn!(error = %error, "Accepting a connection failed; pausing.");
            self.last_warning = Some(now);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
