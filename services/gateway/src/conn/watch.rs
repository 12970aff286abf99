//! [`Watch`]: what one connection is doing, and when it has waited too long.
//!
//! A connection is either serving (a request's handler is running: no
//! deadline, the challenge's own timeout bounds it) or waiting. A waiting
//! connection that has received the first byte of a request, or has not
//! finished one yet, must complete the headers within the header timeout;
//! one that finished a request and sent nothing since may idle for the idle
//! timeout. [`Watched`] wraps the socket to notice the first byte.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::Notify;
use tokio::time::Instant;

use super::Limits;

/// Why a watched connection was closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expired {
    /// The request's headers did not arrive in time.
    HeaderTimeout,
    /// A keep-alive connection sent no new request in time.
    Idle,
    /// The connection cap was reached and this one had waited longest.
    Evicted,
}

impl Expired {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::HeaderTimeout => "the request's headers did not arrive in time",
            Self::Idle => "idle keep-alive connection",
            Self::Evicted => "evicted to make room at the connection cap",
        }
    }
}

#[derive(Debug)]
struct State {
    /// Requests whose handlers are running.
    serving: usize,
    /// When the connection started waiting (its start, or its last request's end).
    waiting_since: Instant,
    /// The first byte received while waiting: a request is on its way.
    reading_since: Option<Instant>,
    /// At least one request was served (the idle timeout applies).
    served: bool,
    evicted: bool,
}

/// One connection's state, shared by its socket, its service and the table.
#[derive(Debug)]
pub struct Watch {
    limits: Limits,
    state: Mutex<State>,
    changed: Notify,
}

impl Watch {
    pub fn new(limits: Limits) -> Self {
        Self {
            limits,
            state: Mutex::new(State {
                serving: 0,
                waiting_since: Instant::now(),
                reading_since: None,
                served: false,
                evicted: false,
            }),
            changed: Notify::new(),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // Every critical section below is a few assignments that cannot
        // panic, so a poisoned lock still holds consistent state.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A request's headers arrived and its handler starts; the connection
    /// is serving until the returned guard goes.
    pub fn begin_request(self: &Arc<Self>) -> Serving {
        {
            let mut state = self.state();
            state.serving += 1;
            state.reading_since = None;
        }
        self.changed.notify_one();
        Serving(self.clone())
    }

    /// The socket received bytes.
    fn received(&self) {
        let mut state = self.state();
        if state.serving == 0 && state.reading_since.is_none() {
            state.reading_since = Some(Instant::now());
            drop(state);
            self.changed.notify_one();
        }
    }

    /// Since when the connection has waited without serving a request
    /// (`None` while it serves one): the table evicts the longest-waiting.
    pub fn waiting_since(&self) -> Option<Instant> {
        let state = self.state();
        (state.serving == 0 && !state.evicted).then_some(state.waiting_since)
    }

    /// Evicted, and closing.
    pub fn is_evicted(&self) -> bool {
        self.state().evicted
    }

    /// Closes the connection if it is still waiting; false if it serves a
    /// request (or was evicted already).
    pub fn evict(&self) -> bool {
        let mut state = self.state();
        if state.serving > 0 || state.evicted {
            return false;
        }
        state.evicted = true;
        drop(state);
        self.changed.notify_one();
        true
    }

    /// The next deadline, or why the connection must close now.
    fn deadline(&self) -> Result<Option<(Instant, Expired)>, Expired> {
        let state = self.state();
        if state.evicted {
            return Err(Expired::Evicted);
        }
        if state.serving > 0 {
            return Ok(None);
        }
        let header = self.limits.header_read_timeout;
        Ok(Some(match state.reading_since {
            Some(first_byte) => (first_byte + header, Expired::HeaderTimeout),
            // A new connection is expected to send its request at once.
            None if !state.served => (state.waiting_since + header, Expired::HeaderTimeout),
            None => (
                state.waiting_since + self.limits.idle_timeout,
                Expired::Idle,
            ),
        }))
    }

    /// Resolves when the connection must close, and why.
    pub async fn expired(&self) -> Expired {
        loop {
            // Registered before the state is read, so no change is missed.
            let changed = self.changed.notified();
            let mut changed = std::pin::pin!(changed);
            changed.as_mut().enable();
            match self.deadline() {
                Err(why) => return why,
                Ok(None) => changed.await,
                Ok(Some((at, why))) => {
                    tokio::select! {
                        () = tokio::time::sleep_until(at) => return why,
                        () = changed => {}
                    }
                }
            }
        }
    }
}

/// A running request; its drop makes the connection wait again.
pub struct Serving(Arc<Watch>);

impl Drop for Serving {
    fn drop(&mut self) {
        {
            let mut state = self.0.state();
            state.serving = state.serving.saturating_sub(1);
            if state.serving == 0 {
                state.waiting_since = Instant::now();
                state.served = true;
            }
        }
        self.0.changed.notify_one();
    }
}

/// The connection's socket, telling its [`Watch`] when bytes arrive.
pub struct Watched<IO> {
    io: IO,
    watch: Arc<Watch>,
}

impl<IO> Watched<IO> {
    pub fn new(io: IO, watch: Arc<Watch>) -> Self {
        Self { io, watch }
    }
}

impl<IO: AsyncRead + Unpin> AsyncRead for Watched<IO> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.io).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.watch.received();
        }
        polled
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for Watched<IO> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn limits() -> Limits {
        Limits {
            header_read_timeout: Duration::from_secs(5),
            idle_timeout: Duration::from_secs(60),
            max_connections: 4,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_new_connection_must_send_its_headers_in_time() {
        let watch = Arc::new(Watch::new(limits()));
        let started = Instant::now();
        assert_eq!(watch.expired().await, Expired::HeaderTimeout);
        assert_eq!(started.elapsed(), Duration::from_secs(5));
    }

    #[tokio::test(start_paused = true)]
    async fn serving_has_no_deadline_then_idle_then_a_new_request_has_the_header_timeout() {
        let watch = Arc::new(Watch::new(limits()));
        let serving = watch.begin_request();
        let waited = tokio::time::timeout(Duration::from_secs(600), watch.expired()).await;
        assert!(waited.is_err(), "a serving connection expired: {waited:?}");
        assert_eq!(watch.waiting_since(), None);
        assert!(!watch.evict(), "a serving connection was evicted");
        drop(serving);
        let idle_from = Instant::now();
        // Idle: the keep-alive timeout, not the header one.
        tokio::time::sleep(Duration::from_secs(30)).await;
        watch.received();
        let expired = watch.expired().await;
        assert_eq!(expired, Expired::HeaderTimeout);
        assert_eq!(idle_from.elapsed(), Duration::from_secs(35));

        let idle = Arc::new(Watch::new(limits()));
        drop(idle.begin_request());
        let from = Instant::now();
        assert_eq!(idle.expired().await, Expired::Idle);
        assert_eq!(from.elapsed(), Duration::from_secs(60));
    }

    #[tokio::test(start_paused = true)]
    async fn a_deadline_moves_when_the_state_changes_while_waiting() {
        let watch = Arc::new(Watch::new(limits()));
        let waiter = tokio::spawn({
            let watch = watch.clone();
            async move { watch.expired().await }
        });
        tokio::time::sleep(Duration::from_secs(4)).await;
        let serving = watch.begin_request();
        tokio::time::sleep(Duration::from_secs(100)).await;
        assert!(!waiter.is_finished(), "expired while serving");
        drop(serving);
        tokio::time::sleep(Duration::from_secs(59)).await;
        assert!(!waiter.is_finished(), "expired before the idle timeout");
        assert!(watch.evict());
        assert_eq!(waiter.await.ok(), Some(Expired::Evicted));
    }
}
