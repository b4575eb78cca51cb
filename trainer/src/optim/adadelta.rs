//! Adadelta (Zeiler 2012), which burn does not ship.

use burn::optim::{Optimizer, RecordState, StateSink, StateSource};
use burn::tensor::{Device, Tensor};

/// Adadelta: per-parameter step sizes from running averages of squared gradients and squared
/// updates.
#[derive(Clone, Debug)]
pub struct Adadelta {
    rho: f32,
    epsilon: f32,
}

/// Adadelta's running averages for one parameter.
#[derive(Clone)]
pub struct AdadeltaState<const D: usize> {
    /// Running mean of squared gradients.
    pub grad_sq: Tensor<D>,
    /// Running mean of squared updates.
    pub update_sq: Tensor<D>,
}

// burn's `RecordState` derive only works inside burn-optim, so the two tensors are
// flattened by hand (what checkpoints save and resume restores).
impl<const D: usize> RecordState for AdadeltaState<D> {
    fn state_flatten(&self, prefix: &str, out: &mut StateSink) {
        out.push_tensor(prefix, "grad_sq", self.grad_sq.clone().into_data());
        out.push_tensor(prefix, "update_sq", self.update_sq.clone().into_data());
    }

    fn state_unflatten(prefix: &str, src: &mut StateSource, device: &Device) -> Option<Self> {
        let grad_sq = Tensor::from_data(src.take_tensor(prefix, "grad_sq")?, device);
        let update_sq = Tensor::from_data(src.take_tensor(prefix, "update_sq")?, device);
        Some(AdadeltaState { grad_sq, update_sq })
    }
}

impl Adadelta {
    /// Adadelta with decay `rho` and `epsilon` inside both square roots.
    pub fn new(rho: f32, epsilon: f32) -> Self {
        Adadelta { rho, epsilon }
    }
}

impl Optimizer for Adadelta {
    type State<const D: usize> = AdadeltaState<D>;

    fn step<const D: usize>(
        &self,
        lr: f64,
        tensor: Tensor<D>,
        grad: Tensor<D>,
        state: Option<Self::State<D>>,
    ) -> (Tensor<D>, Option<Self::State<D>>) {
        let (g2, u2) = match state {
            Some(s) => (s.grad_sq, s.update_sq),
            None => (grad.zeros_like(), grad.zeros_like()),
        };
        let g2 = g2 * self.rho + grad.clone().powf_scalar(2.0) * (1.0 - self.rho);
        let update =
            ((u2.clone() + self.epsilon).sqrt() / (g2.clone() + self.epsilon).sqrt()) * grad;
        let u2 = u2 * self.rho + update.clone().powf_scalar(2.0) * (1.0 - self.rho);
        (
            tensor - update * lr,
            Some(AdadeltaState {
                grad_sq: g2,
                update_sq: u2,
            }),
        )
    }

    fn to_device<const D: usize>(state: Self::State<D>, device: &Device) -> Self::State<D> {
        AdadeltaState {
            grad_sq: state.grad_sq.to_device(device),
            update_sq: state.update_sq.to_device(device),
        }
    }
}
