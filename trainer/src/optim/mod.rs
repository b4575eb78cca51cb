//! Optimisers: Adam and RMSProp with burn's update rules, and Adadelta (which burn does not
//! ship). On burn-flex each updates a parameter in one host pass and stores running averages
//! that would turn subnormal as zero (see [`crate::host`]); elsewhere, or with
//! `host_pass(false)`, they run as burn ops.

mod adadelta;
mod adam;
mod rmsprop;
mod schedule;

pub use adadelta::{Adadelta, AdadeltaState};
pub use adam::{Adam, AdamState};
pub use rmsprop::{RmsProp, RmsPropState};
pub use schedule::LrSchedule;

use burn::optim::ModuleOptimizer;
use serde::{Deserialize, Serialize};

/// An optimiser and its learning rate. In a recipe file: `optimizer = { name = "adam", lr =
/// 1e-3 }` (`adam`, `adadelta` with `rho`, `rmsprop`).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "OptimizerFile", into = "OptimizerFile")]
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
    /// RMSProp, by default with burn's settings (decay 0.99, momentum 0.9, ε 1e-5);
    /// TensorFlow 1's `RMSPropOptimizer` is decay 0.9, momentum 0, ε 1e-10.
    RmsProp {
        /// Learning rate.
        lr: f64,
        /// Decay of the running average of squared gradients.
        decay: f32,
        /// Momentum.
        momentum: f32,
        /// Added to the root mean square.
        epsilon: f32,
    },
}

/// An optimiser as written: `{ name, lr, ... }` (a flat table rather than a tagged enum,
/// which serde would buffer: see `recipe::ModelFile`).
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct OptimizerFile {
    name: OptimizerName,
    lr: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    rho: Option<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    decay: Option<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    momentum: Option<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    epsilon: Option<f32>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
enum OptimizerName {
    Adam,
    Adadelta,
    Rmsprop,
}

impl TryFrom<OptimizerFile> for OptimizerSpec {
    type Error = String;
    fn try_from(f: OptimizerFile) -> Result<Self, String> {
        let only = |allowed: &[&str]| {
            let set = [
                (f.rho.is_some(), "rho"),
                (f.decay.is_some(), "decay"),
                (f.momentum.is_some(), "momentum"),
                (f.epsilon.is_some(), "epsilon"),
            ];
            match crate::recipe::stray_key(&set, allowed) {
                Some(key) => Err(format!(
                    "`{key}` is not a setting of {:?} (it takes lr{})",
                    f.name,
                    allowed.iter().map(|k| format!(", {k}")).collect::<String>()
                )
                .to_lowercase()),
                None => Ok(()),
            }
        };
        Ok(match f.name {
            OptimizerName::Adam => {
                only(&[])?;
                OptimizerSpec::Adam { lr: f.lr }
            }
            OptimizerName::Adadelta => {
                only(&["rho"])?;
                OptimizerSpec::Adadelta {
                    lr: f.lr,
                    rho: f.rho.unwrap_or(0.95),
                }
            }
            OptimizerName::Rmsprop => {
                only(&["decay", "momentum", "epsilon"])?;
                let d = OptimizerSpec::rmsprop(f.lr);
                let OptimizerSpec::RmsProp {
                    decay,
                    momentum,
                    epsilon,
                    ..
                } = d
                else {
                    unreachable!("rmsprop() builds RmsProp")
                };
                OptimizerSpec::RmsProp {
                    lr: f.lr,
                    decay: f.decay.unwrap_or(decay),
                    momentum: f.momentum.unwrap_or(momentum),
                    epsilon: f.epsilon.unwrap_or(epsilon),
                }
            }
        })
    }
}

impl From<OptimizerSpec> for OptimizerFile {
    fn from(o: OptimizerSpec) -> Self {
        let base = |name, lr| OptimizerFile {
            name,
            lr,
            rho: None,
            decay: None,
            momentum: None,
            epsilon: None,
        };
        match o {
            OptimizerSpec::Adam { lr } => base(OptimizerName::Adam, lr),
            OptimizerSpec::Adadelta { lr, rho } => OptimizerFile {
                rho: Some(rho),
                ..base(OptimizerName::Adadelta, lr)
            },
            OptimizerSpec::RmsProp {
                lr,
                decay,
                momentum,
                epsilon,
            } => OptimizerFile {
                decay: Some(decay),
                momentum: Some(momentum),
                epsilon: Some(epsilon),
                ..base(OptimizerName::Rmsprop, lr)
            },
        }
    }
}

impl OptimizerSpec {
    /// RMSProp with burn's settings.
    pub fn rmsprop(lr: f64) -> Self {
        OptimizerSpec::RmsProp {
            lr,
            decay: 0.99,
            momentum: 0.9,
            epsilon: 1e-5,
        }
    }

    /// The learning rate.
    pub fn lr(&self) -> f64 {
        match *self {
            OptimizerSpec::Adam { lr }
            | OptimizerSpec::Adadelta { lr, .. }
            | OptimizerSpec::RmsProp { lr, .. } => lr,
        }
    }

    /// Sets the learning rate.
    pub fn set_lr(&mut self, new: f64) {
        match self {
            OptimizerSpec::Adam { lr }
            | OptimizerSpec::Adadelta { lr, .. }
            | OptimizerSpec::RmsProp { lr, .. } => *lr = new,
        }
    }

    /// A fresh optimiser; `host` lets it update on the host where the device allows (see
    /// [`crate::device::reads_back_cheaply`]), else it uses burn's tensor ops everywhere.
    pub fn init(&self, host: bool) -> ModuleOptimizer {
        match *self {
            OptimizerSpec::Adam { .. } => {
                ModuleOptimizer::from(Adam::new(0.9, 0.999, 1e-7).host_pass(host))
            }
            OptimizerSpec::RmsProp {
                decay,
                momentum,
                epsilon,
                ..
            } => ModuleOptimizer::from(RmsProp::new(decay, momentum, epsilon).host_pass(host)),
            OptimizerSpec::Adadelta { rho, .. } => {
                ModuleOptimizer::from(Adadelta::new(rho, 1e-7).host_pass(host))
            }
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::device::reads_back_cheaply;
    use burn::optim::Optimizer;
    use burn::tensor::{Device, Tensor, TensorData};

    fn tensor(x: &[f32], device: &Device) -> Tensor<1> {
        Tensor::from_data(TensorData::new(x.to_vec(), [x.len()]), device)
    }

    fn values(t: Tensor<1>) -> Vec<f32> {
        t.into_data().try_into_vec::<f32>().unwrap()
    }

    /// Panics if a running average holds a subnormal.
    pub(crate) fn assert_normal(t: Tensor<1>) {
        for x in values(t) {
            assert!(x == 0.0 || x.is_normal(), "{x} is subnormal");
        }
    }

    /// Ten steps of `ours` (our host pass), of `tensor_ops` (the same optimiser as burn
    /// tensor ops) and of `reference` on burn-flex, with gradients down to where ε matters: the same
    /// parameters to a few ulp. Then 900 more steps of `ours` with a gradient that fades to
    /// nothing; returns that state for the caller to check that nothing in it is subnormal.
    pub(crate) fn check<A: Optimizer, B: Optimizer>(
        ours: A,
        tensor_ops: A,
        reference: B,
    ) -> A::State<1> {
        let device = Device::flex();
        assert!(reads_back_cheaply(&device));
        let n = 37;
        let start: Vec<f32> = (0..n).map(|i| (i as f32 - 18.0) * 0.05).collect();
        let mut faded = None;
        for (host, ours) in [(true, ours), (false, tensor_ops)] {
            let (mut a, mut b) = (tensor(&start, &device), tensor(&start, &device));
            let (mut sa, mut sb) = (None, None);
            for step in 0..10 {
                let grad: Vec<f32> = (0..n)
                    .map(|i| {
                        let base = ((i * 7 + step * 3) % 11) as f32 * 0.1 - 0.5;
                        base * 0.01f32.powi(i as i32 % 4)
                    })
                    .collect();
                (a, sa) = ours.step(1e-2, a, tensor(&grad, &device), sa);
                (b, sb) = reference.step(1e-2, b, tensor(&grad, &device), sb);
            }
            for (x, y) in values(a.clone()).iter().zip(values(b)) {
                assert!(
                    (x - y).abs() <= 4e-7 * y.abs().max(1e-3),
                    "{x} vs reference {y} (host pass: {host})"
                );
            }
            if host {
                // burn's versions let running averages decay into subnormals here.
                for step in 0..900 {
                    let g = if step < 5 { 1e-20 } else { 0.0 };
                    (a, sa) = ours.step(1e-2, a, tensor(&vec![g; n], &device), sa);
                }
                faded = sa;
            }
        }
        faded.expect("the host pass keeps a state")
    }

    #[test]
    fn rmsprop_matches_burns_and_keeps_averages_normal() {
        let theirs = burn::optim::RmsPropConfig::new().build();
        let ours = RmsProp::new(0.99, 0.9, 1e-5);
        let s = check(ours.clone(), ours.host_pass(false), theirs);
        assert_normal(s.square_avg);
        assert_normal(s.buf);
    }

    #[test]
    fn adadelta_host_pass_matches_its_tensor_ops() {
        // Adadelta has no burn counterpart: its host pass is checked against its tensor ops.
        let ours = Adadelta::new(0.95, 1e-7);
        let s = check(
            ours.clone(),
            ours.clone().host_pass(false),
            ours.host_pass(false),
        );
        assert_normal(s.grad_sq);
        assert_normal(s.update_sq);
    }
}
