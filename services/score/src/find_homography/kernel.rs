//! The homography model of OpenCV's RANSAC (`HomographyEstimatorCallback`):
//! the normalised DLT of a point set, the minimal-sample check, and the
//! per-point error, all on float32 points as OpenCV stores them.

use super::linalg::eigen;

/// A float32 point pair: image point, pitch target.
pub type Pair = ([f32; 2], [f32; 2]);

/// Row-major 3x3 with `h[8] == 1`.
pub type Matrix = [f64; 9];

fn mul3(a: &[f64; 9], b: &[f64; 9]) -> [f64; 9] {
    let mut out = [0.0; 9];
    for r in 0..3 {
        for c in 0..3 {
            out[r * 3 + c] = a[r * 3] * b[c] + a[r * 3 + 1] * b[3 + c] + a[r * 3 + 2] * b[6 + c];
        }
    }
    out
}

/// `runKernel`: the DLT of the pairs after centring and scaling each side by
/// its mean absolute deviation; `None` when a side has no spread.
pub fn dlt(pairs: &[Pair]) -> Option<Matrix> {
    let count = pairs.len() as f64;
    let (mut cm, mut c_m) = ([0.0f64; 2], [0.0f64; 2]);
    for (src, dst) in pairs {
        cm[0] += f64::from(dst[0]);
        cm[1] += f64::from(dst[1]);
        c_m[0] += f64::from(src[0]);
        c_m[1] += f64::from(src[1]);
    }
    for v in cm.iter_mut().chain(c_m.iter_mut()) {
        *v /= count;
    }
    let (mut sm, mut s_m) = ([0.0f64; 2], [0.0f64; 2]);
    for (src, dst) in pairs {
        sm[0] += (f64::from(dst[0]) - cm[0]).abs();
        sm[1] += (f64::from(dst[1]) - cm[1]).abs();
        s_m[0] += (f64::from(src[0]) - c_m[0]).abs();
        s_m[1] += (f64::from(src[1]) - c_m[1]).abs();
    }
    if [sm[0], sm[1], s_m[0], s_m[1]]
        .iter()
        .any(|v| v.abs() < f64::EPSILON)
    {
        return None;
    }
    for v in sm.iter_mut().chain(s_m.iter_mut()) {
        *v = count / *v;
    }
    let inv_hnorm = [
        1.0 / sm[0],
        0.0,
        cm[0],
        0.0,
        1.0 / sm[1],
        cm[1],
        0.0,
        0.0,
        1.0,
    ];
    let hnorm2 = [
        s_m[0],
        0.0,
        -c_m[0] * s_m[0],
        0.0,
        s_m[1],
        -c_m[1] * s_m[1],
        0.0,
        0.0,
        1.0,
    ];
    let mut ltl = [0.0f64; 81];
    for (src, dst) in pairs {
        let x = (f64::from(dst[0]) - cm[0]) * sm[0];
        let y = (f64::from(dst[1]) - cm[1]) * sm[1];
        let big_x = (f64::from(src[0]) - c_m[0]) * s_m[0];
        let big_y = (f64::from(src[1]) - c_m[1]) * s_m[1];
        let lx = [big_x, big_y, 1.0, 0.0, 0.0, 0.0, -x * big_x, -x * big_y, -x];
        let ly = [0.0, 0.0, 0.0, big_x, big_y, 1.0, -y * big_x, -y * big_y, -y];
        for j in 0..9 {
            for k in j..9 {
                ltl[j * 9 + k] += lx[j] * lx[k] + ly[j] * ly[k];
            }
        }
    }
    for j in 0..9 {
        for k in 0..j {
            ltl[j * 9 + k] = ltl[k * 9 + j];
        }
    }
    let (_, v) = eigen(&ltl, 9);
    let mut h0 = [0.0; 9];
    h0.copy_from_slice(&v[72..81]);
    let h = mul3(&mul3(&inv_hnorm, &h0), &hnorm2);
    let scale = 1.0 / h[8];
    Some(h.map(|x| x * scale))
}

/// No selected point lies on a line through two earlier ones (the last
/// point against all pairs before it, as OpenCV checks).
fn have_collinear_points(points: &[[f32; 2]]) -> bool {
    let i = points.len() - 1;
    for j in 0..i {
        let dx1 = f64::from(points[j][0]) - f64::from(points[i][0]);
        let dy1 = f64::from(points[j][1]) - f64::from(points[i][1]);
        for k in 0..j {
            let dx2 = f64::from(points[k][0]) - f64::from(points[i][0]);
            let dy2 = f64::from(points[k][1]) - f64::from(points[i][1]);
            if (dx2 * dy1 - dy2 * dx1).abs()
                <= f64::from(f32::EPSILON) * (dx1.abs() + dy1.abs() + dx2.abs() + dy2.abs())
            {
                return true;
            }
        }
    }
    false
}

fn det3(p: [[f32; 2]; 3]) -> f64 {
    let m = |r: usize, c: usize| if c == 2 { 1.0 } else { f64::from(p[r][c]) };
    m(0, 0) * (m(1, 1) * m(2, 2) - m(2, 1) * m(1, 2))
        - m(0, 1) * (m(1, 0) * m(2, 2) - m(2, 0) * m(1, 2))
        + m(0, 2) * (m(1, 0) * m(2, 1) - m(2, 0) * m(1, 1))
}

/// `checkSubset`: no collinear triple on either side, and every triple of the
/// 4 keeps its orientation from image to pitch (all or none flipped).
pub fn check_subset(sample: &[Pair]) -> bool {
    let src: Vec<[f32; 2]> = sample.iter().map(|p| p.0).collect();
    let dst: Vec<[f32; 2]> = sample.iter().map(|p| p.1).collect();
    if have_collinear_points(&src) || have_collinear_points(&dst) {
        return false;
    }
    if sample.len() == 4 {
        const TRIPLES: [[usize; 3]; 4] = [[0, 1, 2], [1, 2, 3], [0, 2, 3], [0, 1, 3]];
        let negative = TRIPLES
            .iter()
            .filter(|t| {
                let a = det3([src[t[0]], src[t[1]], src[t[2]]]);
                let b = det3([dst[t[0]], dst[t[1]], dst[t[2]]]);
                a * b < 0.0
            })
            .count();
        if negative != 0 && negative != 4 {
            return false;
        }
    }
    true
}

/// `computeError`: squared distance from each projected point to its target,
/// in float32 with the model rounded to float32.
pub fn errors(pairs: &[Pair], h: &Matrix) -> Vec<f32> {
    let hf: Vec<f32> = h[..8].iter().map(|&v| v as f32).collect();
    pairs
        .iter()
        .map(|(src, dst)| {
            let ww = 1.0f32 / (hf[6] * src[0] + hf[7] * src[1] + 1.0);
            let dx = (hf[0] * src[0] + hf[1] * src[1] + hf[2]) * ww - dst[0];
            let dy = (hf[3] * src[0] + hf[4] * src[1] + hf[5]) * ww - dst[1];
            dx * dx + dy * dy
        })
        .collect()
}
