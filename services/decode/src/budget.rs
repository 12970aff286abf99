//! [`FrameBudget`]: decoded frames waiting for their consumer, bounded in
//! bytes as well as in number.
//!
//! The channel between the decode thread and the consumer holds at most
//! `channel_capacity` frames; a frame count alone let a 4K or larger clip
//! park hundreds of megabytes per video. The decode thread takes a share of
//! the budget for each frame before sending it ([`FrameBudget::take`]), and
//! the share returns when the consumer receives the frame (the [`Held`]
//! travelling with it is dropped). One frame always fits, however large, so
//! a clip is never stuck on its own size.

use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

/// How often a waiting decode thread looks whether its consumer left.
const RECHECK: Duration = Duration::from_millis(50);

/// Bytes of frames in flight for one video.
#[derive(Debug)]
pub struct FrameBudget {
    limit: usize,
    in_flight: Mutex<usize>,
    freed: Condvar,
}

/// A frame's share of the budget, returned on drop.
#[derive(Debug)]
pub struct Held {
    budget: Arc<FrameBudget>,
    bytes: usize,
}

impl Drop for Held {
    fn drop(&mut self) {
        let mut in_flight = self.budget.lock();
        *in_flight = in_flight.saturating_sub(self.bytes);
        drop(in_flight);
        self.budget.freed.notify_all();
    }
}

impl FrameBudget {
    /// A budget of `limit` bytes in flight, shared by the decode thread and
    /// the frames' [`Held`] shares.
    pub fn new(limit: usize) -> Arc<Self> {
        Arc::new(Self {
            limit,
            in_flight: Mutex::new(0),
            freed: Condvar::new(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, usize> {
        // Additions and subtractions only: a poisoned count is still a count.
        self.in_flight
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Waits (blocking: the decode thread) until `bytes` more fit, or
    /// nothing is in flight; `None` once `gone` says the consumer left.
    pub fn take(self: &Arc<Self>, bytes: usize, gone: impl Fn() -> bool) -> Option<Held> {
        let mut in_flight = self.lock();
        while *in_flight > 0 && *in_flight + bytes > self.limit {
            if gone() {
                return None;
            }
            in_flight = self
                .freed
                .wait_timeout(in_flight, RECHECK)
                .map(|(guard, _)| guard)
                .unwrap_or_else(|e| e.into_inner().0);
        }
        *in_flight += bytes;
        Some(Held {
            budget: self.clone(),
            bytes,
        })
    }

    /// Bytes of frames not yet received.
    pub fn in_flight(&self) -> usize {
        *self.lock()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};

    use super::*;

    #[test]
    fn frames_wait_for_room_and_one_frame_always_fits() {
        let budget = FrameBudget::new(100);
        let a = budget.take(60, || false).expect("room");
        // A frame larger than the whole budget goes alone.
        let waiter = std::thread::spawn({
            let budget = budget.clone();
            move || budget.take(500, || false).map(|held| held.bytes)
        });
        std::thread::sleep(Duration::from_millis(120));
        assert!(!waiter.is_finished(), "took room that was not there");
        assert_eq!(budget.in_flight(), 60);
        drop(a);
        assert_eq!(waiter.join().unwrap(), Some(500));
        assert_eq!(budget.in_flight(), 0, "the share came back on drop");
        let b = budget.take(40, || false).expect("room");
        let c = budget.take(60, || false).expect("exactly full");
        assert_eq!(budget.in_flight(), 100);
        drop((b, c));
    }

    #[test]
    fn a_waiting_frame_gives_up_when_the_consumer_leaves() {
        let budget = FrameBudget::new(10);
        let _held = budget.take(10, || false).expect("room");
        let gone = Arc::new(AtomicBool::new(false));
        let waiter = std::thread::spawn({
            let (budget, gone) = (budget.clone(), gone.clone());
            move || budget.take(10, || gone.load(Ordering::SeqCst)).is_none()
        });
        std::thread::sleep(Duration::from_millis(60));
        gone.store(true, Ordering::SeqCst);
        assert!(
            waiter.join().unwrap(),
            "kept waiting for a consumer that left"
        );
    }
}
