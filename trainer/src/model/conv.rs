//! Convolutional autoencoders: Conv3×3 + MaxPool2 stages down to the code, then either
//! Conv3×3 + nearest Upsample2 stages (the Keras blog's design) or stride-2 transposed
//! convolutions back up, and a final Conv3×3 to the input's channels.

use super::act::Act;
use crate::host_ops::{conv2d, max_pool2d, upsample_nearest};
use aedge_runtime::ir::same_padding;
use aedge_runtime::Shape;
use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig, ConvTranspose2d, ConvTranspose2dConfig};
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::PaddingConfig2d;
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

/// How the decoder grows the code back to the input size.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Upsampling {
    /// Conv3×3 then nearest-neighbour ×2 (sizes fixed with "valid" convolutions where needed).
    #[default]
    Nearest,
    /// ConvTranspose 3×3, stride 2 (PyTorch `padding=1`, `output_padding` as needed).
    Transpose,
}

/// One decoder stage.
#[derive(Module, Debug)]
pub struct UpStage {
    /// Convolution (before upsampling) or transposed convolution.
    pub conv: Option<Conv2d>,
    /// Transposed convolution.
    pub conv_t: Option<ConvTranspose2d>,
    /// Nearest upsampling factor after `conv` (1 for none).
    pub factor: usize,
}

/// A convolutional autoencoder.
#[derive(Module, Debug)]
pub struct ConvAe {
    /// Encoder convolutions.
    pub enc: Vec<Conv2d>,
    /// Pooling after each encoder convolution.
    pub pools: Vec<MaxPool2d>,
    /// Decoder stages.
    pub dec: Vec<UpStage>,
    /// Final convolution to the input channels.
    pub out: Conv2d,
    /// Output activation.
    #[module(skip)]
    pub out_act: Act,
    /// Input height, width, channels.
    pub input: [usize; 3],
}

/// burn's padding for the runtime's `[top, left, bottom, right]`.
pub(super) fn explicit(p: [u8; 4]) -> PaddingConfig2d {
    PaddingConfig2d::Explicit(p[0] as usize, p[1] as usize, p[2] as usize, p[3] as usize)
}

fn conv(shape: Shape, out_c: usize, kernel: usize, same: bool, device: &Device) -> Conv2d {
    let k = kernel as u8;
    let pad = if same {
        same_padding(shape, [k, k], [1, 1])
    } else {
        [0; 4]
    };
    Conv2dConfig::new([shape.c as usize, out_c], [kernel, kernel])
        .with_padding(explicit(pad))
        .init(device)
}

/// Convolutions `(kernel, same padding)` for the nearest-upsampling decoder: each stage is a
/// conv (3×3 "same", or a "valid" conv with kernel 2 or 3 that shrinks by 1 or 2) then ×2,
/// ending exactly at `target`. Prefers the fewest shrinking convs, placed last (the Keras
/// blog's 4→8→16→14→28).
pub fn plan_nearest(code: usize, stages: usize, target: usize) -> Option<Vec<(usize, bool)>> {
    // shrink[i] in {0, 1, 2}; size after stage i = 2 * (size - shrink[i]).
    let mut best: Option<(usize, Vec<usize>)> = None;
    let combos = 3usize.pow(stages as u32);
    for n in 0..combos {
        let mut shrink = Vec::with_capacity(stages);
        let mut m = n;
        for _ in 0..stages {
            shrink.push(m % 3);
            m /= 3;
        }
        let mut s = code;
        let mut ok = true;
        for &k in &shrink {
            if s <= k {
                ok = false;
                break;
            }
            s = 2 * (s - k);
        }
        if !ok || s != target {
            continue;
        }
        let cost = shrink.iter().filter(|&&k| k > 0).count() * 100
            + shrink
                .iter()
                .enumerate()
                .map(|(i, &k)| if k > 0 { stages - i } else { 0 })
                .sum::<usize>();
        if best.as_ref().is_none_or(|(c, _)| cost < *c) {
            best = Some((cost, shrink));
        }
    }
    best.map(|(_, s)| {
        s.into_iter()
            .map(|k| if k == 0 { (3, true) } else { (k + 1, false) })
            .collect()
    })
}

impl ConvAe {
    /// An autoencoder for `input` (h, w, c) with encoder channels `channels` (one pooling
    /// stage each) and the given decoder.
    pub fn new(
        input: [usize; 3],
        channels: &[usize],
        up: Upsampling,
        out_act: Act,
        device: &Device,
    ) -> Result<Self, String> {
        let [h, w, c] = input;
        let mut shape = Shape::new(h as u16, w as u16, c as u16);
        let mut sizes = vec![(h, w)];
        let (mut enc, mut pools) = (Vec::new(), Vec::new());
        for &ch in channels {
            enc.push(conv(shape, ch, 3, true, device));
            shape.c = ch as u16;
            let pad = same_padding(shape, [2, 2], [2, 2]);
            pools.push(
                MaxPool2dConfig::new([2, 2])
                    .with_strides([2, 2])
                    .with_padding(explicit(pad))
                    .init(),
            );
            shape = Shape::new(shape.h.div_ceil(2), shape.w.div_ceil(2), ch as u16);
            sizes.push((shape.h as usize, shape.w as usize));
        }
        let mut dec = Vec::new();
        let rev: Vec<usize> = channels.iter().rev().copied().collect();
        match up {
            Upsampling::Nearest => {
                if h != w {
                    return Err("the nearest-upsampling decoder needs square inputs; use the transpose decoder".into());
                }
                let kernels = plan_nearest(shape.h as usize, channels.len(), h)
                    .ok_or_else(|| format!("no nearest-upsampling decoder reaches {h}x{w}; use the transpose decoder"))?;
                // The decoder mirrors the encoder's channels.
                for (i, &(k, same)) in kernels.iter().enumerate() {
                    let ch = rev[i];
                    dec.push(UpStage {
                        conv: Some(conv(shape, ch, k, same, device)),
                        conv_t: None,
                        factor: 2,
                    });
                    let s = if same {
                        shape.h
                    } else {
                        shape.h - (k as u16 - 1)
                    };
                    shape = Shape::new(2 * s, 2 * s, ch as u16);
                }
            }
            Upsampling::Transpose => {
                for (i, &(th, tw)) in sizes.iter().rev().skip(1).enumerate() {
                    let ch = rev[i];
                    // out = (in - 1) * 2 - 2 + 3 + output_padding
                    let op_h = th + 1 - 2 * shape.h as usize;
                    let op_w = tw + 1 - 2 * shape.w as usize;
                    if op_h > 1 || op_w > 1 {
                        return Err("transpose decoder cannot reach the input size".into());
                    }
                    let ct = ConvTranspose2dConfig::new([shape.c as usize, ch], [3, 3])
                        .with_stride([2, 2])
                        .with_padding([1, 1])
                        .with_padding_out([op_h, op_w])
                        .init(device);
                    dec.push(UpStage {
                        conv: None,
                        conv_t: Some(ct),
                        factor: 1,
                    });
                    shape = Shape::new(th as u16, tw as u16, ch as u16);
                }
            }
        }
        let out = conv(shape, c, 3, true, device);
        Ok(ConvAe {
            enc,
            pools,
            dec,
            out,
            out_act,
            input,
        })
    }

    fn to_nchw(&self, x: Tensor<2>) -> Tensor<4> {
        let [b, _] = x.dims();
        let [h, w, c] = self.input;
        x.reshape([b, h, w, c]).permute([0, 3, 1, 2])
    }

    /// `[batch, h·w·c]` (HWC order) → code `[batch, code]` (HWC order).
    pub fn encode(&self, x: Tensor<2>) -> Tensor<2> {
        let mut t = self.to_nchw(x);
        for (c, p) in self.enc.iter().zip(&self.pools) {
            t = max_pool2d(p, Act::Relu.apply(conv2d(c, t)));
        }
        let [b, c, h, w] = t.dims();
        t.permute([0, 2, 3, 1]).reshape([b, h * w * c])
    }

    /// Shape (h, w, c) of the code.
    pub fn code_shape(&self) -> [usize; 3] {
        let [mut h, mut w, _] = self.input;
        for _ in &self.enc {
            h = h.div_ceil(2);
            w = w.div_ceil(2);
        }
        let c = self
            .enc
            .last()
            .map_or(self.input[2], |c| c.weight.dims()[0]);
        [h, w, c]
    }

    /// code → `[batch, h·w·c]` before the output activation (elementwise, so it commutes
    /// with the final reshape).
    pub fn decode_pre_act(&self, z: Tensor<2>) -> Tensor<2> {
        let [b, _] = z.dims();
        let [h, w, c] = self.code_shape();
        let mut t = z.reshape([b, h, w, c]).permute([0, 3, 1, 2]);
        for s in &self.dec {
            if let Some(conv) = &s.conv {
                t = Act::Relu.apply(conv2d(conv, t));
            }
            if let Some(ct) = &s.conv_t {
                t = Act::Relu.apply(ct.forward(t));
            }
            if s.factor > 1 {
                t = upsample_nearest(t, s.factor);
            }
        }
        let t = conv2d(&self.out, t);
        let [b2, c2, h2, w2] = t.dims();
        debug_assert_eq!(b2, b);
        t.permute([0, 2, 3, 1]).reshape([b, h2 * w2 * c2])
    }
}

#[cfg(test)]
mod tests {
    use super::plan_nearest;

    #[test]
    fn keras_decoder_plan() {
        // 28x28 pooled to 14, 7, 4: the Keras blog's decoder is same, same, then valid 3x3
        // (4 -> 8 -> 16 -> 14 -> 28).
        assert_eq!(
            plan_nearest(4, 3, 28),
            Some(vec![(3, true), (3, true), (3, false)])
        );
        // 32 -> 16 -> 8 -> 4 needs no shrinking.
        assert_eq!(plan_nearest(4, 3, 32), Some(vec![(3, true); 3]));
        // Odd targets cannot be reached by doubling.
        assert_eq!(plan_nearest(4, 3, 27), None);
    }
}
