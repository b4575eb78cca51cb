//! Variational autoencoder (Kingma & Welling): the encoder gives a mean and a log-variance,
//! the code is sampled by reparameterisation, and the loss adds β·KL to the reconstruction.

use super::act::Act;
use super::dense::Mlp;
use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::{Device, Tensor};

/// A dense VAE.
#[derive(Module, Debug)]
pub struct Vae {
    /// input → hidden (ReLU).
    pub encoder: Mlp,
    /// hidden → mean.
    pub mean: Linear,
    /// hidden → log-variance.
    pub log_var: Linear,
    /// latent → … → output.
    pub decoder: Mlp,
}

impl Vae {
    /// `input → hidden… → (mean, log_var) in latent` and back to `input` with `out_act`.
    pub fn new(
        input: usize,
        hidden: &[usize],
        latent: usize,
        out_act: Act,
        device: &Device,
    ) -> Self {
        let mut enc = vec![input];
        enc.extend_from_slice(hidden);
        let last = *enc.last().unwrap_or(&input);
        let mut dec = vec![latent];
        dec.extend(hidden.iter().rev());
        dec.push(input);
        Vae {
            encoder: Mlp::new(&enc, Act::Relu, device),
            mean: LinearConfig::new(last, latent).init(device),
            log_var: LinearConfig::new(last, latent).init(device),
            decoder: Mlp::new(&dec, out_act, device),
        }
    }

    /// Mean and log-variance of the code.
    pub fn encode(&self, x: Tensor<2>) -> (Tensor<2>, Tensor<2>) {
        let h = self.encoder.forward(x);
        (self.mean.forward(h.clone()), self.log_var.forward(h))
    }

    /// A sample `mean + σ·ε` for a given ε, and the batch-mean KL divergence to N(0, I).
    pub fn sample_with(
        mean: Tensor<2>,
        log_var: Tensor<2>,
        eps: Tensor<2>,
    ) -> (Tensor<2>, Tensor<1>) {
        let z = mean.clone() + (log_var.clone() * 0.5).exp() * eps;
        // KL = -1/2 Σ (1 + log σ² − μ² − σ²), summed over the code, averaged over the batch.
        let kl = (log_var.clone() + 1.0 - mean.powf_scalar(2.0) - log_var.exp())
            .sum_dim(1)
            .mean()
            * -0.5;
        (z, kl)
    }
}
