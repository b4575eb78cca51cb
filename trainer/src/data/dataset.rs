//! An in-memory dataset in model units, with optional labels, and the splits training needs.

use super::idx::Images;
use aedge_runtime::rng::SplitMix;

/// Samples of one shape in model units, row after row.
#[derive(Clone, Debug, PartialEq)]
pub struct Dataset {
    /// Sample shape (height, width, channels); a time-series window is `steps × 1 × channels`.
    pub shape: [usize; 3],
    /// `len × dim` values in model units.
    pub x: Vec<f32>,
    /// Optional class labels, one per sample.
    pub labels: Option<Vec<u8>>,
    /// Per-channel (or single) preprocessing scale from raw units: `model = raw·scale + offset`.
    pub scale: Vec<f32>,
    /// Per-channel (or single) preprocessing offset.
    pub offset: Vec<f32>,
}

impl Dataset {
    /// Grayscale images with pixels 0–255 scaled to 0–1.
    pub fn from_images(images: &Images, labels: Option<Vec<u8>>) -> Self {
        Dataset {
            shape: [images.height, images.width, 1],
            x: images.pixels.iter().map(|p| p / 255.0).collect(),
            labels,
            scale: vec![1.0 / 255.0],
            offset: vec![0.0],
        }
    }

    /// Values per sample.
    pub fn dim(&self) -> usize {
        self.shape.iter().product()
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        self.x.len() / self.dim().max(1)
    }

    /// True when there are no samples.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Sample `i`.
    pub fn sample(&self, i: usize) -> &[f32] {
        let d = self.dim();
        &self.x[i * d..(i + 1) * d]
    }

    /// Sample `i` in raw (sensor) units.
    pub fn raw(&self, i: usize) -> Vec<f32> {
        let c = self.shape[2];
        let pick = |v: &[f32], j: usize| if v.len() == 1 { v[0] } else { v[j % c] };
        self.sample(i)
            .iter()
            .enumerate()
            .map(|(j, &m)| (m - pick(&self.offset, j)) / pick(&self.scale, j))
            .collect()
    }

    /// The first `n` samples (or all, if fewer) in raw units, each as its own vector: what
    /// the runtime's entry points and the calibrator take.
    pub fn raw_first(&self, n: usize) -> Vec<Vec<f32>> {
        (0..n.min(self.len())).map(|i| self.raw(i)).collect()
    }

    /// Every sample in raw units.
    pub fn raw_all(&self) -> Vec<Vec<f32>> {
        self.raw_first(self.len())
    }

    /// The samples at `idx`, in that order.
    pub fn select(&self, idx: &[usize]) -> Dataset {
        let mut x = Vec::with_capacity(idx.len() * self.dim());
        for &i in idx {
            x.extend_from_slice(self.sample(i));
        }
        Dataset {
            shape: self.shape,
            x,
            labels: self
                .labels
                .as_ref()
                .map(|l| idx.iter().map(|&i| l[i]).collect()),
            scale: self.scale.clone(),
            offset: self.offset.clone(),
        }
    }

    /// Keeps the samples whose label is in `classes` (one-class training on "normal" data).
    /// Without labels nothing is kept.
    pub fn with_labels(&self, classes: &[u8]) -> Dataset {
        let idx: Vec<usize> = match &self.labels {
            Some(l) => (0..self.len())
                .filter(|&i| classes.contains(&l[i]))
                .collect(),
            None => Vec::new(),
        };
        self.select(&idx)
    }

    /// A seeded shuffle split: (train, validation) with `fraction` of the samples in
    /// validation.
    pub fn split(&self, fraction: f32, seed: u64) -> (Dataset, Dataset) {
        let idx = shuffled(self.len(), seed);
        let n_val = ((self.len() as f32) * fraction.clamp(0.0, 1.0)).round() as usize;
        (self.select(&idx[n_val..]), self.select(&idx[..n_val]))
    }
}

/// `0..n` in a seeded random order (Fisher–Yates).
pub fn shuffled(n: usize, seed: u64) -> Vec<usize> {
    let mut r = SplitMix(seed);
    let mut idx: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        let j = (r.next_u64() % (i as u64 + 1)) as usize;
        idx.swap(i, j);
    }
    idx
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ds() -> Dataset {
        Dataset {
            shape: [1, 1, 2],
            x: (0..20).map(|v| v as f32).collect(),
            labels: Some((0..10).map(|i| (i % 3) as u8).collect()),
            scale: vec![0.5, 2.0],
            offset: vec![1.0, 0.0],
        }
    }

    #[test]
    fn split_is_seeded_and_disjoint() {
        let d = ds();
        let (a, b) = d.split(0.3, 7);
        assert_eq!((a.len(), b.len()), (7, 3));
        assert_eq!(d.split(0.3, 7), (a.clone(), b.clone()));
        let mut all: Vec<f32> = a.x.iter().chain(&b.x).copied().collect();
        all.sort_by(f32::total_cmp);
        assert_eq!(all, d.x);
    }

    #[test]
    fn label_filter_and_raw_units() {
        let d = ds();
        let ones = d.with_labels(&[1]);
        assert_eq!(ones.labels, Some(vec![1, 1, 1]));
        assert_eq!(ones.sample(0), &[2.0, 3.0]);
        assert_eq!(d.raw(1), vec![(2.0 - 1.0) / 0.5, 3.0 / 2.0]);
    }
}
