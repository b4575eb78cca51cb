//! The seven autoencoder kinds, and layer lists of one's own, as burn modules, built from a serializable [`ModelSpec`].
//! Dense, sparse and deep AEs share [`dense::DenseAe`]; the denoising AE is a training mode
//! (see [`crate::corrupt`]) for any architecture.

pub mod act;
pub mod conv;
pub mod dense;
pub mod layers;
pub mod lstm;
pub mod vae;

pub use act::Act;
pub use conv::Upsampling;
pub use layers::{LayerSpec, Padding};

use burn::module::Module;
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

/// Network architecture.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Architecture {
    /// Dense: input → `hidden…` → `code` → mirrored → input.
    Dense {
        /// Hidden layer sizes between input and code.
        hidden: Vec<usize>,
        /// Code size.
        code: usize,
        /// Activation of the code layer.
        code_act: Act,
    },
    /// Convolutional: one Conv3×3 + MaxPool2 stage per entry of `channels`.
    Conv {
        /// Encoder channels.
        channels: Vec<usize>,
        /// Decoder style.
        upsampling: Upsampling,
    },
    /// Variational (dense).
    Vae {
        /// Hidden layer sizes.
        hidden: Vec<usize>,
        /// Latent size.
        latent: usize,
    },
    /// LSTM sequence autoencoder over `input.h` time steps of `input.c` channels.
    Lstm {
        /// Code (hidden state) size.
        code: usize,
    },
    /// Layer lists: the encoder's output is the code; the decoder leads back to the input's
    /// shape and its last layer takes the output activation.
    Layers {
        /// Input → code.
        encoder: Vec<LayerSpec>,
        /// Code → output.
        decoder: Vec<LayerSpec>,
    },
}

/// Everything needed to build a model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelSpec {
    /// Input height, width, channels (a time-series window is `steps × 1 × channels`).
    pub input: [usize; 3],
    /// The architecture.
    pub arch: Architecture,
    /// Output activation (sigmoid for data in [0, 1], identity for standardised data).
    pub out_act: Act,
}

impl ModelSpec {
    /// Values per sample.
    pub fn input_len(&self) -> usize {
        self.input.iter().product()
    }

    /// Builds the network with fresh weights.
    pub fn build(&self, device: &Device) -> Result<AutoEncoder, String> {
        let n = self.input_len();
        if n == 0 {
            return Err("input shape has no elements".into());
        }
        Ok(match &self.arch {
            Architecture::Dense {
                hidden,
                code,
                code_act,
            } => AutoEncoder::Dense(dense::DenseAe::new(
                n,
                hidden,
                *code,
                *code_act,
                self.out_act,
                device,
            )),
            Architecture::Conv {
                channels,
                upsampling,
            } => {
                if channels.is_empty() {
                    return Err(
                        "a convolutional autoencoder needs at least one encoder stage".into(),
                    );
                }
                AutoEncoder::Conv(conv::ConvAe::new(
                    self.input,
                    channels,
                    *upsampling,
                    self.out_act,
                    device,
                )?)
            }
            Architecture::Vae { hidden, latent } => {
                AutoEncoder::Vae(vae::Vae::new(n, hidden, *latent, self.out_act, device))
            }
            Architecture::Lstm { code } => AutoEncoder::Lstm(lstm::LstmAe::new(
                self.input[0] * self.input[1],
                self.input[2],
                *code,
                device,
            )),
            Architecture::Layers { encoder, decoder } => AutoEncoder::Layers(layers::LayerAe::new(
                self.input,
                encoder,
                decoder,
                self.out_act,
                device,
            )?),
        })
    }
}

/// A model of any kind.
// One value per run, so the variants' size difference does not matter; boxing them would get in
// the way of burn's Module derive.
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
pub enum AutoEncoder {
    /// Dense, sparse or deep AE.
    Dense(dense::DenseAe),
    /// Convolutional AE.
    Conv(conv::ConvAe),
    /// Variational AE.
    Vae(vae::Vae),
    /// LSTM sequence AE.
    Lstm(lstm::LstmAe),
    /// Layer-list AE.
    Layers(layers::LayerAe),
}

impl AutoEncoder {
    /// Input `[batch, features]` → code `[batch, code]`; the VAE gives its mean.
    pub fn encode(&self, x: Tensor<2>) -> Tensor<2> {
        match self {
            AutoEncoder::Dense(m) => m.encoder.forward(x),
            AutoEncoder::Conv(m) => m.encode(x),
            AutoEncoder::Vae(m) => m.encode(x).0,
            AutoEncoder::Lstm(m) => m.encode(x),
            AutoEncoder::Layers(m) => m.encode(x),
        }
    }

    /// Input → the code with the tensors the encoder saved for the decoder's skip
    /// connections (none but in layer-list models that have them); the VAE gives its mean.
    pub fn encode_keeping(&self, x: Tensor<2>) -> Code {
        match self {
            AutoEncoder::Layers(m) => {
                let (z, saved) = m.encode_keeping(x);
                Code { z, saved }
            }
            m => Code::plain(m.encode(x)),
        }
    }

    /// Code → the decoder's output before its output activation, and that activation
    /// (the reconstruction is `act.apply(pre)`). The LSTM decoder reports its whole output
    /// with [`act::Act::Identity`]. Losses use it to fold a sigmoid into binary cross-entropy.
    pub fn decode_pre_act(&self, code: Code) -> (Tensor<2>, act::Act) {
        let z = code.z;
        match self {
            AutoEncoder::Dense(m) => m.decoder.forward_pre_act(z),
            AutoEncoder::Vae(m) => m.decoder.forward_pre_act(z),
            AutoEncoder::Conv(m) => (m.decode_pre_act(z), m.out_act),
            AutoEncoder::Lstm(m) => (m.decode(z), act::Act::Identity),
            AutoEncoder::Layers(m) => (m.decode_pre_act(z, code.saved), m.out_act),
        }
    }

    /// Deterministic reconstruction (the VAE decodes its mean).
    pub fn reconstruct(&self, x: Tensor<2>) -> Tensor<2> {
        let (pre, act) = self.decode_pre_act(self.encode_keeping(x));
        act.apply(pre)
    }
}

/// A code on its way to the decoder: the encoder's output and the tensors it saved for skip
/// connections that cross the code (a U-Net's), most recent last.
pub struct Code {
    /// The code `[batch, code]`.
    pub z: Tensor<2>,
    /// Saved NCHW tensors.
    pub saved: Vec<Tensor<4>>,
}

impl Code {
    /// A code without saved tensors.
    pub fn plain(z: Tensor<2>) -> Self {
        Code {
            z,
            saved: Vec::new(),
        }
    }
}
