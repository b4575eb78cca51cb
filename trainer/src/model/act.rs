//! Activations as configuration, shared by every model kind and mapped 1:1 onto the runtime's.

use burn::tensor::{activation, Tensor};
use serde::{Deserialize, Serialize};

/// An element-wise activation.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Act {
    /// No activation.
    Identity,
    /// `max(x, 0)`.
    Relu,
    /// `x` if positive, else `alpha * x`.
    LeakyRelu(f32),
    /// Logistic sigmoid.
    Sigmoid,
    /// Hyperbolic tangent.
    Tanh,
}

impl Act {
    /// Applies the activation.
    pub fn apply<const D: usize>(self, x: Tensor<D>) -> Tensor<D> {
        match self {
            Act::Identity => x,
            Act::Relu => activation::relu(x),
            Act::LeakyRelu(a) => activation::leaky_relu(x, a as f64),
            Act::Sigmoid => activation::sigmoid(x),
            Act::Tanh => activation::tanh(x),
        }
    }
}
