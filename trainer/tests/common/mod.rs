//! Helpers shared by the trainer's integration tests.
#![allow(dead_code)]

use aedge_trainer::data::{Dataset, Images};
use aedge_trainer::model::{Act, Architecture, AutoEncoder, ModelSpec};
use aedge_trainer::{device, loss::Loss, train, Backend, RunOptions, TrainConfig, Trained};
use burn::module::Module;
use burn::tensor::{Tensor, TensorData};
use std::path::PathBuf;

/// The repository root.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The first `n` digits of the bundled MNIST sample, in model units.
pub fn mnist(n: usize) -> Dataset {
    let mut im = Images::read(repo().join("data/mnist-sample/t1k-images-idx3-ubyte.gz")).unwrap();
    im.truncate(n);
    Dataset::from_images(&im, None)
}

/// Runs `f` on burn's inference copy of `m` for one input.
pub fn burn_run(
    m: &AutoEncoder,
    x: &[f32],
    f: impl Fn(&AutoEncoder, Tensor<2>) -> Tensor<2>,
) -> Vec<f32> {
    let dev = device(Backend::Flex).unwrap().without_autodiff();
    let t = Tensor::<2>::from_data(TensorData::new(x.to_vec(), [1, x.len()]), &dev);
    f(&m.valid(), t).into_data().try_to_vec().unwrap()
}

/// Largest absolute difference of two equally long slices.
pub fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    aedge_runtime::metrics::max_abs_diff(a, b)
}

/// A 28×28 model of `arch` trained for one epoch on `data` (BCE, sigmoid output).
pub fn trained(arch: Architecture, data: &Dataset) -> (ModelSpec, TrainConfig, Trained) {
    let spec = ModelSpec {
        input: [28, 28, 1],
        arch,
        out_act: Act::Sigmoid,
    };
    let cfg = TrainConfig {
        epochs: 1,
        batch_size: 32,
        loss: Loss::Bce,
        ..TrainConfig::default()
    };
    let t = train(
        &spec,
        &cfg,
        data,
        None,
        &RunOptions::new(device(Backend::Flex).unwrap()),
    )
    .unwrap();
    (spec, cfg, t)
}

/// Standardised windows of `steps` values from the bundled NAB series.
pub fn nab(steps: usize) -> Dataset {
    let s = aedge_trainer::data::Series::read(
        repo().join("data/nab-sample/art_daily_jumpsup.csv"),
        &[],
    )
    .unwrap();
    let (mean, std) = s.stats(2000);
    s.windows(steps, steps, &mean, &std).unwrap()
}

/// A sequence autoencoder (LSTM code `code`) trained for one epoch on `data` (MSE).
pub fn trained_lstm(data: &Dataset, code: usize) -> (ModelSpec, TrainConfig, Trained) {
    let [h, w, c] = data.shape;
    let spec = ModelSpec {
        input: [h, w, c],
        arch: Architecture::Lstm { code },
        out_act: Act::Identity,
    };
    let cfg = TrainConfig {
        epochs: 1,
        batch_size: 16,
        loss: Loss::Mse,
        ..TrainConfig::default()
    };
    let t = train(
        &spec,
        &cfg,
        data,
        None,
        &RunOptions::new(device(Backend::Flex).unwrap()),
    )
    .unwrap();
    (spec, cfg, t)
}

/// A 28×28 layer list using every layer kind: strided and valid convolutions, pooling, a
/// dense code, reshape, a transposed convolution and upsampling.
pub fn every_layer() -> Architecture {
    use aedge_trainer::model::{LayerSpec as L, Padding};
    let conv = |filters, kernel, stride, padding| L::Conv {
        filters,
        kernel,
        stride,
        padding,
        act: Act::Relu,
    };
    Architecture::Layers {
        encoder: vec![
            conv(4, 3, 2, Padding::Same),  // 14x14x4
            conv(4, 3, 1, Padding::Valid), // 12x12x4
            L::MaxPool { size: 3 },        // 4x4x4
            L::Dense {
                units: 16,
                act: Act::Identity,
            },
        ],
        decoder: vec![
            L::Dense {
                units: 196,
                act: Act::Relu,
            },
            L::Reshape { to: [7, 7, 4] },
            L::ConvTranspose {
                filters: 4,
                kernel: 3,
                stride: 2,
                act: Act::LeakyRelu(0.1),
            }, // 14x14x4
            L::Upsample { factor: 2 }, // 28x28x4
            conv(1, 5, 1, Padding::Same),
        ],
    }
}

/// A U-Net from a layer list: both kinds of skip connection, crossing the code
/// (28x28x4 saved, pooled to 14x14x4, 14x14x4 saved, pooled to a 7x7x4 code; back up with an
/// Add of the 14x14 and a Concat of the 28x28).
pub fn unet() -> Architecture {
    use aedge_trainer::model::{LayerSpec as L, Padding};
    let conv = |filters| L::Conv {
        filters,
        kernel: 3,
        stride: 1,
        padding: Padding::Same,
        act: Act::Relu,
    };
    let n = |s: &str| s.to_string();
    Architecture::Layers {
        encoder: vec![
            conv(4),
            L::Save { name: n("full") },
            L::MaxPool { size: 2 },
            conv(4),
            L::Save { name: n("half") },
            L::MaxPool { size: 2 },
        ],
        decoder: vec![
            conv(4),
            L::Upsample { factor: 2 },
            L::Add { name: n("half") },
            L::ConvTranspose {
                filters: 4,
                kernel: 3,
                stride: 2,
                act: Act::Relu,
            },
            L::Concat { name: n("full") },
            conv(1),
        ],
    }
}
