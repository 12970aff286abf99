//! The small dense linear algebra `findHomography` relies on, as OpenCV
//! computes it without Eigen (the opencv-python wheels validators install):
//! `cv::eigen` by cyclic Jacobi rotations with OpenCV's pivot search, and
//! `solve` / `invert` with `DECOMP_EIG` by back-substitution through the
//! eigenvectors, skipping eigenvalues under `2 eps * sum`.
//!
//! Debian's OpenCV is built with Eigen, whose eigen solver gives slightly
//! different vectors; `findHomography`'s 10 Levenberg-Marquardt steps do not
//! wash that out (reprojection errors moved by up to 3e-3 on the fixture),
//! hence this port.

/// A row-major square matrix of side `n`.
pub type Square = Vec<f64>;

/// OpenCV's `hypot` (not libm's): scaled by the larger magnitude.
fn hypot(a: f64, b: f64) -> f64 {
    let (a, b) = (a.abs(), b.abs());
    if a > b {
        let r = b / a;
        a * (1.0 + r * r).sqrt()
    } else if b > 0.0 {
        let r = a / b;
        b * (1.0 + r * r).sqrt()
    } else {
        0.0
    }
}

/// The row of `a` (n x n) after `k` holding its largest off-diagonal
/// magnitude to the right of the diagonal.
fn row_pivot(a: &[f64], n: usize, k: usize) -> usize {
    let mut m = k + 1;
    let mut mv = a[n * k + m].abs();
    for i in k + 2..n {
        let v = a[n * k + i].abs();
        if mv < v {
            mv = v;
            m = i;
        }
    }
    m
}

/// The row above the diagonal in column `k` holding its largest magnitude.
fn column_pivot(a: &[f64], n: usize, k: usize) -> usize {
    let mut m = 0;
    let mut mv = a[k].abs();
    for i in 1..k {
        let v = a[n * i + k].abs();
        if mv < v {
            mv = v;
            m = i;
        }
    }
    m
}

/// `cv::eigen` of a symmetric matrix: eigenvalues in descending order and
/// the eigenvectors as the rows of the second matrix.
pub fn eigen(src: &[f64], n: usize) -> (Vec<f64>, Square) {
    let mut a = src.to_vec();
    let mut v = vec![0.0; n * n];
    for i in 0..n {
        v[i * n + i] = 1.0;
    }
    let mut w: Vec<f64> = (0..n).map(|k| a[(n + 1) * k]).collect();
    let mut ind_r = vec![0usize; n];
    let mut ind_c = vec![0usize; n];
    for k in 0..n {
        if k + 1 < n {
            ind_r[k] = row_pivot(&a, n, k);
        }
        if k > 0 {
            ind_c[k] = column_pivot(&a, n, k);
        }
    }
    if n > 1 {
        for _ in 0..n * n * 30 {
            let mut k = 0;
            let mut mv = a[ind_r[0]].abs();
            for i in 1..n - 1 {
                let val = a[n * i + ind_r[i]].abs();
                if mv < val {
                    mv = val;
                    k = i;
                }
            }
            let mut l = ind_r[k];
            for i in 1..n {
                let val = a[n * ind_c[i] + i].abs();
                if mv < val {
                    mv = val;
                    k = ind_c[i];
                    l = i;
                }
            }
            let p = a[n * k + l];
            if p.abs() <= f64::EPSILON {
                break;
            }
            let y = (w[l] - w[k]) * 0.5;
            let mut t = y.abs() + hypot(p, y);
            let mut s = hypot(p, t);
            let c = t / s;
            s = p / s;
            t = (p / t) * p;
            if y < 0.0 {
                s = -s;
                t = -t;
            }
            a[n * k + l] = 0.0;
            w[k] -= t;
            w[l] += t;
            let rotate = |m: &mut [f64], i0: usize, i1: usize| {
                let (a0, b0) = (m[i0], m[i1]);
                m[i0] = a0 * c - b0 * s;
                m[i1] = a0 * s + b0 * c;
            };
            for i in 0..k {
                rotate(&mut a, n * i + k, n * i + l);
            }
            for i in k + 1..l {
                rotate(&mut a, n * k + i, n * i + l);
            }
            for i in l + 1..n {
                rotate(&mut a, n * k + i, n * l + i);
            }
            for i in 0..n {
                rotate(&mut v, n * k + i, n * l + i);
            }
            for idx in [k, l] {
                if idx + 1 < n {
                    ind_r[idx] = row_pivot(&a, n, idx);
                }
                if idx > 0 {
                    ind_c[idx] = column_pivot(&a, n, idx);
                }
            }
        }
    }
    // Selection sort, descending, moving the vectors with their values.
    for k in 0..n.saturating_sub(1) {
        let mut m = k;
        for i in k + 1..n {
            if w[m] < w[i] {
                m = i;
            }
        }
        if k != m {
            w.swap(m, k);
            for i in 0..n {
                v.swap(n * m + i, n * k + i);
            }
        }
    }
    (w, v)
}

/// `cv::solve(a, b, x, DECOMP_EIG)` for a symmetric `a` and one right-hand side.
pub fn solve_eig(a: &[f64], b: &[f64], n: usize) -> Vec<f64> {
    let (w, v) = eigen(a, n);
    let threshold = w.iter().sum::<f64>() * (f64::EPSILON * 2.0);
    let mut x = vec![0.0; n];
    for i in 0..n {
        if w[i].abs() <= threshold {
            continue;
        }
        let wi = 1.0 / w[i];
        let mut s = 0.0;
        for j in 0..n {
            s += v[i * n + j] * b[j];
        }
        s *= wi;
        for j in 0..n {
            x[j] += s * v[i * n + j];
        }
    }
    x
}

/// The diagonal of `cv::invert(a, DECOMP_EIG)` for a symmetric `a`.
pub fn inverse_diagonal_eig(a: &[f64], n: usize) -> Vec<f64> {
    let (w, v) = eigen(a, n);
    let threshold = w.iter().sum::<f64>() * (f64::EPSILON * 2.0);
    let mut x = vec![0.0; n * n];
    for i in 0..n {
        if w[i].abs() <= threshold {
            continue;
        }
        let wi = 1.0 / w[i];
        let buffer: Vec<f64> = (0..n).map(|j| v[i * n + j] * wi).collect();
        for r in 0..n {
            let s = v[i * n + r];
            for (j, b) in buffer.iter().enumerate() {
                x[r * n + j] += s * b;
            }
        }
    }
    (0..n).map(|i| x[i * n + i]).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eigen_decomposes_and_solve_inverts() {
        let a = [4.0, 1.0, 0.5, 1.0, 3.0, 0.25, 0.5, 0.25, 2.0];
        let (w, v) = eigen(&a, 3);
        assert!(w[0] >= w[1] && w[1] >= w[2]);
        for i in 0..3 {
            // a v_i = w_i v_i
            for r in 0..3 {
                let av: f64 = (0..3).map(|c| a[r * 3 + c] * v[i * 3 + c]).sum();
                assert!((av - w[i] * v[i * 3 + r]).abs() < 1e-12);
            }
        }
        let x = solve_eig(&a, &[1.0, 2.0, 3.0], 3);
        for r in 0..3 {
            let ax: f64 = (0..3).map(|c| a[r * 3 + c] * x[c]).sum();
            assert!((ax - [1.0, 2.0, 3.0][r]).abs() < 1e-12);
        }
        let d = inverse_diagonal_eig(&[2.0, 0.0, 0.0, 4.0], 2);
        assert!((d[0] - 0.5).abs() < 1e-15 && (d[1] - 0.25).abs() < 1e-15);
    }
}
