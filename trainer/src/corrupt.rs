//! Input corruption for denoising autoencoders: noisy inputs, clean targets. Noise comes from
//! a seeded host RNG, so runs are reproducible on every backend.

use aedge_runtime::rng::SplitMix;
use serde::{Deserialize, Serialize};

/// A corruption applied to model-unit inputs in `[0, 1]`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub enum Corruption {
    /// `x + factor · N(0, 1)`, clipped to `[0, 1]` if `clip` (the Keras blog uses 0.5, clipped).
    Gaussian {
        /// Noise standard deviation.
        factor: f32,
        /// Clip to `[0, 1]`.
        clip: bool,
    },
    /// Each value becomes 0 or 1 with probability `amount` (half each).
    SaltPepper {
        /// Fraction of values replaced.
        amount: f32,
    },
    /// Each value becomes 0 with probability `fraction`.
    Masking {
        /// Fraction of values dropped.
        fraction: f32,
    },
}

/// A standard normal sample (Box–Muller).
pub fn normal(r: &mut SplitMix) -> f32 {
    let u1 = r.uniform(0.0, 1.0).max(1e-12);
    let u2 = r.uniform(0.0, 1.0);
    (-2.0 * u1.ln()).sqrt() * (std::f32::consts::TAU * u2).cos()
}

impl Corruption {
    /// Corrupts `x` in place.
    pub fn apply(&self, x: &mut [f32], r: &mut SplitMix) {
        match *self {
            Corruption::Gaussian { factor, clip } => {
                for v in x.iter_mut() {
                    *v += factor * normal(r);
                    if clip {
                        *v = v.clamp(0.0, 1.0);
                    }
                }
            }
            Corruption::SaltPepper { amount } => {
                for v in x.iter_mut() {
                    let u = r.uniform(0.0, 1.0);
                    if u < amount / 2.0 {
                        *v = 0.0;
                    } else if u < amount {
                        *v = 1.0;
                    }
                }
            }
            Corruption::Masking { fraction } => {
                for v in x.iter_mut() {
                    if r.uniform(0.0, 1.0) < fraction {
                        *v = 0.0;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn corruptions_change_the_expected_share() {
        let mut r = SplitMix(1);
        let clean = vec![0.5f32; 10_000];
        let mut g = clean.clone();
        Corruption::Gaussian {
            factor: 0.5,
            clip: true,
        }
        .apply(&mut g, &mut r);
        assert!(g.iter().all(|v| (0.0..=1.0).contains(v)));
        let sd = (g.iter().map(|v| (v - 0.5).powi(2)).sum::<f32>() / g.len() as f32).sqrt();
        assert!(sd > 0.3 && sd < 0.5, "clipped noise sd {sd}");
        let mut s = clean.clone();
        Corruption::SaltPepper { amount: 0.2 }.apply(&mut s, &mut r);
        let changed = s.iter().filter(|&&v| v != 0.5).count() as f32 / 1e4;
        assert!((changed - 0.2).abs() < 0.02, "{changed}");
        let mut m = clean;
        Corruption::Masking { fraction: 0.3 }.apply(&mut m, &mut r);
        let zeros = m.iter().filter(|&&v| v == 0.0).count() as f32 / 1e4;
        assert!((zeros - 0.3).abs() < 0.02, "{zeros}");
    }
}
