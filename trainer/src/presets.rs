//! Named recipes that reproduce the seed and textbook autoencoders.
//!
//! Optimiser choice: the seed recipes use Adadelta, whose learning rate in today's Keras
//! (0.001) barely moves these models in 10 epochs (val BCE 0.694 after 10 epochs on
//! Fashion-MNIST, against 0.285 with Adam). Keras 1 and 2.0 used `lr = 1.0`. Every preset
//! therefore defaults to **Adam, lr = 1e-3**; `OptimizerSpec::Adadelta { lr: 1.0, rho: 0.95 }`
//! reproduces the original Keras setting.

use crate::corrupt::Corruption;
use crate::loss::Loss;
use crate::model::{Act, Architecture, ModelSpec, Upsampling};
use crate::optim::OptimizerSpec;
use crate::train::TrainConfig;

/// Every preset: (name, what it is).
pub const PRESETS: &[(&str, &str)] = &[
    ("seed-dense", "784-36-784 dense AE (ReLU code, sigmoid output), BCE, 10 epochs, batch 256"),
    ("keras-simple", "784-32-784 dense AE, the Keras blog's simplest (ReLU code, sigmoid output), BCE, 50 epochs, batch 256"),
    ("keras-sparse", "784-32-784 dense AE with an L1 penalty of 1e-4 on the code (Keras blog), 100 epochs"),
    ("keras-deep", "784-128-64-32-64-128-784 deep dense AE (Keras blog), 100 epochs"),
    ("keras-conv", "Keras blog conv AE: Conv16/8/8 + MaxPool to a 4x4x8 code, Conv + Upsample back, 50 epochs, batch 128"),
    ("conv-transpose", "Conv16/8 + MaxPool encoder, ConvTranspose decoder, 20 epochs, batch 128"),
    ("keras-denoise", "Keras blog denoising conv AE: Conv32/32 + MaxPool, gaussian noise 0.5 clipped, 100 epochs, batch 128"),
    ("keras-vae", "Keras VAE example: 784-256-2 (2-D latent), BCE + KL, 50 epochs, batch 100"),
    ("pytorch-vae", "PyTorch VAE example: 784-400-20, BCE + KL, 10 epochs, batch 128"),
    ("mlperf-ad", "MLPerf Tiny anomaly detection (ToyADMOS): 640-128-128-128-128-8-128-128-128-128-640 dense AE (ReLU, linear output), MSE, 100 epochs, batch 512"),
    ("series-dense", "small dense AE for sensor windows: window-32-8-32-window (ReLU), linear output, MSE, 40 epochs, batch 32 (a 24-row window: 2.1 K params)"),
    ("keras-lstm", "LSTM sequence AE (Keras blog): LSTM encoder, repeated code, LSTM decoder, MSE, 50 epochs, batch 64"),
];

fn cfg(epochs: usize, batch_size: usize, loss: Loss) -> TrainConfig {
    TrainConfig {
        epochs,
        batch_size,
        loss,
        optimizer: OptimizerSpec::Adam { lr: 1e-3 },
        ..TrainConfig::default()
    }
}

/// The model and training configuration of a preset for inputs of shape `input` (h, w, c).
/// Image presets expect data in `[0, 1]`; `keras-lstm` expects standardised windows.
pub fn preset(name: &str, input: [usize; 3]) -> Result<(ModelSpec, TrainConfig), String> {
    let spec = |arch, out_act| ModelSpec {
        input,
        arch,
        out_act,
    };
    let dense = |hidden: &[usize], code| Architecture::Dense {
        hidden: hidden.to_vec(),
        code,
        code_act: Act::Relu,
    };
    Ok(match name {
        "seed-dense" => (spec(dense(&[], 36), Act::Sigmoid), cfg(10, 256, Loss::Bce)),
        "keras-simple" => (spec(dense(&[], 32), Act::Sigmoid), cfg(50, 256, Loss::Bce)),
        "keras-sparse" => (
            spec(dense(&[], 32), Act::Sigmoid),
            TrainConfig {
                l1_code: 1e-4,
                ..cfg(100, 256, Loss::Bce)
            },
        ),
        "keras-deep" => (
            spec(dense(&[128, 64], 32), Act::Sigmoid),
            cfg(100, 256, Loss::Bce),
        ),
        "keras-conv" => (
            spec(
                Architecture::Conv {
                    channels: vec![16, 8, 8],
                    upsampling: Upsampling::Nearest,
                },
                Act::Sigmoid,
            ),
            cfg(50, 128, Loss::Bce),
        ),
        "conv-transpose" => (
            spec(
                Architecture::Conv {
                    channels: vec![16, 8],
                    upsampling: Upsampling::Transpose,
                },
                Act::Sigmoid,
            ),
            cfg(20, 128, Loss::Bce),
        ),
        "keras-denoise" => (
            spec(
                Architecture::Conv {
                    channels: vec![32, 32],
                    upsampling: Upsampling::Nearest,
                },
                Act::Sigmoid,
            ),
            TrainConfig {
                corruption: Some(Corruption::Gaussian {
                    factor: 0.5,
                    clip: true,
                }),
                ..cfg(100, 128, Loss::Bce)
            },
        ),
        "keras-vae" => (
            spec(
                Architecture::Vae {
                    hidden: vec![256],
                    latent: 2,
                },
                Act::Sigmoid,
            ),
            cfg(50, 100, Loss::Bce),
        ),
        "pytorch-vae" => (
            spec(
                Architecture::Vae {
                    hidden: vec![400],
                    latent: 20,
                },
                Act::Sigmoid,
            ),
            cfg(10, 128, Loss::Bce),
        ),
        "mlperf-ad" => (
            spec(dense(&[128, 128, 128, 128], 8), Act::Identity),
            cfg(100, 512, Loss::Mse),
        ),
        "series-dense" => (spec(dense(&[32], 8), Act::Identity), cfg(40, 32, Loss::Mse)),
        "keras-lstm" => (
            spec(Architecture::Lstm { code: 64 }, Act::Identity),
            cfg(50, 64, Loss::Mse),
        ),
        other => {
            let names: Vec<&str> = PRESETS.iter().map(|p| p.0).collect();
            return Err(format!(
                "unknown preset '{other}'; presets: {}",
                names.join(", ")
            ));
        }
    })
}
