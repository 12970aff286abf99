//! [`free_port`]: a loopback port for a child process to listen on.

use std::net::TcpListener;
use std::sync::atomic::{AtomicU32, Ordering};

/// A port free right now (the child binds it a moment later).
///
/// Taken below Linux's ephemeral range (32768-60999 by default), where the
/// kernel puts `bind(0)` and the tests' own outgoing connections: a port
/// from there could be handed to a client between now and the child's
/// bind ("Address already in use"). A counter keeps the ports of one test
/// binary apart, the process id spreads the binaries.
pub fn free_port() -> u16 {
    const FIRST: u32 = 20_000;
    const SPAN: u32 = 12_000;
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let start = std::process::id().wrapping_mul(7919) % SPAN;
    for _ in 0..SPAN {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let port = (FIRST + (start + n) % SPAN) as u16;
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free loopback port between {FIRST} and {}", FIRST + SPAN)
}
