//! How the learning rate moves over a run. Annealing it at the end of training is what lets
//! a model settle into the minimum a constant rate keeps stepping over; the rate is a pure
//! function of the step, so a resumed run follows the uninterrupted one exactly.

use serde::{Deserialize, Serialize};

/// The learning-rate schedule. In a recipe file: `lr-schedule = "constant"` (the default) or
/// `"cosine"`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LrSchedule {
    /// The optimiser's rate at every step.
    #[default]
    Constant,
    /// Cosine annealing without restarts (Loshchilov & Hutter 2017): the rate falls from the
    /// optimiser's rate at the first step to zero after the last, `lr · ½(1 + cos(π t/T))`
    /// over the `T` steps of all epochs.
    Cosine,
}

impl std::str::FromStr for LrSchedule {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "constant" => Ok(LrSchedule::Constant),
            "cosine" => Ok(LrSchedule::Cosine),
            other => Err(format!(
                "unknown learning-rate schedule '{other}' (expected constant or cosine)"
            )),
        }
    }
}

impl LrSchedule {
    /// The rate at step `step` (0-based, counted over the whole run) of `total` steps.
    pub fn at(self, lr: f64, step: usize, total: usize) -> f64 {
        match self {
            LrSchedule::Constant => lr,
            LrSchedule::Cosine => {
                let t = step as f64 / total.max(1) as f64;
                lr * 0.5 * (1.0 + (std::f64::consts::PI * t.min(1.0)).cos())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::LrSchedule;

    #[test]
    fn cosine_starts_at_the_rate_halves_midway_and_ends_near_zero() {
        let s = LrSchedule::Cosine;
        assert_eq!(s.at(1e-3, 0, 100), 1e-3);
        assert!((s.at(1e-3, 50, 100) - 5e-4).abs() < 1e-12);
        let last = s.at(1e-3, 99, 100);
        assert!(last > 0.0 && last < 1e-6, "{last}");
        // Never rising: each step's rate is at most the one before.
        let r: Vec<f64> = (0..100).map(|i| s.at(1e-3, i, 100)).collect();
        assert!(r.windows(2).all(|w| w[1] <= w[0]));
        assert_eq!(LrSchedule::Constant.at(1e-3, 99, 100), 1e-3);
        assert_eq!("Cosine".parse::<LrSchedule>(), Ok(LrSchedule::Cosine));
        assert!("step".parse::<LrSchedule>().unwrap_err().contains("cosine"));
    }
}
