//! Challenge slots: N challenges at once, a short bounded queue behind them,
//! a fast 503 beyond it.
//!
//! Why a queue and not only a fast 503: the validator scores any non-2xx as
//! an empty answer (0), while a late answer still earns the 0.65 quality
//! share (speed is 0 past 15 s but the validator waits 240 s). So a few
//! challenges may wait for a slot, but only a few (`queue_depth`) and only
//! for a while (`queue_timeout_s`, and never past the challenge deadline):
//! an unbounded queue would turn overload into timeouts for everyone.
//! `/availability` reports false as soon as every slot is taken, which is
//! what well-behaved validators check before sending.
//!
//! No global lock: a semaphore (FIFO, so waiters are served in order) and an
//! atomic queue counter.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

use crate::Error;

/// The admission control for challenges: `max` running at once, at most
/// `queue_depth` waiting behind them, the rest refused at once.
#[derive(Debug)]
pub struct Slots {
    semaphore: Arc<Semaphore>,
    max: usize,
    queue_depth: usize,
    queued: AtomicUsize,
}

/// A held slot; dropping it frees the slot.
#[derive(Debug)]
pub struct Slot {
    _permit: OwnedSemaphorePermit,
}

/// Decrements the queue counter however the wait ends (including the
/// request future being dropped because the validator left).
struct Queued<'a>(&'a AtomicUsize);

impl Drop for Queued<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Slots {
    /// `max` slots, all free, and room for `queue_depth` waiters (0: no
    /// waiting, a busy gateway refuses at once).
    pub fn new(max: usize, queue_depth: usize) -> Self {
        Self {
            semaphore: Arc::new(Semaphore::new(max)),
            max,
            queue_depth,
            queued: AtomicUsize::new(0),
        }
    }

    /// True while a challenge would start at once.
    pub fn available(&self) -> bool {
        self.semaphore.available_permits() > 0
    }

    /// Slots held now: challenges running.
    pub fn in_flight(&self) -> usize {
        self.max - self.semaphore.available_permits()
    }

    /// Challenges waiting for a slot now.
    pub fn queued(&self) -> usize {
        self.queued.load(Ordering::Acquire)
    }

    /// Takes a slot now, or waits in the queue until `deadline`.
    pub async fn acquire(&self, deadline: Instant) -> Result<Slot, Error> {
        if let Ok(permit) = self.semaphore.clone().try_acquire_owned() {
            return Ok(Slot { _permit: permit });
        }
        if self.queued.fetch_add(1, Ordering::AcqRel) >= self.queue_depth {
            self.queued.fetch_sub(1, Ordering::AcqRel);
            return Err(Error::Busy { slots: self.max });
        }
        let _queued = Queued(&self.queued);
        let started = Instant::now();
        match tokio::time::timeout_at(deadline, self.semaphore.clone().acquire_owned()).await {
            Ok(Ok(permit)) => Ok(Slot { _permit: permit }),
            Ok(Err(_closed)) => Err(Error::Busy { slots: self.max }),
            Err(_elapsed) => Err(Error::QueueTimeout {
                waited_s: started.elapsed().as_secs_f64(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn queues_then_refuses() {
        let slots = Slots::new(1, 1);
        let far = Instant::now() + Duration::from_secs(5);
        let first = slots.acquire(far).await.unwrap();
        assert!(!slots.available());
        assert_eq!(slots.in_flight(), 1);

        let waiter = slots.acquire(far);
        tokio::pin!(waiter);
        // Poll once so the waiter joins the queue.
        assert!(futures::poll!(&mut waiter).is_pending());
        assert_eq!(slots.queued(), 1);
        assert!(matches!(
            slots.acquire(far).await,
            Err(Error::Busy { slots: 1 })
        ));

        drop(first);
        let second = waiter.await.unwrap();
        assert_eq!(slots.queued(), 0);
        drop(second);
        assert!(slots.available());
    }

    #[tokio::test]
    async fn queue_wait_ends_at_the_deadline() {
        let slots = Slots::new(1, 4);
        let _held = slots
            .acquire(Instant::now() + Duration::from_secs(5))
            .await
            .unwrap();
        let soon = Instant::now() + Duration::from_millis(20);
        assert!(matches!(
            slots.acquire(soon).await,
            Err(Error::QueueTimeout { .. })
        ));
        assert_eq!(slots.queued(), 0);
    }

    #[tokio::test]
    async fn no_queue_means_fast_refusal() {
        let slots = Slots::new(1, 0);
        let far = Instant::now() + Duration::from_secs(5);
        let _held = slots.acquire(far).await.unwrap();
        assert!(matches!(slots.acquire(far).await, Err(Error::Busy { .. })));
    }
}
