//! supervision 0.22.0 `kalman_filter.py` in f64 (PARITY.md C4).
//!
//! State (cx, cy, a, h, vcx, vcy, va, vh), constant velocity, dt = 1. The
//! products with the 0/1 motion and measurement matrices are written out as
//! the sums numpy ends up doing, so they round the same way; the Cholesky
//! solve follows LAPACK's unblocked order (scaling by the reciprocal pivot).

// Index loops mirror the matrix formulas and fix the summation order.
#![allow(clippy::needless_range_loop)]

pub(crate) type Mean = [f64; 8];
pub(crate) type Cov = [[f64; 8]; 8];

const STD_POS: f64 = 1.0 / 20.0;
const STD_VEL: f64 = 1.0 / 160.0;

/// `initiate(measurement)` for an f32 xyah measurement. The mean is the f32
/// measurement (numpy keeps it f32 until the first predict or update; the
/// caller tracks that), the covariance is f64: Python floats times a
/// `np.float32` scalar give `np.float64`.
pub(crate) fn initiate(z: [f32; 4]) -> (Mean, Cov) {
    let h = f64::from(z[3]);
    // `2 * w * h` evaluates as (2 * w) * h in Python.
    let p = (2.0 * STD_POS) * h;
    let v = (10.0 * STD_VEL) * h;
    let std = [p, p, 1e-2, p, v, v, 1e-5, v];
    let mut mean = [0.0; 8];
    for k in 0..4 {
        mean[k] = f64::from(z[k]);
    }
    let mut cov = [[0.0; 8]; 8];
    for k in 0..8 {
        cov[k][k] = std[k] * std[k];
    }
    (mean, cov)
}

/// Process noise diagonal for `multi_predict`. numpy computes it in the
/// dtype of the stacked means: f32 when every mean in the batch is still the
/// f32 one from `initiate` (frame 2 after a fresh start), else f64.
pub(crate) fn process_noise(h: f64, in_f32: bool) -> [f64; 8] {
    if in_f32 {
        let h = h as f32;
        let p = STD_POS as f32 * h;
        let v = STD_VEL as f32 * h;
        let a = 1e-2_f64 as f32;
        let va = 1e-5_f64 as f32;
        [p, p, a, p, v, v, va, v].map(|s| f64::from(s * s))
    } else {
        let p = STD_POS * h;
        let v = STD_VEL * h;
        [p, p, 1e-2, p, v, v, 1e-5, v].map(|s| s * s)
    }
}

/// One track's part of `multi_predict`: mean = F mean, P = (F P) F^T + Q.
/// With F = [[I, I], [0, I]] each entry is a sum of at most two nonzero
/// terms, which any BLAS summation order rounds identically.
pub(crate) fn predict(mean: &mut Mean, cov: &mut Cov, q: &[f64; 8]) {
    for k in 0..4 {
        mean[k] += mean[k + 4];
    }
    // left = F P: rows k < 4 gain row k + 4.
    for k in 0..4 {
        for c in 0..8 {
            cov[k][c] += cov[k + 4][c];
        }
    }
    // (F P) F^T: columns c < 4 gain column c + 4.
    for row in cov.iter_mut() {
        for c in 0..4 {
            row[c] += row[c + 4];
        }
    }
    for k in 0..8 {
        cov[k][k] += q[k];
    }
}

/// `update(mean, covariance, measurement)` with an f32 xyah measurement.
pub(crate) fn update(mean: &mut Mean, cov: &mut Cov, z: [f32; 4]) {
    // project(): S = H P H^T + R, R from the predicted height.
    let p = STD_POS * mean[3];
    let r = [p * p, p * p, 1e-1 * 1e-1, p * p];
    let mut s = [[0.0; 4]; 4];
    for i in 0..4 {
        for j in 0..4 {
            s[i][j] = cov[i][j];
        }
        s[i][i] += r[i];
    }
    let Some(l) = cholesky(&s) else {
        // scipy raises LinAlgError here (only a zero-height box gets here);
        // poison the track rather than panic.
        mean.fill(f64::NAN);
        return;
    };
    // K^T = S^-1 (P H^T)^T, a 4x8 solve; kt[r][c] = K[c][r].
    let mut kt = [[0.0; 8]; 4];
    for c in 0..8 {
        let b = [cov[c][0], cov[c][1], cov[c][2], cov[c][3]];
        let x = cho_solve(&l, b);
        for r in 0..4 {
            kt[r][c] = x[r];
        }
    }
    let innov = [0, 1, 2, 3].map(|k| f64::from(z[k]) - mean[k]);
    for (c, m) in mean.iter_mut().enumerate() {
        let mut acc = 0.0;
        for r in 0..4 {
            acc += innov[r] * kt[r][c];
        }
        *m += acc;
    }
    // multi_dot((K, S, K^T)) picks K (S K^T) on this cost tie.
    let mut skt = [[0.0; 8]; 4];
    for r in 0..4 {
        for c in 0..8 {
            let mut acc = 0.0;
            for t in 0..4 {
                acc += s[r][t] * kt[t][c];
            }
            skt[r][c] = acc;
        }
    }
    for i in 0..8 {
        for c in 0..8 {
            let mut acc = 0.0;
            for r in 0..4 {
                acc += kt[r][i] * skt[r][c];
            }
            cov[i][c] -= acc;
        }
    }
}

/// Lower Cholesky factor, unblocked `potf2` order. None if not positive
/// definite.
fn cholesky(s: &[[f64; 4]; 4]) -> Option<[[f64; 4]; 4]> {
    let mut l = *s;
    for j in 0..4 {
        let mut d = 0.0;
        for k in 0..j {
            d += l[j][k] * l[j][k];
        }
        let ajj = l[j][j] - d;
        if ajj <= 0.0 || ajj.is_nan() {
            return None;
        }
        let ajj = ajj.sqrt();
        l[j][j] = ajj;
        let inv = 1.0 / ajj;
        for i in j + 1..4 {
            let mut d = 0.0;
            for k in 0..j {
                d += l[i][k] * l[j][k];
            }
            l[i][j] = (l[i][j] - d) * inv;
        }
    }
    Some(l)
}

/// Solves L L^T x = b (`potrs`: forward then backward substitution).
fn cho_solve(l: &[[f64; 4]; 4], b: [f64; 4]) -> [f64; 4] {
    let mut y = b;
    for i in 0..4 {
        for k in 0..i {
            y[i] -= l[i][k] * y[k];
        }
        y[i] /= l[i][i];
    }
    for i in (0..4).rev() {
        for k in i + 1..4 {
            y[i] -= l[k][i] * y[k];
        }
        y[i] /= l[i][i];
    }
    y
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-12 * b.abs().max(1.0)
    }

    /// initiate -> predict -> update -> predict (f64 noise) against numpy
    /// (supervision 0.22.0 KalmanFilter, numpy 1.24.4, scipy 1.10.1); the
    /// expected numbers are `repr` of the Python results (see
    /// tests/fixtures/bytetrack/README.md).
    #[test]
    fn matches_numpy() {
        let (mut m, mut p) = initiate([120.5, 80.25, 0.4, 50.0]);
        assert_eq!(p[0][0], 25.0);
        assert_eq!(p[4][4], 9.765625);
        let q = process_noise(m[3], true);
        predict(&mut m, &mut p, &q);
        update(&mut m, &mut p, [123.0, 81.0, 0.41, 51.0]);
        let q = process_noise(m[3], false);
        predict(&mut m, &mut p, &q);
        let want_mean = [
            123.18595041322314,
            81.05578512396694,
            0.40019608439656984,
            51.074380165289256,
            0.5165289256198347,
            0.1549586776859504,
            9.803912125190579e-11,
            0.20661157024793386,
        ];
        for k in 0..8 {
            assert!(
                close(m[k], want_mean[k]),
                "mean[{k}] = {} vs {}",
                m[k],
                want_mean[k]
            );
        }
        let want_cov = [
            (0, 0, 22.320613186001648),
            (0, 4, 9.136912448347111),
            (4, 0, 9.136912448347108),
            (3, 7, 9.136912448347111),
            (7, 7, 7.946665520306844),
            (2, 2, 0.0002960789211397326),
        ];
        for (i, j, want) in want_cov {
            assert!(
                close(p[i][j], want),
                "cov[{i}][{j}] = {} vs {want}",
                p[i][j]
            );
        }
    }

    /// 20 random initiate/predict/update sequences against numpy.
    #[test]
    fn numpy_sequences() {
        let cases = crate::bytetrack::unit_cases();
        for (k, case) in cases["kalman"].as_array().unwrap().iter().enumerate() {
            let z0: [f64; 4] = serde_json::from_value(case["z0"].clone()).unwrap();
            let (mut m, mut p) = initiate(z0.map(|v| v as f32));
            let zs: Vec<Option<[f64; 4]>> =
                serde_json::from_value(case["measurements"].clone()).unwrap();
            for (s, (z, step)) in zs.iter().zip(case["steps"].as_array().unwrap()).enumerate() {
                // Only the first predict sees numpy's f32 mean.
                let q = process_noise(m[3], s == 0);
                predict(&mut m, &mut p, &q);
                if let Some(z) = z {
                    update(&mut m, &mut p, z.map(|v| v as f32));
                }
                let want_m: [f64; 8] = serde_json::from_value(step["mean"].clone()).unwrap();
                let want_p: [[f64; 8]; 8] = serde_json::from_value(step["cov"].clone()).unwrap();
                for i in 0..8 {
                    assert!(
                        close(m[i], want_m[i]),
                        "case {k} step {s} mean[{i}]: {} vs {}",
                        m[i],
                        want_m[i]
                    );
                    for j in 0..8 {
                        let (a, b) = (p[i][j], want_p[i][j]);
                        assert!(close(a, b), "case {k} step {s} cov[{i}][{j}]: {a} vs {b}");
                    }
                }
            }
        }
    }
}
