//! Sequence autoencoder for sensor time series (the Keras blog's LSTM autoencoder): an LSTM
//! reads the window into its last hidden state, the code is repeated for every time step, a
//! second LSTM unrolls it, and a dense layer maps each step back to the channels.

use burn::module::Module;
use burn::nn::{Linear, LinearConfig, Lstm, LstmConfig};
use burn::tensor::{Device, Tensor};

/// An LSTM autoencoder over windows of `steps × channels`.
#[derive(Module, Debug)]
pub struct LstmAe {
    /// channels → code (last hidden state).
    pub encoder: Lstm,
    /// repeated code → hidden sequence.
    pub decoder: Lstm,
    /// hidden → channels, per step.
    pub output: Linear,
    /// Time steps per window.
    pub steps: usize,
    /// Channels per step.
    pub channels: usize,
}

impl LstmAe {
    /// A sequence autoencoder with a `code`-sized hidden state.
    pub fn new(steps: usize, channels: usize, code: usize, device: &Device) -> Self {
        LstmAe {
            encoder: LstmConfig::new(channels, code, true).init(device),
            decoder: LstmConfig::new(code, code, true).init(device),
            output: LinearConfig::new(code, channels).init(device),
            steps,
            channels,
        }
    }

    /// `[batch, steps·channels]` → code `[batch, code]`.
    pub fn encode(&self, x: Tensor<2>) -> Tensor<2> {
        let [b, _] = x.dims();
        let seq = x.reshape([b, self.steps, self.channels]);
        let (_, state) = self.encoder.forward(seq, None);
        state.hidden
    }

    /// code `[batch, code]` → `[batch, steps·channels]`.
    pub fn decode(&self, z: Tensor<2>) -> Tensor<2> {
        let [b, code] = z.dims();
        let repeated = z.reshape([b, 1, code]).repeat_dim(1, self.steps);
        let (h, _) = self.decoder.forward(repeated, None);
        let y = self.output.forward(h.reshape([b * self.steps, code]));
        y.reshape([b, self.steps * self.channels])
    }
}
