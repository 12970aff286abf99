//! `SV_CRASH_REPORT=1`: on a fatal signal (SIGSEGV, SIGBUS, SIGABRT, SIGILL)
//! print which thread died and the raw call stack (`library(+offset)
//! [address]` per frame, glibc's `backtrace_symbols_fd`), then die with the
//! same signal. Stripped binaries and C libraries (GStreamer, ONNX Runtime,
//! CUDA) have no Rust backtrace; the offsets can be symbolised afterwards
//! with `addr2line -e` on the unstripped files. Off by default: a miner
//! should not change how it dies unless asked.

use std::ffi::{c_int, c_void};

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
    unsafe {
        backtrace(frames.as_mut_ptr(), frames.len() as c_int);
        for signal in SIGNALS {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_fatal as *const () as usize;
            action.sa_flags = libc::SA_RESETHAND | libc::SA_ONSTACK;
            libc::sigaction(signal, &action, std::ptr::null_mut());
        }
    }
}

extern "C" fn on_fatal(signal: c_int) {
    // Only async-signal-safe calls: write(2), backtrace, backtrace_symbols_fd.
    let mut name = [0u8; 32];
    let thread = unsafe {
        libc::prctl(
            libc::PR_GET_NAME,
            name.as_mut_ptr() as libc::c_ulong,
            0,
            0,
            0,
        );
        &name[..name.iter().position(|&b| b == 0).unwrap_or(name.len())]
    };
    let write = |bytes: &[u8]| unsafe {
        libc::write(2, bytes.as_ptr().cast(), bytes.len());
    };
    write(b"\nscorevision: fatal signal ");
    let digits = [b'0' + (signal / 10) as u8, b'0' + (signal % 10) as u8];
    write(&digits);
    write(b" in thread ");
    write(thread);
    write(b"; call stack:\n");
    let mut frames = [std::ptr::null_mut::<c_void>(); 64];
    unsafe {
        let n = backtrace(frames.as_mut_ptr(), frames.len() as c_int);
        backtrace_symbols_fd(frames.as_ptr(), n, 2);
        // SA_RESETHAND restored the default action: die of the same signal.
        libc::raise(signal);
    }
}
