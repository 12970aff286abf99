//! Ring file names: `sv-<hint>-<pid>-<random>.ring`.
//!
//! The writer makes them; the reader gets one from the wire and checks it
//! against the same pattern before joining it to its directory, so a handle
//! cannot point the reader at any other file.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use super::ShmError;

const PREFIX: &str = "sv-";
const SUFFIX: &str = ".ring";
/// Keeps names well under NAME_MAX (255) whatever the hint.
const MAX_HINT: usize = 64;

/// A fresh name for a ring of `hint` (a challenge id, say).
pub fn make(hint: &str) -> String {
    format!(
        "{PREFIX}{}-{}-{:016x}{SUFFIX}",
        sanitise(hint),
        std::process::id(),
        random_u64()
    )
}

/// Only `[A-Za-z0-9_-]` survive, so no '.', '/' or NUL can reach a path.
fn sanitise(hint: &str) -> String {
    let s: String = hint
        .chars()
        .take(MAX_HINT)
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if s.is_empty() { "ring".into() } else { s }
}

/// Uniqueness, not secrecy: the file is created with O_EXCL (retrying on a
/// clash) and mode 0600, so a guessable name gives nobody anything.
/// `RandomState` is seeded from the OS once per thread and differs per call.
fn random_u64() -> u64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut h = RandomState::new().build_hasher();
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    h.write_u128(nanos);
    h.finish()
}

/// Refuses anything [`make`] could not have produced.
pub fn check(name: &str) -> Result<(), ShmError> {
    let bad = |reason| {
        Err(ShmError::BadName {
            name: name.chars().take(300).collect(),
            reason,
        })
    };
    if name.contains('\0') {
        return bad("contains NUL");
    }
    if name.contains('/') {
        return bad("contains '/'");
    }
    if name.contains("..") {
        return bad("contains '..'");
    }
    if name.len() > 255 {
        return bad("longer than 255 bytes");
    }
    let Some(middle) = name
        .strip_prefix(PREFIX)
        .and_then(|n| n.strip_suffix(SUFFIX))
    else {
        return bad("not of the form sv-*.ring");
    };
    if middle.is_empty() {
        return bad("empty");
    }
    if !middle
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return bad("unexpected character");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn made_names_pass_the_check_whatever_the_hint() {
        for hint in [
            "challenge-1",
            "../../etc/passwd",
            "a/b",
            "x\0y",
            "",
            "..",
            "ü.ring",
        ] {
            let name = make(hint);
            check(&name).unwrap_or_else(|e| panic!("{hint:?} -> {name:?}: {e}"));
        }
        assert_ne!(make("a"), make("a"));
        assert!(make(&"x".repeat(1000)).len() < 255);
    }

    #[test]
    fn foreign_names_are_refused() {
        for name in [
            "../x",
            "a/b",
            "sv-a/b.ring",
            "sv-../x.ring",
            "sv-..ring",
            "sv-a\0.ring",
            "sv-.ring",
            "x.ring",
            "sv-abc",
            "sv-a b.ring",
            "",
            "/dev/shm/sv-a.ring",
        ] {
            assert!(
                matches!(check(name), Err(ShmError::BadName { .. })),
                "{name:?} accepted"
            );
        }
        assert!(check("sv-challenge_1-42-0123456789abcdef.ring").is_ok());
    }
}
