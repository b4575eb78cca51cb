//! Reconstruction losses on burn tensors.

use burn::tensor::Tensor;
use serde::{Deserialize, Serialize};

/// A reconstruction loss, averaged over every element.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Loss {
    /// Binary cross-entropy (targets in `[0, 1]`), predictions clamped as Keras does.
    Bce,
    /// Mean squared error.
    Mse,
    /// Mean absolute error.
    Mae,
}

impl Loss {
    /// Mean loss of `pred` against `target`.
    pub fn forward(self, pred: Tensor<2>, target: Tensor<2>) -> Tensor<1> {
        match self {
            Loss::Bce => {
                let p = pred.clamp(1e-7, 1.0 - 1e-7);
                let l =
                    target.clone() * p.clone().log() + (target.neg() + 1.0) * (p.neg() + 1.0).log();
                l.mean().neg()
            }
            Loss::Mse => (pred - target).powf_scalar(2.0).mean(),
            Loss::Mae => (pred - target).abs().mean(),
        }
    }

    /// Binary cross-entropy of `sigmoid(logits)` against `target`, from the logits:
    /// `max(z, 0) − z·t + log(1 + e^−|z|)`. The same loss as [`Loss::forward`] on the sigmoid's
    /// output (without its 1e-7 clamp, which only matters for |z| > 16), in fewer passes over
    /// the batch and without the sigmoid and two logarithms in the training graph; its
    /// gradient is `σ(z) − t`.
    pub fn bce_with_logits(logits: Tensor<2>, target: Tensor<2>) -> Tensor<1> {
        let z = logits;
        let l = z.clone().clamp_min(0.0) - z.clone() * target + z.abs().neg().exp().log1p();
        l.mean()
    }

    /// The matching runtime metric.
    pub fn metric(self) -> aedge_runtime::Metric {
        match self {
            Loss::Bce => aedge_runtime::Metric::Bce,
            Loss::Mse => aedge_runtime::Metric::Mse,
            Loss::Mae => aedge_runtime::Metric::Mae,
        }
    }
}
