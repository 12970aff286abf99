//! `SV_CRASH_REPORT=1`: a fatal signal prints the thread and the call stack,
//! and the process still dies of that signal (so supervisors see a crash).

use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

/// A decode stage (nothing to load, quick to start), with or without the
/// crash report, sent `signal` once it has had time to install the handler
/// and start serving.
fn decode_killed_by(signal: i32, crash_report: bool) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_scorevision"));
    command
        .args([
            "decode",
            "--listen",
            "127.0.0.1:0",
            "--metrics-listen",
            "off",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    if crash_report {
        command.env("SV_CRASH_REPORT", "1");
    }
    let child = command.spawn().unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    // SAFETY: kill(2) takes plain integers; the pid is our own child's, not yet reaped.
    unsafe { libc::kill(child.id() as i32, signal) };
    child.wait_with_output().unwrap()
}

#[test]
fn a_fatal_signal_prints_the_call_stack_and_still_kills() {
    let out = decode_killed_by(libc::SIGSEGV, true);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.signal(), Some(libc::SIGSEGV), "{stderr}");
    assert!(
        stderr.contains("fatal signal 11 in thread") && stderr.contains("call stack:"),
        "{stderr}"
    );
    // At least one frame as glibc prints it: `file(+0x...) [0x...]`.
    assert!(stderr.contains("[0x"), "{stderr}");
}

#[test]
fn without_the_variable_nothing_is_printed() {
    // SIGABRT: Rust's own SIGSEGV handler (stack overflow detection)
    // ignores a SIGSEGV sent by kill(2) once, which would keep this alive.
    let out = decode_killed_by(libc::SIGABRT, false);
    assert_eq!(out.status.signal(), Some(libc::SIGABRT));
    assert!(!String::from_utf8_lossy(&out.stderr).contains("call stack"));
}
