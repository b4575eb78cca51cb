//! Reconstruction losses on burn tensors.

use burn::tensor::Tensor;
use serde::{Deserialize, Serialize};

/// A reconstruction loss, averaged over every element.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
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

    /// The matching runtime metric.
    pub fn metric(self) -> aedge_runtime::Metric {
        match self {
            Loss::Bce => aedge_runtime::Metric::Bce,
            Loss::Mse => aedge_runtime::Metric::Mse,
            Loss::Mae => aedge_runtime::Metric::Mae,
        }
    }
}
