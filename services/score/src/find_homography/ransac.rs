//! OpenCV's RANSAC loop (`RANSACPointSetRegistrator::run`) for homographies:
//! samples of 4 drawn with `cv::RNG` seeded `(uint64)-1` on every call, so
//! the same points give the same samples, models and inlier mask.

use super::kernel::{Matrix, Pair, check_subset, dlt, errors};

const MODEL_POINTS: usize = 4;
/// Attempts at a valid sample per iteration.
const MAX_ATTEMPTS: usize = 10_000;

/// `cv::RNG`: a multiply-with-carry generator.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u32 {
        self.0 = u64::from(self.0 as u32).wrapping_mul(4_164_903_690) + (self.0 >> 32);
        self.0 as u32
    }

    /// `uniform(0, count)`.
    fn below(&mut self, count: usize) -> usize {
        (self.next() % count as u32) as usize
    }
}

/// `getSubset`: 4 distinct indices that pass the subset check.
fn subset(pairs: &[Pair], rng: &mut Rng) -> Option<[Pair; MODEL_POINTS]> {
    let mut idx = [0usize; MODEL_POINTS];
    for _ in 0..MAX_ATTEMPTS {
        for i in 0..MODEL_POINTS {
            loop {
                let candidate = rng.below(pairs.len());
                idx[i] = candidate;
                if !idx[..i].contains(&candidate) {
                    break;
                }
            }
        }
        let sample = idx.map(|i| pairs[i]);
        if check_subset(&sample) {
            return Some(sample);
        }
    }
    None
}

/// `RANSACUpdateNumIters`.
fn update_iterations(confidence: f64, outlier_share: f64, max_iters: usize) -> usize {
    let p = confidence.clamp(0.0, 1.0);
    let ep = outlier_share.clamp(0.0, 1.0);
    let num = (1.0 - p).max(f64::MIN_POSITIVE);
    let denom = 1.0 - (1.0 - ep).powi(MODEL_POINTS as i32);
    if denom < f64::MIN_POSITIVE {
        return 0;
    }
    let (num, denom) = (num.ln(), denom.ln());
    if denom >= 0.0 || -num >= max_iters as f64 * -denom {
        max_iters
    } else {
        // cvRound: to nearest, ties to even.
        (num / denom).round_ties_even() as usize
    }
}

/// The best model and its inlier mask, or `None` when no sample works.
pub fn run(
    pairs: &[Pair],
    threshold: f64,
    confidence: f64,
    max_iters: usize,
) -> Option<(Matrix, Vec<bool>)> {
    let count = pairs.len();
    let mut rng = Rng(u64::MAX);
    let mut niters = max_iters.max(1);
    let mut best: Option<(Matrix, Vec<bool>)> = None;
    let mut max_good = 0usize;
    let limit = (threshold * threshold) as f32;
    let mut iter = 0;
    while iter < niters {
        let Some(sample) = subset(pairs, &mut rng) else {
            if iter == 0 {
                return None;
            }
            break;
        };
        iter += 1;
        let Some(model) = dlt(&sample) else {
            continue;
        };
        let mask: Vec<bool> = errors(pairs, &model).iter().map(|&e| e <= limit).collect();
        let good = mask.iter().filter(|&&m| m).count();
        if good > max_good.max(MODEL_POINTS - 1) {
            max_good = good;
            niters = update_iterations(confidence, (count - good) as f64 / count as f64, niters);
            best = Some((model, mask));
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_generator_is_opencvs() {
        // cv::RNG((uint64)-1): state = (uint32)state * 4164903690 + (state >> 32).
        let mut rng = Rng(u64::MAX);
        let first = u64::from(u32::MAX) * 4_164_903_690 + u64::from(u32::MAX);
        assert_eq!(rng.next(), first as u32);
        assert_eq!(update_iterations(0.995, 0.0, 2000), 0, "all inliers: stop");
        assert_eq!(update_iterations(0.995, 0.5, 2000), 82);
    }
}
