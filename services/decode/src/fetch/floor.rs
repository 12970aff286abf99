//! The slowest transfer worth waiting for. A host that trickles bytes (one a
//! second passes any read timeout) would otherwise hold a challenge slot
//! until the total timeout; the speed score is zero after 15 s anyway.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// At least `bytes_per_s` averaged over every `window` of the transfer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MinRate {
    /// The slowest average allowed, in bytes per second.
    pub bytes_per_s: u64,
    /// How long a stretch the average is taken over; nothing is judged
    /// before one window has passed.
    pub window: Duration,
}

impl MinRate {
    /// 100 kB/s over 10 s: a 720p clip arrives at megabytes a second from
    /// any real host, and one at this rate would take minutes.
    pub const DEFAULT: MinRate = MinRate {
        bytes_per_s: 100_000,
        window: Duration::from_secs(10),
    };
}

/// Why a transfer was given up: what arrived over the last window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooSlow {
    /// Bytes received over the window.
    pub received: u64,
    /// The window's actual length (at least [`MinRate::window`]).
    pub over: Duration,
}

/// Watches one transfer: [`RateFloor::check`] after each chunk and at each
/// [`RateFloor::next_check`] (also when no chunk comes at all).
#[derive(Debug)]
pub struct RateFloor {
    min: MinRate,
    /// (when, bytes received by then), oldest first; the first is the
    /// newest sample at least a window old once there is one.
    samples: VecDeque<(Instant, u64)>,
    next: Instant,
}

impl RateFloor {
    /// Watches a transfer that started at `started` with nothing received.
    pub fn new(min: MinRate, started: Instant) -> Self {
        Self {
            min,
            samples: VecDeque::from([(started, 0)]),
            next: started + Self::step(min),
        }
    }

    /// Samples ten times a window: the measured span is at most a tenth
    /// longer than the window.
    fn step(min: MinRate) -> Duration {
        (min.window / 10).max(Duration::from_millis(1))
    }

    /// When the next check is due.
    pub fn next_check(&self) -> Instant {
        self.next
    }

    /// `received` bytes so far at `now`: too slow when the last full window
    /// brought fewer than the floor. Nothing is judged before a whole window
    /// has passed, so a transfer shorter than one is never cut.
    pub fn check(&mut self, now: Instant, received: u64) -> Result<(), TooSlow> {
        if now < self.next {
            return Ok(());
        }
        self.next = now + Self::step(self.min);
        self.samples.push_back((now, received));
        while self.samples.len() >= 2 && now.duration_since(self.samples[1].0) >= self.min.window {
            self.samples.pop_front();
        }
        let (since, then) = self.samples[0];
        let over = now.duration_since(since);
        if over < self.min.window {
            return Ok(());
        }
        let got = received.saturating_sub(then);
        let floor = self.min.bytes_per_s as f64 * over.as_secs_f64();
        if (got as f64) < floor {
            Err(TooSlow {
                received: got,
                over,
            })
        } else {
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: MinRate = MinRate {
        bytes_per_s: 1000,
        window: Duration::from_secs(10),
    };

    fn at(start: Instant, s: f64) -> Instant {
        start + Duration::from_secs_f64(s)
    }

    #[test]
    fn a_trickle_is_cut_after_one_window() {
        let start = Instant::now();
        let mut floor = RateFloor::new(MIN, start);
        // One byte a second: fine until a whole window has passed.
        for s in 1..10 {
            assert_eq!(floor.check(at(start, s as f64), s), Ok(()), "{s} s");
        }
        let cut = floor.check(at(start, 10.0), 10).unwrap_err();
        assert_eq!(cut.received, 10);
        assert!(cut.over >= MIN.window);
    }

    #[test]
    fn silence_is_judged_too() {
        let start = Instant::now();
        let mut floor = RateFloor::new(MIN, start);
        assert_eq!(floor.next_check(), at(start, 1.0));
        assert!(floor.check(at(start, 10.5), 0).is_err());
    }

    #[test]
    fn a_fast_start_then_a_stall_is_cut_a_window_later() {
        let start = Instant::now();
        let mut floor = RateFloor::new(MIN, start);
        // 50 kB in the first second, then nothing.
        assert_eq!(floor.check(at(start, 1.0), 50_000), Ok(()));
        for s in 2..=10 {
            assert_eq!(floor.check(at(start, s as f64), 50_000), Ok(()), "{s} s");
        }
        let mut t = 11.0;
        let cut = loop {
            match floor.check(at(start, t), 50_000) {
                Ok(()) => t += 1.0,
                Err(cut) => break cut,
            }
            assert!(t < 13.0, "still not cut at {t} s");
        };
        assert_eq!(cut.received, 0);
    }

    #[test]
    fn a_steady_host_above_the_floor_is_never_cut() {
        let start = Instant::now();
        let mut floor = RateFloor::new(MIN, start);
        for tenth in 1..=600 {
            let s = tenth as f64 / 10.0;
            let received = (s * 1100.0) as u64;
            assert_eq!(floor.check(at(start, s), received), Ok(()), "{s} s");
        }
    }
}
