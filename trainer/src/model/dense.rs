//! Dense autoencoders (plain, sparse and deep are the same network with different sizes and
//! losses): input → hidden layers → code → mirrored hidden layers → output.

use super::act::Act;
use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::{Device, Tensor};

/// A stack of dense layers with activations.
#[derive(Module, Debug)]
pub struct Mlp {
    /// The layers.
    pub layers: Vec<Linear>,
    /// Activation after each layer.
    #[module(skip)]
    pub acts: Vec<Act>,
}

impl Mlp {
    /// Layers `sizes[0] → sizes[1] → …`, ReLU inside and `last` at the end.
    pub fn new(sizes: &[usize], last: Act, device: &Device) -> Self {
        let n = sizes.len().saturating_sub(1);
        let layers = sizes
            .windows(2)
            .map(|p| LinearConfig::new(p[0], p[1]).init(device))
            .collect();
        let acts = (0..n)
            .map(|i| if i + 1 == n { last } else { Act::Relu })
            .collect();
        Mlp { layers, acts }
    }

    /// Runs the stack.
    pub fn forward(&self, mut x: Tensor<2>) -> Tensor<2> {
        for (l, a) in self.layers.iter().zip(&self.acts) {
            x = a.apply(l.forward(x));
        }
        x
    }

    /// Runs the stack but for the last activation, and returns that activation too.
    pub fn forward_pre_act(&self, mut x: Tensor<2>) -> (Tensor<2>, Act) {
        let n = self.layers.len();
        for (i, (l, a)) in self.layers.iter().zip(&self.acts).enumerate() {
            x = l.forward(x);
            if i + 1 < n {
                x = a.apply(x);
            }
        }
        (x, self.acts.last().copied().unwrap_or(Act::Identity))
    }
}

/// A dense autoencoder.
#[derive(Module, Debug)]
pub struct DenseAe {
    /// input → … → code.
    pub encoder: Mlp,
    /// code → … → output.
    pub decoder: Mlp,
}

impl DenseAe {
    /// `input → hidden… → code` and back, with `code_act` on the code and `out_act` on the
    /// output.
    pub fn new(
        input: usize,
        hidden: &[usize],
        code: usize,
        code_act: Act,
        out_act: Act,
        device: &Device,
    ) -> Self {
        let mut enc = vec![input];
        enc.extend_from_slice(hidden);
        enc.push(code);
        let dec: Vec<usize> = enc.iter().rev().copied().collect();
        DenseAe {
            encoder: Mlp::new(&enc, code_act, device),
            decoder: Mlp::new(&dec, out_act, device),
        }
    }
}
