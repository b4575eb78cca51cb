//! Hand-built models and helpers shared by the runtime's integration tests.
#![allow(dead_code)]

use aedge_runtime::ir::{same_padding, Graph, Layer};
use aedge_runtime::{Activation, Metric, Op, Shape};

/// SplitMix64: deterministic, dependency-free random numbers for weights and inputs.
pub struct Rng(pub u64);

impl Rng {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[lo, hi)`.
    pub fn uniform(&mut self, lo: f32, hi: f32) -> f32 {
        lo + (hi - lo) * ((self.next_u64() >> 40) as f32 / (1u64 << 24) as f32)
    }

    pub fn vec(&mut self, n: usize, lo: f32, hi: f32) -> Vec<f32> {
        (0..n).map(|_| self.uniform(lo, hi)).collect()
    }

    /// Glorot-uniform weights for a layer with the given fan-in and fan-out.
    pub fn glorot(&mut self, n: usize, fan_in: usize, fan_out: usize) -> Vec<f32> {
        let a = (6.0 / (fan_in + fan_out) as f32).sqrt();
        self.vec(n, -a, a)
    }
}

/// The 784-32-784 dense autoencoder (ReLU code, sigmoid output) with random weights,
/// inputs as 0..255 pixels scaled to 0..1.
pub fn dense_ae(seed: u64) -> Graph {
    let mut r = Rng(seed);
    let mut g = Graph::new("dense-784-32-784", Shape::new(28, 28, 1));
    g.preprocess_scale = vec![1.0 / 255.0];
    g.metric = Metric::Bce;
    g.push(Layer::dense(
        32,
        r.glorot(784 * 32, 784, 32),
        r.vec(32, -0.1, 0.1),
        Activation::Relu,
    ));
    g.push(Layer::dense(
        784,
        r.glorot(32 * 784, 32, 784),
        r.vec(784, -0.1, 0.1),
        Activation::Sigmoid,
    ));
    g.push(Layer::op(Op::Reshape {
        to: Shape::new(28, 28, 1),
    }));
    g.encoder_layers = 1;
    g
}

fn conv(r: &mut Rng, input: Shape, in_c: u16, out_c: u16, stride: u8, act: Activation) -> Layer {
    let n = out_c as usize * 9 * in_c as usize;
    let pad = same_padding(input, [3, 3], [stride, stride]);
    Layer::conv2d(
        out_c,
        [3, 3],
        [stride, stride],
        pad,
        r.glorot(n, 9 * in_c as usize, 9 * out_c as usize),
        r.vec(out_c as usize, -0.05, 0.05),
        act,
    )
}

fn convt(r: &mut Rng, in_c: u16, out_c: u16, out: u16, act: Activation) -> Layer {
    let n = out_c as usize * 9 * in_c as usize;
    // PyTorch ConvTranspose2d(k=3, stride=2, padding=1, output_padding=1): doubles the size.
    Layer::conv_transpose2d(
        out_c,
        [3, 3],
        [2, 2],
        [1, 1],
        [out, out],
        r.glorot(n, 9 * in_c as usize, 9 * out_c as usize),
        r.vec(out_c as usize, -0.05, 0.05),
        act,
    )
}

/// A small convolutional autoencoder 28x28x1 -> 7x7x4 -> 28x28x1 with a ConvTranspose decoder.
pub fn conv_ae(seed: u64) -> Graph {
    let mut r = Rng(seed);
    let mut g = Graph::new("conv-convtranspose", Shape::new(28, 28, 1));
    g.preprocess_scale = vec![1.0 / 255.0];
    g.metric = Metric::Mse;
    let s28 = Shape::new(28, 28, 1);
    let s14 = Shape::new(14, 14, 8);
    g.push(conv(&mut r, s28, 1, 8, 1, Activation::Relu));
    g.push(Layer::op(Op::MaxPool2d {
        kernel: [2, 2],
        stride: [2, 2],
        pad: [0; 4],
    }));
    g.push(conv(&mut r, s14, 8, 4, 1, Activation::Relu));
    g.push(Layer::op(Op::MaxPool2d {
        kernel: [2, 2],
        stride: [2, 2],
        pad: [0; 4],
    }));
    g.encoder_layers = 4;
    g.push(convt(&mut r, 4, 8, 14, Activation::Relu));
    g.push(convt(&mut r, 8, 8, 28, Activation::Relu));
    g.push(conv(&mut r, s28, 8, 1, 1, Activation::Sigmoid));
    g
}

/// A model touching every op and activation: strided conv, upsampling, LeakyReLU, tanh, a
/// stand-alone activation, reshape, per-channel preprocessing.
pub fn all_ops(seed: u64) -> Graph {
    let mut r = Rng(seed);
    let input = Shape::new(12, 10, 2);
    let mut g = Graph::new("all-ops", input);
    g.preprocess_scale = vec![0.5, 0.25];
    g.preprocess_offset = vec![-1.0, 0.5];
    g.metric = Metric::Mae;
    g.push(conv(
        &mut r,
        input,
        2,
        6,
        2,
        Activation::LeakyRelu { alpha: 0.1 },
    )); // 6x5x6
    g.push(Layer::op(Op::MaxPool2d {
        kernel: [3, 3],
        stride: [2, 2],
        pad: same_padding(Shape::new(6, 5, 6), [3, 3], [2, 2]),
    })); // 3x3x6
    g.push(Layer::op(Op::Reshape {
        to: Shape::vector(54),
    }));
    g.push(Layer::dense(
        10,
        r.glorot(540, 54, 10),
        r.vec(10, -0.1, 0.1),
        Activation::Tanh,
    ));
    g.encoder_layers = 4;
    g.push(Layer::dense(
        3 * 5 * 4,
        r.glorot(600, 10, 60),
        r.vec(60, -0.1, 0.1),
        Activation::Identity,
    ));
    g.push(Layer::activation(Activation::Relu));
    g.push(Layer::op(Op::Reshape {
        to: Shape::new(3, 5, 4),
    }));
    g.push(Layer::op(Op::Upsample2d { factor: [2, 1] })); // 6x5x4
    g.push(Layer::conv_transpose2d(
        2,
        [2, 2],
        [2, 2],
        [0, 0],
        [12, 10],
        r.glorot(2 * 4 * 4, 16, 8),
        r.vec(2, -0.1, 0.1),
        Activation::Identity,
    ));
    g.push(Layer::activation(Activation::Sigmoid));
    g
}

/// Pseudo-images in raw pixel units (0..255) with some structure (blobs), so activations
/// are not pure noise.
pub fn images(seed: u64, n: usize, shape: Shape) -> Vec<Vec<f32>> {
    let mut r = Rng(seed);
    (0..n)
        .map(|_| {
            let (cy, cx) = (
                r.uniform(0.0, shape.h as f32),
                r.uniform(0.0, shape.w as f32),
            );
            let rad = r.uniform(2.0, 8.0);
            let mut v = Vec::with_capacity(shape.len());
            for y in 0..shape.h {
                for x in 0..shape.w {
                    for _ in 0..shape.c {
                        let d = ((y as f32 - cy).powi(2) + (x as f32 - cx).powi(2)).sqrt();
                        let base = if d < rad { 220.0 } else { 10.0 };
                        v.push((base + r.uniform(-10.0, 10.0)).clamp(0.0, 255.0));
                    }
                }
            }
            v
        })
        .collect()
}

/// Peak signal-to-noise ratio in dB for signals whose peak is `peak`.
pub fn psnr(a: &[f32], b: &[f32], peak: f32) -> f64 {
    let mse: f64 = a
        .iter()
        .zip(b)
        .map(|(x, y)| ((x - y) as f64).powi(2))
        .sum::<f64>()
        / a.len() as f64;
    if mse == 0.0 {
        f64::INFINITY
    } else {
        10.0 * ((peak as f64).powi(2) / mse).log10()
    }
}
