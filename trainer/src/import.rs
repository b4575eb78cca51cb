//! ONNX → graph IR: autoencoders trained elsewhere (PyTorch, Keras via tf2onnx, …) come in
//! here. The file is decoded with `tract_onnx::pb` (ONNX's protobuf types) and its nodes are
//! mapped onto runtime layers; [`verify`] then runs the original file in tract-onnx and the
//! imported model in aedge-runtime on the same input and reports the difference.
//!
//! Mapped ops: Gemm, MatMul (+ Add), Conv, ConvTranspose, MaxPool, Resize/Upsample
//! (nearest, integer factors), Relu, LeakyRelu, Sigmoid, Tanh, Flatten, Reshape, Transpose,
//! Squeeze, Unsqueeze, Tile, Expand, Gather (of a size-1 axis), Identity, Dropout and LSTM
//! (forward, zero initial state). Shape arithmetic on constants (Shape, Gather, Concat,
//! Unsqueeze, ConstantOfShape, Expand, Cast) is evaluated at import time. Any other op is an
//! [`ImportError::UnsupportedOp`] naming the op and the node.
//!
//! Layouts: the runtime is HWC, ONNX is NCHW. Every value on the model's chain is tracked as
//! ONNX dims plus a map from each ONNX element to its position in the runtime tensor;
//! transposes and reshapes only change the map, and dense layers absorb it into the order of
//! their weights, so no data is moved at run time.

use aedge_runtime::ir::{Graph, Layer};
use aedge_runtime::{Activation, Metric, Op, Shape};
use prost::Message;
use std::collections::HashMap;
use tract_onnx::pb::{tensor_proto::DataType, AttributeProto, ModelProto, NodeProto, TensorProto};

/// Why an ONNX file could not be imported.
#[derive(Debug, Clone, PartialEq)]
pub enum ImportError {
    /// The bytes are not an ONNX protobuf.
    Decode(String),
    /// An op with no runtime equivalent.
    UnsupportedOp {
        /// ONNX op type.
        op: String,
        /// Node name (or its first output when unnamed).
        node: String,
    },
    /// A supported op used in a way the runtime cannot express.
    Unsupported {
        /// Node name.
        node: String,
        /// What is not supported.
        reason: String,
    },
    /// The file is inconsistent (missing tensors, wrong sizes).
    Invalid(String),
}

impl std::fmt::Display for ImportError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ImportError::Decode(e) => write!(f, "not a valid ONNX file: {e}"),
            ImportError::UnsupportedOp { op, node } => write!(
                f,
                "ONNX op '{op}' (node '{node}') has no aedge runtime equivalent; supported: \
                 Gemm, MatMul+Add, Conv, ConvTranspose, MaxPool, Resize/Upsample (nearest), \
                 Relu, LeakyRelu, Sigmoid, Tanh, Flatten/Reshape, LSTM"
            ),
            ImportError::Unsupported { node, reason } => {
                write!(f, "node '{node}': {reason}")
            }
            ImportError::Invalid(e) => write!(f, "invalid ONNX model: {e}"),
        }
    }
}

impl std::error::Error for ImportError {}

/// Settings the ONNX file does not carry.
#[derive(Clone, Debug)]
pub struct ImportOptions {
    /// Model name for reports (default: the ONNX graph name).
    pub name: Option<String>,
    /// Layers in the encoder; by default the encoder ends at the smallest layer output (the
    /// bottleneck).
    pub encoder_layers: Option<usize>,
    /// Reconstruction error metric.
    pub metric: Metric,
    /// Preprocessing scale (`model = raw * scale + offset`), one value or one per channel.
    pub preprocess_scale: Vec<f32>,
    /// Preprocessing offset.
    pub preprocess_offset: Vec<f32>,
}

impl Default for ImportOptions {
    fn default() -> Self {
        ImportOptions {
            name: None,
            encoder_layers: None,
            metric: Metric::Mse,
            preprocess_scale: vec![1.0],
            preprocess_offset: vec![0.0],
        }
    }
}

/// A constant tensor (initializer, Constant node, or evaluated shape arithmetic).
#[derive(Clone, Debug)]
struct Const {
    dims: Vec<usize>,
    data: Vec<f64>,
}

/// A value on the model's chain: ONNX dims (batch fixed to 1) and, for each ONNX element in
/// row-major order, its index in the runtime tensor.
#[derive(Clone, Debug)]
struct View {
    dims: Vec<usize>,
    map: Vec<u32>,
}

impl View {
    fn identity(dims: Vec<usize>) -> View {
        let n = dims.iter().product::<usize>();
        View {
            dims,
            map: (0..n as u32).collect(),
        }
    }

    fn len(&self) -> usize {
        self.map.len()
    }
}

/// The ONNX `[1, C, H, W]` view of a runtime `H × W × C` tensor.
fn nchw_view(s: Shape) -> View {
    let (c, h, w) = (s.c as usize, s.h as usize, s.w as usize);
    let mut map = Vec::with_capacity(s.len());
    for ci in 0..c {
        for y in 0..h {
            for x in 0..w {
                map.push(((y * w + x) * c + ci) as u32);
            }
        }
    }
    View {
        dims: vec![1, c, h, w],
        map,
    }
}

fn strides(dims: &[usize]) -> Vec<usize> {
    let mut s = vec![1; dims.len()];
    for i in (0..dims.len().saturating_sub(1)).rev() {
        s[i] = s[i + 1] * dims[i + 1];
    }
    s
}

/// Maps a flat output index of `perm`-transposed `dims` back to the input's flat index.
fn transpose_view(v: &View, perm: &[usize]) -> View {
    let out_dims: Vec<usize> = perm.iter().map(|&p| v.dims[p]).collect();
    let (is, os) = (strides(&v.dims), strides(&out_dims));
    let map = (0..v.len())
        .map(|k| {
            let src: usize = perm
                .iter()
                .enumerate()
                .map(|(a, &p)| (k / os[a]) % out_dims[a] * is[p])
                .sum();
            v.map[src]
        })
        .collect();
    View {
        dims: out_dims,
        map,
    }
}

fn attr<'a>(n: &'a NodeProto, name: &str) -> Option<&'a AttributeProto> {
    n.attribute.iter().find(|a| a.name == name)
}

fn attr_i(n: &NodeProto, name: &str, default: i64) -> i64 {
    attr(n, name).map_or(default, |a| a.i)
}

/// A two-value ints attribute (strides, output_padding) of a 2-D op, or `default`.
fn pair(n: &NodeProto, name: &str, default: [i64; 2]) -> Result<[i64; 2], ImportError> {
    match attr_ints(n, name) {
        None => Ok(default),
        Some(v) => <[i64; 2]>::try_from(v.as_slice())
            .map_err(|_| unsupported(n, format!("{name} must have two values (a 2-D op)"))),
    }
}

fn attr_f(n: &NodeProto, name: &str, default: f32) -> f32 {
    attr(n, name).map_or(default, |a| a.f)
}

fn attr_ints(n: &NodeProto, name: &str) -> Option<Vec<i64>> {
    attr(n, name).map(|a| a.ints.clone())
}

fn attr_s(n: &NodeProto, name: &str) -> Option<String> {
    attr(n, name).map(|a| String::from_utf8_lossy(&a.s).into_owned())
}

fn node_name(n: &NodeProto) -> String {
    if n.name.is_empty() {
        n.output.first().cloned().unwrap_or_default()
    } else {
        n.name.clone()
    }
}

fn tensor_values(t: &TensorProto) -> Result<Const, ImportError> {
    let dims: Vec<usize> = t.dims.iter().map(|&d| d.max(0) as usize).collect();
    let n: usize = dims.iter().product();
    let raw = &t.raw_data;
    let bad = || ImportError::Invalid(format!("tensor '{}' has the wrong amount of data", t.name));
    let data: Vec<f64> = match DataType::try_from(t.data_type) {
        Ok(DataType::Float) if !raw.is_empty() => raw
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]) as f64)
            .collect(),
        Ok(DataType::Float) => t.float_data.iter().map(|&v| v as f64).collect(),
        Ok(DataType::Double) if !raw.is_empty() => raw
            .chunks_exact(8)
            .map(|b| f64::from_le_bytes(b.try_into().unwrap_or([0; 8])))
            .collect(),
        Ok(DataType::Double) => t.double_data.clone(),
        Ok(DataType::Int64) if !raw.is_empty() => raw
            .chunks_exact(8)
            .map(|b| i64::from_le_bytes(b.try_into().unwrap_or([0; 8])) as f64)
            .collect(),
        Ok(DataType::Int64) => t.int64_data.iter().map(|&v| v as f64).collect(),
        Ok(DataType::Int32) if !raw.is_empty() => raw
            .chunks_exact(4)
            .map(|b| i32::from_le_bytes([b[0], b[1], b[2], b[3]]) as f64)
            .collect(),
        Ok(DataType::Int32) => t.int32_data.iter().map(|&v| v as f64).collect(),
        _ => {
            return Err(ImportError::Invalid(format!(
                "tensor '{}' has data type {}, only float, double, int32 and int64 are read",
                t.name, t.data_type
            )))
        }
    };
    if data.len() != n {
        return Err(bad());
    }
    Ok(Const { dims, data })
}

/// Where the last runtime layer came from, for fusing and re-ordering.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Last {
    /// A layer whose bias and activation may still be set.
    Open,
    /// Anything else.
    Closed,
}

struct Importer {
    consts: HashMap<String, Const>,
    views: HashMap<String, View>,
    graph: Graph,
    /// Runtime shape of the current tensor.
    shape: Shape,
    /// Output name of the last runtime layer, and whether its bias/activation are still free.
    last: Option<(String, Last)>,
    /// How many nodes read each value.
    uses: HashMap<String, usize>,
}

fn unsupported(n: &NodeProto, reason: impl Into<String>) -> ImportError {
    ImportError::Unsupported {
        node: node_name(n),
        reason: reason.into(),
    }
}

fn u16_of(n: &NodeProto, v: usize, what: &str) -> Result<u16, ImportError> {
    u16::try_from(v).map_err(|_| unsupported(n, format!("{what} {v} exceeds 65535")))
}

fn u8_of(n: &NodeProto, v: i64, what: &str) -> Result<u8, ImportError> {
    u8::try_from(v).map_err(|_| unsupported(n, format!("{what} {v} must lie in 0..=255")))
}

impl Importer {
    fn constant(&self, name: &str) -> Option<&Const> {
        self.consts.get(name)
    }

    fn need_const(&self, n: &NodeProto, i: usize) -> Result<Const, ImportError> {
        let name = n.input.get(i).map(String::as_str).unwrap_or("");
        self.constant(name).cloned().ok_or_else(|| {
            unsupported(
                n,
                format!("input {i} ('{name}') must be a constant (weights, shapes)"),
            )
        })
    }

    fn view(&self, n: &NodeProto) -> Result<View, ImportError> {
        let name = n.input.first().map(String::as_str).unwrap_or("");
        self.views.get(name).cloned().ok_or_else(|| {
            unsupported(
                n,
                format!("input '{name}' is not computed from the model input"),
            )
        })
    }

    /// Sets the chain value `name`, produced by a new runtime layer when `layer` is set.
    fn set(&mut self, name: &str, v: View) {
        self.views.insert(name.to_string(), v);
    }

    fn push(&mut self, n: &NodeProto, layer: Layer, open: bool) -> Result<Shape, ImportError> {
        self.graph.push(layer);
        let shape = self
            .graph
            .output_shape()
            .map_err(|e| unsupported(n, e.to_string()))?;
        self.shape = shape;
        let out = n.output.first().cloned().unwrap_or_default();
        self.last = Some((out, if open { Last::Open } else { Last::Closed }));
        Ok(shape)
    }

    /// Whether `name` is the output of the last layer, read only once, with its activation
    /// and bias still free.
    fn open_last(&self, name: &str) -> bool {
        matches!(&self.last, Some((o, Last::Open)) if o == name)
            && self.uses.get(name).copied().unwrap_or(0) == 1
    }

    /// Makes the runtime tensor hold the elements of `v` in the order `target` expects: free
    /// when they already agree; else by re-ordering the rows of the dense layer that produced
    /// them (its output order is arbitrary); anything else is an error.
    fn arrange(&mut self, n: &NodeProto, v: &View, target: &View) -> Result<(), ImportError> {
        if v.map == target.map {
            return Ok(());
        }
        let movable = matches!(
            self.graph.layers.last(),
            Some(l) if matches!(l.op, Op::Dense { .. })
        ) || matches!(
            self.graph
                .layers
                .iter()
                .rev()
                .take(2)
                .map(|l| l.op)
                .collect::<Vec<_>>()[..],
            [Op::Activation, Op::Dense { .. }]
        );
        if !movable || v.len() != target.len() {
            return Err(unsupported(
                n,
                "needs its input in a layout the runtime cannot produce without moving data",
            ));
        }
        let idx = self
            .graph
            .layers
            .iter()
            .rposition(|l| matches!(l.op, Op::Dense { .. }))
            .unwrap_or(0);
        let dense = &mut self.graph.layers[idx];
        let k = dense.weights.len() / dense.bias.len().max(1);
        let (old_w, old_b) = (dense.weights.clone(), dense.bias.clone());
        // ONNX element e sits at row v.map[e] and has to move to row target.map[e].
        for (&from, &to) in v.map.iter().zip(&target.map) {
            let (from, to) = (from as usize, to as usize);
            dense.weights[to * k..][..k].copy_from_slice(&old_w[from * k..][..k]);
            dense.bias[to] = old_b[from];
        }
        Ok(())
    }

    /// Reshapes the runtime tensor (free) when its shape differs from `to`.
    fn reshape_to(&mut self, n: &NodeProto, to: Shape) -> Result<(), ImportError> {
        if self.shape != to {
            self.push(n, Layer::op(Op::Reshape { to }), false)?;
        }
        Ok(())
    }

    /// The input as an NCHW image, with the runtime tensor shaped `H × W × C`.
    fn image_input(&mut self, n: &NodeProto) -> Result<Shape, ImportError> {
        let v = self.view(n)?;
        let [_, c, h, w] = v.dims[..] else {
            return Err(unsupported(
                n,
                format!("expects a 4-D NCHW input, got {:?}", v.dims),
            ));
        };
        let s = Shape::new(
            u16_of(n, h, "height")?,
            u16_of(n, w, "width")?,
            u16_of(n, c, "channels")?,
        );
        self.arrange(n, &v, &nchw_view(s))?;
        self.reshape_to(n, s)?;
        Ok(s)
    }

    fn activation(&mut self, n: &NodeProto, act: Activation) -> Result<(), ImportError> {
        let v = self.view(n)?;
        let input = &n.input[0];
        if self.open_last(input)
            && self.graph.layers.last().map(|l| l.act) == Some(Activation::Identity)
        {
            if let Some(l) = self.graph.layers.last_mut() {
                l.act = act;
            }
            self.last = Some((n.output[0].clone(), Last::Closed));
        } else {
            self.push(n, Layer::activation(act), false)?;
        }
        self.set(&n.output[0], v);
        Ok(())
    }

    /// A dense layer on all elements of the input: `y = W x + b`, `w` as `[units][inputs]`
    /// in ONNX element order.
    fn dense(&mut self, n: &NodeProto, w: Vec<f32>, b: Vec<f32>) -> Result<(), ImportError> {
        let v = self.view(n)?;
        let units = b.len();
        let k = v.len();
        if w.len() != units * k {
            return Err(unsupported(n, "weights do not match the input size"));
        }
        // Column e of the ONNX weights multiplies runtime element v.map[e].
        let mut rw = vec![0.0; w.len()];
        for o in 0..units {
            for (e, &m) in v.map.iter().enumerate() {
                rw[o * k + m as usize] = w[o * k + e];
            }
        }
        let u = u16_of(n, units, "layer width")?;
        self.push(n, Layer::dense(u, rw, b, Activation::Identity), true)?;
        self.set(&n.output[0], View::identity(vec![1, units]));
        Ok(())
    }

    fn gemm(&mut self, n: &NodeProto) -> Result<(), ImportError> {
        let (alpha, beta) = (attr_f(n, "alpha", 1.0), attr_f(n, "beta", 1.0));
        if attr_i(n, "transA", 0) != 0 {
            return Err(unsupported(n, "transA is not supported"));
        }
        let v = self.view(n)?;
        if v.dims.len() != 2 || v.dims[0] != 1 {
            return Err(unsupported(
                n,
                format!("expects a [N, K] input, got {:?}", v.dims),
            ));
        }
        let b = self.need_const(n, 1)?;
        let (k, units) = match (attr_i(n, "transB", 0), &b.dims[..]) {
            (0, [k, m]) => (*k, *m),
            (_, [m, k]) => (*k, *m),
            _ => return Err(unsupported(n, "B must be 2-D")),
        };
        let trans = attr_i(n, "transB", 0) != 0;
        let mut w = vec![0.0f32; units * k];
        for o in 0..units {
            for i in 0..k {
                let val = if trans {
                    b.data[o * k + i]
                } else {
                    b.data[i * units + o]
                };
                w[o * k + i] = alpha * val as f32;
            }
        }
        let bias = match n.input.get(2).filter(|s| !s.is_empty()) {
            Some(_) => {
                let c = self.need_const(n, 2)?;
                broadcast_bias(n, &c, units)?
                    .into_iter()
                    .map(|x| beta * x)
                    .collect()
            }
            None => vec![0.0; units],
        };
        self.dense(n, w, bias)
    }

    fn matmul(&mut self, n: &NodeProto) -> Result<(), ImportError> {
        let v = self.view(n)?;
        let b = self.need_const(n, 1)?;
        let [k, m] = b.dims[..] else {
            return Err(unsupported(n, "the weight operand must be a 2-D constant"));
        };
        if v.dims.last() != Some(&k) {
            return Err(unsupported(
                n,
                format!("inner dimensions {:?} x {:?} differ", v.dims, b.dims),
            ));
        }
        let mut w = vec![0.0f32; m * k];
        for o in 0..m {
            for i in 0..k {
                w[o * k + i] = b.data[i * m + o] as f32;
            }
        }
        let rows = v.len() / k;
        if rows == 1 {
            return self.dense(n, w, vec![0.0; m]);
        }
        // Per-row dense (a time-distributed layer): a 1×1 convolution over `rows × 1 × k`,
        // which needs each row's k elements together in order.
        let seq = Shape::new(u16_of(n, rows, "rows")?, 1, u16_of(n, k, "features")?);
        let pos0: Vec<u32> = (0..rows).map(|r| v.map[r * k]).collect();
        let contiguous = (0..rows).all(|r| (0..k).all(|i| v.map[r * k + i] == pos0[r] + i as u32))
            && pos0.iter().all(|&p| (p as usize).is_multiple_of(k));
        if !contiguous {
            return Err(unsupported(
                n,
                "each row must be contiguous in the runtime tensor",
            ));
        }
        self.reshape_to(n, seq)?;
        let out_c = u16_of(n, m, "output features")?;
        self.push(
            n,
            Layer::conv2d(
                out_c,
                [1, 1],
                [1, 1],
                [0; 4],
                w,
                vec![0.0; m],
                Activation::Identity,
            ),
            true,
        )?;
        let mut dims = v.dims.clone();
        *dims.last_mut().unwrap_or(&mut 0) = m;
        let map = pos0
            .iter()
            .flat_map(|&p| (0..m).map(move |o| (p as usize / k * m + o) as u32))
            .collect();
        self.set(&n.output[0], View { dims, map });
        Ok(())
    }

    /// `Add` of a constant bias onto the last layer's output.
    fn add(&mut self, n: &NodeProto) -> Result<(), ImportError> {
        let (xi, ci) = if self.views.contains_key(&n.input[0]) {
            (0, 1)
        } else {
            (1, 0)
        };
        let x = n.input.get(xi).cloned().unwrap_or_default();
        let v =
            self.views.get(&x).cloned().ok_or_else(|| {
                unsupported(n, "Add needs one input computed from the model input")
            })?;
        let c = self.need_const(n, ci)?;
        if !self.open_last(&x) {
            return Err(unsupported(
                n,
                "Add is only supported as the bias of the layer before it",
            ));
        }
        let Some(layer) = self.graph.layers.last_mut() else {
            return Err(unsupported(n, "Add without a layer before it"));
        };
        let units = layer.bias.len();
        let bias: Vec<f32> = match layer.op {
            Op::Conv2d { .. } | Op::DepthwiseConv2d { .. } | Op::ConvTranspose2d { .. }
                if v.dims.len() == 4 =>
            {
                // [C, 1, 1] or [1, C, 1, 1]
                if c.data.len() == units || c.data.len() == 1 {
                    broadcast_bias(n, &c, units)?
                } else {
                    return Err(unsupported(n, "Add of a non per-channel constant"));
                }
            }
            _ => broadcast_bias(n, &c, units)?,
        };
        for (b, a) in layer.bias.iter_mut().zip(bias) {
            *b += a;
        }
        self.last = Some((n.output[0].clone(), Last::Open));
        self.set(&n.output[0], v);
        Ok(())
    }

    fn conv(&mut self, n: &NodeProto, transpose: bool) -> Result<(), ImportError> {
        let group = attr_i(n, "group", 1);
        if group != 1 {
            let s = self.image_input(n)?;
            if transpose || group != s.c as i64 {
                return Err(unsupported(
                    n,
                    "grouped convolutions other than depthwise (group = input channels) are not supported",
                ));
            }
            return self.depthwise(n, s);
        }
        if attr_ints(n, "dilations").is_some_and(|d| d.iter().any(|&x| x != 1)) {
            return Err(unsupported(n, "dilated convolutions are not supported"));
        }
        let s = self.image_input(n)?;
        let w = self.need_const(n, 1)?;
        let [a, b, kh, kw] = w.dims[..] else {
            return Err(unsupported(n, "expects 4-D weights"));
        };
        let (oc, ic) = if transpose { (b, a) } else { (a, b) };
        if ic != s.c as usize {
            return Err(unsupported(n, "weights do not match the input channels"));
        }
        // ONNX [out][in][kh][kw] (ConvTranspose: [in][out][kh][kw]) → runtime [out][kh][kw][in].
        let mut rw = vec![0.0f32; w.data.len()];
        for o in 0..oc {
            for i in 0..ic {
                for y in 0..kh {
                    for x in 0..kw {
                        let src = if transpose {
                            ((i * oc + o) * kh + y) * kw + x
                        } else {
                            ((o * ic + i) * kh + y) * kw + x
                        };
                        rw[((o * kh + y) * kw + x) * ic + i] = w.data[src] as f32;
                    }
                }
            }
        }
        let (bias, k, stride, pads) = self.conv_params(n, s, oc, [kh, kw])?;
        let out_c = u16_of(n, oc, "channels")?;
        let layer = if transpose {
            let op = pair(n, "output_padding", [0, 0])?;
            let full = |len: u16, s: u8, k: u8| (len as i64 - 1) * s as i64 + k as i64;
            let oh = full(s.h, stride[0], k[0]) - pads[0] as i64 - pads[2] as i64 + op[0];
            let ow = full(s.w, stride[1], k[1]) - pads[1] as i64 - pads[3] as i64 + op[1];
            if attr_ints(n, "output_shape").is_some() {
                return Err(unsupported(
                    n,
                    "ConvTranspose with output_shape is not supported",
                ));
            }
            Layer::conv_transpose2d(
                out_c,
                k,
                stride,
                [pads[0], pads[1]],
                [
                    u16_of(n, oh.max(0) as usize, "height")?,
                    u16_of(n, ow.max(0) as usize, "width")?,
                ],
                rw,
                bias,
                Activation::Identity,
            )
        } else {
            Layer::conv2d(out_c, k, stride, pads, rw, bias, Activation::Identity)
        };
        let out = self.push(n, layer, true)?;
        self.set(&n.output[0], nchw_view(out));
        Ok(())
    }

    /// The bias (input 2, or zeros), kernel, strides and paddings of a Conv or ConvTranspose.
    #[allow(clippy::type_complexity)]
    fn conv_params(
        &self,
        n: &NodeProto,
        s: Shape,
        oc: usize,
        kernel: [usize; 2],
    ) -> Result<(Vec<f32>, [u8; 2], [u8; 2], [u8; 4]), ImportError> {
        let bias = match n.input.get(2).filter(|x| !x.is_empty()) {
            Some(_) => broadcast_bias(n, &self.need_const(n, 2)?, oc)?,
            None => vec![0.0; oc],
        };
        let k = [
            u8_of(n, kernel[0] as i64, "kernel")?,
            u8_of(n, kernel[1] as i64, "kernel")?,
        ];
        let st = pair(n, "strides", [1, 1])?;
        let stride = [u8_of(n, st[0], "stride")?, u8_of(n, st[1], "stride")?];
        let pads = self.pads(n, s, k, stride)?;
        Ok((bias, k, stride, pads))
    }

    /// A depthwise Conv (`group` = input channels): ONNX's `[out][1][kh][kw]` weights are the
    /// runtime's `[out][kh][kw]` as they are.
    fn depthwise(&mut self, n: &NodeProto, s: Shape) -> Result<(), ImportError> {
        if attr_ints(n, "dilations").is_some_and(|d| d.iter().any(|&x| x != 1)) {
            return Err(unsupported(n, "dilated convolutions are not supported"));
        }
        let w = self.need_const(n, 1)?;
        let [oc, 1, kh, kw] = w.dims[..] else {
            return Err(unsupported(n, "expects [out, 1, kh, kw] depthwise weights"));
        };
        let ic = s.c as usize;
        if oc % ic != 0 || oc / ic > 255 {
            return Err(unsupported(
                n,
                "output channels are not a multiple (1..=255) of the input's",
            ));
        }
        let (bias, k, stride, pads) = self.conv_params(n, s, oc, [kh, kw])?;
        let layer = Layer {
            op: Op::DepthwiseConv2d {
                multiplier: (oc / ic) as u8,
                kernel: k,
                stride,
                pad: pads,
            },
            act: Activation::Identity,
            weights: w.data.iter().map(|&v| v as f32).collect(),
            bias,
        };
        let out = self.push(n, layer, true)?;
        self.set(&n.output[0], nchw_view(out));
        Ok(())
    }

    /// `pads` (ONNX begin_h, begin_w, end_h, end_w) or `auto_pad` as top, left, bottom, right.
    fn pads(
        &self,
        n: &NodeProto,
        s: Shape,
        k: [u8; 2],
        st: [u8; 2],
    ) -> Result<[u8; 4], ImportError> {
        match attr_s(n, "auto_pad").as_deref() {
            Some("SAME_UPPER") => return Ok(aedge_runtime::ir::same_padding(s, k, st)),
            Some("VALID") => return Ok([0; 4]),
            Some("SAME_LOWER") => {
                let [t, l, b, r] = aedge_runtime::ir::same_padding(s, k, st);
                return Ok([b, r, t, l]);
            }
            _ => {}
        }
        let p = attr_ints(n, "pads").unwrap_or(vec![0; 4]);
        if p.len() != 4 {
            return Err(unsupported(n, "expects 4 pads"));
        }
        Ok([
            u8_of(n, p[0], "padding")?,
            u8_of(n, p[1], "padding")?,
            u8_of(n, p[2], "padding")?,
            u8_of(n, p[3], "padding")?,
        ])
    }

    /// MaxPool, or AveragePool when `average` (only `count_include_pad = 0`: the runtime
    /// averages over the valid inputs).
    fn pool(&mut self, n: &NodeProto, average: bool) -> Result<(), ImportError> {
        if average && attr_i(n, "count_include_pad", 0) != 0 {
            return Err(unsupported(
                n,
                "AveragePool with count_include_pad = 1 is not supported",
            ));
        }
        if attr_i(n, "ceil_mode", 0) != 0 {
            return Err(unsupported(n, "ceil_mode is not supported"));
        }
        if attr_ints(n, "dilations").is_some_and(|d| d.iter().any(|&x| x != 1)) {
            return Err(unsupported(n, "dilated pooling is not supported"));
        }
        if n.output.len() > 1 && n.output[1..].iter().any(|o| !o.is_empty()) {
            return Err(unsupported(n, "MaxPool indices output is not supported"));
        }
        let s = self.image_input(n)?;
        let ks = attr_ints(n, "kernel_shape").unwrap_or_default();
        if ks.len() != 2 {
            return Err(unsupported(n, "expects a 2-D kernel_shape"));
        }
        let k = [u8_of(n, ks[0], "kernel")?, u8_of(n, ks[1], "kernel")?];
        let st = pair(n, "strides", [1, 1])?;
        let stride = [u8_of(n, st[0], "stride")?, u8_of(n, st[1], "stride")?];
        let pad = self.pads(n, s, k, stride)?;
        let op = if average {
            Op::AvgPool2d {
                kernel: k,
                stride,
                pad,
            }
        } else {
            Op::MaxPool2d {
                kernel: k,
                stride,
                pad,
            }
        };
        let out = self.push(n, Layer::op(op), false)?;
        self.set(&n.output[0], nchw_view(out));
        Ok(())
    }

    fn resize(&mut self, n: &NodeProto) -> Result<(), ImportError> {
        let mode = attr_s(n, "mode").unwrap_or_else(|| "nearest".into());
        if mode != "nearest" {
            return Err(unsupported(
                n,
                format!("Resize mode '{mode}' (only nearest)"),
            ));
        }
        let ctm =
            attr_s(n, "coordinate_transformation_mode").unwrap_or_else(|| "half_pixel".into());
        let nearest = attr_s(n, "nearest_mode").unwrap_or_else(|| "round_prefer_floor".into());
        let s = self.image_input(n)?;
        // Inputs: X, roi, scales, sizes (opset 11+); Upsample: X, scales.
        let scales_at = if n.op_type == "Upsample" { 1 } else { 2 };
        let (fh, fw) = if let Some(c) = n
            .input
            .get(scales_at)
            .filter(|x| !x.is_empty())
            .and_then(|x| self.constant(x))
            .filter(|c| c.data.len() == 4)
        {
            (c.data[2], c.data[3])
        } else if let Some(c) = n
            .input
            .get(3)
            .filter(|x| !x.is_empty())
            .and_then(|x| self.constant(x))
            .filter(|c| c.data.len() == 4)
        {
            (c.data[2] / s.h as f64, c.data[3] / s.w as f64)
        } else {
            return Err(unsupported(n, "needs constant scales or sizes"));
        };
        let int = |f: f64| (f >= 1.0 && f.fract() == 0.0 && f <= 255.0).then_some(f as u8);
        let (Some(fh), Some(fw)) = (int(fh), int(fw)) else {
            return Err(unsupported(n, "only integer upsampling factors"));
        };
        // With integer factors, nearest sampling picks floor(o / f) under the modes below.
        let exact = matches!(ctm.as_str(), "asymmetric")
            && matches!(
                nearest.as_str(),
                "floor" | "round_prefer_floor" | "round_prefer_ceil"
            )
            || n.op_type == "Upsample";
        let half_pixel_floorish = matches!(ctm.as_str(), "half_pixel" | "pytorch_half_pixel")
            && matches!(nearest.as_str(), "round_prefer_floor" | "floor");
        if !(exact || half_pixel_floorish) {
            return Err(unsupported(
                n,
                format!("nearest Resize with '{ctm}' / '{nearest}' does not repeat pixels"),
            ));
        }
        let out = self.push(n, Layer::op(Op::Upsample2d { factor: [fh, fw] }), false)?;
        self.set(&n.output[0], nchw_view(out));
        Ok(())
    }

    fn lstm(&mut self, n: &NodeProto, all_nodes: &[NodeProto]) -> Result<(), ImportError> {
        let dir = attr_s(n, "direction").unwrap_or_else(|| "forward".into());
        if dir != "forward" {
            return Err(unsupported(n, format!("{dir} LSTM (only forward)")));
        }
        if attr(n, "activations").is_some() || attr(n, "clip").is_some() {
            return Err(unsupported(n, "custom LSTM activations or clipping"));
        }
        if attr_i(n, "input_forget", 0) != 0 || attr_i(n, "layout", 0) != 0 {
            return Err(unsupported(n, "input_forget or batch-first layout"));
        }
        if n.input.get(4).is_some_and(|s| !s.is_empty()) {
            return Err(unsupported(n, "sequence_lens is not supported"));
        }
        for i in [5, 6] {
            if let Some(name) = n.input.get(i).filter(|s| !s.is_empty()) {
                let c = self
                    .constant(name)
                    .ok_or_else(|| unsupported(n, "initial states must be constant zeros"))?;
                if c.data.iter().any(|&v| v != 0.0) {
                    return Err(unsupported(n, "initial states must be zero"));
                }
            }
        }
        if n.input.get(7).is_some_and(|s| !s.is_empty()) {
            return Err(unsupported(n, "peephole weights are not supported"));
        }
        let v = self.view(n)?;
        let [steps, 1, feat] = v.dims[..] else {
            return Err(unsupported(
                n,
                format!("expects X as [steps, 1, features], got {:?}", v.dims),
            ));
        };
        let u = attr_i(n, "hidden_size", 0) as usize;
        let (w, r) = (self.need_const(n, 1)?, self.need_const(n, 2)?);
        if w.data.len() != 4 * u * feat || r.data.len() != 4 * u * u {
            return Err(unsupported(n, "W or R do not match hidden_size"));
        }
        let seq = Shape::new(u16_of(n, steps, "steps")?, 1, u16_of(n, feat, "features")?);
        let canon = View::identity(vec![steps, 1, feat]);
        if v.map != canon.map {
            self.arrange(n, &v, &canon)?;
        }
        self.reshape_to(n, seq)?;
        // ONNX gate order i, o, f, c → runtime i, f, g, o.
        const FROM: [usize; 4] = [0, 2, 3, 1];
        let mut rw = Vec::with_capacity(4 * u * (feat + u));
        for (m, cols) in [(&w, feat), (&r, u)] {
            for &g in &FROM {
                rw.extend(m.data[g * u * cols..][..u * cols].iter().map(|&x| x as f32));
            }
        }
        let mut bias = vec![0.0f32; 4 * u];
        if let Some(_b) = n.input.get(3).filter(|s| !s.is_empty()) {
            let b = self.need_const(n, 3)?;
            if b.data.len() != 8 * u {
                return Err(unsupported(n, "B does not match hidden_size"));
            }
            for (k, &g) in FROM.iter().enumerate() {
                for j in 0..u {
                    bias[k * u + j] = (b.data[g * u + j] + b.data[4 * u + g * u + j]) as f32;
                }
            }
        }
        let used = |name: &str| {
            !name.is_empty() && all_nodes.iter().any(|m| m.input.iter().any(|i| i == name))
        };
        let y = n.output.first().cloned().unwrap_or_default();
        let y_h = n.output.get(1).cloned().unwrap_or_default();
        if n.output.get(2).is_some_and(|c| used(c)) {
            return Err(unsupported(
                n,
                "the final cell state output is not supported",
            ));
        }
        let sequences = used(&y);
        if sequences && used(&y_h) {
            return Err(unsupported(n, "uses both Y and Y_h"));
        }
        let units = u16_of(n, u, "hidden_size")?;
        self.push(n, Layer::lstm(units, sequences, rw, bias), false)?;
        if sequences {
            // Y: [steps, 1 (directions), 1 (batch), units]
            self.set(&y, View::identity(vec![steps, 1, 1, u]));
        } else {
            self.set(&y_h, View::identity(vec![1, 1, u]));
        }
        self.last = None;
        Ok(())
    }

    fn tile(&mut self, n: &NodeProto) -> Result<(), ImportError> {
        let v = self.view(n)?;
        let reps: Vec<usize> = self
            .need_const(n, 1)?
            .data
            .iter()
            .map(|&r| r as usize)
            .collect();
        if reps.len() != v.dims.len() || reps.contains(&0) {
            return Err(unsupported(n, "repeats must match the input rank"));
        }
        let times: usize = reps.iter().product();
        if times == 1 {
            self.set(&n.output[0], v);
            return Ok(());
        }
        let len = v.len();
        self.push(
            n,
            Layer::op(Op::Repeat {
                times: u16_of(n, times, "repeats")?,
            }),
            false,
        )?;
        let out_dims: Vec<usize> = v.dims.iter().zip(&reps).map(|(d, r)| d * r).collect();
        let (os, is) = (strides(&out_dims), strides(&v.dims));
        let map = (0..len * times)
            .map(|k| {
                let (mut src, mut copy) = (0usize, 0usize);
                for a in 0..out_dims.len() {
                    let i = (k / os[a]) % out_dims[a];
                    src += (i % v.dims[a]) * is[a];
                    copy = copy * reps[a] + i / v.dims[a];
                }
                (copy * len + v.map[src] as usize) as u32
            })
            .collect();
        self.set(
            &n.output[0],
            View {
                dims: out_dims,
                map,
            },
        );
        Ok(())
    }
}

fn broadcast_bias(n: &NodeProto, c: &Const, units: usize) -> Result<Vec<f32>, ImportError> {
    match c.data.len() {
        1 => Ok(vec![c.data[0] as f32; units]),
        len if len == units => Ok(c.data.iter().map(|&x| x as f32).collect()),
        _ => Err(unsupported(
            n,
            format!("bias of {} values for {units} outputs", c.data.len()),
        )),
    }
}

/// Normalises a possibly negative axis.
fn axis(a: i64, rank: usize) -> Option<usize> {
    let r = rank as i64;
    let a = if a < 0 { a + r } else { a };
    (0..r).contains(&a).then_some(a as usize)
}

/// Axes of Squeeze/Unsqueeze: an input since opset 13, an attribute before.
fn axes_of(imp: &Importer, n: &NodeProto) -> Option<Vec<i64>> {
    n.input
        .get(1)
        .filter(|s| !s.is_empty())
        .and_then(|s| imp.constant(s))
        .map(|c| c.data.iter().map(|&x| x as i64).collect())
        .or_else(|| attr_ints(n, "axes"))
}

/// Evaluates shape arithmetic on constants; `None` when `n` is not such a node.
fn eval_const(imp: &Importer, n: &NodeProto) -> Result<Option<Const>, ImportError> {
    let c = |i: usize| n.input.get(i).and_then(|s| imp.constant(s));
    let all_const = n
        .input
        .iter()
        .filter(|s| !s.is_empty())
        .all(|s| imp.constant(s).is_some());
    let out = match n.op_type.as_str() {
        "Constant" => {
            let t = attr(n, "value")
                .and_then(|a| a.t.as_ref())
                .ok_or_else(|| unsupported(n, "Constant without a tensor value"))?;
            tensor_values(t)?
        }
        "Shape" => {
            let dims = if let Some(v) = imp.views.get(&n.input[0]) {
                v.dims.clone()
            } else if let Some(k) = c(0) {
                k.dims.clone()
            } else {
                return Ok(None);
            };
            Const {
                dims: vec![dims.len()],
                data: dims.iter().map(|&d| d as f64).collect(),
            }
        }
        _ if !all_const || n.input.is_empty() => return Ok(None),
        "Identity" | "Cast" => c(0).cloned().unwrap_or(Const {
            dims: vec![],
            data: vec![],
        }),
        "Gather" => {
            let (x, idx) = (c(0).cloned(), c(1).cloned());
            let (Some(x), Some(idx)) = (x, idx) else {
                return Ok(None);
            };
            if x.dims.len() != 1 || attr_i(n, "axis", 0) != 0 {
                return Err(unsupported(
                    n,
                    "Gather on constants only along a 1-D axis 0",
                ));
            }
            let len = x.data.len() as i64;
            let data = idx
                .data
                .iter()
                .map(|&i| {
                    let i = if i < 0.0 { i as i64 + len } else { i as i64 };
                    x.data
                        .get(i as usize)
                        .copied()
                        .ok_or_else(|| unsupported(n, "index out of range"))
                })
                .collect::<Result<Vec<_>, _>>()?;
            Const {
                dims: idx.dims.clone(),
                data,
            }
        }
        "Unsqueeze" | "Squeeze" => {
            let Some(x) = c(0).cloned() else {
                return Ok(None);
            };
            let mut dims = x.dims.clone();
            let axes = axes_of(imp, n).unwrap_or_default();
            if n.op_type == "Unsqueeze" {
                let rank = dims.len() + axes.len();
                let mut ax: Vec<usize> = axes.iter().filter_map(|&a| axis(a, rank)).collect();
                ax.sort_unstable();
                for a in ax {
                    dims.insert(a.min(dims.len()), 1);
                }
            } else {
                dims.retain(|&d| d != 1);
            }
            Const { dims, data: x.data }
        }
        "Concat" => {
            let mut data = Vec::new();
            for i in 0..n.input.len() {
                data.extend(c(i).map(|k| k.data.clone()).unwrap_or_default());
            }
            Const {
                dims: vec![data.len()],
                data,
            }
        }
        "ConstantOfShape" => {
            let shape: Vec<usize> = c(0)
                .map(|k| k.data.iter().map(|&d| d as usize).collect())
                .unwrap_or_default();
            let v = attr(n, "value")
                .and_then(|a| a.t.as_ref())
                .map(tensor_values)
                .transpose()?;
            let fill = v.and_then(|k| k.data.first().copied()).unwrap_or(0.0);
            let len: usize = shape.iter().product();
            if len > 1 << 24 {
                return Err(unsupported(n, "constant too large"));
            }
            Const {
                dims: shape,
                data: vec![fill; len],
            }
        }
        "Expand" => {
            let (Some(x), Some(s)) = (c(0).cloned(), c(1)) else {
                return Ok(None);
            };
            let shape: Vec<usize> = s.data.iter().map(|&d| d as usize).collect();
            if x.data
                .iter()
                .all(|&v| v == x.data.first().copied().unwrap_or(0.0))
            {
                // Uniform constants (the usual zero states) broadcast to any shape.
                let rank = shape.len().max(x.dims.len());
                let mut dims = vec![1; rank];
                for (i, d) in x.dims.iter().rev().enumerate() {
                    dims[rank - 1 - i] = *d;
                }
                for (i, d) in shape.iter().rev().enumerate() {
                    dims[rank - 1 - i] = dims[rank - 1 - i].max(*d);
                }
                let len: usize = dims.iter().product();
                if len > 1 << 24 {
                    return Err(unsupported(n, "constant too large"));
                }
                Const {
                    dims,
                    data: vec![x.data.first().copied().unwrap_or(0.0); len],
                }
            } else {
                return Err(unsupported(n, "Expand of a non-uniform constant"));
            }
        }
        _ => return Ok(None),
    };
    Ok(Some(out))
}

/// Runtime input shape for ONNX input dims (batch first): `[N, n]`, `[N, steps, features]`
/// or `[N, C, H, W]`.
fn input_shape(dims: &[usize]) -> Result<(Shape, View), ImportError> {
    let u = |v: usize| {
        u16::try_from(v)
            .map_err(|_| ImportError::Invalid(format!("input dimension {v} exceeds 65535")))
    };
    match dims {
        [_, n] => Ok((Shape::vector(u(*n)?), View::identity(vec![1, *n]))),
        [_, t, f] => Ok((
            Shape::new(u(*t)?, 1, u(*f)?),
            View::identity(vec![1, *t, *f]),
        )),
        [_, c, h, w] => {
            let s = Shape::new(u(*h)?, u(*w)?, u(*c)?);
            Ok((s, nchw_view(s)))
        }
        _ => Err(ImportError::Invalid(format!(
            "input of rank {} (expected [N, n], [N, steps, features] or [N, C, H, W])",
            dims.len()
        ))),
    }
}

/// Decodes an ONNX file into the graph IR.
pub fn from_onnx(bytes: &[u8], options: &ImportOptions) -> Result<Graph, ImportError> {
    let model = ModelProto::decode(bytes).map_err(|e| ImportError::Decode(e.to_string()))?;
    let g = model
        .graph
        .ok_or_else(|| ImportError::Invalid("the model has no graph".into()))?;
    let mut consts = HashMap::new();
    for t in &g.initializer {
        consts.insert(t.name.clone(), tensor_values(t)?);
    }
    let dims = input_dims(bytes)?;
    let input_name = g
        .input
        .iter()
        .find(|i| !consts.contains_key(&i.name))
        .map(|i| i.name.clone())
        .unwrap_or_default();
    let (shape, view) = input_shape(&dims)?;
    let mut uses = HashMap::new();
    for n in &g.node {
        for i in &n.input {
            *uses.entry(i.clone()).or_insert(0) += 1;
        }
    }
    for o in &g.output {
        *uses.entry(o.name.clone()).or_insert(0) += 1;
    }
    let name = options.name.clone().unwrap_or_else(|| {
        if g.name.is_empty() {
            "onnx-import".into()
        } else {
            g.name.clone()
        }
    });
    let mut imp = Importer {
        consts,
        views: HashMap::from([(input_name, view.clone())]),
        graph: Graph::new(&name, shape),
        shape,
        last: None,
        uses,
    };
    imp.graph.metric = options.metric;
    imp.graph.preprocess_scale = options.preprocess_scale.clone();
    imp.graph.preprocess_offset = options.preprocess_offset.clone();
    for n in &g.node {
        if let Some(c) = eval_const(&imp, n)? {
            for o in &n.output {
                imp.consts.insert(o.clone(), c.clone());
            }
            continue;
        }
        let on_chain = n.input.first().is_some_and(|i| imp.views.contains_key(i))
            || (n.op_type == "Add" && n.input.iter().any(|i| imp.views.contains_key(i)));
        if !on_chain {
            return Err(match n.op_type.as_str() {
                "Gemm" | "MatMul" | "Add" | "Conv" | "ConvTranspose" | "MaxPool"
                | "AveragePool" | "Clip" | "Resize" | "Upsample" | "Relu" | "LeakyRelu"
                | "Sigmoid" | "Tanh" | "Flatten" | "Reshape" | "LSTM" | "Transpose" | "Squeeze"
                | "Unsqueeze" | "Tile" | "Expand" | "Gather" => {
                    unsupported(n, "its data input does not come from the model input")
                }
                op => ImportError::UnsupportedOp {
                    op: op.into(),
                    node: node_name(n),
                },
            });
        }
        chain_op(&mut imp, n, &g.node)?;
    }
    let out = g
        .output
        .first()
        .ok_or_else(|| ImportError::Invalid("the model has no output".into()))?;
    let v = imp.views.get(&out.name).cloned().ok_or_else(|| {
        ImportError::Invalid(format!(
            "output '{}' is not computed from the input",
            out.name
        ))
    })?;
    if v.len() != view.len() {
        return Err(ImportError::Invalid(format!(
            "the output has {} values, the input {}: not an autoencoder",
            v.len(),
            view.len()
        )));
    }
    // The reconstruction must come out in the input's layout.
    let last_node = g.node.last().cloned().unwrap_or_default();
    imp.arrange(&last_node, &v, &view)?;
    imp.reshape_to(&last_node, shape)?;
    let shapes = imp
        .graph
        .shapes()
        .map_err(|e| ImportError::Invalid(e.to_string()))?;
    imp.graph.encoder_layers = match options.encoder_layers {
        Some(k) if k <= imp.graph.layers.len() => k,
        Some(k) => {
            return Err(ImportError::Invalid(format!(
                "encoder_layers {k} exceeds the {} layers",
                imp.graph.layers.len()
            )))
        }
        None => bottleneck(&imp.graph.layers, &shapes),
    };
    Ok(imp.graph)
}

/// The encoder ends after the first layer with the smallest output (reshapes and
/// activations after it stay in the encoder).
fn bottleneck(layers: &[Layer], shapes: &[Shape]) -> usize {
    let Some(min) = shapes.iter().map(|s| s.len()).min() else {
        return 0;
    };
    let mut k = shapes
        .iter()
        .position(|s| s.len() == min)
        .map_or(0, |i| i + 1);
    while k < layers.len()
        && matches!(layers[k].op, Op::Activation | Op::Reshape { .. })
        && shapes[k].len() == min
    {
        k += 1;
    }
    k
}

fn chain_op(imp: &mut Importer, n: &NodeProto, all: &[NodeProto]) -> Result<(), ImportError> {
    let out = n.output.first().cloned().unwrap_or_default();
    match n.op_type.as_str() {
        "Gemm" => imp.gemm(n),
        "MatMul" => imp.matmul(n),
        "Add" => imp.add(n),
        "Conv" => imp.conv(n, false),
        "ConvTranspose" => imp.conv(n, true),
        "MaxPool" => imp.pool(n, false),
        "AveragePool" => imp.pool(n, true),
        "Resize" | "Upsample" => imp.resize(n),
        "Relu" => imp.activation(n, Activation::Relu),
        "LeakyRelu" => imp.activation(
            n,
            Activation::LeakyRelu {
                alpha: attr_f(n, "alpha", 0.01),
            },
        ),
        "Sigmoid" => imp.activation(n, Activation::Sigmoid),
        "Tanh" => imp.activation(n, Activation::Tanh),
        "Clip" => {
            // Bounds are inputs 1 and 2 (opset 11+); a missing bound is unbounded.
            let bound = |i: usize| -> Result<Option<f32>, ImportError> {
                match n.input.get(i).filter(|x| !x.is_empty()) {
                    Some(_) => Ok(imp.need_const(n, i)?.data.first().map(|&v| v as f32)),
                    None => Ok(None),
                }
            };
            match (bound(1)?, bound(2)?) {
                (Some(min), Some(max)) if min.is_finite() && max.is_finite() && min <= max => {
                    imp.activation(n, Activation::Clip { min, max })
                }
                (Some(0.0), None) => imp.activation(n, Activation::Relu),
                _ => Err(unsupported(
                    n,
                    "Clip needs finite constant bounds (or min 0 alone)",
                )),
            }
        }
        "LSTM" => imp.lstm(n, all),
        "Tile" => imp.tile(n),
        "Identity" | "Dropout" => {
            let v = imp.view(n)?;
            imp.set(&out, v);
            if matches!(&imp.last, Some((o, _)) if *o == n.input[0]) {
                imp.last = Some((out, Last::Closed));
            }
            Ok(())
        }
        "Flatten" => {
            let v = imp.view(n)?;
            let a = axis(attr_i(n, "axis", 1), v.dims.len()).unwrap_or(1);
            let lead: usize = v.dims[..a].iter().product();
            imp.set(
                &out,
                View {
                    dims: vec![lead, v.len() / lead.max(1)],
                    map: v.map,
                },
            );
            Ok(())
        }
        "Reshape" => {
            let v = imp.view(n)?;
            let target = imp.need_const(n, 1)?;
            let mut dims: Vec<i64> = target.data.iter().map(|&d| d as i64).collect();
            for (i, d) in dims.iter_mut().enumerate() {
                if *d == 0 {
                    *d = v.dims.get(i).copied().unwrap_or(1) as i64;
                }
            }
            let known: i64 = dims.iter().filter(|&&d| d > 0).product();
            if let Some(d) = dims.iter_mut().find(|d| **d < 0) {
                *d = v.len() as i64 / known.max(1);
            }
            let dims: Vec<usize> = dims.iter().map(|&d| d.max(0) as usize).collect();
            if dims.iter().product::<usize>() != v.len() {
                return Err(unsupported(
                    n,
                    format!("cannot reshape {:?} to {:?}", v.dims, dims),
                ));
            }
            imp.set(&out, View { dims, map: v.map });
            Ok(())
        }
        "Transpose" => {
            let v = imp.view(n)?;
            let perm: Vec<usize> = attr_ints(n, "perm")
                .map(|p| p.iter().map(|&x| x as usize).collect())
                .unwrap_or_else(|| (0..v.dims.len()).rev().collect());
            if perm.len() != v.dims.len() || perm.iter().any(|&p| p >= v.dims.len()) {
                return Err(unsupported(n, "invalid perm"));
            }
            imp.set(&out, transpose_view(&v, &perm));
            Ok(())
        }
        "Squeeze" | "Unsqueeze" => {
            let v = imp.view(n)?;
            let mut dims = v.dims.clone();
            let axes = axes_of(imp, n);
            if n.op_type == "Squeeze" {
                match axes {
                    Some(ax) => {
                        let mut ax: Vec<usize> =
                            ax.iter().filter_map(|&a| axis(a, dims.len())).collect();
                        ax.sort_unstable();
                        for a in ax.into_iter().rev() {
                            if dims[a] != 1 {
                                return Err(unsupported(n, "squeezes an axis that is not 1"));
                            }
                            dims.remove(a);
                        }
                    }
                    None => dims.retain(|&d| d != 1),
                }
            } else {
                let ax = axes.unwrap_or_default();
                let rank = dims.len() + ax.len();
                let mut ax: Vec<usize> = ax.iter().filter_map(|&a| axis(a, rank)).collect();
                ax.sort_unstable();
                for a in ax {
                    dims.insert(a.min(dims.len()), 1);
                }
            }
            imp.set(&out, View { dims, map: v.map });
            Ok(())
        }
        "Expand" => {
            let v = imp.view(n)?;
            let shape = imp.need_const(n, 1)?;
            let rank = shape.data.len().max(v.dims.len());
            let mut dims = vec![1usize; rank];
            for (i, d) in v.dims.iter().rev().enumerate() {
                dims[rank - 1 - i] = *d;
            }
            for (i, &d) in shape.data.iter().rev().enumerate() {
                if d as usize != 1 && dims[rank - 1 - i] != d as usize {
                    return Err(unsupported(n, "Expand that copies data (use Tile)"));
                }
            }
            imp.set(&out, View { dims, map: v.map });
            Ok(())
        }
        "Gather" => {
            // Selecting the only entry of a size-1 axis (e.g. the last layer of Y_h).
            let v = imp.view(n)?;
            let idx = imp.need_const(n, 1)?;
            let a = axis(attr_i(n, "axis", 0), v.dims.len()).unwrap_or(0);
            if v.dims[a] != 1 || idx.data.len() != 1 || !(idx.data[0] == 0.0 || idx.data[0] == -1.0)
            {
                return Err(unsupported(n, "Gather is only supported on a size-1 axis"));
            }
            let mut dims = v.dims.clone();
            dims.remove(a);
            for _ in 0..idx.dims.len() {
                dims.insert(a, 1);
            }
            imp.set(&out, View { dims, map: v.map });
            Ok(())
        }
        op => Err(ImportError::UnsupportedOp {
            op: op.into(),
            node: node_name(n),
        }),
    }
}

/// The input dims of an ONNX file, batch (or any symbolic dimension) set to 1.
pub fn input_dims(bytes: &[u8]) -> Result<Vec<usize>, ImportError> {
    let model = ModelProto::decode(bytes).map_err(|e| ImportError::Decode(e.to_string()))?;
    let g = model
        .graph
        .ok_or_else(|| ImportError::Invalid("the model has no graph".into()))?;
    let inits: Vec<&str> = g.initializer.iter().map(|t| t.name.as_str()).collect();
    let inputs: Vec<_> = g
        .input
        .iter()
        .filter(|i| !inits.contains(&i.name.as_str()))
        .collect();
    let [input] = inputs[..] else {
        return Err(ImportError::Invalid(format!(
            "the model has {} inputs; an autoencoder has one",
            inputs.len()
        )));
    };
    match input.r#type.as_ref().and_then(|t| t.value.as_ref()) {
        Some(tract_onnx::pb::type_proto::Value::TensorType(t)) => {
            Ok(t.shape
                .as_ref()
                .map(|s| {
                    s.dim
                        .iter()
                        .map(|d| match d.value {
                            Some(
                                tract_onnx::pb::tensor_shape_proto::dimension::Value::DimValue(v),
                            ) if v > 0 => v as usize,
                            _ => 1,
                        })
                        .collect()
                })
                .unwrap_or_default())
        }
        _ => Err(ImportError::Invalid("the input is not a tensor".into())),
    }
}

/// Converts one sample from the ONNX layout of `onnx_dims` (NCHW for 4-D inputs) to the
/// runtime's (HWC). Other ranks have the same order in both.
pub fn to_runtime_order(onnx_dims: &[usize], onnx: &[f32]) -> Vec<f32> {
    let Ok((_, view)) = input_shape(onnx_dims) else {
        return onnx.to_vec();
    };
    let mut out = vec![0.0; onnx.len()];
    for (e, &m) in view.map.iter().enumerate() {
        if let (Some(d), Some(&v)) = (out.get_mut(m as usize), onnx.get(e)) {
            *d = v;
        }
    }
    out
}

/// The inverse of [`to_runtime_order`], for reconstructions.
pub fn to_onnx_order(onnx_dims: &[usize], runtime: &[f32]) -> Vec<f32> {
    let Ok((_, view)) = input_shape(onnx_dims) else {
        return runtime.to_vec();
    };
    view.map
        .iter()
        .map(|&m| runtime.get(m as usize).copied().unwrap_or(0.0))
        .collect()
}

/// Runs the ONNX file in tract-onnx and the imported graph in aedge-runtime (f32, without its
/// preprocessing) on the same sample (ONNX layout, model units) and returns the largest absolute difference of the reconstructions.
pub fn verify(bytes: &[u8], graph: &Graph, sample: &[f32]) -> Result<f32, String> {
    use aedge_runtime::{AlignedBytes, Model, Precision};
    let dims = input_dims(bytes).map_err(|e| e.to_string())?;
    let expected = tract_run(bytes, &dims, sample).map_err(|e| format!("tract-onnx: {e:#}"))?;
    // The ONNX file takes model units: compare without the preprocessing.
    let mut plain = graph.clone();
    plain.preprocess_scale = vec![1.0];
    plain.preprocess_offset = vec![0.0];
    let file = AlignedBytes::from(plain.to_aedge(Precision::F32).map_err(|e| e.to_string())?);
    let m = Model::parse(&file).map_err(|e| e.to_string())?;
    let mut arena = AlignedBytes::zeroed(m.arena_len());
    let x = to_runtime_order(&dims, sample);
    let mut y = vec![0.0; m.output_shape().len()];
    m.reconstruct(&x, &mut y, &mut arena)
        .map_err(|e| e.to_string())?;
    let got = to_onnx_order(&dims, &y);
    if got.len() != expected.len() {
        return Err(format!(
            "tract gives {} values, the runtime {}",
            expected.len(),
            got.len()
        ));
    }
    Ok(got
        .iter()
        .zip(&expected)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f32::max))
}

fn tract_run(
    bytes: &[u8],
    dims: &[usize],
    x: &[f32],
) -> tract_onnx::prelude::TractResult<Vec<f32>> {
    use tract_onnx::prelude::*;
    let model = tract_onnx::onnx()
        .model_for_read(&mut &bytes[..])?
        .with_input_fact(0, f32::fact(dims).into())?;
    // tract 0.23.9's declutter pass fails on PyTorch's LSTM-after-Tile graphs ("Trying to
    // substitute ... EinSum"); the undecluttered typed model runs them correctly.
    let plan = match model.clone().into_optimized() {
        Ok(m) => m.into_runnable()?,
        Err(_) => model.into_typed()?.into_runnable()?,
    };
    let out = plan.run(tvec!(Tensor::from_shape(dims, x)?.into_tvalue()))?;
    Ok(out[0]
        .to_plain_array_view::<f32>()?
        .iter()
        .copied()
        .collect())
}
