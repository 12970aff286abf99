//! Rectangular linear sum assignment, ported from scipy 1.10's
//! `scipy/optimize/rectangular_lsap/rectangular_lsap.cpp` (Crouse's shortest
//! augmenting path, author PM Larsen).
//!
//! Any exact solver finds *an* optimum; this port exists so that *which*
//! optimum is picked when several tie matches scipy. Ties are common in
//! ByteTrack: `linear_assignment` clamps every cost above the threshold to
//! the same `thresh + 1e-4`. The loop order, the reversed `remaining` list,
//! the "prefer a free column on equal cost" rule, the transpose of tall
//! matrices and the f64 arithmetic order are all kept as in the C++.

const NONE: usize = usize::MAX;

/// Reusable buffers, so a tracker update does not allocate per solve.
#[derive(Debug, Default)]
pub(crate) struct Lsap {
    cost_t: Vec<f64>,
    u: Vec<f64>,
    v: Vec<f64>,
    shortest: Vec<f64>,
    path: Vec<usize>,
    col4row: Vec<usize>,
    row4col: Vec<usize>,
    /// The C++ keeps SR/SC as bool vectors and loops over all of them for
    /// the dual update; the rows/columns visited by one augmenting path
    /// (each at most once) give the same updates without the O(n) scans.
    sr: Vec<usize>,
    sc: Vec<usize>,
    remaining: Vec<usize>,
    /// nc-1, ..., 0: the initial `remaining` of every augmenting path.
    reversed: Vec<usize>,
}

impl Lsap {
    /// Solves the `nr x nc` row-major `cost` problem and appends the
    /// assignment to `out` as `(row, col)` pairs sorted by row, like
    /// `scipy.optimize.linear_sum_assignment(cost)`. Returns false (and
    /// appends nothing) where scipy would raise: NaN or -inf entries, or an
    /// infeasible matrix.
    pub(crate) fn solve(
        &mut self,
        nr: usize,
        nc: usize,
        cost: &[f64],
        out: &mut Vec<(usize, usize)>,
    ) -> bool {
        debug_assert_eq!(cost.len(), nr * nc);
        if nr == 0 || nc == 0 {
            return true;
        }
        // scipy transposes tall matrices so that rows <= cols.
        let transpose = nc < nr;
        let mut cost_t = std::mem::take(&mut self.cost_t);
        let (nr, nc, cost) = if transpose {
            cost_t.clear();
            cost_t.resize(nr * nc, 0.0);
            for (j, col) in cost_t.chunks_exact_mut(nr).enumerate() {
                for (x, row) in col.iter_mut().zip(cost.chunks_exact(nc)) {
                    *x = row[j];
                }
            }
            (nc, nr, &cost_t[..])
        } else {
            (nr, nc, cost)
        };
        let ok = !cost.iter().any(|c| c.is_nan() || *c == f64::NEG_INFINITY)
            && self.solve_wide(nr, nc, cost);
        if ok {
            if transpose {
                // scipy: argsort(col4row) so the pairs come out sorted by the
                // original row; col4row values are distinct, so any sort works.
                let start = out.len();
                out.extend(self.col4row.iter().enumerate().map(|(j, &i)| (i, j)));
                out[start..].sort_unstable_by_key(|p| p.0);
            } else {
                out.extend(self.col4row.iter().enumerate().map(|(i, &j)| (i, j)));
            }
        }
        self.cost_t = cost_t;
        ok
    }

    /// The C++ `solve` body for `nr <= nc`; leaves the result in `col4row`.
    fn solve_wide(&mut self, nr: usize, nc: usize, cost: &[f64]) -> bool {
        reset(&mut self.u, nr, 0.0);
        reset(&mut self.v, nc, 0.0);
        reset(&mut self.shortest, nc, 0.0);
        reset(&mut self.path, nc, NONE);
        reset(&mut self.col4row, nr, NONE);
        reset(&mut self.row4col, nc, NONE);
        reset(&mut self.remaining, nc, 0);
        self.reversed.clear();
        self.reversed.extend((0..nc).rev());

        for cur_row in 0..nr {
            let Some((sink, min_val)) = self.augmenting_path(nc, cost, cur_row) else {
                return false;
            };
            // Update the dual variables.
            self.u[cur_row] += min_val;
            for &i in &self.sr {
                if i != cur_row {
                    self.u[i] += min_val - self.shortest[self.col4row[i]];
                }
            }
            for &j in &self.sc {
                self.v[j] -= min_val - self.shortest[j];
            }
            // Augment the previous solution along the path.
            let mut j = sink;
            loop {
                let i = self.path[j];
                self.row4col[j] = i;
                std::mem::swap(&mut self.col4row[i], &mut j);
                if i == cur_row {
                    break;
                }
            }
        }
        true
    }

    fn augmenting_path(&mut self, nc: usize, cost: &[f64], mut i: usize) -> Option<(usize, f64)> {
        let mut min_val = 0.0;
        let mut num_remaining = nc;
        // Reverse order: a constant matrix then solves to the identity
        // (scipy #11602), and it decides which column wins a tie.
        self.remaining.copy_from_slice(&self.reversed);
        self.sr.clear();
        self.sc.clear();
        self.shortest.fill(f64::INFINITY);

        let mut sink = NONE;
        while sink == NONE {
            let mut index = NONE;
            let mut lowest = f64::INFINITY;
            self.sr.push(i);
            let row = &cost[i * nc..(i + 1) * nc];
            let ui = self.u[i];
            // Local slices of length nc: the hot loop then neither reloads
            // the Vec headers through `self` nor re-checks most bounds.
            let v = &self.v[..nc];
            let shortest = &mut self.shortest[..nc];
            let path = &mut self.path[..nc];
            let row4col = &self.row4col[..nc];
            for (it, &j) in self.remaining[..num_remaining].iter().enumerate() {
                // Same association order as the C++: ((minVal + c) - u) - v.
                let r = min_val + row[j] - ui - v[j];
                if r < shortest[j] {
                    path[j] = i;
                    shortest[j] = r;
                }
                let s = shortest[j];
                if s < lowest || (s == lowest && row4col[j] == NONE) {
                    lowest = s;
                    index = it;
                }
            }
            min_val = lowest;
            if min_val == f64::INFINITY || index == NONE {
                return None; // infeasible
            }
            let j = self.remaining[index];
            if self.row4col[j] == NONE {
                sink = j;
            } else {
                i = self.row4col[j];
            }
            self.sc.push(j);
            num_remaining -= 1;
            self.remaining[index] = self.remaining[num_remaining];
        }
        Some((sink, min_val))
    }
}

fn reset<T: Clone>(v: &mut Vec<T>, n: usize, x: T) {
    v.clear();
    v.resize(n, x);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn solve(nr: usize, nc: usize, cost: &[f64]) -> Vec<(usize, usize)> {
        let mut out = Vec::new();
        assert!(Lsap::default().solve(nr, nc, cost, &mut out));
        out
    }

    // Expected answers come from scipy 1.10.1 `linear_sum_assignment`.
    #[test]
    fn square_unique_optimum() {
        let c = [4.0, 1.0, 3.0, 2.0, 0.0, 5.0, 3.0, 2.0, 2.0];
        assert_eq!(solve(3, 3, &c), vec![(0, 1), (1, 0), (2, 2)]);
    }

    #[test]
    fn constant_matrix_is_identity() {
        assert_eq!(solve(3, 3, &[1.0; 9]), vec![(0, 0), (1, 1), (2, 2)]);
    }

    #[test]
    fn wide_and_tall_constant() {
        // scipy: wide (2x4) -> cols [0, 1]; tall (4x2) -> rows [0, 1].
        assert_eq!(solve(2, 4, &[0.5; 8]), vec![(0, 0), (1, 1)]);
        assert_eq!(solve(4, 2, &[0.5; 8]), vec![(0, 0), (1, 1)]);
    }

    #[test]
    fn tall_matrix_sorted_by_row() {
        let c = [0.9, 0.1, 0.2, 0.9, 0.5, 0.5];
        assert_eq!(solve(3, 2, &c), vec![(0, 1), (1, 0)]);
    }

    #[test]
    fn ties_like_bytetrack_clamping() {
        // Rows 1 and 2 tie on the clamped value 0.8001.
        let c = [
            0.1, 0.8001, 0.8001, 0.8001, 0.8001, 0.8001, 0.8001, 0.8001, 0.3,
        ];
        assert_eq!(solve(3, 3, &c), vec![(0, 0), (1, 1), (2, 2)]);
        let c = [0.8001, 0.8001, 0.2, 0.8001, 0.8001, 0.8001];
        assert_eq!(solve(2, 3, &c), vec![(0, 2), (1, 0)]);
    }

    #[test]
    fn nan_is_rejected() {
        let mut out = Vec::new();
        assert!(!Lsap::default().solve(1, 2, &[f64::NAN, 1.0], &mut out));
        assert!(out.is_empty());
    }

    /// 300 random matrices (60% drawn from five values, so full of ties)
    /// against scipy 1.10.1.
    #[test]
    fn scipy_cases() {
        let cases = crate::bytetrack::unit_cases();
        for (k, case) in cases["lsap"].as_array().unwrap().iter().enumerate() {
            let m: Vec<Vec<f64>> = serde_json::from_value(case["cost"].clone()).unwrap();
            let rows: Vec<usize> = serde_json::from_value(case["rows"].clone()).unwrap();
            let cols: Vec<usize> = serde_json::from_value(case["cols"].clone()).unwrap();
            let flat: Vec<f64> = m.concat();
            let want: Vec<(usize, usize)> = rows.into_iter().zip(cols).collect();
            assert_eq!(solve(m.len(), m[0].len(), &flat), want, "case {k}: {m:?}");
        }
    }

    #[test]
    fn empty_is_empty() {
        assert!(solve(0, 3, &[]).is_empty());
        assert!(solve(3, 0, &[]).is_empty());
    }
}
