//! TFLite operators → runtime int8 layers, with TFLite Micro's preparation arithmetic
//! (requantization scales, activation ranges, padding).

use super::reader::{File, Tensor};
use super::schema::tflite as fb;
use super::tables;
use super::{Error, Imported, OpReport};
use crate::boundary::encoder_end;
use aedge_runtime::ir::same_padding;
use aedge_runtime::qgraph::{QGraph, QLayer};
use aedge_runtime::{Activation, Op, Quant, Shape};

/// State of the walk down the chain of operators.
struct Walk<'f, 'a> {
    file: &'f File<'a>,
    /// The tensor the next operator must read.
    current: i32,
    shape: Shape,
    quant: Quant,
    layers: Vec<QLayer>,
}

/// An unsupported or inconsistent operator.
fn unsupported(index: usize, op: fb::BuiltinOperator, reason: impl Into<String>) -> Error {
    Error::Unsupported {
        index,
        op: op_name(op),
        reason: reason.into(),
    }
}

fn op_name(op: fb::BuiltinOperator) -> String {
    op.variant_name()
        .map(str::to_string)
        .unwrap_or_else(|| format!("builtin op {}", op.0))
}

pub(super) fn convert(file: &File, name: &str) -> Result<Imported, Error> {
    let (inputs, outputs) = (file.inputs(), file.outputs());
    let ([input], [output]) = (inputs.as_slice(), outputs.as_slice()) else {
        return Err(Error::Malformed(format!(
            "the model has {} inputs and {} outputs; an autoencoder has one of each",
            inputs.len(),
            outputs.len()
        )));
    };
    let ops = file.operators();
    let in_t = file.tensor(*input)?;
    let mut report = Vec::new();
    let mut first = 0;
    // A float model input is quantized by the first op (TFLite's AffineQuantize rounds
    // x / scale half away from zero and adds the zero point, as `Quant::quantize` does).
    let float_input = in_t.dtype == fb::TensorType::FLOAT32;
    let (mut current, input_quant) = if float_input {
        let q = ops.first().filter(|op| {
            file.opcode(op).ok() == Some(fb::BuiltinOperator::QUANTIZE)
                && op_inputs(op).first() == Some(input)
        });
        let Some(q) = q else {
            return Err(Error::Malformed(
                "the input is float but the first operator is not a QUANTIZE of it".into(),
            ));
        };
        let out = *op_outputs(q)
            .first()
            .ok_or_else(|| Error::Malformed("QUANTIZE has no output".into()))?;
        first = 1;
        report.push(OpReport {
            index: 0,
            op: "QUANTIZE".into(),
            became: "input quantization".into(),
        });
        (out, file.tensor(out)?.quant()?)
    } else {
        (*input, in_t.quant()?)
    };
    let input_shape = file.tensor(current)?.shape()?;
    let mut walk = Walk {
        file,
        current,
        shape: input_shape,
        quant: input_quant,
        layers: Vec::new(),
    };
    let mut float_output = false;
    for (index, op) in ops.iter().enumerate().skip(first) {
        let code = file.opcode(op)?;
        let ins = op_inputs(op);
        let outs = op_outputs(op);
        let data_input = if code == fb::BuiltinOperator::TRANSPOSE_CONV {
            2
        } else {
            0
        };
        if ins.get(data_input) != Some(&walk.current) || outs.len() != 1 {
            return Err(unsupported(
                index,
                code,
                "does not read the previous operator's output; only chains of single-output \
                 operators import",
            ));
        }
        if code == fb::BuiltinOperator::DEQUANTIZE {
            if index + 1 != ops.len() || outs[0] != *output {
                return Err(unsupported(
                    index,
                    code,
                    "DEQUANTIZE is only supported as the last operator",
                ));
            }
            float_output = true;
            current = outs[0];
            report.push(OpReport {
                index,
                op: op_name(code),
                became: "output dequantization".into(),
            });
            break;
        }
        let before = walk.layers.len();
        walk.op(index, code, op, &ins, outs[0])?;
        let became: Vec<&str> = walk.layers[before..].iter().map(|l| l.op.name()).collect();
        report.push(OpReport {
            index,
            op: op_name(code),
            became: became.join(" + "),
        });
        current = walk.current;
    }
    if current != *output {
        return Err(Error::Malformed(
            "the chain of operators does not end at the model's output".into(),
        ));
    }
    let encoder_layers = bottleneck(input_shape, &walk.layers)?;
    let graph = QGraph::chain(name, input_shape, input_quant, encoder_layers, walk.layers);
    Ok(Imported {
        graph,
        float_input,
        float_output,
        ops: report,
    })
}

fn op_inputs(op: &fb::Operator) -> Vec<i32> {
    op.inputs().map(|v| v.iter().collect()).unwrap_or_default()
}

fn op_outputs(op: &fb::Operator) -> Vec<i32> {
    op.outputs().map(|v| v.iter().collect()).unwrap_or_default()
}

/// The encoder split ([`encoder_end`]) from each layer's output length.
fn bottleneck(input: Shape, layers: &[QLayer]) -> Result<usize, Error> {
    let mut shape = input;
    let mut lens = Vec::with_capacity(layers.len());
    for (i, l) in layers.iter().enumerate() {
        shape =
            l.op.output_shape(shape)
                .map_err(|reason| Error::Malformed(format!("layer {i}: {reason}")))?;
        lens.push(shape.len());
    }
    Ok(encoder_end(layers.iter().map(|l| &l.op).zip(lens)))
}

/// What a weighted TFLite operator becomes, before its output quantization is applied.
struct Weighted {
    op: Op,
    /// Natural layout of `op`.
    weights: Vec<i8>,
    /// One per output channel.
    scales: Vec<f32>,
    /// Multipliers from double(input)·double(filter) (per-channel and convolution paths in
    /// TFLM) instead of the f32 product (per-tensor FULLY_CONNECTED).
    double: bool,
    /// Bias tensor index, if any.
    bias: Option<i32>,
    act: fb::ActivationFunctionType,
}

fn no_dilation(index: usize, code: fb::BuiltinOperator, h: i32, w: i32) -> Result<(), Error> {
    if h != 1 || w != 1 {
        return Err(unsupported(
            index,
            code,
            "dilated convolutions do not import",
        ));
    }
    Ok(())
}

/// The clamp TFLite applies for a fused activation, in the output's int8 domain, and how the
/// runtime expresses it.
enum Fused {
    None,
    Relu,
    Clip {
        min: f32,
        max: f32,
        lo: i32,
        hi: i32,
    },
}

fn fused(
    index: usize,
    code: fb::BuiltinOperator,
    f: fb::ActivationFunctionType,
    out: Quant,
) -> Result<Fused, Error> {
    let clip = |min: f32, max: f32| Fused::Clip {
        min,
        max,
        lo: tables::quantized_bound(min, out).max(-128),
        hi: tables::quantized_bound(max, out).min(127),
    };
    Ok(match f {
        fb::ActivationFunctionType::NONE => Fused::None,
        fb::ActivationFunctionType::RELU => Fused::Relu,
        fb::ActivationFunctionType::RELU6 => clip(0.0, 6.0),
        fb::ActivationFunctionType::RELU_N1_TO_1 => clip(-1.0, 1.0),
        other => {
            return Err(unsupported(
                index,
                code,
                format!(
                    "fused activation {} is not supported",
                    other.variant_name().unwrap_or("?")
                ),
            ))
        }
    })
}

/// TFLite's padding for SAME / VALID windows (top, left, bottom, right).
fn padding(p: fb::Padding, input: Shape, kernel: [u8; 2], stride: [u8; 2]) -> [u8; 4] {
    if p == fb::Padding::SAME {
        same_padding(input, kernel, stride)
    } else {
        [0; 4]
    }
}

/// Kernel (or pooling window) and stride sizes, each in 1..=255.
fn window(
    index: usize,
    code: fb::BuiltinOperator,
    kernel: [i32; 2],
    stride: [i32; 2],
) -> Result<([u8; 2], [u8; 2]), Error> {
    let small = |v: i32, what: &str| {
        u8::try_from(v)
            .ok()
            .filter(|&v| v > 0)
            .ok_or_else(|| unsupported(index, code, format!("{what} {v} is not in 1..=255")))
    };
    Ok((
        [small(kernel[0], "window")?, small(kernel[1], "window")?],
        [small(stride[0], "stride")?, small(stride[1], "stride")?],
    ))
}

fn u16_of(index: usize, code: fb::BuiltinOperator, v: usize, what: &str) -> Result<u16, Error> {
    u16::try_from(v)
        .map_err(|_| unsupported(index, code, format!("{what} {v} is larger than 65535")))
}

/// The operator being converted: its position, code, table, inputs and output tensor.
#[derive(Clone, Copy)]
struct Site<'s, 'a> {
    index: usize,
    code: fb::BuiltinOperator,
    op: &'s fb::Operator<'a>,
    ins: &'s [i32],
    out_t: &'s Tensor<'a>,
}

impl<'a> Site<'_, 'a> {
    /// The operator's options of one kind, or an error if they are missing.
    fn options<T>(&self, kind: impl Fn(&fb::Operator<'a>) -> Option<T>) -> Result<T, Error> {
        kind(self.op).ok_or_else(|| unsupported(self.index, self.code, "its options are missing"))
    }

    /// A kernel of `kernel` taps and the operator's stride, as the runtime's sizes.
    fn window(&self, kernel: [usize; 2], stride: [i32; 2]) -> Result<([u8; 2], [u8; 2]), Error> {
        let k = kernel.map(|v| i32::try_from(v).unwrap_or(i32::MAX));
        window(self.index, self.code, k, stride)
    }
}

impl Walk<'_, '_> {
    /// Converts one operator after the first into layers.
    fn op(
        &mut self,
        index: usize,
        code: fb::BuiltinOperator,
        op: &fb::Operator,
        ins: &[i32],
        out: i32,
    ) -> Result<(), Error> {
        let out_t = self.file.tensor(out)?;
        let site = Site {
            index,
            code,
            op,
            ins,
            out_t: &out_t,
        };
        use fb::BuiltinOperator as B;
        match code {
            B::FULLY_CONNECTED => self.fully_connected(&site),
            B::CONV_2D => self.conv2d(&site),
            B::DEPTHWISE_CONV_2D => self.depthwise_conv2d(&site),
            B::TRANSPOSE_CONV => self.transpose_conv(&site),
            B::MAX_POOL_2D | B::AVERAGE_POOL_2D => self.pool(&site),
            B::RESIZE_NEAREST_NEIGHBOR => self.resize_nearest(&site),
            B::RESHAPE | B::SQUEEZE | B::EXPAND_DIMS => self.reshape(&site),
            B::LOGISTIC | B::TANH | B::RELU | B::RELU6 => self.activation_table(&site),
            B::QUANTIZE => Err(unsupported(
                index,
                code,
                "QUANTIZE is only supported as the first operator, on a float input",
            )),
            other => Err(unsupported(
                index,
                other,
                "this op is not supported (autoencoder ops only: FULLY_CONNECTED, CONV_2D, \
                 DEPTHWISE_CONV_2D, TRANSPOSE_CONV, MAX_POOL_2D, AVERAGE_POOL_2D, \
                 RESIZE_NEAREST_NEIGHBOR, RESHAPE, SQUEEZE, LOGISTIC, TANH, RELU, RELU6, \
                 QUANTIZE and DEQUANTIZE)",
            )),
        }
    }

    /// A fully-connected layer.
    fn fully_connected(&mut self, site: &Site) -> Result<(), Error> {
        let (index, code) = (site.index, site.code);
        let o = site.options(|op| op.builtin_options_as_fully_connected_options())?;
        if o.weights_format() != fb::FullyConnectedOptionsWeightsFormat::DEFAULT {
            return Err(unsupported(
                index,
                code,
                "only the default weights format imports",
            ));
        }
        let w = self.file.tensor(operand(site.ins, 1, index, code)?)?;
        let units = match w.dims.as_slice() {
            [u, k] if *u > 0 && *k as usize == self.shape.len() => *u as usize,
            _ => {
                return Err(unsupported(
                    index,
                    code,
                    format!(
                        "weights {:?} do not match an input of {} values",
                        w.dims,
                        self.shape.len()
                    ),
                ))
            }
        };
        let units16 = u16_of(index, code, units, "units")?;
        let (weights, scales) = w.weights(0, units)?;
        // TFLM: per-channel scales in double; a single scale as the f32 product of
        // the input and filter scales (GetQuantizedConvolutionMultipler).
        let per_channel = w.scales.len() > 1;
        let spec = Weighted {
            op: Op::Dense { units: units16 },
            weights,
            scales,
            double: per_channel,
            bias: site.ins.get(2).copied(),
            act: o.fused_activation_function(),
        };
        self.weighted(index, code, spec, site.out_t)
    }

    /// A 2-D convolution.
    fn conv2d(&mut self, site: &Site) -> Result<(), Error> {
        let (index, code) = (site.index, site.code);
        let o = site.options(|op| op.builtin_options_as_conv_2_doptions())?;
        no_dilation(index, code, o.dilation_h_factor(), o.dilation_w_factor())?;
        let w = self.file.tensor(operand(site.ins, 1, index, code)?)?;
        let [oc, kh, kw, ic] = dims4(&w, index, code)?;
        self.input_channels(index, code, ic)?;
        let (kernel, stride) = site.window([kh, kw], [o.stride_h(), o.stride_w()])?;
        let weights = w.weights(0, oc)?;
        let op = Op::Conv2d {
            out_c: u16_of(index, code, oc, "channels")?,
            kernel,
            stride,
            pad: padding(o.padding(), self.shape, kernel, stride),
        };
        self.convolution(site, op, weights, 2, o.fused_activation_function())
    }

    /// A depthwise convolution (weights reordered to the runtime's layout).
    fn depthwise_conv2d(&mut self, site: &Site) -> Result<(), Error> {
        let (index, code) = (site.index, site.code);
        let o = site.options(|op| op.builtin_options_as_depthwise_conv_2_doptions())?;
        no_dilation(index, code, o.dilation_h_factor(), o.dilation_w_factor())?;
        let w = self.file.tensor(operand(site.ins, 1, index, code)?)?;
        let [one, kh, kw, oc] = dims4(&w, index, code)?;
        let ic = self.shape.c as usize;
        if one != 1 || oc % ic != 0 {
            return Err(unsupported(
                index,
                code,
                format!("filter {:?} does not fit {ic} input channels", w.dims),
            ));
        }
        let multiplier = u8::try_from(oc / ic)
            .map_err(|_| unsupported(index, code, "depth multiplier above 255"))?;
        let (kernel, stride) = site.window([kh, kw], [o.stride_h(), o.stride_w()])?;
        let (dw, scales) = w.weights(3, oc)?;
        // TFLite's [1][kh][kw][out_c] as the runtime's [out_c][kh][kw].
        let mut weights = vec![0i8; dw.len()];
        for o_c in 0..oc {
            for t in 0..kh * kw {
                weights[o_c * kh * kw + t] = dw[t * oc + o_c];
            }
        }
        let op = Op::DepthwiseConv2d {
            multiplier,
            kernel,
            stride,
            pad: padding(o.padding(), self.shape, kernel, stride),
        };
        self.convolution(
            site,
            op,
            (weights, scales),
            2,
            o.fused_activation_function(),
        )
    }

    /// A transposed convolution, padded as TFLM pads it.
    fn transpose_conv(&mut self, site: &Site) -> Result<(), Error> {
        let (index, code) = (site.index, site.code);
        let o = site.options(|op| op.builtin_options_as_transpose_conv_options())?;
        let w = self.file.tensor(operand(site.ins, 1, index, code)?)?;
        let [oc, kh, kw, ic] = dims4(&w, index, code)?;
        self.input_channels(index, code, ic)?;
        let out_shape = site.out_t.shape()?;
        let (kernel, stride) = site.window([kh, kw], [o.stride_h(), o.stride_w()])?;
        // TFLM pads as for a convolution from the output to the input; only the
        // top / left amounts are used (out = in·stride - pad + k).
        let pad = if o.padding() == fb::Padding::SAME {
            let p = same_padding(out_shape, kernel, stride);
            [p[0], p[1]]
        } else {
            let total = |o_len: u16, k: u8, s: u8| {
                let n = (o_len as usize).saturating_sub(k as usize) / s as usize + 1;
                (((n - 1) * s as usize + k as usize).saturating_sub(o_len as usize) / 2) as u8
            };
            [
                total(out_shape.h, kernel[0], stride[0]),
                total(out_shape.w, kernel[1], stride[1]),
            ]
        };
        let weights = w.weights(0, oc)?;
        let op = Op::ConvTranspose2d {
            out_c: u16_of(index, code, oc, "channels")?,
            kernel,
            stride,
            pad,
            out: [out_shape.h, out_shape.w],
        };
        self.convolution(site, op, weights, 3, o.fused_activation_function())
    }

    /// Max or average pooling, with its fused activation as a clamp layer.
    fn pool(&mut self, site: &Site) -> Result<(), Error> {
        let (index, code) = (site.index, site.code);
        use fb::BuiltinOperator as B;
        let o = site.options(|op| op.builtin_options_as_pool_2_doptions())?;
        self.same_quant(index, code, site.out_t)?;
        let (kernel, stride) = window(
            index,
            code,
            [o.filter_height(), o.filter_width()],
            [o.stride_h(), o.stride_w()],
        )?;
        let pad = padding(o.padding(), self.shape, kernel, stride);
        let op = if code == B::MAX_POOL_2D {
            Op::MaxPool2d {
                kernel,
                stride,
                pad,
            }
        } else {
            Op::AvgPool2d {
                kernel,
                stride,
                pad,
            }
        };
        self.push(index, code, QLayer::plain(op, self.quant), site.out_t)?;
        match fused(index, code, o.fused_activation_function(), self.quant)? {
            Fused::None => Ok(()),
            Fused::Relu => {
                let lo = tables::quantized_bound(0.0, self.quant).max(-128);
                self.clamp_layer(Activation::Relu, lo, 127)
            }
            Fused::Clip { min, max, lo, hi } => {
                self.clamp_layer(Activation::Clip { min, max }, lo, hi)
            }
        }
    }

    /// Nearest-neighbour resizing, if it is a whole-number upsampling.
    fn resize_nearest(&mut self, site: &Site) -> Result<(), Error> {
        let (index, code) = (site.index, site.code);
        let o = site.options(|op| op.builtin_options_as_resize_nearest_neighbor_options())?;
        self.same_quant(index, code, site.out_t)?;
        let out_shape = site.out_t.shape()?;
        let f = |i: u16, o_len: u16| -> Option<u8> {
            let f = o_len.is_multiple_of(i).then(|| o_len / i)?;
            // TFLite's index mapping, evaluated as it does in f32; it must be the
            // runtime's o / f for every output row / column.
            let scale = if o.align_corners() && o_len > 1 {
                (i - 1) as f32 / (o_len - 1) as f32
            } else {
                i as f32 / o_len as f32
            };
            let offset = if o.half_pixel_centers() { 0.5 } else { 0.0 };
            let exact = (0..o_len).all(|y| {
                let v = (y as f32 + offset) * scale;
                let src = if o.align_corners() {
                    v.round()
                } else {
                    v.floor()
                };
                (src as i32).clamp(0, i as i32 - 1) == (y / f) as i32
            });
            exact.then_some(f).and_then(|f| u8::try_from(f).ok())
        };
        match (f(self.shape.h, out_shape.h), f(self.shape.w, out_shape.w)) {
            (Some(fh), Some(fw)) if out_shape.c == self.shape.c => {
                let op = Op::Upsample2d { factor: [fh, fw] };
                self.push(index, code, QLayer::plain(op, self.quant), site.out_t)
            }
            _ => Err(unsupported(
                index,
                code,
                format!(
                    "resizing {}×{} to {}×{} is not a whole-number nearest-neighbour upsampling",
                    self.shape.h, self.shape.w, out_shape.h, out_shape.w
                ),
            )),
        }
    }

    /// A reshape (RESHAPE, SQUEEZE, EXPAND_DIMS).
    fn reshape(&mut self, site: &Site) -> Result<(), Error> {
        let (index, code) = (site.index, site.code);
        self.same_quant(index, code, site.out_t)?;
        let to = site.out_t.shape()?;
        self.push(
            index,
            code,
            QLayer::plain(Op::Reshape { to }, self.quant),
            site.out_t,
        )
    }

    /// LOGISTIC, TANH, RELU or RELU6 as a 256-entry table.
    fn activation_table(&mut self, site: &Site) -> Result<(), Error> {
        use fb::BuiltinOperator as B;
        let (index, code) = (site.index, site.code);
        let q = site.out_t.quant()?;
        let (act, table) = match code {
            B::LOGISTIC if q.zero_point != -128 => {
                return Err(unsupported(
                    index,
                    code,
                    "int8 LOGISTIC needs output zero point -128 (TFLite's fixed 1/256 scale)",
                ))
            }
            B::LOGISTIC => (Activation::Sigmoid, tables::logistic_table(self.quant)),
            B::TANH => (Activation::Tanh, tables::tanh_table(self.quant)),
            B::RELU => (Activation::Relu, tables::relu_table(self.quant, q)),
            _ => {
                // RELU6: TFLM clamps the input codes to [zero point, quantized 6] and writes
                // them as they are, whatever the output tensor's quantization says;
                // FloatToQuantizedType saturates to the int8 range.
                let lo = self.quant.zero_point as i32;
                let hi = tables::quantized_bound(6.0, self.quant).clamp(-128, 127);
                let act = Activation::Clip { min: 0.0, max: 6.0 };
                (act, tables::clamp_table(lo, hi))
            }
        };
        let l = QLayer::table(act, self.quant, q, table);
        self.push(index, code, l, site.out_t)
    }

    /// A convolution-like layer: weights per output channel with their scales (TFLM takes
    /// them in double), the bias read from input `bias_input`, and the fused activation.
    fn convolution(
        &mut self,
        site: &Site,
        op: Op,
        (weights, scales): (Vec<i8>, Vec<f32>),
        bias_input: usize,
        act: fb::ActivationFunctionType,
    ) -> Result<(), Error> {
        let spec = Weighted {
            op,
            weights,
            scales,
            double: true,
            bias: site.ins.get(bias_input).copied(),
            act,
        };
        self.weighted(site.index, site.code, spec, site.out_t)
    }

    /// A dense, convolution or transposed-convolution layer.
    fn weighted(
        &mut self,
        index: usize,
        code: fb::BuiltinOperator,
        spec: Weighted,
        out_t: &Tensor,
    ) -> Result<(), Error> {
        let Weighted {
            op,
            weights,
            scales,
            double: per_channel_double,
            bias,
            act,
        } = spec;
        let out = out_t.quant()?;
        let oc = scales.len();
        let bias = match bias.filter(|&b| b >= 0) {
            Some(b) => {
                let t = self.file.tensor(b)?;
                let v = t.int32s()?;
                if v.len() != oc {
                    return Err(unsupported(
                        index,
                        code,
                        format!("{} has {} values for {oc} channels", t.label(), v.len()),
                    ));
                }
                v
            }
            None => vec![0; oc],
        };
        let (in_s, out_s) = (self.quant.scale, out.scale);
        let requant = scales
            .iter()
            .map(|&ws| {
                if per_channel_double {
                    in_s as f64 * ws as f64 / out_s as f64
                } else {
                    (in_s * ws) as f64 / out_s as f64
                }
            })
            .collect();
        let (act, lut) = match fused(index, code, act, out)? {
            Fused::None => (Activation::Identity, None),
            // The runtime clamps ReLU at the output zero point, as TFLite does
            // (max(-128, zero_point + round(0 / scale))).
            Fused::Relu => (Activation::Relu, None),
            Fused::Clip { min, max, lo, hi } => (
                Activation::Clip { min, max },
                Some(tables::clamp_table(lo, hi)),
            ),
        };
        let layer = QLayer {
            op,
            act,
            weights,
            bias,
            requant,
            pre: out,
            output: out,
            lut,
        };
        self.push(index, code, layer, out_t)
    }

    /// A stand-alone clamp to `[lo, hi]` that keeps the current quantization.
    fn clamp_layer(&mut self, act: Activation, lo: i32, hi: i32) -> Result<(), Error> {
        let l = QLayer::table(act, self.quant, self.quant, tables::clamp_table(lo, hi));
        self.layers.push(l);
        Ok(())
    }

    /// Appends a layer after checking that its output shape is the TFLite tensor's.
    fn push(
        &mut self,
        index: usize,
        code: fb::BuiltinOperator,
        l: QLayer,
        out_t: &Tensor,
    ) -> Result<(), Error> {
        let shape =
            l.op.output_shape(self.shape)
                .map_err(|reason| unsupported(index, code, reason))?;
        let want = out_t.shape()?;
        if shape.len() != want.len() || (shape.c != want.c && !matches!(l.op, Op::Dense { .. })) {
            return Err(unsupported(
                index,
                code,
                format!(
                    "computes {}×{}×{} but the file says {:?}",
                    shape.h, shape.w, shape.c, out_t.dims
                ),
            ));
        }
        self.quant = l.output;
        self.shape = shape;
        self.current = out_t.index as i32;
        self.layers.push(l);
        Ok(())
    }

    /// A filter's input channels must be the current tensor's.
    fn input_channels(
        &self,
        index: usize,
        code: fb::BuiltinOperator,
        ic: usize,
    ) -> Result<(), Error> {
        if ic != self.shape.c as usize {
            return Err(unsupported(
                index,
                code,
                format!("filter has {ic} input channels, the input {}", self.shape.c),
            ));
        }
        Ok(())
    }

    fn same_quant(
        &self,
        index: usize,
        code: fb::BuiltinOperator,
        out_t: &Tensor,
    ) -> Result<(), Error> {
        if out_t.quant()? != self.quant {
            return Err(unsupported(
                index,
                code,
                "input and output quantization differ (TFLM requires them equal here)",
            ));
        }
        Ok(())
    }
}

/// Input `k` of an operator (weights, bias), or an error if the file lists too few.
fn operand(ins: &[i32], k: usize, index: usize, code: fb::BuiltinOperator) -> Result<i32, Error> {
    ins.get(k).copied().ok_or_else(|| {
        unsupported(
            index,
            code,
            format!("has {} inputs; input {k} is missing", ins.len()),
        )
    })
}

fn dims4(t: &Tensor, index: usize, code: fb::BuiltinOperator) -> Result<[usize; 4], Error> {
    match t.dims.as_slice() {
        &[a, b, c, d] if a > 0 && b > 0 && c > 0 && d > 0 => {
            Ok([a as usize, b as usize, c as usize, d as usize])
        }
        _ => Err(unsupported(
            index,
            code,
            format!("{} must be a 4-D filter", t.label()),
        )),
    }
}
