//! IR → ONNX (opset 13), written through `tract_onnx::pb` (ONNX's protobuf types, prost).
//!
//! ONNX tensors are NCHW, the runtime's are HWC: images enter as `[N, C, H, W]`, vectors as
//! `[N, n]`, and the exporter inserts the transposes a flatten or reshape needs so the
//! numbers match the runtime's exactly. Inputs are in model units (after preprocessing); the
//! preprocessing, metric and threshold travel in `metadata_props`.

use aedge_runtime::ir::{Graph, Layer};
use aedge_runtime::{Activation, Op, Shape};
use prost::Message;
use tract_onnx::pb::{
    attribute_proto::AttributeType, tensor_proto::DataType, tensor_shape_proto::dimension,
    type_proto, AttributeProto, GraphProto, ModelProto, NodeProto, OperatorSetIdProto,
    StringStringEntryProto, TensorProto, TensorShapeProto, TypeProto, ValueInfoProto,
};

/// ONNX opset the exporter targets.
pub const OPSET: i64 = 13;

/// Which part of the autoencoder to export.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Part {
    /// input → reconstruction.
    Whole,
    /// input → latent code.
    Encoder,
    /// latent code → reconstruction.
    Decoder,
}

/// The current value in the graph being built: its name and whether it is NCHW (4-D) or
/// `[N, n]` (2-D).
#[derive(Clone)]
struct Cursor {
    name: String,
    shape: Shape,
    four_d: bool,
}

fn is_image(s: Shape) -> bool {
    s.h != 1 || s.w != 1
}

struct Builder {
    nodes: Vec<NodeProto>,
    inits: Vec<TensorProto>,
    count: usize,
    /// Values kept by `Save` layers for a later `Add` or `Concat`, most recent last.
    saved: Vec<Cursor>,
}

fn attr_ints(name: &str, v: &[i64]) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        r#type: AttributeType::Ints as i32,
        ints: v.to_vec(),
        ..Default::default()
    }
}

/// `kernel_shape`, `strides` and `pads` (top, left, bottom, right) of a windowed op.
fn window_attrs(kernel: [u8; 2], stride: [u8; 2], pads: [i64; 4]) -> Vec<AttributeProto> {
    vec![
        attr_ints("kernel_shape", &[kernel[0] as i64, kernel[1] as i64]),
        attr_ints("strides", &[stride[0] as i64, stride[1] as i64]),
        attr_ints("pads", &pads),
    ]
}

fn attr_int(name: &str, v: i64) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        r#type: AttributeType::Int as i32,
        i: v,
        ..Default::default()
    }
}

fn attr_float(name: &str, v: f32) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        r#type: AttributeType::Float as i32,
        f: v,
        ..Default::default()
    }
}

fn attr_str(name: &str, v: &str) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        r#type: AttributeType::String as i32,
        s: v.as_bytes().to_vec(),
        ..Default::default()
    }
}

fn value_info(name: &str, dims: &[i64]) -> ValueInfoProto {
    let dim = dims
        .iter()
        .map(|&d| tract_onnx::pb::tensor_shape_proto::Dimension {
            value: Some(if d < 0 {
                dimension::Value::DimParam("N".into())
            } else {
                dimension::Value::DimValue(d)
            }),
            ..Default::default()
        })
        .collect();
    ValueInfoProto {
        name: name.into(),
        r#type: Some(TypeProto {
            value: Some(type_proto::Value::TensorType(type_proto::Tensor {
                elem_type: DataType::Float as i32,
                shape: Some(TensorShapeProto { dim }),
            })),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn dims_of(s: Shape) -> Vec<i64> {
    if is_image(s) {
        vec![-1, s.c as i64, s.h as i64, s.w as i64]
    } else {
        vec![-1, s.len() as i64]
    }
}

impl Builder {
    fn fresh(&mut self, stem: &str) -> String {
        self.count += 1;
        format!("{stem}_{}", self.count)
    }

    fn node(&mut self, op: &str, inputs: &[&str], attrs: Vec<AttributeProto>) -> String {
        let out = self.fresh(&op.to_ascii_lowercase());
        self.nodes.push(NodeProto {
            op_type: op.into(),
            name: format!("{op}_{}", self.count),
            input: inputs.iter().map(|s| s.to_string()).collect(),
            output: vec![out.clone()],
            attribute: attrs,
            ..Default::default()
        });
        out
    }

    fn init_f32(&mut self, stem: &str, dims: &[i64], data: Vec<f32>) -> String {
        let name = self.fresh(stem);
        let raw = data.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.inits.push(TensorProto {
            name: name.clone(),
            dims: dims.to_vec(),
            data_type: DataType::Float as i32,
            raw_data: raw,
            ..Default::default()
        });
        name
    }

    fn init_i64(&mut self, stem: &str, data: &[i64]) -> String {
        let name = self.fresh(stem);
        let raw = data.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.inits.push(TensorProto {
            name: name.clone(),
            dims: vec![data.len() as i64],
            data_type: DataType::Int64 as i32,
            raw_data: raw,
            ..Default::default()
        });
        name
    }

    /// The current value as `[N, n]` in HWC order.
    fn flat_hwc(&mut self, c: &Cursor) -> String {
        if !c.four_d {
            return c.name.clone();
        }
        let t = self.node(
            "Transpose",
            &[&c.name],
            vec![attr_ints("perm", &[0, 2, 3, 1])],
        );
        self.node("Flatten", &[&t], vec![attr_int("axis", 1)])
    }

    /// A `[N, n]` HWC value as NCHW of `shape` (or left flat for a vector shape).
    fn unflatten(&mut self, flat: &str, shape: Shape) -> Cursor {
        if !is_image(shape) {
            return Cursor {
                name: flat.into(),
                shape,
                four_d: false,
            };
        }
        let target = self.init_i64(
            "shape",
            &[-1, shape.h as i64, shape.w as i64, shape.c as i64],
        );
        let r = self.node("Reshape", &[flat, &target], vec![]);
        let t = self.node("Transpose", &[&r], vec![attr_ints("perm", &[0, 3, 1, 2])]);
        Cursor {
            name: t,
            shape,
            four_d: true,
        }
    }

    fn activation(&mut self, x: String, a: Activation) -> String {
        match a {
            Activation::Identity => x,
            Activation::Relu => self.node("Relu", &[&x], vec![]),
            Activation::LeakyRelu { alpha } => {
                self.node("LeakyRelu", &[&x], vec![attr_float("alpha", alpha)])
            }
            Activation::Sigmoid => self.node("Sigmoid", &[&x], vec![]),
            Activation::Tanh => self.node("Tanh", &[&x], vec![]),
            Activation::Clip { min, max } => {
                let lo = self.init_f32("clip_min", &[], vec![min]);
                let hi = self.init_f32("clip_max", &[], vec![max]);
                self.node("Clip", &[&x, &lo, &hi], vec![])
            }
        }
    }

    /// Runtime weights `[out][kh][kw][in]` as ONNX `[out][in][kh][kw]` (or `[in][out][kh][kw]`
    /// for ConvTranspose when `transpose`).
    fn conv_weights(
        w: &[f32],
        oc: usize,
        kh: usize,
        kw: usize,
        ic: usize,
        transpose: bool,
    ) -> Vec<f32> {
        let mut out = vec![0.0; w.len()];
        for o in 0..oc {
            for y in 0..kh {
                for x in 0..kw {
                    for i in 0..ic {
                        let v = w[((o * kh + y) * kw + x) * ic + i];
                        let at = if transpose {
                            ((i * oc + o) * kh + y) * kw + x
                        } else {
                            ((o * ic + i) * kh + y) * kw + x
                        };
                        out[at] = v;
                    }
                }
            }
        }
        out
    }

    /// The current value and the last saved one in the same layout, for `Add` (ONNX's
    /// broadcasting sum) and `Concat` (on the channel axis, 1 in both layouts).
    fn join(
        &mut self,
        op: &str,
        c: Cursor,
        out: Shape,
        saved_first: bool,
    ) -> Result<Cursor, String> {
        let saved = self
            .saved
            .pop()
            .ok_or("an Add or Concat layer without an earlier Save")?;
        let image = is_image(out);
        let (x, s) = if image {
            (self.nchw(c), self.nchw(saved))
        } else {
            (self.flat_hwc(&c), self.flat_hwc(&saved))
        };
        let attrs = if op == "Concat" {
            vec![attr_int("axis", 1)]
        } else {
            vec![]
        };
        let inputs = if saved_first { [&s, &x] } else { [&x, &s] };
        Ok(Cursor {
            name: self.node(op, &[inputs[0], inputs[1]], attrs),
            shape: out,
            four_d: image,
        })
    }

    fn layer(&mut self, l: &Layer, c: Cursor, out: Shape) -> Result<Cursor, String> {
        let image_in = c.shape;
        Ok(match l.op {
            Op::Save => {
                self.saved.push(c.clone());
                c
            }
            Op::Add => self.join("Add", c, out, false)?,
            Op::Concat { saved_first, .. } => self.join("Concat", c, out, saved_first)?,
            Op::Dense { units } => {
                let x = self.flat_hwc(&c);
                let w = self.init_f32(
                    "weight",
                    &[units as i64, image_in.len() as i64],
                    l.weights.clone(),
                );
                let b = self.init_f32("bias", &[units as i64], l.bias.clone());
                let y = self.node("Gemm", &[&x, &w, &b], vec![attr_int("transB", 1)]);
                Cursor {
                    name: self.activation(y, l.act),
                    shape: out,
                    four_d: false,
                }
            }
            Op::Conv2d {
                out_c,
                kernel,
                stride,
                pad,
            } => {
                let x = self.nchw(c);
                let (kh, kw, ic) = (kernel[0] as usize, kernel[1] as usize, image_in.c as usize);
                let wv = Self::conv_weights(&l.weights, out_c as usize, kh, kw, ic, false);
                let w = self.init_f32(
                    "weight",
                    &[out_c as i64, ic as i64, kh as i64, kw as i64],
                    wv,
                );
                let b = self.init_f32("bias", &[out_c as i64], l.bias.clone());
                let pads = [pad[0] as i64, pad[1] as i64, pad[2] as i64, pad[3] as i64];
                let y = self.node("Conv", &[&x, &w, &b], window_attrs(kernel, stride, pads));
                Cursor {
                    name: self.activation(y, l.act),
                    shape: out,
                    four_d: true,
                }
            }
            Op::DepthwiseConv2d {
                multiplier,
                kernel,
                stride,
                pad,
            } => {
                let x = self.nchw(c);
                let oc = image_in.c as i64 * multiplier as i64;
                // [out_c][kh][kw] is ONNX's [out_c][1][kh][kw] for group = in_c.
                let w = self.init_f32(
                    "weight",
                    &[oc, 1, kernel[0] as i64, kernel[1] as i64],
                    l.weights.clone(),
                );
                let b = self.init_f32("bias", &[oc], l.bias.clone());
                let pads = [pad[0] as i64, pad[1] as i64, pad[2] as i64, pad[3] as i64];
                let mut attrs = window_attrs(kernel, stride, pads);
                attrs.push(attr_int("group", image_in.c as i64));
                let y = self.node("Conv", &[&x, &w, &b], attrs);
                Cursor {
                    name: self.activation(y, l.act),
                    shape: out,
                    four_d: true,
                }
            }
            Op::ConvTranspose2d {
                out_c,
                kernel,
                stride,
                pad,
                out: size,
            } => {
                let x = self.nchw(c);
                let (kh, kw, ic) = (kernel[0] as usize, kernel[1] as usize, image_in.c as usize);
                let wv = Self::conv_weights(&l.weights, out_c as usize, kh, kw, ic, true);
                let w = self.init_f32(
                    "weight",
                    &[ic as i64, out_c as i64, kh as i64, kw as i64],
                    wv,
                );
                let b = self.init_f32("bias", &[out_c as i64], l.bias.clone());
                // full = (in - 1) * s + k; out = full - pad_begin - pad_end + output_padding
                let full = |n: u16, s: u8, k: u8| (n as i64 - 1) * s as i64 + k as i64;
                let end_h = full(image_in.h, stride[0], kernel[0]) - pad[0] as i64 - size[0] as i64;
                let end_w = full(image_in.w, stride[1], kernel[1]) - pad[1] as i64 - size[1] as i64;
                // Prefer PyTorch's form (symmetric pads plus output_padding below the stride),
                // which more consumers accept than asymmetric pads.
                let split = |begin: i64, end: i64, s: u8| -> (i64, i64) {
                    let extra = begin - end;
                    if (0..s as i64).contains(&extra) {
                        (begin, extra)
                    } else {
                        (end.max(0), (-end).max(0))
                    }
                };
                let (eh, oph) = split(pad[0] as i64, end_h, stride[0]);
                let (ew, opw) = split(pad[1] as i64, end_w, stride[1]);
                let pads = [pad[0] as i64, pad[1] as i64, eh, ew];
                let op = [oph, opw];
                let y = self.node("ConvTranspose", &[&x, &w, &b], {
                    let mut a = window_attrs(kernel, stride, pads);
                    a.push(attr_ints("output_padding", &op));
                    a
                });
                Cursor {
                    name: self.activation(y, l.act),
                    shape: out,
                    four_d: true,
                }
            }
            Op::MaxPool2d {
                kernel,
                stride,
                pad,
            } => {
                let x = self.nchw(c);
                let pads = [pad[0] as i64, pad[1] as i64, pad[2] as i64, pad[3] as i64];
                let y = self.node("MaxPool", &[&x], window_attrs(kernel, stride, pads));
                Cursor {
                    name: y,
                    shape: out,
                    four_d: true,
                }
            }
            Op::AvgPool2d {
                kernel,
                stride,
                pad,
            } => {
                let x = self.nchw(c);
                let pads = [pad[0] as i64, pad[1] as i64, pad[2] as i64, pad[3] as i64];
                // The runtime averages over the valid part of a window only.
                let mut attrs = window_attrs(kernel, stride, pads);
                attrs.push(attr_int("count_include_pad", 0));
                let y = self.node("AveragePool", &[&x], attrs);
                Cursor {
                    name: y,
                    shape: out,
                    four_d: true,
                }
            }
            Op::Upsample2d { factor } => {
                let x = self.nchw(c);
                let scales = self.init_f32(
                    "scales",
                    &[4],
                    vec![1.0, 1.0, factor[0] as f32, factor[1] as f32],
                );
                let y = self.node(
                    "Resize",
                    &[&x, "", &scales],
                    vec![
                        attr_str("mode", "nearest"),
                        attr_str("coordinate_transformation_mode", "asymmetric"),
                        attr_str("nearest_mode", "floor"),
                    ],
                );
                Cursor {
                    name: y,
                    shape: out,
                    four_d: true,
                }
            }
            Op::Reshape { to } => {
                let flat = self.flat_hwc(&c);
                self.unflatten(&flat, to)
            }
            Op::Lstm {
                units,
                return_sequences,
            } => self.lstm(l, c, out, units as usize, return_sequences),
            Op::Repeat { times } => {
                // Copies back to back along the flat HWC vector: Tile [1, times].
                let x = self.flat_hwc(&c);
                let reps = self.init_i64("repeats", &[1, times as i64]);
                let y = self.node("Tile", &[&x, &reps], vec![]);
                self.unflatten(&y, out)
            }
            Op::Activation => {
                let four_d = c.four_d;
                let y = self.activation(c.name, l.act);
                Cursor {
                    name: y,
                    shape: out,
                    four_d,
                }
            }
        })
    }

    /// ONNX LSTM (gate order i, o, f, c; `X` as `[steps, N, features]`) from the runtime's
    /// layout (gate order i, f, g, o; steps taken from the HWC sequence).
    fn lstm(&mut self, l: &Layer, c: Cursor, out: Shape, u: usize, sequences: bool) -> Cursor {
        let (input, n) = (c.shape, c.shape.c as usize);
        let steps = input.len() / n;
        let flat = self.flat_hwc(&c);
        let shape = self.init_i64("shape", &[-1, steps as i64, n as i64]);
        let seq = self.node("Reshape", &[&flat, &shape], vec![]);
        let x = self.node("Transpose", &[&seq], vec![attr_ints("perm", &[1, 0, 2])]);
        // Runtime gate k → ONNX position: i→0, f→2, g→3, o→1.
        const POS: [usize; 4] = [0, 2, 3, 1];
        let (wx, wh) = l.weights.split_at(4 * u * n);
        let reorder = |w: &[f32], cols: usize| -> Vec<f32> {
            let mut o = vec![0.0; w.len()];
            for (k, &p) in POS.iter().enumerate() {
                o[p * u * cols..][..u * cols].copy_from_slice(&w[k * u * cols..][..u * cols]);
            }
            o
        };
        let w = self.init_f32("W", &[1, 4 * u as i64, n as i64], reorder(wx, n));
        let r = self.init_f32("R", &[1, 4 * u as i64, u as i64], reorder(wh, u));
        let mut bias = reorder(&l.bias, 1);
        bias.resize(8 * u, 0.0); // the recurrent bias is folded into the input bias
        let b = self.init_f32("B", &[1, 8 * u as i64], bias);
        let (y, y_h) = (self.fresh("lstm_y"), self.fresh("lstm_h"));
        self.nodes.push(NodeProto {
            op_type: "LSTM".into(),
            name: format!("LSTM_{}", self.count),
            input: vec![x, w, r, b],
            output: vec![y.clone(), y_h.clone()],
            attribute: vec![attr_int("hidden_size", u as i64)],
            ..Default::default()
        });
        if !sequences {
            // Y_h is [1, N, u].
            let shape = self.init_i64("shape", &[-1, u as i64]);
            let h = self.node("Reshape", &[&y_h, &shape], vec![]);
            return Cursor {
                name: h,
                shape: out,
                four_d: false,
            };
        }
        // Y is [steps, 1, N, u] → [N, steps·u] in HWC order.
        let shape = self.init_i64("shape", &[steps as i64, -1, u as i64]);
        let ys = self.node("Reshape", &[&y, &shape], vec![]);
        let t = self.node("Transpose", &[&ys], vec![attr_ints("perm", &[1, 0, 2])]);
        let flat = self.node("Flatten", &[&t], vec![attr_int("axis", 1)]);
        self.unflatten(&flat, out)
    }

    /// The current value as NCHW.
    fn nchw(&mut self, c: Cursor) -> String {
        if c.four_d {
            return c.name;
        }
        let s = c.shape;
        let target = self.init_i64("shape", &[-1, s.h as i64, s.w as i64, s.c as i64]);
        let r = self.node("Reshape", &[&c.name, &target], vec![]);
        self.node("Transpose", &[&r], vec![attr_ints("perm", &[0, 3, 1, 2])])
    }
}

/// Writes one part of `graph` as an ONNX model.
pub fn to_onnx(graph: &Graph, part: Part) -> Result<Vec<u8>, String> {
    let shapes = graph.shapes().map_err(|e| e.to_string())?;
    let split = graph.encoder_layers.min(graph.layers.len());
    let (range, input) = match part {
        Part::Whole => (0..graph.layers.len(), graph.input),
        Part::Encoder => (0..split, graph.input),
        Part::Decoder => (
            split..graph.layers.len(),
            if split == 0 {
                graph.input
            } else {
                shapes[split - 1]
            },
        ),
    };
    if part == Part::Decoder && graph.skips_cross_code() {
        return Err(
            "the model's skip connections cross the code, so its decoder has no ONNX graph of its own; export the whole model"
                .into(),
        );
    }
    let mut b = Builder {
        nodes: Vec::new(),
        inits: Vec::new(),
        count: 0,
        saved: Vec::new(),
    };
    let (in_name, out_name) = match part {
        Part::Whole => ("input", "reconstruction"),
        Part::Encoder => ("input", "latent"),
        Part::Decoder => ("latent", "reconstruction"),
    };
    let mut c = Cursor {
        name: in_name.into(),
        shape: input,
        four_d: is_image(input),
    };
    for i in range {
        c = b
            .layer(&graph.layers[i], c, shapes[i])
            .map_err(|e| format!("layer {i}: {e}"))?;
    }
    // The output keeps the convention of its shape: NCHW for images, [N, n] for vectors.
    let final_shape = c.shape;
    let y = if c.four_d == is_image(final_shape) {
        c.name
    } else if c.four_d {
        b.flat_hwc(&c)
    } else {
        b.nchw(c)
    };
    b.nodes.push(NodeProto {
        op_type: "Identity".into(),
        name: "output".into(),
        input: vec![y],
        output: vec![out_name.into()],
        ..Default::default()
    });
    let meta = |k: &str, v: String| StringStringEntryProto {
        key: k.into(),
        value: v,
    };
    let model = ModelProto {
        ir_version: 8,
        producer_name: "aedge".into(),
        producer_version: env!("CARGO_PKG_VERSION").into(),
        opset_import: vec![OperatorSetIdProto {
            domain: String::new(),
            version: OPSET,
        }],
        metadata_props: vec![
            meta(
                "aedge.preprocess_scale",
                format!("{:?}", graph.preprocess_scale),
            ),
            meta(
                "aedge.preprocess_offset",
                format!("{:?}", graph.preprocess_offset),
            ),
            meta("aedge.metric", graph.metric.to_string()),
            meta("aedge.threshold", graph.threshold.to_string()),
            meta("aedge.layout", "inputs in model units; images NCHW".into()),
        ],
        graph: Some(GraphProto {
            name: format!("{}-{part:?}", graph.name).to_lowercase(),
            node: b.nodes,
            initializer: b.inits,
            input: vec![value_info(in_name, &dims_of(input))],
            output: vec![value_info(out_name, &dims_of(final_shape))],
            ..Default::default()
        }),
        ..Default::default()
    };
    Ok(model.encode_to_vec())
}
