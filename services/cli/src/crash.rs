//! `SV_CRASH_REPORT=1`: on a fatal signal (SIGSEGV, SIGBUS, SIGABRT, SIGILL)
//! print which thread died and the raw call stack (`library(+offset)
//! [address]` per frame, glibc's `backtrace_symbols_fd`), then die with the
//! same signal. Stripped binaries and C libraries (GStreamer, ONNX Runtime,
//! CUDA) have no Rust backtrace; the offsets can be symbolised afterwards
//! with `addr2line -e` on the unstripped files. Off by default: a miner
//! should not change how it dies unless asked.

use std::ffi::{c_int, c_void};

// Declared by glibc's <execinfo.h>; the libc crate does not bind them.
// The signatures match the C prototypes: `int backtrace(void **, int)` and
// `void backtrace_symbols_fd(void *const *, int, int)`.
unsafe extern "C" {
    fn backtrace(buffer: *mut *mut c_void, size: c_int) -> c_int;
    fn backtrace_symbols_fd(buffer: *const *mut c_void, size: c_int, fd: c_int);
}

const SIGNALS: [c_int; 4] = [libc::SIGSEGV, libc::SIGBUS, libc::SIGABRT, libc::SIGILL];

/// Installs the handler when `SV_CRASH_REPORT` is set to 1.
pub fn install_if_asked() {
    if std::env::var("SV_CRASH_REPORT").as_deref() != Ok("1") {
        return;
    }
    // The first call to backtrace() loads libgcc_s; do it now, not in the
    // handler.
    let mut frames = [std::ptr::null_mut::<c_void>(); 4];
    // SAFETY: `frames` is a live, writable array of `frames.len()` pointers,
    // and backtrace() writes at most `size` entries into it.
    unsafe {
        backtrace(frames.as_mut_ptr(), frames.len() as c_int);
    }
    for signal in SIGNALS {
        // SAFETY: an all-zero `sigaction` is a valid value of the C struct
        // (empty mask, no flags); the fields that matter are set below.
        let mut action: libc::sigaction = unsafe { std::mem::zeroed() };
        action.sa_sigaction = on_fatal as *const () as usize;
        action.sa_flags = libc::SA_RESETHAND | libc::SA_ONSTACK;
        // SAFETY: `action` is fully initialised and outlives the call, a
        // null old-action pointer is allowed, and `on_fatal` is an
        // `extern "C" fn(c_int)` that only makes async-signal-safe calls,
        // as a handler without SA_SIGINFO must be.
        unsafe {
            libc::sigaction(signal, &action, std::ptr::null_mut());
        }
    }
}

extern "C" fn on_fatal(signal: c_int) {
    // Only async-signal-safe calls: write(2), backtrace, backtrace_symbols_fd.
    let mut name = [0u8; 32];
    // SAFETY: PR_GET_NAME writes at most 16 bytes (the name and its NUL)
    // into the buffer it is given; `name` has 32 and lives past the call.
    unsafe {
        libc::prctl(
            libc::PR_GET_NAME,
            name.as_mut_ptr() as libc::c_ulong,
            0,
            0,
            0,
        );
    }
    let thread = &name[..name.iter().position(|&b| b == 0).unwrap_or(name.len())];
    let write = |bytes: &[u8]| {
        // SAFETY: `bytes` is a live slice and write(2) reads exactly
        // `bytes.len()` bytes from it; fd 2 needs no ownership (a closed
        // stderr makes the call fail harmlessly).
        unsafe {
            libc::write(2, bytes.as_ptr().cast(), bytes.len());
        }
    };
    write(b"\nscorevision: fatal signal ");
    let digits = [b'0' + (signal / 10) as u8, b'0' + (signal % 10) as u8];
    write(&digits);
    write(b" in thread ");
    write(thread);
    write(b"; call stack:\n");
    let mut frames = [std::ptr::null_mut::<c_void>(); 64];
    // SAFETY: backtrace() writes at most `frames.len()` entries into the
    // live array and returns how many it wrote, so backtrace_symbols_fd()
    // reads only initialised entries. raise() takes any signal number; with
    // SA_RESETHAND the default action is back, so the process dies of the
    // same signal instead of re-entering this handler.
    unsafe {
        let n = backtrace(frames.as_mut_ptr(), frames.len() as c_int);
        backtrace_symbols_fd(frames.as_ptr(), n, 2);
        libc::raise(signal);
    }
}
