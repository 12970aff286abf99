use std::os::unix::fs::symlink;

use super::{frame, reader, writer};
use crate::shm::layout::{HEADER_LEN, Layout};
use crate::shm::{RingReader, ShmError, SlotHandle};

#[test]
fn stale_and_repeated_handles_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut w = writer(dir.path(), 1, 64);
    let r = reader(&w, dir.path());
    let old = w.try_write(&frame(1, 64)).expect("write").expect("slot");
    drop(r.take(&old).expect("take"));
    // Freed: taking it again must not hand out the (now writable) slot.
    assert!(matches!(r.take(&old), Err(ShmError::Stale { .. })));

    let new = w.try_write(&frame(2, 64)).expect("write").expect("slot");
    assert_eq!((new.offset, new.length), (old.offset, old.length));
    assert!(
        matches!(r.take(&old), Err(ShmError::Stale { slot: 0, generation, .. }) if generation == old.generation),
        "the old generation names a reused slot"
    );
    // The refused take put the slot back: its real handle still works, once.
    let bytes = r.take(&new).expect("take new");
    assert!(
        matches!(r.take(&new), Err(ShmError::Stale { .. })),
        "taken twice"
    );
    assert_eq!(bytes, frame(2, 64));
    drop(bytes);
    assert!(w.all_free());

    // A generation that was never written, on a FULL slot.
    let cur = w.try_write(&frame(3, 64)).expect("write").expect("slot");
    let forged = SlotHandle {
        generation: cur.generation + 100,
        ..cur.clone()
    };
    assert!(matches!(r.take(&forged), Err(ShmError::Stale { .. })));
    assert_eq!(r.take(&cur).expect("real handle still valid"), frame(3, 64));
}

#[test]
fn handles_outside_the_ring_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut w = writer(dir.path(), 2, 5000);
    let r = reader(&w, dir.path());
    let h = w.try_write(&frame(0, 5000)).expect("write").expect("slot");
    let layout = Layout::new(2, 5000).expect("layout");
    let cases = [
        (0, 10),                              // the header
        (h.offset + 1, 10),                   // inside a slot, not its start
        (h.offset - 64, 10),                  // the slot headers / padding
        (layout.data_offset(2) as u64, 10),   // one past the last slot
        (layout.file_len() as u64 + 4096, 1), // past the file
        (u64::MAX, 1),
        (h.offset, 5001), // longer than a slot
        (h.offset, u64::MAX),
    ];
    for (offset, length) in cases {
        let bad = SlotHandle {
            offset,
            length,
            ..h.clone()
        };
        assert!(
            matches!(r.take(&bad), Err(ShmError::OutOfRange { .. })),
            "offset {offset} length {length} accepted"
        );
    }
    let other = SlotHandle {
        ring: "sv-other-1-2.ring".into(),
        ..h.clone()
    };
    assert!(matches!(r.take(&other), Err(ShmError::WrongRing { .. })));
    // None of that disturbed the real frame.
    assert_eq!(r.take(&h).expect("take"), frame(0, 5000));
}

#[test]
fn bad_ring_names_are_refused_before_touching_the_filesystem() {
    let dir = tempfile::tempdir().expect("tempdir");
    for name in ["../x", "a/b", "sv-../x.ring", "sv-a\0.ring", "x.ring", ""] {
        assert!(
            matches!(
                RingReader::open(dir.path(), name),
                Err(ShmError::BadName { .. })
            ),
            "{name:?} accepted"
        );
    }
    // Well-formed but absent: an I/O error that names the path.
    match RingReader::open(dir.path(), "sv-nothing-1-2.ring") {
        Err(ShmError::Io {
            op: "open", path, ..
        }) => {
            assert_eq!(path, dir.path().join("sv-nothing-1-2.ring"))
        }
        other => panic!("expected Io, got {other:?}"),
    }
}

#[test]
fn files_that_are_not_rings_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let put = |name: &str, data: &[u8]| std::fs::write(dir.path().join(name), data).expect("write");
    let is_bad_layout = |name: &str| {
        matches!(
            RingReader::open(dir.path(), name),
            Err(ShmError::BadLayout { .. })
        )
    };

    put("sv-empty-1-1.ring", b"");
    assert!(is_bad_layout("sv-empty-1-1.ring"));
    put("sv-text-1-1.ring", &[b'x'; 8192]);
    assert!(is_bad_layout("sv-text-1-1.ring"));

    // A valid header whose file is shorter than the layout it claims:
    // mapping it would fault on access.
    let layout = Layout::new(2, 5000).expect("layout");
    let mut short = layout.encode(1).to_vec();
    short.resize(layout.file_len() - 1, 0);
    put("sv-short-1-1.ring", &short);
    assert!(is_bad_layout("sv-short-1-1.ring"));
    // The same header at full length is a ring (zeroed: every slot free).
    short.push(0);
    put("sv-full-1-1.ring", &short);
    RingReader::open(dir.path(), "sv-full-1-1.ring").expect("well-formed ring");

    // Another version of the layout.
    let mut other = layout.encode(1).to_vec();
    other[8] ^= 0x7f;
    other.resize(layout.file_len(), 0);
    put("sv-version-1-1.ring", &other);
    assert!(is_bad_layout("sv-version-1-1.ring"));
    assert_eq!(HEADER_LEN, 64);

    // A directory and a symlink under a ring's name.
    std::fs::create_dir(dir.path().join("sv-dir-1-1.ring")).expect("mkdir");
    assert!(RingReader::open(dir.path(), "sv-dir-1-1.ring").is_err());
    symlink(
        dir.path().join("sv-full-1-1.ring"),
        dir.path().join("sv-link-1-1.ring"),
    )
    .expect("ln");
    assert!(
        matches!(
            RingReader::open(dir.path(), "sv-link-1-1.ring"),
            Err(ShmError::Io { .. })
        ),
        "symlinks are not followed"
    );
}
