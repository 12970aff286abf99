//! The conversion pool: any number of threads gives the same frames, in
//! decode order, to the bit; a consumer that stops early stops it.

mod common;

use common::{config, sample_clip};
use sv_core::Frame;
use sv_decode::{DecodeConfig, decode_file};

fn decode(threads: usize, limit: usize) -> (Vec<Frame>, bool) {
    let config = DecodeConfig {
        convert_threads: threads,
        ..config()
    };
    let mut frames = Vec::new();
    let summary = decode_file(&sample_clip(), &config, |f| {
        frames.push(f);
        frames.len() < limit
    })
    .unwrap();
    (frames, summary.cancelled)
}

#[test]
fn every_thread_count_gives_the_same_frames_in_order() {
    let (one, _) = decode(1, usize::MAX);
    assert_eq!(one.len(), 50);
    for threads in [2, 3, 8] {
        let (many, cancelled) = decode(threads, usize::MAX);
        assert!(!cancelled);
        assert_eq!(many.len(), one.len(), "{threads} threads");
        for (a, b) in many.iter().zip(&one) {
            assert_eq!(
                (a.index, a.pts_ns),
                (b.index, b.pts_ns),
                "{threads} threads"
            );
            assert!(
                a.data == b.data,
                "{threads} threads: frame {} differs",
                a.index
            );
        }
    }
}

#[test]
fn a_consumer_that_stops_stops_the_pool() {
    let (frames, cancelled) = decode(4, 7);
    assert!(cancelled);
    assert_eq!(frames.len(), 7);
    assert!(frames.iter().enumerate().all(|(i, f)| f.index == i as u64));
}
