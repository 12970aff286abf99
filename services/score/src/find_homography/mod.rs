//! `cv::findHomography(src, dst, RANSAC, threshold)` as the validator's
//! OpenCV computes it (the opencv-python wheels: no Eigen), ported so the
//! keypoint score does not depend on how the local OpenCV was built. The
//! goldens hold it to the validator's results.
//!
//! The points are converted to float32 first, as OpenCV does. With exactly 4
//! points the DLT is solved directly (no RANSAC, all inliers, no
//! refinement). With more, RANSAC (`ransac`) finds the inliers, the DLT
//! (`kernel`) is solved again on them and refined (`refine`).

mod kernel;
mod linalg;
mod ransac;
mod refine;

pub use kernel::Matrix;

/// RANSAC's defaults in `findHomography`.
const MAX_ITERS: usize = 2000;
const CONFIDENCE: f64 = 0.995;
/// Levenberg-Marquardt iterations after RANSAC.
const REFINE_ITERS: usize = 10;

/// The homography (row-major, `h[8] == 1`) and the inlier mask, or `None`
/// where OpenCV returns an empty matrix.
pub fn find_homography(
    src: &[[f64; 2]],
    dst: &[[f64; 2]],
    threshold: f64,
) -> Option<(Matrix, Vec<bool>)> {
    let to_f32 = |p: &[f64; 2]| [p[0] as f32, p[1] as f32];
    let pairs: Vec<kernel::Pair> = src
        .iter()
        .zip(dst)
        .map(|(s, d)| (to_f32(s), to_f32(d)))
        .collect();
    if pairs.len() < 4 {
        return None;
    }
    if pairs.len() == 4 {
        return kernel::dlt(&pairs).map(|h| (h, vec![true; 4]));
    }
    let (mut h, mask) = ransac::run(&pairs, threshold, CONFIDENCE, MAX_ITERS)?;
    let inliers: Vec<kernel::Pair> = pairs
        .iter()
        .zip(&mask)
        .filter(|(_, m)| **m)
        .map(|(p, _)| *p)
        .collect();
    if !inliers.is_empty() {
        if let Some(again) = kernel::dlt(&inliers) {
            h = again;
        }
        refine::refine(&inliers, &mut h, REFINE_ITERS);
    }
    Some((h, mask))
}
