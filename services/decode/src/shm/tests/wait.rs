use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use super::{frame, reader, writer};
use crate::shm::ShmError;

const HANG_GUARD: Duration = Duration::from_secs(30);
/// Short enough to keep the test quick; nothing asserts how long it took.
const SHORT: Duration = Duration::from_millis(20);

#[tokio::test]
async fn write_gives_up_when_cancelled_or_when_the_reader_stalls() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut w = writer(dir.path(), 1, 16);
    w.write(&frame(0, 16), || false, HANG_GUARD)
        .await
        .expect("first write");

    // Cancelled wins even when a slot would be free: nothing is written.
    let mut idle = writer(dir.path(), 1, 16);
    let e = idle.write(&frame(0, 16), || true, HANG_GUARD).await;
    assert!(matches!(e, Err(ShmError::Cancelled { .. })), "{e:?}");
    assert!(idle.all_free());

    // The one slot is published and never taken.
    let e = w.write(&frame(1, 16), || false, SHORT).await;
    assert!(matches!(e, Err(ShmError::ReaderStalled { .. })), "{e:?}");
    let e = w.drain(SHORT).await;
    assert!(matches!(e, Err(ShmError::ReaderStalled { .. })), "{e:?}");
    let e = w.write(&frame(1, 17), || false, HANG_GUARD).await;
    assert!(matches!(e, Err(ShmError::TooLarge { .. })), "{e:?}");
}

#[tokio::test]
async fn write_notices_cancellation_while_waiting() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut w = writer(dir.path(), 1, 16);
    w.try_write(&frame(0, 16)).expect("write").expect("slot");
    let cancel = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&cancel);
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(5)).await;
        flag.store(true, Ordering::Relaxed);
    });
    let e = w
        .write(&frame(1, 16), || cancel.load(Ordering::Relaxed), HANG_GUARD)
        .await;
    assert!(matches!(e, Err(ShmError::Cancelled { .. })), "{e:?}");
}

#[tokio::test]
async fn write_and_drain_resume_when_the_reader_lets_go() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut w = writer(dir.path(), 1, 16);
    let r = reader(&w, dir.path());
    let h = w.try_write(&frame(0, 16)).expect("write").expect("slot");
    let held = r.take(&h).expect("take");
    // Released from another task while `write` waits on this one.
    let release = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(5)).await;
        assert_eq!(held, frame(0, 16));
        drop(held);
    });
    let h1 = w
        .write(&frame(1, 16), || false, HANG_GUARD)
        .await
        .expect("slot freed");
    release.await.expect("release task");
    let r2 = r.clone();
    let consume = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(5)).await;
        assert_eq!(r2.take(&h1).expect("take"), frame(1, 16));
    });
    w.drain(HANG_GUARD).await.expect("drained");
    consume.await.expect("consume task");
    assert!(w.all_free());
}
