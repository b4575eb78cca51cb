//! Graph-IR models with deterministic random weights for the runtime's own tests, benches and
//! fuzz seeds, which cannot depend on the trainer. `mnist_dense(36, _)` and `keras_conv` are
//! the presets `seed-dense` and `keras-conv` (trainer/src/presets.rs, the one catalogue of
//! named models) and `mlperf_ad` is the preset `mlperf-ad`; `small_conv_transpose` and
//! `lstm_ae` are smaller test shapes. Weights are Glorot-uniform from a seeded SplitMix64.

use crate::desc::{Activation, Metric, Op};
use crate::ir::{same_padding, Graph, Layer};
use crate::rng::SplitMix;
use crate::shape::Shape;
use alloc::format;

/// A dense autoencoder with the given layer sizes (`sizes[0]` is the input), ReLU hidden
/// layers and `out_act` at the end; the encoder ends at the smallest layer. The input is
/// `input` (flattened by the first layer), and the output is reshaped back to it.
pub fn dense(name: &str, input: Shape, sizes: &[u16], out_act: Activation, seed: u64) -> Graph {
    let mut r = SplitMix(seed);
    let mut g = Graph::new(name, input);
    let code = (1..sizes.len()).min_by_key(|&i| sizes[i]).unwrap_or(0);
    for (i, pair) in sizes.windows(2).enumerate() {
        let (n_in, n_out) = (pair[0] as usize, pair[1] as usize);
        let last = i + 2 == sizes.len();
        let act = if last { out_act } else { Activation::Relu };
        let w = r.glorot(n_in * n_out, n_in, n_out);
        g.push(Layer::dense(pair[1], w, r.vec(n_out, -0.05, 0.05), act));
    }
    if input.h != 1 || input.w != 1 {
        g.push(Layer::op(Op::Reshape { to: input }));
    }
    g.encoder_layers = code;
    g
}

/// The seed recipe's dense autoencoder for 28×28 images: 784 → `code` (ReLU) → 784
/// (sigmoid), pixels 0–255 scaled to 0–1, binary cross-entropy.
pub fn mnist_dense(code: u16, seed: u64) -> Graph {
    let mut g = dense(
        &format!("dense-784-{code}-784"),
        Shape::new(28, 28, 1),
        &[784, code, 784],
        Activation::Sigmoid,
        seed,
    );
    g.preprocess_scale = alloc::vec![1.0 / 255.0];
    g.metric = Metric::Bce;
    g
}

/// The MLPerf Tiny anomaly-detection autoencoder shape: 640-128-128-128-128-8-128-128-128-128-640
/// (264,192 MACs), ReLU inside, linear output, MSE.
pub fn mlperf_ad(seed: u64) -> Graph {
    let sizes = [640, 128, 128, 128, 128, 8, 128, 128, 128, 128, 640];
    dense(
        "mlperf-ad",
        Shape::vector(640),
        &sizes,
        Activation::Identity,
        seed,
    )
}

fn conv(
    r: &mut SplitMix,
    input: Shape,
    out_c: u16,
    stride: u8,
    same: bool,
    act: Activation,
) -> Layer {
    let in_c = input.c as usize;
    let n = out_c as usize * 9 * in_c;
    let pad = if same {
        same_padding(input, [3, 3], [stride, stride])
    } else {
        [0; 4]
    };
    let w = r.glorot(n, 9 * in_c, 9 * out_c as usize);
    Layer::conv2d(
        out_c,
        [3, 3],
        [stride, stride],
        pad,
        w,
        r.vec(out_c as usize, -0.05, 0.05),
        act,
    )
}

fn pool(input: Shape) -> Layer {
    Layer::op(Op::MaxPool2d {
        kernel: [2, 2],
        stride: [2, 2],
        pad: same_padding(input, [2, 2], [2, 2]),
    })
}

/// The Keras blog's convolutional autoencoder for 28×28×1: three Conv3×3+MaxPool stages down
/// to a 4×4×8 code, three Conv3×3+Upsample stages back, sigmoid output, BCE.
pub fn keras_conv(seed: u64) -> Graph {
    let mut r = SplitMix(seed);
    let relu = Activation::Relu;
    let mut g = Graph::new("keras-conv", Shape::new(28, 28, 1));
    g.preprocess_scale = alloc::vec![1.0 / 255.0];
    g.metric = Metric::Bce;
    g.push(conv(&mut r, Shape::new(28, 28, 1), 16, 1, true, relu));
    g.push(pool(Shape::new(28, 28, 16))); // 14x14x16
    g.push(conv(&mut r, Shape::new(14, 14, 16), 8, 1, true, relu));
    g.push(pool(Shape::new(14, 14, 8))); // 7x7x8
    g.push(conv(&mut r, Shape::new(7, 7, 8), 8, 1, true, relu));
    g.push(pool(Shape::new(7, 7, 8))); // 4x4x8 code
    g.encoder_layers = 6;
    g.push(conv(&mut r, Shape::new(4, 4, 8), 8, 1, true, relu));
    g.push(Layer::op(Op::Upsample2d { factor: [2, 2] })); // 8x8
    g.push(conv(&mut r, Shape::new(8, 8, 8), 8, 1, true, relu));
    g.push(Layer::op(Op::Upsample2d { factor: [2, 2] })); // 16x16
    g.push(conv(&mut r, Shape::new(16, 16, 8), 16, 1, false, relu)); // valid: 14x14x16
    g.push(Layer::op(Op::Upsample2d { factor: [2, 2] })); // 28x28x16
    g.push(conv(
        &mut r,
        Shape::new(28, 28, 16),
        1,
        1,
        true,
        Activation::Sigmoid,
    ));
    g
}

/// A small U-Net for 28×28×1 with both kinds of skip connection crossing its code: Conv8,
/// Save, Pool, Conv8, Save, Pool (7×7×8 code); Conv8, Upsample, Add (the 14×14×8 saved),
/// Conv8, Upsample, Concat (the 28×28×8 saved: 16 channels), Conv1 sigmoid.
pub fn small_unet(seed: u64) -> Graph {
    let mut r = SplitMix(seed);
    let relu = Activation::Relu;
    let up = || Layer::op(Op::Upsample2d { factor: [2, 2] });
    let mut g = Graph::new("small-unet", Shape::new(28, 28, 1));
    g.preprocess_scale = alloc::vec![1.0 / 255.0];
    g.push(conv(&mut r, Shape::new(28, 28, 1), 8, 1, true, relu));
    g.push(Layer::op(Op::Save));
    g.push(pool(Shape::new(28, 28, 8)));
    g.push(conv(&mut r, Shape::new(14, 14, 8), 8, 1, true, relu));
    g.push(Layer::op(Op::Save));
    g.push(pool(Shape::new(14, 14, 8))); // 7x7x8 code
    g.encoder_layers = 6;
    g.push(conv(&mut r, Shape::new(7, 7, 8), 8, 1, true, relu));
    g.push(up()); // 14x14x8
    g.push(Layer::op(Op::Add));
    g.push(conv(&mut r, Shape::new(14, 14, 8), 8, 1, true, relu));
    g.push(up()); // 28x28x8
    g.push(Layer::op(Op::Concat {
        channels: 8,
        saved_first: false,
    })); // 28x28x16
    g.push(conv(
        &mut r,
        Shape::new(28, 28, 16),
        1,
        1,
        true,
        Activation::Sigmoid,
    ));
    g
}

/// A small convolutional autoencoder with a transposed-convolution decoder (smaller than the
/// preset `conv-transpose`):
/// 28×28×1 → Conv8 → Pool → Conv4 → Pool (7×7×4 code) → ConvT8 → ConvT8 → Conv1 (sigmoid).
pub fn small_conv_transpose(seed: u64) -> Graph {
    let mut r = SplitMix(seed);
    let relu = Activation::Relu;
    let mut g = Graph::new("small-conv-transpose", Shape::new(28, 28, 1));
    g.preprocess_scale = alloc::vec![1.0 / 255.0];
    g.metric = Metric::Mse;
    g.push(conv(&mut r, Shape::new(28, 28, 1), 8, 1, true, relu));
    g.push(pool(Shape::new(28, 28, 8)));
    g.push(conv(&mut r, Shape::new(14, 14, 8), 4, 1, true, relu));
    g.push(pool(Shape::new(14, 14, 4)));
    g.encoder_layers = 4;
    for (in_c, out) in [(4usize, 14u16), (8, 28)] {
        // PyTorch ConvTranspose2d(k=3, stride=2, padding=1, output_padding=1) doubles the size.
        let w = r.glorot(8 * 9 * in_c, 9 * in_c, 72);
        g.push(Layer::conv_transpose2d(
            8,
            [3, 3],
            [2, 2],
            [1, 1],
            [out, out],
            w,
            r.vec(8, -0.05, 0.05),
            relu,
        ));
    }
    g.push(conv(
        &mut r,
        Shape::new(28, 28, 8),
        1,
        1,
        true,
        Activation::Sigmoid,
    ));
    g
}

/// The Keras blog's sequence autoencoder for windows of `steps × channels` sensor values:
/// LSTM(`code`) reads the window into its last hidden state (the code), which is repeated
/// for every step, unrolled by LSTM(`code`, all steps), and mapped back to the channels by a
/// per-step dense layer (a 1×1 convolution over the `steps × 1 × code` sequence). Inputs are
/// expected in `[0, 255]` and scaled to `[-1, 1]`; MSE.
pub fn lstm_ae(steps: u16, channels: u16, code: u16, seed: u64) -> Graph {
    let mut r = SplitMix(seed);
    let (c, u) = (channels as usize, code as usize);
    let mut g = Graph::new(
        &format!("lstm-{steps}x{channels}-{code}"),
        Shape::new(steps, 1, channels),
    );
    g.preprocess_scale = alloc::vec![1.0 / 127.5];
    g.preprocess_offset = alloc::vec![-1.0];
    g.metric = Metric::Mse;
    let mut lstm = |n_in: usize, return_sequences| {
        let mut w = r.glorot(4 * u * n_in, n_in, 4 * u);
        w.extend(r.glorot(4 * u * u, u, 4 * u));
        Layer::lstm(code, return_sequences, w, r.vec(4 * u, -0.1, 0.1))
    };
    let enc = lstm(c, false);
    let dec = lstm(u, true);
    g.push(enc);
    g.encoder_layers = 1;
    g.push(Layer::op(Op::Repeat { times: steps }));
    g.push(dec);
    g.push(Layer::conv2d(
        channels,
        [1, 1],
        [1, 1],
        [0; 4],
        r.glorot(c * u, u, c),
        r.vec(c, -0.05, 0.05),
        Activation::Identity,
    ));
    g
}
