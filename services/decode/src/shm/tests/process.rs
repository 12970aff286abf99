//! A real second process: the test binary runs itself, filtered to the
//! ignored `child_reads_the_ring` test, with the ring's handles in the
//! environment. This is the path decode -> infer takes on one host.

use std::process::Command;

use super::{frame, writer};
use crate::shm::{RingReader, ShmError, SlotHandle};

const CHILD_DIR: &str = "SV_SHM_TEST_DIR";
const CHILD_HANDLES: &str = "SV_SHM_TEST_HANDLES";

fn len_of(i: u64) -> usize {
    4000 + i as usize * 1000
}

#[test]
fn another_process_reads_and_releases_the_slots() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut w = writer(dir.path(), 4, 8000);
    let handles: Vec<SlotHandle> = (0..3)
        .map(|i| {
            w.try_write(&frame(i, len_of(i)))
                .expect("write")
                .expect("slot")
        })
        .collect();
    assert!(!w.all_free());
    // ring offset length generation;...
    let encoded: Vec<String> = handles
        .iter()
        .map(|h| format!("{} {} {} {}", h.ring, h.offset, h.length, h.generation))
        .collect();

    let exe = std::env::current_exe().expect("test binary");
    let test_name = format!(
        "{}::child_reads_the_ring",
        module_path!().split_once("::").map_or("", |(_, rest)| rest)
    );
    let out = Command::new(exe)
        .args([
            test_name.as_str(),
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_DIR, dir.path())
        .env(CHILD_HANDLES, encoded.join(";"))
        .output()
        .expect("spawn the child");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "child failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("1 passed"),
        "the child test did not run: {stdout}"
    );
    assert!(stdout.contains("child verified 3 frames"), "{stdout}");
    // The child's Release stores of FREE reached this process's mapping.
    assert!(w.all_free(), "slots released by the other process");
    assert!(w.try_write(&[1; 8000]).expect("write").is_some());
}

/// The child half of the test above; does nothing useful on its own.
#[test]
#[ignore = "run by another_process_reads_and_releases_the_slots in a child process"]
fn child_reads_the_ring() {
    let dir = std::env::var_os(CHILD_DIR).expect("run by the parent test");
    let handles = std::env::var(CHILD_HANDLES).expect("run by the parent test");
    let handles: Vec<SlotHandle> = handles
        .split(';')
        .map(|h| {
            let f: Vec<&str> = h.split(' ').collect();
            let n = |i: usize| f[i].parse::<u64>().expect("number");
            SlotHandle {
                ring: f[0].to_owned(),
                offset: n(1),
                length: n(2),
                generation: n(3),
            }
        })
        .collect();
    let r = RingReader::open(dir.as_ref(), &handles[0].ring).expect("open in the child");
    for (i, h) in handles.iter().enumerate() {
        let bytes = r.take(h).expect("take in the child");
        assert!(bytes == frame(i as u64, len_of(i as u64)), "frame {i}");
    }
    assert!(matches!(r.take(&handles[0]), Err(ShmError::Stale { .. })));
    println!("child verified {} frames", handles.len());
}
