//! Optimisers: Adam (burn's update, computed on the host for burn-flex), RMSProp from burn,
//! and Adadelta (which burn does not ship).

mod adadelta;
pub mod adam;

pub use adadelta::{Adadelta, AdadeltaState};
pub use adam::{Adam, AdamState};

use burn::optim::{ModuleOptimizer, RmsPropConfig};
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
            OptimizerSpec::Adam { .. } => ModuleOptimizer::from(Adam::new(0.9, 0.999, 1e-7)),
            OptimizerSpec::RmsProp { .. } => RmsPropConfig::new().init(),
            OptimizerSpec::Adadelta { rho, .. } => ModuleOptimizer::from(Adadelta::new(rho, 1e-7)),
        }
    }
}
