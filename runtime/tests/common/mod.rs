//! Hand-built models and helpers shared by the runtime's integration tests.
#![allow(dead_code)]

use aedge_runtime::ir::{same_padding, Graph, Layer};
use aedge_runtime::{Activation, Metric, Op, Shape};

pub use aedge_runtime::rng::SplitMix as Rng;

/// The 784-32-784 dense autoencoder with random weights.
pub fn dense_ae(seed: u64) -> Graph {
    aedge_runtime::zoo::mnist_dense(32, seed)
}

/// The small conv autoencoder with a ConvTranspose decoder.
pub fn conv_ae(seed: u64) -> Graph {
    aedge_runtime::zoo::small_conv_transpose(seed)
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
