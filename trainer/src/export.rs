//! The export boundary: a trained burn model becomes the runtime's graph IR. Nothing of burn
//! leaves this module; everything downstream (`.aedge` in every precision, ONNX) reads the IR.

use crate::data::Dataset;
use crate::model::conv::ConvAe;
use crate::model::dense::Mlp;
use crate::model::layers::{LayerAe, StepKind};
use crate::model::lstm::LstmAe;
use crate::model::{Act, AutoEncoder, ModelSpec};
use aedge_runtime::ir::{same_padding, Graph, Layer};
use aedge_runtime::{Activation, Metric, Op, Shape};
use burn::module::Param;
use burn::nn::conv::{Conv2d, ConvTranspose2d};
use burn::nn::{Linear, Lstm, PaddingConfig2d};
use burn::tensor::Tensor;

fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data()
        .convert::<f32>()
        .try_to_vec::<f32>()
        .unwrap_or_default()
}

fn act(a: Act) -> Activation {
    match a {
        Act::Identity => Activation::Identity,
        Act::Relu => Activation::Relu,
        Act::LeakyRelu(alpha) => Activation::LeakyRelu { alpha },
        Act::Sigmoid => Activation::Sigmoid,
        Act::Tanh => Activation::Tanh,
    }
}

fn u16_of(n: usize, what: &str) -> Result<u16, String> {
    u16::try_from(n).map_err(|_| format!("{what} {n} is too large for the runtime (max 65535)"))
}

fn bias(b: &Option<Param<Tensor<1>>>, n: usize) -> Vec<f32> {
    b.as_ref().map_or(vec![0.0; n], |b| values(b.val()))
}

/// burn's `[in, out]` weights become the runtime's `[out][in]`.
fn dense(l: &Linear, a: Act) -> Result<Layer, String> {
    let w = l.weight.val();
    let [_, out] = w.dims();
    Ok(Layer::dense(
        u16_of(out, "layer width")?,
        values(w.transpose()),
        bias(&l.bias, out),
        act(a),
    ))
}

fn mlp(m: &Mlp) -> Result<Vec<Layer>, String> {
    m.layers
        .iter()
        .zip(&m.acts)
        .map(|(l, &a)| dense(l, a))
        .collect()
}

fn pad4(p: &PaddingConfig2d, input: Shape, k: [usize; 2]) -> [u8; 4] {
    match *p {
        PaddingConfig2d::Explicit(t, l, b, r) => [t as u8, l as u8, b as u8, r as u8],
        PaddingConfig2d::Same => same_padding(input, [k[0] as u8, k[1] as u8], [1, 1]),
        PaddingConfig2d::Valid => [0; 4],
    }
}

/// burn's `[out, in, kh, kw]` convolution weights become `[out][kh][kw][in]`.
fn conv(c: &Conv2d, input: Shape, a: Act) -> Result<(Layer, Shape), String> {
    let w = c.weight.val();
    let [oc, _, kh, kw] = w.dims();
    let pad = pad4(&c.padding, input, [kh, kw]);
    let k = [kh as u8, kw as u8];
    let s = [c.stride[0] as u8, c.stride[1] as u8];
    let layer = Layer::conv2d(
        u16_of(oc, "channel count")?,
        k,
        s,
        pad,
        values(w.permute([0, 2, 3, 1])),
        bias(&c.bias, oc),
        act(a),
    );
    let out = aedge_runtime::ir::Graph {
        layers: vec![layer.clone()],
        ..Graph::new("", input)
    }
    .output_shape()
    .map_err(|e| e.to_string())?;
    Ok((layer, out))
}

/// burn's `[in, out, kh, kw]` transposed-convolution weights become `[out][kh][kw][in]`;
/// PyTorch-style `padding` crops the top/left, `padding_out` sets the output size.
fn conv_t(c: &ConvTranspose2d, input: Shape, a: Act) -> Result<(Layer, Shape), String> {
    let w = c.weight.val();
    let [_, oc, kh, kw] = w.dims();
    let [sh, sw] = c.stride;
    let [ph, pw] = c.padding;
    let [oph, opw] = c.padding_out;
    let oh = (input.h as usize - 1) * sh + kh + oph - 2 * ph;
    let ow = (input.w as usize - 1) * sw + kw + opw - 2 * pw;
    let out = Shape::new(
        u16_of(oh, "height")?,
        u16_of(ow, "width")?,
        u16_of(oc, "channel count")?,
    );
    let layer = Layer::conv_transpose2d(
        out.c,
        [kh as u8, kw as u8],
        [sh as u8, sw as u8],
        [ph as u8, pw as u8],
        [out.h, out.w],
        values(w.permute([1, 2, 3, 0])),
        bias(&c.bias, oc),
        act(a),
    );
    Ok((layer, out))
}

fn conv_layers(m: &ConvAe, g: &mut Graph) -> Result<(), String> {
    let [h, w, c] = m.input;
    let mut shape = Shape::new(
        u16_of(h, "height")?,
        u16_of(w, "width")?,
        u16_of(c, "channels")?,
    );
    for (cv, pool) in m.enc.iter().zip(&m.pools) {
        let (l, s) = conv(cv, shape, Act::Relu)?;
        g.push(l);
        let pad = pad4(&pool.padding, s, pool.kernel_size);
        let k = [pool.kernel_size[0] as u8, pool.kernel_size[1] as u8];
        let st = [pool.stride[0] as u8, pool.stride[1] as u8];
        g.push(Layer::op(Op::MaxPool2d {
            kernel: k,
            stride: st,
            pad,
        }));
        shape = *g.shapes().map_err(|e| e.to_string())?.last().unwrap_or(&s);
    }
    g.encoder_layers = g.layers.len();
    for stage in &m.dec {
        if let Some(cv) = &stage.conv {
            let (l, s) = conv(cv, shape, Act::Relu)?;
            g.push(l);
            shape = s;
        }
        if let Some(ct) = &stage.conv_t {
            let (l, s) = conv_t(ct, shape, Act::Relu)?;
            g.push(l);
            shape = s;
        }
        if stage.factor > 1 {
            let f = stage.factor as u8;
            g.push(Layer::op(Op::Upsample2d { factor: [f, f] }));
            shape = Shape::new(shape.h * f as u16, shape.w * f as u16, shape.c);
        }
    }
    g.push(conv(&m.out, shape, m.out_act)?.0);
    Ok(())
}

/// Each step of a layer-list model becomes one runtime layer; the decoder's last takes the
/// output activation.
fn layer_list(m: &LayerAe, g: &mut Graph) -> Result<(), String> {
    let mut shape = g.input;
    let last = m.steps.len() - 1;
    for (i, s) in m.steps.iter().enumerate() {
        let a = if i == last { m.out_act } else { s.act };
        let layer = match s.kind {
            StepKind::Conv(j) => conv(&m.convs[j], shape, a)?.0,
            StepKind::ConvTranspose(j) => conv_t(&m.convs_t[j], shape, a)?.0,
            StepKind::MaxPool(j) => {
                let p = &m.pools[j];
                let k = [p.kernel_size[0] as u8, p.kernel_size[1] as u8];
                Layer::op(Op::MaxPool2d {
                    kernel: k,
                    stride: [p.stride[0] as u8, p.stride[1] as u8],
                    pad: pad4(&p.padding, shape, p.kernel_size),
                })
            }
            StepKind::Upsample(f) => Layer::op(Op::Upsample2d {
                factor: [f as u8, f as u8],
            }),
            StepKind::Dense(j) => dense(&m.denses[j], a)?,
            StepKind::Reshape([h, w, c]) => Layer::op(Op::Reshape {
                to: Shape::new(h as u16, w as u16, c as u16),
            }),
            StepKind::Save => Layer::op(Op::Save),
            StepKind::Add => Layer::op(Op::Add),
            StepKind::Concat(c) => Layer::op(Op::Concat {
                channels: u16::try_from(c).map_err(|_| "too many concatenated channels")?,
                saved_first: false,
            }),
        };
        g.push(layer);
        if i + 1 == m.encoder_steps {
            g.encoder_layers = g.layers.len();
        }
        let [h, w, c] = s.out;
        shape = Shape::new(h as u16, w as u16, c as u16);
    }
    Ok(())
}

/// burn's gate controllers (`Linear` weights `[in, out]`) become one LSTM layer: input rows
/// then recurrent rows, each `[4·units]` in the gate order i, f, g, o, biases summed.
fn lstm(l: &Lstm, return_sequences: bool) -> Result<Layer, String> {
    let forget = l
        .forget_gate
        .as_ref()
        .ok_or("an LSTM with a coupled input-forget gate cannot be exported")?;
    if l.clip.is_some() || l.reverse {
        return Err("LSTM cell clipping and reversed LSTMs cannot be exported".into());
    }
    let gates = [&l.input_gate, forget, &l.cell_gate, &l.output_gate];
    let units = l.d_hidden;
    let mut w = Vec::new();
    for part in [0, 1] {
        for gate in gates {
            let lin = if part == 0 {
                &gate.input_transform
            } else {
                &gate.hidden_transform
            };
            w.extend(values(lin.weight.val().transpose()));
        }
    }
    let mut b = vec![0.0; 4 * units];
    for (k, gate) in gates.iter().enumerate() {
        for lin in [&gate.input_transform, &gate.hidden_transform] {
            for (d, v) in b[k * units..][..units]
                .iter_mut()
                .zip(bias(&lin.bias, units))
            {
                *d += v;
            }
        }
    }
    Ok(Layer::lstm(
        u16_of(units, "LSTM size")?,
        return_sequences,
        w,
        b,
    ))
}

/// Encoder LSTM (last hidden state = code) → repeat per step → decoder LSTM (every step) →
/// the per-step output projection as a 1×1 convolution over `steps × 1 × code`.
fn lstm_layers(m: &LstmAe, g: &mut Graph) -> Result<(), String> {
    g.push(lstm(&m.encoder, false)?);
    g.encoder_layers = 1;
    g.push(Layer::op(Op::Repeat {
        times: u16_of(m.steps, "time steps")?,
    }));
    g.push(lstm(&m.decoder, true)?);
    let w = m.output.weight.val();
    let [_, channels] = w.dims();
    let steps = u16_of(m.steps, "time steps")?;
    g.push(Layer::conv2d(
        u16_of(channels, "channel count")?,
        [1, 1],
        [1, 1],
        [0; 4],
        values(w.transpose()),
        bias(&m.output.bias, channels),
        Activation::Identity,
    ));
    // The decoder works on `steps × 1 × channels`, the input may be laid out differently.
    if g.input != Shape::new(steps, 1, u16_of(channels, "channel count")?) {
        g.push(Layer::op(Op::Reshape { to: g.input }));
    }
    Ok(())
}

/// Converts a trained model into the runtime's graph IR, with the dataset's preprocessing and
/// `metric` as the anomaly score ([`Metric::default`], MSE, unless the caller has a reason:
/// the training loss is not necessarily a good score). The VAE's deployed encoder outputs
/// the mean.
pub fn to_graph(
    name: &str,
    model: &AutoEncoder,
    spec: &ModelSpec,
    data: &Dataset,
    metric: Metric,
) -> Result<Graph, String> {
    let [h, w, c] = spec.input;
    let input = Shape::new(
        u16_of(h, "height")?,
        u16_of(w, "width")?,
        u16_of(c, "channels")?,
    );
    let mut g = Graph::new(name, input);
    g.preprocess_scale = data.scale.clone();
    g.preprocess_offset = data.offset.clone();
    g.metric = metric;
    match model {
        AutoEncoder::Dense(m) => {
            g.layers = mlp(&m.encoder)?;
            g.encoder_layers = g.layers.len();
            g.layers.extend(mlp(&m.decoder)?);
        }
        AutoEncoder::Vae(m) => {
            g.layers = mlp(&m.encoder)?;
            g.push(dense(&m.mean, Act::Identity)?);
            g.encoder_layers = g.layers.len();
            g.layers.extend(mlp(&m.decoder)?);
        }
        AutoEncoder::Conv(m) => conv_layers(m, &mut g)?,
        AutoEncoder::Lstm(m) => lstm_layers(m, &mut g)?,
        AutoEncoder::Layers(m) => layer_list(m, &mut g)?,
    }
    if matches!(model, AutoEncoder::Dense(_) | AutoEncoder::Vae(_))
        && (input.h != 1 || input.w != 1)
    {
        g.push(Layer::op(Op::Reshape { to: input }));
    }
    g.output_shape().map_err(|e| e.to_string())?;
    Ok(g)
}
