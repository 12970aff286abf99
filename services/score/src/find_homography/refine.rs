//! The Levenberg-Marquardt refinement `findHomography` ends with (OpenCV's
//! `LMSolver`, a translation of Balda's LMSolve, 10 iterations) on the
//! inliers: 8 parameters, `h[8]` fixed at 1, residuals in pitch units.

use super::kernel::{Matrix, Pair};
use super::linalg::{inverse_diagonal_eig, solve_eig};

const PARAMS: usize = 8;

/// Residuals (x then y per point) and, if asked, the Jacobian (row-major,
/// 2 rows of 8 per point) of `HomographyRefineCallback`.
fn compute(pairs: &[Pair], h: &[f64], jacobian: bool) -> (Vec<f64>, Vec<f64>) {
    let mut err = Vec::with_capacity(pairs.len() * 2);
    let mut j = Vec::with_capacity(if jacobian { pairs.len() * 16 } else { 0 });
    for (src, dst) in pairs {
        let (mx, my) = (f64::from(src[0]), f64::from(src[1]));
        let ww = h[6] * mx + h[7] * my + 1.0;
        let ww = if ww.abs() > f64::EPSILON {
            1.0 / ww
        } else {
            0.0
        };
        let xi = (h[0] * mx + h[1] * my + h[2]) * ww;
        let yi = (h[3] * mx + h[4] * my + h[5]) * ww;
        err.push(xi - f64::from(dst[0]));
        err.push(yi - f64::from(dst[1]));
        if jacobian {
            j.extend_from_slice(&[
                mx * ww,
                my * ww,
                ww,
                0.0,
                0.0,
                0.0,
                -mx * ww * xi,
                -my * ww * xi,
            ]);
            j.extend_from_slice(&[
                0.0,
                0.0,
                0.0,
                mx * ww,
                my * ww,
                ww,
                -mx * ww * yi,
                -my * ww * yi,
            ]);
        }
    }
    (err, j)
}

/// `A = J^T J` and `v = J^T r`.
fn normal_equations(j: &[f64], r: &[f64]) -> (Vec<f64>, Vec<f64>) {
    let rows = r.len();
    let mut a = vec![0.0; PARAMS * PARAMS];
    let mut v = vec![0.0; PARAMS];
    for p in 0..PARAMS {
        for q in p..PARAMS {
            let s: f64 = (0..rows)
                .map(|i| j[i * PARAMS + p] * j[i * PARAMS + q])
                .sum();
            a[p * PARAMS + q] = s;
            a[q * PARAMS + p] = s;
        }
        v[p] = (0..rows).map(|i| j[i * PARAMS + p] * r[i]).sum();
    }
    (a, v)
}

fn sum_sq(v: &[f64]) -> f64 {
    v.iter().map(|x| x * x).sum()
}

fn max_abs(v: &[f64]) -> f64 {
    v.iter().fold(0.0, |m: f64, x| m.max(x.abs()))
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Refines `h` in place, `max_iters` iterations at most (OpenCV's
/// `LMSolverImpl::run`: Fletcher's modified Marquardt, steps solved by
/// `solve(DECOMP_EIG)`).
///
/// The normal matrix is nearly singular (condition about 1e16 on the
/// fixture: the parameters span 1e-4 to 5e3), so which of its smallest
/// eigenvalues fall under the solve's threshold depends on the last bits of
/// every sum; the result after 10 iterations is not fully converged and
/// moves with them. See the crate README, "How exact".
pub fn refine(pairs: &[Pair], h: &mut Matrix, max_iters: usize) {
    let eps = f64::from(f32::EPSILON);
    let mut x: Vec<f64> = h[..PARAMS].to_vec();
    let (mut r, j) = compute(pairs, &x, true);
    let mut s = sum_sq(&r);
    let (mut a, mut v) = normal_equations(&j, &r);
    let d_diag: Vec<f64> = (0..PARAMS).map(|i| a[i * PARAMS + i]).collect();
    let (r_lo, r_hi) = (0.25, 0.75);
    let (mut lambda, mut lc) = (1.0f64, 0.75f64);
    let mut iter = 0;
    loop {
        let mut ap = a.clone();
        for i in 0..PARAMS {
            ap[i * PARAMS + i] += lambda * d_diag[i];
        }
        let d = solve_eig(&ap, &v, PARAMS);
        let xd: Vec<f64> = x.iter().zip(&d).map(|(a, b)| a - b).collect();
        let (rd, _) = compute(pairs, &xd, false);
        let sd = sum_sq(&rd);
        // temp_d = -A d + 2 v
        let temp_d: Vec<f64> = (0..PARAMS)
            .map(|i| -dot(&a[i * PARAMS..(i + 1) * PARAMS], &d) + 2.0 * v[i])
            .collect();
        let ds = dot(&d, &temp_d);
        let ratio = (s - sd) / if ds.abs() > f64::EPSILON { ds } else { 1.0 };
        if ratio > r_hi {
            lambda *= 0.5;
            if lambda < lc {
                lambda = 0.0;
            }
        } else if ratio < r_lo {
            let t = dot(&d, &v);
            let mut nu = (sd - s) / if t.abs() > f64::EPSILON { t } else { 1.0 } + 2.0;
            nu = nu.clamp(2.0, 10.0);
            if lambda == 0.0 {
                let diag = inverse_diagonal_eig(&a, PARAMS);
                let maxval = diag.iter().fold(f64::EPSILON, |m, x| m.max(x.abs()));
                lambda = 1.0 / maxval;
                lc = lambda;
                nu *= 0.5;
            }
            lambda *= nu;
        }
        if sd < s {
            s = sd;
            x = xd;
            let (r2, j2) = compute(pairs, &x, true);
            r = r2;
            (a, v) = normal_equations(&j2, &r);
        }
        iter += 1;
        if !(iter < max_iters && max_abs(&d) >= eps && max_abs(&r) >= eps) {
            break;
        }
    }
    h[..PARAMS].copy_from_slice(&x);
}
