//! supervision 0.22.0 `matching.py` and `box_iou_batch` (PARITY.md C5),
//! keeping numpy's dtypes: a box list is an f32 array only when every box in
//! it is f32, and mixed operands are promoted to f64.

use super::lsap::Lsap;
use super::pyset::unmatched_in_set_order;
use super::track::Tlbr;

/// A row-major cost matrix; `f32` says numpy would hold it as float32 (the
/// values are then exact f32s).
#[derive(Debug, Default)]
pub(crate) struct Cost {
    pub rows: usize,
    pub cols: usize,
    pub data: Vec<f64>,
    pub f32: bool,
    /// Scratch for the per-column box areas.
    areas: Vec<f64>,
}

/// `linear_assignment`'s result: matches sorted by row, unmatched indices
/// in CPython set order.
#[derive(Debug, Default)]
pub(crate) struct Assignment {
    pub matches: Vec<(usize, usize)>,
    pub unmatched_a: Vec<usize>,
    pub unmatched_b: Vec<usize>,
}

/// numpy's NaN-propagating `maximum` / `minimum`.
fn np_max<T: PartialOrd + Copy>(a: T, b: T) -> T {
    if a >= b || a.partial_cmp(&a).is_none() {
        a
    } else {
        b
    }
}
fn np_min<T: PartialOrd + Copy>(a: T, b: T) -> T {
    if a <= b || a.partial_cmp(&a).is_none() {
        a
    } else {
        b
    }
}

/// IoU of one pair as `box_iou_batch` computes it, in f32 or f64. Areas
/// are given in their own side's dtype already.
macro_rules! iou_in {
    ($t:ty, $a:expr, $b:expr, $area_a:expr, $area_b:expr) => {{
        let (a, b) = ($a.map(|v| v as $t), $b.map(|v| v as $t));
        let w = np_max(np_min(a[2], b[2]) - np_max(a[0], b[0]), 0.0);
        let h = np_max(np_min(a[3], b[3]) - np_max(a[1], b[1]), 0.0);
        let inter = w * h;
        let iou = inter / ($area_a as $t + $area_b as $t - inter);
        // np.nan_to_num
        if iou.is_nan() {
            0.0
        } else if iou == <$t>::INFINITY {
            <$t>::MAX as f64
        } else if iou == <$t>::NEG_INFINITY {
            <$t>::MIN as f64
        } else {
            iou as f64
        }
    }};
}

/// Plain min/max (one instruction each) for the overlap pre-test: with a
/// NaN coordinate the true cost is 1 whichever way the test goes.
fn lo(a: f64, b: f64) -> f64 {
    if a < b { a } else { b }
}
fn hi(a: f64, b: f64) -> f64 {
    if a > b { a } else { b }
}

fn area(b: &Tlbr, f32: bool) -> f64 {
    if f32 {
        let b = b.map(|v| v as f32);
        f64::from((b[2] - b[0]) * (b[3] - b[1]))
    } else {
        (b[2] - b[0]) * (b[3] - b[1])
    }
}

/// `iou_distance`: cost = 1 - IoU(a_i, b_j). `a_f32`/`b_f32` are the dtypes
/// of the stacked box arrays.
pub(crate) fn iou_distance(a: &[Tlbr], a_f32: bool, b: &[Tlbr], b_f32: bool, out: &mut Cost) {
    let both = a_f32 && b_f32 && !a.is_empty() && !b.is_empty();
    out.rows = a.len();
    out.cols = b.len();
    // An empty result is np.zeros(float32); a full one has the IoU's dtype.
    out.f32 = both || a.is_empty() || b.is_empty();
    // Most pairs do not overlap: their intersection is 0, so the IoU is 0
    // (or 0/0 -> NaN -> 0) and the cost exactly 1 in either dtype (the sign
    // of a difference of f32 values is the same in f32 and f64). A NaN width
    // or height also ends at cost 1. So fill with 1 and compute only pairs
    // with a positive overlap; testing x first keeps the branch predictable.
    out.data.clear();
    out.data.resize(a.len() * b.len(), 1.0);
    out.areas.clear();
    out.areas.extend(b.iter().map(|x| area(x, b_f32)));
    if b.is_empty() {
        return;
    }
    for (row, ax) in out.data.chunks_exact_mut(b.len()).zip(a) {
        let area_a = area(ax, a_f32);
        for ((c, bx), &area_b) in row.iter_mut().zip(b).zip(&out.areas) {
            let overlap = lo(ax[2], bx[2]) - hi(ax[0], bx[0]) > 0.0
                && lo(ax[3], bx[3]) - hi(ax[1], bx[1]) > 0.0;
            if !overlap {
                continue;
            }
            *c = if both {
                f64::from(1.0 - iou_in!(f32, ax, bx, area_a, area_b) as f32)
            } else {
                1.0 - iou_in!(f64, ax, bx, area_a, area_b)
            };
        }
    }
}

/// `fuse_score`: cost = 1 - (1 - cost) * score. The `1 - cost` is taken
/// in the cost's dtype, the product with the f64 scores in f64.
pub(crate) fn fuse_score(cost: &mut Cost, scores: &[f64]) {
    if cost.data.is_empty() {
        return;
    }
    debug_assert_eq!(scores.len(), cost.cols);
    for row in cost.data.chunks_mut(cost.cols) {
        for (c, &s) in row.iter_mut().zip(scores) {
            let sim = if cost.f32 {
                f64::from(1.0 - *c as f32)
            } else {
                1.0 - *c
            };
            *c = 1.0 - sim * s;
        }
    }
    cost.f32 = false;
}

/// Scratch space for [`Matcher::linear_assignment`].
#[derive(Debug, Default)]
pub(crate) struct Matcher {
    lsap: Lsap,
    pairs: Vec<(usize, usize)>,
    seen: Vec<bool>,
}

impl Matcher {
    /// `linear_assignment(cost, thresh)`: clamp costs above `thresh` to
    /// `thresh + 1e-4`, solve the full LSAP, keep pairs with cost <= thresh.
    pub(crate) fn linear_assignment(&mut self, cost: &mut Cost, thresh: f64, out: &mut Assignment) {
        out.matches.clear();
        out.unmatched_a.clear();
        out.unmatched_b.clear();
        if cost.rows == 0 || cost.cols == 0 {
            out.unmatched_a.extend(0..cost.rows);
            out.unmatched_b.extend(0..cost.cols);
            return;
        }
        // A float32 array compares against float32(thresh) and stores the
        // clamp value rounded to float32 (numpy 1.x value-based casting).
        let (limit, clamp) = if cost.f32 {
            (f64::from(thresh as f32), f64::from((thresh + 1e-4) as f32))
        } else {
            (thresh, thresh + 1e-4)
        };
        for c in cost.data.iter_mut() {
            *c = if *c > limit { clamp } else { *c };
        }
        self.pairs.clear();
        // scipy raises on NaN; the IoU's nan_to_num means none reach here.
        let solved = self
            .lsap
            .solve(cost.rows, cost.cols, &cost.data, &mut self.pairs);
        debug_assert!(solved, "LSAP rejected a cost matrix");
        let cols = cost.cols;
        out.matches.extend(
            self.pairs
                .iter()
                .copied()
                .filter(|&(r, c)| cost.data[r * cols + c] <= limit),
        );
        let rows_m = out.matches.iter().map(|m| m.0);
        unmatched_in_set_order(cost.rows, rows_m, &mut self.seen, &mut out.unmatched_a);
        let cols_m = out.matches.iter().map(|m| m.1);
        unmatched_in_set_order(cost.cols, cols_m, &mut self.seen, &mut out.unmatched_b);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iou_basic_and_degenerate() {
        let mut c = Cost::default();
        let a = [[0.0, 0.0, 10.0, 10.0], [5.0, 5.0, 5.0, 15.0]];
        let b = [[5.0, 0.0, 15.0, 10.0], [5.0, 5.0, 5.0, 15.0]];
        iou_distance(&a, false, &b, true, &mut c);
        assert!(!c.f32);
        assert_eq!(c.data[0], 1.0 - 50.0 / 150.0);
        assert_eq!(c.data[1], 1.0); // zero-area box: 0/100
        assert_eq!(c.data[3], 1.0); // 0/0 -> NaN -> 0
    }

    #[test]
    fn empty_cost_gives_ascending_unmatched() {
        let mut c = Cost {
            rows: 3,
            cols: 0,
            ..Default::default()
        };
        let mut out = Assignment::default();
        Matcher::default().linear_assignment(&mut c, 0.8, &mut out);
        assert!(out.matches.is_empty());
        assert_eq!(out.unmatched_a, vec![0, 1, 2]);
    }

    #[test]
    fn threshold_is_inclusive_and_clamps() {
        let mut c = Cost {
            rows: 2,
            cols: 2,
            data: vec![0.8, 0.9, 0.95, 0.2],
            ..Default::default()
        };
        let mut out = Assignment::default();
        Matcher::default().linear_assignment(&mut c, 0.8, &mut out);
        assert_eq!(out.matches, vec![(0, 0), (1, 1)]);
        assert_eq!(c.data[1], 0.8 + 1e-4);
    }

    #[test]
    fn fuse_uses_f32_similarity() {
        let mut c = Cost {
            rows: 1,
            cols: 1,
            data: vec![f64::from(0.3f32)],
            f32: true,
            ..Default::default()
        };
        fuse_score(&mut c, &[0.5]);
        assert_eq!(c.data[0], 1.0 - f64::from(1.0 - 0.3f32) * 0.5);
    }
}
