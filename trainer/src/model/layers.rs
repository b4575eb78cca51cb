//! Layer-list autoencoders: an encoder and a decoder written as lists of the layers the
//! runtime runs (convolution, transposed convolution, max pooling, nearest upsampling, dense,
//! reshape), for architectures the fixed kinds do not cover (seed 001's 7×7×1 code, say).

use super::act::Act;
use super::conv::explicit;
use crate::host_ops::{conv2d, max_pool2d, upsample_nearest};
use aedge_runtime::ir::same_padding;
use aedge_runtime::Shape;
use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig, ConvTranspose2d, ConvTranspose2dConfig};
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{Linear, LinearConfig};
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

/// Padding of a convolution.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Padding {
    /// Zero padding so that the output is `ceil(input / stride)` (Keras' `same`).
    #[default]
    Same,
    /// No padding: the output shrinks by `kernel - 1` before striding.
    Valid,
}

/// One layer of a layer-list model. Every layer's activation but the decoder's last is its
/// own `act`; the decoder's last layer takes the model's output activation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum LayerSpec {
    /// 2-D convolution with a square kernel.
    Conv {
        /// Output channels.
        filters: usize,
        /// Kernel height and width.
        kernel: usize,
        /// Stride in both directions.
        stride: usize,
        /// `same` or `valid`.
        padding: Padding,
        /// Activation.
        act: Act,
    },
    /// 2-D transposed convolution whose output is `stride` times its input (Keras' `same`).
    ConvTranspose {
        /// Output channels.
        filters: usize,
        /// Kernel height and width.
        kernel: usize,
        /// Stride in both directions.
        stride: usize,
        /// Activation.
        act: Act,
    },
    /// Max pooling over `size × size` windows with stride `size` (a partial window at the
    /// edge is pooled too).
    MaxPool {
        /// Window and stride.
        size: usize,
    },
    /// Nearest-neighbour upsampling by `factor` in both directions.
    Upsample {
        /// Factor.
        factor: usize,
    },
    /// Fully connected; its input is flattened (height, width, channels order) and its output
    /// is `1 × 1 × units`.
    Dense {
        /// Output features.
        units: usize,
        /// Activation.
        act: Act,
    },
    /// Reinterprets the values as `[height, width, channels]` of the same size.
    Reshape {
        /// The new shape.
        to: [usize; 3],
    },
    /// Keeps the tensor under `name` for a later `Add` or `Concat` (a skip connection) and
    /// passes it on. Skips nest: each `Add` or `Concat` joins the most recently saved tensor
    /// still held.
    Save {
        /// What the join names it by.
        name: String,
    },
    /// Adds the tensor saved as `name` (same shape) element-wise: a residual connection.
    Add {
        /// The saved tensor.
        name: String,
    },
    /// Puts the tensor saved as `name` (same height and width) after the tensor's channels:
    /// a U-Net's skip connection.
    Concat {
        /// The saved tensor.
        name: String,
    },
}

impl LayerSpec {
    /// Sets the activation of a layer with weights (weightless layers have none).
    pub fn set_act(&mut self, a: Act) {
        match self {
            LayerSpec::Conv { act, .. }
            | LayerSpec::ConvTranspose { act, .. }
            | LayerSpec::Dense { act, .. } => *act = a,
            _ => {}
        }
    }

    /// Whether the layer has weights (and so an activation of its own).
    pub fn has_weights(&self) -> bool {
        matches!(
            self,
            LayerSpec::Conv { .. } | LayerSpec::ConvTranspose { .. } | LayerSpec::Dense { .. }
        )
    }
}

/// What a step runs: an index into the model's layers of that kind, or a weightless op.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum StepKind {
    /// `convs[i]`.
    Conv(usize),
    /// `convs_t[i]`.
    ConvTranspose(usize),
    /// `pools[i]`.
    MaxPool(usize),
    /// Nearest upsampling by this factor.
    Upsample(usize),
    /// `denses[i]`.
    Dense(usize),
    /// To this shape (h, w, c).
    Reshape([usize; 3]),
    /// Keeps the tensor for a later `Add` or `Concat`.
    Save,
    /// Adds the most recently saved tensor.
    Add,
    /// Appends the most recently saved tensor's channels (this many).
    Concat(usize),
}

/// One step of the forward pass and the shape (h, w, c) it produces.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Step {
    /// What runs.
    pub kind: StepKind,
    /// Activation after it (identity for weightless steps and the decoder's last).
    pub act: Act,
    /// Output height, width, channels.
    pub out: [usize; 3],
}

/// A layer-list autoencoder. Tensors stay NCHW between steps; dense layers flatten in HWC
/// order, as the runtime does.
#[derive(Module, Debug)]
pub struct LayerAe {
    /// Convolutions, in order of use.
    pub convs: Vec<Conv2d>,
    /// Transposed convolutions, in order of use.
    pub convs_t: Vec<ConvTranspose2d>,
    /// Max poolings, in order of use.
    pub pools: Vec<MaxPool2d>,
    /// Dense layers, in order of use.
    pub denses: Vec<Linear>,
    /// The forward pass.
    #[module(skip)]
    pub steps: Vec<Step>,
    /// How many of `steps` are the encoder.
    #[module(skip)]
    pub encoder_steps: usize,
    /// The decoder's last activation.
    #[module(skip)]
    pub out_act: Act,
    /// Input height, width, channels.
    pub input: [usize; 3],
}

fn shape_of(s: [usize; 3]) -> Result<Shape, String> {
    let dim = |n: usize| u16::try_from(n).ok().filter(|&n| n > 0);
    match (dim(s[0]), dim(s[1]), dim(s[2])) {
        (Some(h), Some(w), Some(c)) => Ok(Shape::new(h, w, c)),
        _ => Err(format!(
            "its output would be {}x{}x{} (each size must be 1 to 65535)",
            s[0], s[1], s[2]
        )),
    }
}

fn small(n: usize, what: &str) -> Result<u8, String> {
    u8::try_from(n)
        .ok()
        .filter(|&n| n > 0)
        .ok_or_else(|| format!("{what} must be 1 to 255, not {n}"))
}

/// Top/left crop and extra bottom/right rows of a transposed convolution whose output is
/// `stride × input` (burn's `padding`, `padding_out`).
pub fn transpose_padding(kernel: usize, stride: usize) -> Result<(usize, usize), String> {
    // out = (in - 1)·s + k - 2p + op = in·s  ⇔  2p - op = k - s, with 0 ≤ op < s.
    let (p, op) = if kernel >= stride {
        let p = (kernel - stride).div_ceil(2);
        (p, 2 * p + stride - kernel)
    } else {
        (0, stride - kernel)
    };
    if op >= stride {
        return Err(format!(
            "a transposed convolution of kernel {kernel} and stride {stride} cannot give stride x its input; use an odd kernel"
        ));
    }
    Ok((p, op))
}

impl LayerAe {
    /// Builds the layers for inputs of shape `input` (h, w, c); the decoder must end at that
    /// shape.
    pub fn new(
        input: [usize; 3],
        encoder: &[LayerSpec],
        decoder: &[LayerSpec],
        out_act: Act,
        device: &Device,
    ) -> Result<Self, String> {
        if encoder.is_empty() || decoder.is_empty() {
            return Err("a layers model needs at least one encoder and one decoder layer".into());
        }
        match decoder.last() {
            Some(l) if l.has_weights() => {}
            _ => {
                return Err("the decoder's last layer must be conv, conv-transpose or dense: it carries the output activation".into())
            }
        }
        let mut m = LayerAe {
            convs: Vec::new(),
            convs_t: Vec::new(),
            pools: Vec::new(),
            denses: Vec::new(),
            steps: Vec::new(),
            encoder_steps: encoder.len(),
            out_act,
            input,
        };
        let mut shape = input;
        let all = encoder.len() + decoder.len();
        let mut saved: Vec<(&str, [usize; 3])> = Vec::new();
        for (i, layer) in encoder.iter().chain(decoder).enumerate() {
            let last = i + 1 == all;
            let step = m.add(layer, shape, last, &mut saved, device).map_err(|e| {
                let (part, n) = if i < encoder.len() {
                    ("encoder", i + 1)
                } else {
                    ("decoder", i + 1 - encoder.len())
                };
                format!(
                    "[model] {part} layer {n} on {}x{}x{}: {e}",
                    shape[0], shape[1], shape[2]
                )
            })?;
            shape = step.out;
            m.steps.push(step);
        }
        if let Some((name, _)) = saved.last() {
            return Err(format!(
                "[model] the tensor saved as \"{name}\" is never used: each `save` needs a later `add` or `concat` naming it"
            ));
        }
        if shape != input {
            return Err(format!(
                "[model] the decoder ends at {}x{}x{} but the input is {}x{}x{}; its layers must lead back to the input's shape",
                shape[0], shape[1], shape[2], input[0], input[1], input[2]
            ));
        }
        Ok(m)
    }

    fn add<'s>(
        &mut self,
        layer: &'s LayerSpec,
        [h, w, c]: [usize; 3],
        last: bool,
        saved: &mut Vec<(&'s str, [usize; 3])>,
        device: &Device,
    ) -> Result<Step, String> {
        let here = shape_of([h, w, c])?;
        let act_of = |a: Act| if last { Act::Identity } else { a };
        // The tensor a join takes: the most recently saved, which must be the one it names.
        let mut take = |name: &str| -> Result<[usize; 3], String> {
            match saved.pop() {
                Some((n, s)) if n == name => Ok(s),
                Some((n, _)) => Err(format!(
                    "it joins \"{name}\" but \"{n}\" was saved after it and is still held: skips must nest (join the most recent first)"
                )),
                None => Err(format!("no tensor is saved as \"{name}\" before it")),
            }
        };
        let (kind, act, out) = match layer {
            LayerSpec::Save { name } => {
                if saved.len() == aedge_runtime::MAX_SKIPS {
                    return Err(format!(
                        "at most {} saved tensors can be held at once",
                        aedge_runtime::MAX_SKIPS
                    ));
                }
                if saved.iter().any(|(n, _)| n == name) {
                    return Err(format!("a tensor saved as \"{name}\" is still held"));
                }
                saved.push((name, [h, w, c]));
                (StepKind::Save, Act::Identity, [h, w, c])
            }
            LayerSpec::Add { name } => {
                let s = take(name)?;
                if s != [h, w, c] {
                    return Err(format!(
                        "add needs \"{name}\" ({}x{}x{}) to have its input's shape",
                        s[0], s[1], s[2]
                    ));
                }
                (StepKind::Add, Act::Identity, [h, w, c])
            }
            LayerSpec::Concat { name } => {
                let s = take(name)?;
                if [s[0], s[1]] != [h, w] {
                    return Err(format!(
                        "concat needs \"{name}\" ({}x{}x{}) to have its input's height and width",
                        s[0], s[1], s[2]
                    ));
                }
                let out = [h, w, c + s[2]];
                shape_of(out)?;
                (StepKind::Concat(s[2]), Act::Identity, out)
            }
            _ => self.add_layer(layer, [h, w, c], here, act_of, device)?,
        };
        Ok(Step { kind, act, out })
    }

    fn add_layer(
        &mut self,
        layer: &LayerSpec,
        [h, w, c]: [usize; 3],
        here: Shape,
        act_of: impl Fn(Act) -> Act,
        device: &Device,
    ) -> Result<(StepKind, Act, [usize; 3]), String> {
        Ok(match *layer {
            LayerSpec::Conv {
                filters,
                kernel,
                stride,
                padding,
                act,
            } => {
                let (k, s) = (small(kernel, "kernel")?, small(stride, "stride")?);
                let (pad, oh, ow) = match padding {
                    Padding::Same => (
                        same_padding(here, [k, k], [s, s]),
                        h.div_ceil(stride),
                        w.div_ceil(stride),
                    ),
                    Padding::Valid => {
                        if h < kernel || w < kernel {
                            return Err(format!(
                                "a valid {kernel}x{kernel} convolution needs at least {kernel}x{kernel}"
                            ));
                        }
                        ([0; 4], (h - kernel) / stride + 1, (w - kernel) / stride + 1)
                    }
                };
                let out = [oh, ow, filters];
                shape_of(out)?;
                self.convs.push(
                    Conv2dConfig::new([c, filters], [kernel, kernel])
                        .with_stride([stride, stride])
                        .with_padding(explicit(pad))
                        .init(device),
                );
                (StepKind::Conv(self.convs.len() - 1), act_of(act), out)
            }
            LayerSpec::ConvTranspose {
                filters,
                kernel,
                stride,
                act,
            } => {
                small(kernel, "kernel")?;
                small(stride, "stride")?;
                let (p, op) = transpose_padding(kernel, stride)?;
                let out = [h * stride, w * stride, filters];
                shape_of(out)?;
                self.convs_t.push(
                    ConvTranspose2dConfig::new([c, filters], [kernel, kernel])
                        .with_stride([stride, stride])
                        .with_padding([p, p])
                        .with_padding_out([op, op])
                        .init(device),
                );
                (
                    StepKind::ConvTranspose(self.convs_t.len() - 1),
                    act_of(act),
                    out,
                )
            }
            LayerSpec::MaxPool { size } => {
                let s = small(size, "maxpool size")?;
                let pad = same_padding(here, [s, s], [s, s]);
                self.pools.push(
                    MaxPool2dConfig::new([size, size])
                        .with_strides([size, size])
                        .with_padding(explicit(pad))
                        .init(),
                );
                let out = [h.div_ceil(size), w.div_ceil(size), c];
                (StepKind::MaxPool(self.pools.len() - 1), Act::Identity, out)
            }
            LayerSpec::Upsample { factor } => {
                small(factor, "upsample factor")?;
                let out = [h * factor, w * factor, c];
                shape_of(out)?;
                (StepKind::Upsample(factor), Act::Identity, out)
            }
            LayerSpec::Dense { units, act } => {
                let out = [1, 1, units];
                shape_of(out)?;
                self.denses
                    .push(LinearConfig::new(h * w * c, units).init(device));
                (StepKind::Dense(self.denses.len() - 1), act_of(act), out)
            }
            LayerSpec::Reshape { to } => {
                shape_of(to)?;
                if to.iter().product::<usize>() != h * w * c {
                    return Err(format!(
                        "reshape to {}x{}x{} needs {} values, there are {}",
                        to[0],
                        to[1],
                        to[2],
                        to.iter().product::<usize>(),
                        h * w * c
                    ));
                }
                (StepKind::Reshape(to), Act::Identity, to)
            }
            LayerSpec::Save { .. } | LayerSpec::Add { .. } | LayerSpec::Concat { .. } => {
                return Err("skip layers are added by `add`".into())
            }
        })
    }

    /// Shape (h, w, c) of the code.
    pub fn code_shape(&self) -> [usize; 3] {
        self.steps[self.encoder_steps - 1].out
    }

    /// Runs `steps` on `t`; `saved` holds the tensors of skip connections across calls.
    fn run(&self, steps: &[Step], mut t: Tensor<4>, saved: &mut Vec<Tensor<4>>) -> Tensor<4> {
        for s in steps {
            t = match s.kind {
                StepKind::Save => {
                    saved.push(t.clone());
                    t
                }
                // The model was checked to save before every join.
                StepKind::Add => match saved.pop() {
                    Some(o) => t + o,
                    None => t,
                },
                StepKind::Concat(_) => match saved.pop() {
                    Some(o) => Tensor::cat(vec![t, o], 1),
                    None => t,
                },
                StepKind::Conv(i) => conv2d(&self.convs[i], t),
                StepKind::ConvTranspose(i) => self.convs_t[i].forward(t),
                StepKind::MaxPool(i) => max_pool2d(&self.pools[i], t),
                StepKind::Upsample(f) => upsample_nearest(t, f),
                StepKind::Dense(i) => {
                    let [b, ..] = t.dims();
                    let flat = flatten(t);
                    self.denses[i].forward(flat).reshape([b, s.out[2], 1, 1])
                }
                StepKind::Reshape(to) => unflatten(flatten(t), to),
            };
            t = s.act.apply(t);
        }
        t
    }

    /// `[batch, h·w·c]` (HWC order) → code `[batch, code]` (HWC order).
    pub fn encode(&self, x: Tensor<2>) -> Tensor<2> {
        self.encode_keeping(x).0
    }

    /// [`LayerAe::encode`], with the tensors the encoder saved for the decoder's skip
    /// connections.
    pub fn encode_keeping(&self, x: Tensor<2>) -> (Tensor<2>, Vec<Tensor<4>>) {
        let t = unflatten(x, self.input);
        let mut saved = Vec::new();
        let z = flatten(self.run(&self.steps[..self.encoder_steps], t, &mut saved));
        (z, saved)
    }

    /// Code (and the encoder's saved tensors) → the decoder's output before the output
    /// activation.
    pub fn decode_pre_act(&self, z: Tensor<2>, mut saved: Vec<Tensor<4>>) -> Tensor<2> {
        let t = unflatten(z, self.code_shape());
        flatten(self.run(&self.steps[self.encoder_steps..], t, &mut saved))
    }
}

/// NCHW → `[batch, h·w·c]` in HWC order.
fn flatten(t: Tensor<4>) -> Tensor<2> {
    let [b, c, h, w] = t.dims();
    t.permute([0, 2, 3, 1]).reshape([b, h * w * c])
}

/// `[batch, h·w·c]` in HWC order → NCHW.
fn unflatten(x: Tensor<2>, [h, w, c]: [usize; 3]) -> Tensor<4> {
    let [b, _] = x.dims();
    x.reshape([b, h, w, c]).permute([0, 3, 1, 2])
}

#[cfg(test)]
mod tests {
    use super::transpose_padding;

    #[test]
    fn transposed_convolutions_multiply_the_size_by_their_stride() {
        for k in 1..8 {
            for s in 1..4 {
                if let Ok((p, op)) = transpose_padding(k, s) {
                    let i = 5;
                    assert_eq!((i - 1) * s + k + op - 2 * p, i * s, "k {k} s {s}");
                    assert!(op < s);
                } else {
                    assert!(s == 1 && k % 2 == 0, "k {k} s {s}");
                }
            }
        }
    }
}
