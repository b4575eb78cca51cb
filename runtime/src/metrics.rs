//! Quality and timing statistics, one copy for calibration, `aedge eval`, the bench, the
//! quickstart and the tests: PSNR, the largest difference, percentiles (interpolated, so the
//! p99 a report prints is the p99 a threshold stores) and AUROC.

#[cfg(feature = "alloc")]
use alloc::vec::Vec;

/// The largest `|a[i] - b[i]|` over the common length (0 for empty slices).
pub fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

/// PSNR of `b` against `a` for signals whose peak is `peak`, in dB. Identical signals give
/// 200 dB, a finite figure for reports and JSON.
pub fn psnr(a: &[f32], b: &[f32], peak: f32) -> f64 {
    let mse = a
        .iter()
        .zip(b)
        .map(|(x, y)| {
            let d = (x - y) as f64;
            d * d
        })
        .sum::<f64>()
        / a.len().max(1) as f64;
    if mse == 0.0 {
        200.0
    } else {
        let p = peak as f64;
        (10.0 * log10(p * p / mse)).min(200.0)
    }
}

// std's log10 where there is one, so host figures match what the tools always printed.
#[cfg(feature = "std")]
fn log10(x: f64) -> f64 {
    x.log10()
}

#[cfg(not(feature = "std"))]
fn log10(x: f64) -> f64 {
    libm::log10(x)
}

/// A value [`percentile`] can interpolate.
pub trait Sample: Copy {
    /// `a + (b - a) · f`, in the type's own precision.
    fn lerp(a: Self, b: Self, f: f64) -> Self;
}

impl Sample for f32 {
    fn lerp(a: f32, b: f32, f: f64) -> f32 {
        a + (b - a) * f as f32
    }
}

impl Sample for f64 {
    fn lerp(a: f64, b: f64, f: f64) -> f64 {
        a + (b - a) * f
    }
}

/// The `p`-th percentile (0–100) of ascending `sorted`, interpolated linearly between the
/// closest ranks (numpy's default). `None` for an empty slice.
pub fn percentile<T: Sample>(sorted: &[T], p: f32) -> Option<T> {
    let n = sorted.len();
    if n == 0 {
        return None;
    }
    let pos = (p.clamp(0.0, 100.0) / 100.0) as f64 * (n - 1) as f64;
    let lo = libm::floor(pos) as usize;
    let hi = (lo + 1).min(n - 1);
    Some(T::lerp(sorted[lo], sorted[hi], pos - lo as f64))
}

/// Area under the ROC curve of `scores` (higher = more anomalous) for `labels` (true =
/// anomalous), by the rank-sum formula with ties counted half. `None` without both classes.
#[cfg(feature = "alloc")]
pub fn auroc(scores: &[f32], labels: &[bool]) -> Option<f64> {
    let mut v: Vec<(f32, bool)> = scores.iter().copied().zip(labels.iter().copied()).collect();
    v.sort_by(|a, b| a.0.total_cmp(&b.0));
    let pos = v.iter().filter(|x| x.1).count();
    let neg = v.len() - pos;
    if pos == 0 || neg == 0 {
        return None;
    }
    let mut rank_sum = 0.0f64;
    let mut i = 0;
    while i < v.len() {
        let mut j = i;
        while j + 1 < v.len() && v[j + 1].0 == v[i].0 {
            j += 1;
        }
        let avg = (i + j) as f64 / 2.0 + 1.0;
        rank_sum += avg * v[i..=j].iter().filter(|x| x.1).count() as f64;
        i = j + 1;
    }
    Some((rank_sum - (pos * (pos + 1)) as f64 / 2.0) / (pos * neg) as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn psnr_of_known_errors() {
        // MSE 0.01 with peak 1: 20 dB.
        assert!((psnr(&[0.0, 0.0], &[0.1, -0.1], 1.0) - 20.0).abs() < 1e-5);
        assert_eq!(psnr(&[0.3], &[0.3], 1.0), 200.0);
    }

    #[test]
    fn percentiles_interpolate_between_ranks() {
        let v = [1.0f32, 2.0, 3.0, 4.0, 5.0];
        assert_eq!(percentile(&v, 50.0), Some(3.0));
        assert_eq!(percentile(&v, 0.0), Some(1.0));
        assert_eq!(percentile(&v, 100.0), Some(5.0));
        assert_eq!(percentile(&v, 62.5), Some(3.5));
        assert_eq!(percentile(&[10.0f64, 20.0], 25.0), Some(12.5));
        assert_eq!(percentile::<f32>(&[], 50.0), None);
    }

    #[cfg(feature = "alloc")]
    #[test]
    fn auroc_of_known_rankings() {
        assert_eq!(
            auroc(&[0.1, 0.2, 0.8, 0.9], &[false, false, true, true]),
            Some(1.0)
        );
        assert_eq!(
            auroc(&[0.9, 0.8, 0.2, 0.1], &[false, false, true, true]),
            Some(0.0)
        );
        assert_eq!(auroc(&[0.5, 0.5], &[false, true]), Some(0.5));
        // One of four positive/negative pairs misordered.
        let l = [false, false, true, true];
        assert_eq!(auroc(&[0.1, 0.35, 0.3, 0.4], &l), Some(0.75));
        assert_eq!(auroc(&[0.5, 0.6], &[true, true]), None);
    }
}
