//! Nonce freshness and replay protection.
//!
//! A nonce is `"{unix ns}_{random}"` (fiber's validators) or a bare
//! `"{unix ns}"` (Score's newer validators send `str(time.time_ns())`, and
//! fiber reads both: the timestamp is the part before the first `_`, or the
//! whole nonce). A timestamp above 10^20 ns (year 5138; fiber's bound) is
//! refused as absurd. A nonce is accepted within `window` of our clock, once. A nonce is remembered only until its timestamp leaves the
//! window (after that the freshness check rejects it anyway), so memory is
//! bounded by the rate of *authenticated* requests times twice the window;
//! a hard cap on entries bounds it under any load. Only nonces of requests
//! whose signature and stake already checked out are remembered, so
//! strangers cannot fill the store.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashSet};
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Longest nonce we look at; fiber's are ~30 characters.
const MAX_LEN: usize = 128;

/// The largest timestamp fiber accepts (`timestamp_ns > 10**20` is refused).
pub const MAX_TIMESTAMP_NS: i128 = 100_000_000_000_000_000_000;

/// Why a nonce was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NonceError {
    /// Longer than 128 bytes, or not `<unix ns>` optionally followed by
    /// `_<random>`.
    #[error("nonce is malformed (expected '<unix ns>' or '<unix ns>_<random>')")]
    Malformed,
    /// The timestamp is above [`MAX_TIMESTAMP_NS`], which fiber refuses too.
    #[error("nonce timestamp is absurd (above 10^20 ns)")]
    TooLarge,
    /// The timestamp is older than the freshness window.
    #[error("nonce is stale ({age_s} s old, window {window_s} s)")]
    Stale {
        /// How old it is, in whole seconds.
        age_s: i128,
        /// The window, in seconds.
        window_s: u64,
    },
    /// The timestamp is further ahead of our clock than the window allows.
    #[error("nonce is from the future ({ahead_s} s ahead, window {window_s} s)")]
    Future {
        /// How far ahead it is, in whole seconds.
        ahead_s: i128,
        /// The window, in seconds.
        window_s: u64,
    },
    /// The same nonce was accepted before within its window: a replay.
    #[error("nonce was already used")]
    Replayed,
    /// The store holds its maximum of fresh nonces (the number given), so
    /// no new one can be remembered; answered 503, not 401.
    #[error("too many recent nonces ({0}); try again shortly")]
    StoreFull(usize),
}

/// Current unix time in nanoseconds.
pub fn now_ns() -> i128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i128)
}

/// The set of recently seen nonces.
#[derive(Debug)]
pub struct NonceStore {
    window_ns: i128,
    window_s: u64,
    max_entries: usize,
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    seen: HashSet<Box<str>>,
    /// Min-heap of (forget-at ns, nonce) so expired entries pop first.
    expiry: BinaryHeap<Reverse<(i128, Box<str>)>>,
}

impl NonceStore {
    /// An empty store accepting timestamps within `window` either side of
    /// now and remembering at most `max_entries` nonces; each is forgotten
    /// once its timestamp leaves the window, when a replay would be stale
    /// anyway.
    pub fn new(window: Duration, max_entries: usize) -> Self {
        Self {
            window_ns: window.as_nanos() as i128,
            window_s: window.as_secs(),
            max_entries,
            inner: Mutex::new(Inner::default()),
        }
    }

    /// Checks format and freshness without remembering anything; returns the
    /// nonce's timestamp. Cheap: run it before the signature check.
    pub fn check_fresh(&self, nonce: &str, now_ns: i128) -> Result<i128, NonceError> {
        if nonce.len() > MAX_LEN {
            return Err(NonceError::Malformed);
        }
        let ts = timestamp(nonce)?;
        let age = now_ns - ts;
        if age > self.window_ns {
            return Err(NonceError::Stale {
                age_s: age / 1_000_000_000,
                window_s: self.window_s,
            });
        }
        if -age > self.window_ns {
            return Err(NonceError::Future {
                ahead_s: -age / 1_000_000_000,
                window_s: self.window_s,
            });
        }
        Ok(ts)
    }

    /// Records a fresh nonce; fails if it was seen before.
    pub fn remember(&self, nonce: &str, ts: i128, now_ns: i128) -> Result<(), NonceError> {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        inner.purge(now_ns);
        if inner.seen.contains(nonce) {
            return Err(NonceError::Replayed);
        }
        if inner.seen.len() >= self.max_entries {
            return Err(NonceError::StoreFull(self.max_entries));
        }
        let key: Box<str> = nonce.into();
        inner
            .expiry
            .push(Reverse((ts + self.window_ns, key.clone())));
        inner.seen.insert(key);
        Ok(())
    }

    /// Number of nonces currently remembered.
    pub fn len(&self) -> usize {
        self.inner
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .seen
            .len()
    }

    /// Whether no nonce is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The nonce's timestamp: the integer before the first `_`, or the whole
/// nonce when it has none (fiber: `int(nonce.split("_")[0])`), at most
/// [`MAX_TIMESTAMP_NS`].
fn timestamp(nonce: &str) -> Result<i128, NonceError> {
    let stamp = nonce.split_once('_').map_or(nonce, |(stamp, _)| stamp);
    let ts: i128 = stamp.parse().map_err(|e: std::num::ParseIntError| {
        match e.kind() {
            // Digits beyond even i128: absurd rather than malformed.
            std::num::IntErrorKind::PosOverflow => NonceError::TooLarge,
            _ => NonceError::Malformed,
        }
    })?;
    if ts > MAX_TIMESTAMP_NS {
        return Err(NonceError::TooLarge);
    }
    Ok(ts)
}

impl Inner {
    fn purge(&mut self, now_ns: i128) {
        while let Some(Reverse((forget_at, _))) = self.expiry.peek() {
            if *forget_at >= now_ns {
                break;
            }
            if let Some(Reverse((_, nonce))) = self.expiry.pop() {
                self.seen.remove(&nonce);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: i128 = 1_000_000_000;
    const NOW: i128 = 1_700_000_000 * S;

    fn store() -> NonceStore {
        NonceStore::new(Duration::from_secs(120), 1000)
    }

    #[test]
    fn accepts_fresh_nonces_once() {
        let store = store();
        let nonce = format!("{}_abcdefghij", NOW - 5 * S);
        let ts = store.check_fresh(&nonce, NOW).unwrap();
        store.remember(&nonce, ts, NOW).unwrap();
        assert_eq!(
            store.remember(&nonce, ts, NOW + S),
            Err(NonceError::Replayed)
        );
    }

    #[test]
    fn rejects_stale_future_and_malformed() {
        let store = store();
        assert!(matches!(
            store.check_fresh(&format!("{}_x", NOW - 121 * S), NOW),
            Err(NonceError::Stale { .. })
        ));
        assert!(matches!(
            store.check_fresh(&format!("{}_x", NOW + 121 * S), NOW),
            Err(NonceError::Future { .. })
        ));
        assert!(
            store
                .check_fresh(&format!("{}_x", NOW + 119 * S), NOW)
                .is_ok()
        );
        for bad in [
            "",
            "abc_def",
            "_123",
            "12.5_x",
            "12.5",
            "1e18",
            "0x10",
            " 123",
            &"1".repeat(200),
        ] {
            assert_eq!(
                store.check_fresh(bad, NOW),
                Err(NonceError::Malformed),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn bare_time_ns_nonces_follow_the_same_rules() {
        let store = store();
        // Score's newer validators: str(time.time_ns()), no suffix.
        let nonce = (NOW - 5 * S).to_string();
        let ts = store.check_fresh(&nonce, NOW).unwrap();
        assert_eq!(ts, NOW - 5 * S);
        store.remember(&nonce, ts, NOW).unwrap();
        assert_eq!(
            store.remember(&nonce, ts, NOW + S),
            Err(NonceError::Replayed)
        );
        // The same instant with a suffix is another nonce.
        let suffixed = format!("{nonce}_abcdefghij");
        assert_eq!(store.check_fresh(&suffixed, NOW), Ok(ts));
        store.remember(&suffixed, ts, NOW).unwrap();
        assert!(matches!(
            store.check_fresh(&(NOW - 121 * S).to_string(), NOW),
            Err(NonceError::Stale { .. })
        ));
        assert!(matches!(
            store.check_fresh(&(NOW + 121 * S).to_string(), NOW),
            Err(NonceError::Future { .. })
        ));
    }

    #[test]
    fn absurd_timestamps_are_refused_like_fiber() {
        // A store whose window covers any timestamp: only the bound refuses.
        let any_time = NonceStore::new(Duration::from_secs(u64::MAX / 2), 10);
        let now = MAX_TIMESTAMP_NS;
        let at_bound = "100000000000000000000";
        assert_eq!(at_bound.parse::<i128>().unwrap(), MAX_TIMESTAMP_NS);
        assert_eq!(any_time.check_fresh(at_bound, now), Ok(MAX_TIMESTAMP_NS));
        for absurd in [
            "100000000000000000001".to_owned(),
            "100000000000000000001_abcdefghij".to_owned(),
            "9".repeat(30),
            // Beyond i128 altogether.
            "9".repeat(60),
            format!("{}_x", "9".repeat(60)),
        ] {
            assert_eq!(
                any_time.check_fresh(&absurd, now),
                Err(NonceError::TooLarge),
                "{absurd}"
            );
        }
        // With our real window, absurd ones say so rather than "future".
        assert_eq!(
            store().check_fresh(&"9".repeat(25), NOW),
            Err(NonceError::TooLarge)
        );
    }

    #[test]
    fn forgets_nonces_once_they_cannot_be_valid() {
        let store = store();
        for i in 0..100 {
            let ts = NOW + i * S;
            store.remember(&format!("{ts}_n{i}"), ts, ts).unwrap();
        }
        assert_eq!(store.len(), 100);
        // 121 s after the last one, every timestamp is outside the window.
        let later = NOW + 99 * S + 121 * S;
        store.remember("x", later, later).unwrap();
        assert_eq!(store.len(), 1);
    }

    #[test]
    fn bounded_under_load() {
        let store = NonceStore::new(Duration::from_secs(120), 10);
        for i in 0..10 {
            store.remember(&format!("n{i}"), NOW, NOW).unwrap();
        }
        assert_eq!(
            store.remember("n10", NOW, NOW),
            Err(NonceError::StoreFull(10))
        );
        assert_eq!(store.len(), 10);
    }
}
