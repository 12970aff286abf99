//! Tests of the ring, each in a tempdir standing in for /dev/shm.
//!
//! - `ring`: frames cross byte-exact, backpressure, unlink on drop.
//! - `refuse`: stale / out-of-range handles, bad names, files that are not rings.
//! - `wait`: the async `write` / `drain` (Cancelled, ReaderStalled, wake-up).
//! - `process`: a real second process reads the ring.

mod process;
mod refuse;
mod ring;
mod wait;

use std::path::Path;

use super::{RingReader, RingWriter};

/// Frame `i` of `len` bytes: distinct per frame and per position.
fn frame(i: u64, len: usize) -> Vec<u8> {
    (0..len)
        .map(|p| (i.wrapping_mul(31) as usize ^ p.wrapping_mul(7) ^ (p >> 8)) as u8)
        .collect()
}

fn writer(dir: &Path, slots: usize, slot_len: usize) -> RingWriter {
    RingWriter::create(dir, "test", slots, slot_len).expect("create ring")
}

fn reader(w: &RingWriter, dir: &Path) -> RingReader {
    RingReader::open(dir, w.name()).expect("open ring")
}
