//! Optimisers: Adam and RMSProp from burn, and Adadelta (which burn does not ship).

use burn::optim::{
    AdamConfig, ModuleOptimizer, Optimizer, RecordState, RmsPropConfig, StateSink, StateSource,
};
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

/// An optimiser and its learning rate.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub enum OptimizerSpec {
    /// Adam (Kingma & Ba).
    Adam {
        /// Learning rate (1e-3 is the usual default).
        lr: f64,
    },
    /// Adadelta (Zeiler 2012). Keras 1 and 2.0 used `lr = 1.0`; today's Keras default of
    /// 0.001 barely trains in 10 epochs.
    Adadelta {
        /// Learning rate (1.0 in the original method).
        lr: f64,
        /// Decay of the running averages.
        rho: f32,
    },
    /// RMSProp.
    RmsProp {
        /// Learning rate.
        lr: f64,
    },
}

impl OptimizerSpec {
    /// The learning rate.
    pub fn lr(&self) -> f64 {
        match *self {
            OptimizerSpec::Adam { lr }
            | OptimizerSpec::Adadelta { lr, .. }
            | OptimizerSpec::RmsProp { lr } => lr,
        }
    }

    /// A fresh optimiser.
    pub fn init(&self) -> ModuleOptimizer {
        match *self {
            OptimizerSpec::Adam { .. } => AdamConfig::new().with_epsilon(1e-7).init(),
            OptimizerSpec::RmsProp { .. } => RmsPropConfig::new().init(),
            OptimizerSpec::Adadelta { rho, .. } => {
                ModuleOptimizer::from(Adadelta { rho, epsilon: 1e-7 })
            }
        }
    }
}

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
