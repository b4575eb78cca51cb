//! Input corruption for denoising autoencoders: noisy inputs, clean targets. Noise comes from
//! a seeded host RNG, so runs are reproducible on every backend.

use aedge_runtime::rng::SplitMix;
use serde::{Deserialize, Serialize};

/// A corruption applied to model-unit inputs in `[0, 1]`. In a recipe file:
/// `corruption = { kind = "gaussian", factor = 0.5, clip = true }` (or `salt-pepper` with
/// `amount`, `masking` with `fraction`).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "CorruptionFile", into = "CorruptionFile")]
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

/// A corruption as written: `{ kind, ... }`, flat (see `recipe::ModelFile` for why).
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct CorruptionFile {
    kind: CorruptionKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    factor: Option<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    clip: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    amount: Option<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    fraction: Option<f32>,
}

#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum CorruptionKind {
    #[default]
    Gaussian,
    SaltPepper,
    Masking,
}

impl TryFrom<CorruptionFile> for Corruption {
    type Error = String;
    fn try_from(f: CorruptionFile) -> Result<Self, String> {
        let (value, key, stray) = match f.kind {
            CorruptionKind::Gaussian => (
                f.factor,
                "factor",
                f.amount.is_some() || f.fraction.is_some(),
            ),
            CorruptionKind::SaltPepper => (
                f.amount,
                "amount",
                f.factor.is_some() || f.fraction.is_some() || f.clip.is_some(),
            ),
            CorruptionKind::Masking => (
                f.fraction,
                "fraction",
                f.factor.is_some() || f.amount.is_some() || f.clip.is_some(),
            ),
        };
        if stray {
            return Err(format!(
                "a {:?} corruption takes only `{key}`{}",
                f.kind,
                if key == "factor" { " and `clip`" } else { "" }
            )
            .to_lowercase());
        }
        let v = value.ok_or_else(|| format!("the corruption needs `{key}`"))?;
        if !(v.is_finite() && v >= 0.0) {
            return Err(format!("corruption `{key}` must be a non-negative number"));
        }
        Ok(match f.kind {
            CorruptionKind::Gaussian => Corruption::Gaussian {
                factor: v,
                clip: f.clip.unwrap_or(true),
            },
            CorruptionKind::SaltPepper => Corruption::SaltPepper { amount: v },
            CorruptionKind::Masking => Corruption::Masking { fraction: v },
        })
    }
}

impl From<Corruption> for CorruptionFile {
    fn from(c: Corruption) -> Self {
        match c {
            Corruption::Gaussian { factor, clip } => CorruptionFile {
                kind: CorruptionKind::Gaussian,
                factor: Some(factor),
                clip: Some(clip),
                ..Default::default()
            },
            Corruption::SaltPepper { amount } => CorruptionFile {
                kind: CorruptionKind::SaltPepper,
                amount: Some(amount),
                ..Default::default()
            },
            Corruption::Masking { fraction } => CorruptionFile {
                kind: CorruptionKind::Masking,
                fraction: Some(fraction),
                ..Default::default()
            },
        }
    }
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
