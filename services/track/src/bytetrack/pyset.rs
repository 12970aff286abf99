//! The iteration order of `tuple(set(range(n)) - set(matched))` in CPython
//! 3.11 (PARITY.md C5).
//!
//! supervision's `linear_assignment` returns its unmatched indices in this
//! order, and ByteTrack walks them in that order when it creates new tracks,
//! so it decides which new track gets which id. Plain ascending order
//! mismatched 78% of frames in the PARITY check. Keys are small non-negative
//! ints, whose CPython hash is the int itself.

/// CPython `LINEAR_PROBES` and `PERTURB_SHIFT` (Objects/setobject.c).
const LINEAR_PROBES: usize = 9;
const PERTURB_SHIFT: u32 = 5;
/// `PySet_MINSIZE`.
const MIN_SIZE: usize = 8;
const EMPTY: usize = usize::MAX;

/// Appends to `out` the elements of `{0..n} - matched` in CPython iteration
/// order. `matched` holds distinct indices below `n`; `seen` is scratch.
pub(crate) fn unmatched_in_set_order(
    n: usize,
    matched: impl Iterator<Item = usize> + Clone,
    seen: &mut Vec<bool>,
    out: &mut Vec<usize>,
) {
    seen.clear();
    seen.resize(n, false);
    let mut n_matched = 0;
    for m in matched {
        seen[m] = true;
        n_matched += 1;
    }
    let survivors = (0..n).filter(|&i| !seen[i]);
    // set_difference: when len(a) >> 2 > len(b) it copies `a` (whose table
    // keeps range(n) in slot = key order) and discards, so the order stays
    // ascending. Otherwise it inserts the survivors, ascending, into a fresh
    // set, whose slot order is what the emulation below reproduces.
    if (n >> 2) > n_matched {
        out.extend(survivors);
        return;
    }
    let mut table = Table::new();
    for k in survivors {
        table.add(k);
    }
    out.extend(table.slots.iter().copied().filter(|&k| k != EMPTY));
}

/// An open-addressing table laid out like a CPython set without deletions.
struct Table {
    slots: Vec<usize>,
    fill: usize,
}

impl Table {
    fn new() -> Self {
        Table {
            slots: vec![EMPTY; MIN_SIZE],
            fill: 0,
        }
    }

    /// `set_add_entry` for a key known to be absent (no dummies exist, so
    /// fill == used throughout).
    fn add(&mut self, key: usize) {
        insert_clean(&mut self.slots, key);
        self.fill += 1;
        let mask = self.slots.len() - 1;
        if self.fill * 5 >= mask * 3 {
            let used = self.fill;
            self.resize(if used > 50_000 { used * 2 } else { used * 4 });
        }
    }

    /// `set_table_resize`: the smallest power of two above `minused`, then
    /// re-insert the old entries in slot order.
    fn resize(&mut self, minused: usize) {
        let mut size = MIN_SIZE;
        while size <= minused {
            size <<= 1;
        }
        let old = std::mem::replace(&mut self.slots, vec![EMPTY; size]);
        for k in old.into_iter().filter(|&k| k != EMPTY) {
            insert_clean(&mut self.slots, k);
        }
    }
}

/// The probe sequence shared by `set_add_entry` and `set_insert_clean`:
/// slot `i`, then up to nine linear neighbours when they fit below the mask,
/// then the perturbed jump.
fn insert_clean(slots: &mut [usize], key: usize) {
    let mask = slots.len() - 1;
    let mut perturb = key;
    let mut i = key & mask;
    loop {
        let probes = if i + LINEAR_PROBES <= mask {
            LINEAR_PROBES
        } else {
            0
        };
        if let Some(slot) = slots[i..=i + probes].iter_mut().find(|s| **s == EMPTY) {
            *slot = key;
            return;
        }
        perturb >>= PERTURB_SHIFT;
        i = (i.wrapping_mul(5).wrapping_add(1).wrapping_add(perturb)) & mask;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order(n: usize, matched: &[usize]) -> Vec<usize> {
        let mut out = Vec::new();
        unmatched_in_set_order(n, matched.iter().copied(), &mut Vec::new(), &mut out);
        out
    }

    #[test]
    fn parity_example() {
        assert_eq!(order(9, &[0, 2, 3, 5, 7]), vec![8, 1, 4, 6]);
    }

    #[test]
    fn few_matches_stay_ascending() {
        assert_eq!(order(9, &[4]), vec![0, 1, 2, 3, 5, 6, 7, 8]);
        assert_eq!(order(3, &[]), vec![0, 1, 2]);
        assert!(order(0, &[]).is_empty());
    }

    /// 400 random cases, n < 130, against CPython 3.11.
    #[test]
    fn cpython_cases() {
        let cases = crate::bytetrack::unit_cases();
        for case in cases["set_order"].as_array().unwrap() {
            let n = case["n"].as_u64().unwrap() as usize;
            let matched: Vec<usize> = serde_json::from_value(case["matched"].clone()).unwrap();
            let want: Vec<usize> = serde_json::from_value(case["order"].clone()).unwrap();
            assert_eq!(order(n, &matched), want, "n={n} matched={matched:?}");
        }
    }

    // Answers from CPython 3.11: tuple(set(range(n)) - set(matched)).
    #[test]
    fn cpython_answers() {
        assert_eq!(order(12, &[0, 1, 2, 3, 4, 5, 6, 7, 8]), vec![9, 10, 11]);
        assert_eq!(
            order(20, &[1, 3, 5, 7, 9]),
            vec![0, 2, 4, 6, 8, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19]
        );
    }
}
