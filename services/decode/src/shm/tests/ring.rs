use std::collections::VecDeque;
use std::sync::mpsc;
use std::time::Duration;

use super::{frame, reader, writer};
use crate::shm::{RingCache, RingReader, SlotHandle};

const HANG_GUARD: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_frames_cross_a_four_slot_ring_byte_exact() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut w = writer(dir.path(), 4, 10_000);
    let (tx, rx) = mpsc::sync_channel::<SlotHandle>(64);
    let read_dir = dir.path().to_path_buf();
    // The reader opens its own mapping, as the infer process would, and holds
    // up to three frames (one through a clone) so the writer keeps running
    // into full rings.
    let consumer = std::thread::spawn(move || {
        let mut cache = RingCache::new();
        let mut held = VecDeque::new();
        let mut count = 0u64;
        for handle in rx {
            let ring = cache.get(&read_dir, &handle.ring).expect("open");
            let bytes = ring.take(&handle).expect("take");
            let len = 1000 + (count as usize * 37) % 9000;
            assert_eq!(bytes.len(), len, "frame {count} length");
            assert!(bytes == frame(count, len), "frame {count} differs");
            held.push_back(bytes.clone());
            drop(bytes);
            if held.len() > 3 {
                held.pop_front();
            }
            count += 1;
        }
        assert_eq!(cache.len(), 1);
        count
    });
    let mut generations = Vec::new();
    for i in 0..300u64 {
        let data = frame(i, 1000 + (i as usize * 37) % 9000);
        let h = w.write(&data, || false, HANG_GUARD).await.expect("write");
        generations.push(h.generation);
        tx.send(h).expect("reader alive");
    }
    drop(tx);
    let count = tokio::task::spawn_blocking(move || consumer.join())
        .await
        .expect("join")
        .expect("reader thread");
    assert_eq!(count, 300);
    w.drain(HANG_GUARD).await.expect("drain");
    assert!(w.all_free());
    assert!(
        generations.windows(2).all(|g| g[0] < g[1]),
        "every write has its own generation"
    );
}

#[test]
fn writer_waits_while_every_slot_is_held_and_resumes_on_drop() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut w = writer(dir.path(), 2, 100);
    let r = reader(&w, dir.path());
    let h0 = w.try_write(&frame(0, 100)).expect("write").expect("slot");
    let h1 = w.try_write(&frame(1, 50)).expect("write").expect("slot");
    assert_ne!(h0.offset, h1.offset);
    // Published but not taken yet: still not the writer's.
    assert_eq!(w.try_write(&frame(2, 10)).expect("write"), None);

    let b0 = r.take(&h0).expect("take 0");
    let b1 = r.take(&h1).expect("take 1");
    assert_eq!(w.try_write(&frame(2, 10)).expect("write"), None);
    assert!(!w.all_free());

    // A clone keeps the slot held after the original goes.
    let b0_clone = b0.slice(10..20);
    drop(b0);
    assert_eq!(w.try_write(&frame(2, 10)).expect("write"), None);
    assert_eq!(&b0_clone[..], &frame(0, 100)[10..20]);
    drop(b0_clone);

    let h2 = w
        .try_write(&frame(2, 10))
        .expect("write")
        .expect("freed slot");
    assert_eq!(h2.offset, h0.offset, "the freed slot is reused");
    assert!(h2.generation > h1.generation);
    assert_eq!(r.take(&h2).expect("take 2"), frame(2, 10));
    assert_eq!(b1, frame(1, 50));
    drop(b1);
    assert!(w.all_free(), "every Bytes dropped: every slot free");
}

#[test]
fn a_second_mapping_sees_the_writers_bytes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut w = writer(dir.path(), 3, 1280 * 720 * 3);
    let handles: Vec<_> = (0..3)
        .map(|i| {
            let data = frame(i, 1280 * 720 * 3 - i as usize);
            w.try_write(&data).expect("write").expect("slot")
        })
        .collect();
    // Opened after the writes, from the path only: what another process does.
    let r = RingReader::open(dir.path(), w.name()).expect("open");
    assert_eq!(r.slot_len(), 1280 * 720 * 3);
    for (i, h) in handles.iter().enumerate() {
        let b = r.take(h).expect("take");
        assert!(b == frame(i as u64, 1280 * 720 * 3 - i), "frame {i}");
    }
    assert!(
        w.all_free(),
        "the other mapping's releases reach the writer"
    );
}

#[test]
fn drop_unlinks_the_file_but_taken_bytes_stay_readable() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut w = writer(dir.path(), 2, 5000);
    let path = w.path().to_path_buf();
    let name = w.name().to_owned();
    assert!(path.exists());
    assert_eq!(
        path.file_name().and_then(|n| n.to_str()),
        Some(name.as_str())
    );
    let h = w.try_write(&frame(7, 5000)).expect("write").expect("slot");
    let r = RingReader::open(dir.path(), &name).expect("open");
    let bytes = r.take(&h).expect("take");
    drop(r); // the Bytes alone keeps the mapping
    drop(w);
    assert!(!path.exists(), "writer's drop unlinks the ring");
    assert!(bytes == frame(7, 5000));
    assert!(
        RingReader::open(dir.path(), &name).is_err(),
        "gone for new readers"
    );
}

#[test]
fn oversized_frames_and_bad_geometry_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut w = writer(dir.path(), 1, 100);
    assert!(matches!(
        w.try_write(&[0; 101]),
        Err(crate::shm::ShmError::TooLarge {
            len: 101,
            slot_len: 100
        })
    ));
    assert!(w.all_free(), "nothing claimed by a refused write");
    for (slots, len) in [(0, 10), (1, 0), (crate::shm::MAX_SLOTS + 1, 10)] {
        assert!(matches!(
            crate::shm::RingWriter::create(dir.path(), "x", slots, len),
            Err(crate::shm::ShmError::BadLayout { .. })
        ));
    }
    // Only the one good ring was left behind.
    assert_eq!(std::fs::read_dir(dir.path()).expect("ls").count(), 1);
}

#[test]
fn hostile_hints_make_safe_names_inside_the_directory() {
    let dir = tempfile::tempdir().expect("tempdir");
    let w = crate::shm::RingWriter::create(dir.path(), "../../evil/ch 1", 1, 10).expect("create");
    assert_eq!(w.path().parent(), Some(dir.path()));
    assert!(w.name().starts_with("sv-______evil_ch_1-"), "{}", w.name());
    RingReader::open(dir.path(), w.name()).expect("the reader accepts it");
}

#[test]
fn writer_reader_and_the_write_future_can_move_between_threads() {
    fn send_sync<T: Send + Sync>() {}
    fn send<T: Send>(_: &T) {}
    send_sync::<crate::shm::RingWriter>();
    send_sync::<RingReader>();
    send_sync::<RingCache>();
    send_sync::<bytes::Bytes>();
    let dir = tempfile::tempdir().expect("tempdir");
    let mut w = writer(dir.path(), 1, 8);
    let write = w.write(&[1, 2, 3], || false, HANG_GUARD);
    send(&write); // the server awaits it inside a spawned task
    drop(write);
    let drain = w.drain(HANG_GUARD);
    send(&drain);
}
