//! Lowering ONNX nodes onto runtime layers: the importer's state and one method per op
//! family; [`chain_op`] dispatches a node on the model's chain.

use super::attr::*;
use super::view::*;
use super::ImportError;
use aedge_runtime::ir::{Graph, Layer};
use aedge_runtime::{Activation, Op, Shape};
use std::collections::HashMap;
use tract_onnx::pb::NodeProto;

/// Where the last runtime layer came from, for fusing and re-ordering.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum Last {
    /// A layer whose bias and activation may still be set.
    Open,
    /// Anything else.
    Closed,
}

pub(super) struct Importer {
    pub(super) consts: HashMap<String, Const>,
    pub(super) views: HashMap<String, View>,
    pub(super) graph: Graph,
    /// Runtime shape of the current tensor.
    pub(super) shape: Shape,
    /// Output name of the last runtime layer, and whether its bias/activation are still free.
    pub(super) last: Option<(String, Last)>,
    /// How many nodes read each value.
    pub(super) uses: HashMap<String, usize>,
    /// For each chain value, how many runtime layers had run when it was the runtime tensor
    /// (a skip connection saves it there).
    pub(super) at: HashMap<String, usize>,
}

impl Importer {
    pub(super) fn constant(&self, name: &str) -> Option<&Const> {
        self.consts.get(name)
    }

    pub(super) fn need_const(&self, n: &NodeProto, i: usize) -> Result<Const, ImportError> {
        let name = n.input.get(i).map(String::as_str).unwrap_or("");
        self.constant(name).cloned().ok_or_else(|| {
            unsupported(
                n,
                format!("input {i} ('{name}') must be a constant (weights, shapes)"),
            )
        })
    }

    pub(super) fn view(&self, n: &NodeProto) -> Result<View, ImportError> {
        let name = n.input.first().map(String::as_str).unwrap_or("");
        self.views.get(name).cloned().ok_or_else(|| {
            unsupported(
                n,
                format!("input '{name}' is not computed from the model input"),
            )
        })
    }

    /// Sets the chain value `name`, produced by a new runtime layer when `layer` is set.
    pub(super) fn set(&mut self, name: &str, v: View) {
        self.views.insert(name.to_string(), v);
        self.at.insert(name.to_string(), self.graph.layers.len());
    }

    /// Whether `name` is the runtime tensor now (no layer ran since it was).
    pub(super) fn is_current(&self, name: &str) -> bool {
        self.at.get(name) == Some(&self.graph.layers.len())
    }

    /// `Add` of two values computed from the input, or their `Concat` on the channel axis: a
    /// ResNet's or U-Net's skip connection. One must be the last layer's output, the other an
    /// earlier value, which gets a `Save` after the layer that made it.
    pub(super) fn join(&mut self, n: &NodeProto, concat: bool) -> Result<(), ImportError> {
        let [a, b] = n.input.as_slice() else {
            return Err(unsupported(n, "joins exactly two values"));
        };
        let now = self.graph.layers.len();
        let (cur, old, cur_first) =
            match (self.at.get(a), self.at.get(b)) {
                (Some(&x), Some(&y)) if x == now && y < now => (a, b, true),
                (Some(&x), Some(&y)) if y == now && x < now => (b, a, false),
                _ => return Err(unsupported(
                    n,
                    "joins the last layer's output with an earlier value (a skip connection) only",
                )),
            };
        let k = self.at[old];
        let old_shape = match k {
            0 => self.graph.input,
            k => self
                .graph
                .shapes()
                .map_err(|e| unsupported(n, e.to_string()))?[k - 1],
        };
        let (vc, vo) = (self.views[cur].clone(), self.views[old].clone());
        let natural = |v: &View, s: Shape| {
            let want = if v.dims.len() == 4 {
                nchw_view(s)
            } else {
                View::identity(v.dims.clone())
            };
            v.dims == want.dims && v.map == want.map && v.len() == s.len()
        };
        if !natural(&vc, self.shape) || !natural(&vo, old_shape) || vc.dims.len() != vo.dims.len() {
            return Err(unsupported(
                n,
                "joins values in the runtime's own layout only (NCHW images or flat vectors)",
            ));
        }
        let op = if concat {
            if axis(attr_i(n, "axis", 1), vc.dims.len()) != Some(1) {
                return Err(unsupported(n, "Concat on the channel axis (1) only"));
            }
            Op::Concat {
                channels: old_shape.c,
                saved_first: !cur_first,
            }
        } else {
            if vc.dims != vo.dims {
                return Err(unsupported(n, "Add of two values of the same shape only"));
            }
            Op::Add
        };
        self.graph.layers.insert(k, Layer::op(Op::Save));
        for v in self.at.values_mut() {
            if *v >= k {
                *v += 1;
            }
        }
        let out = self.push(n, Layer::op(op), false)?;
        let view = if vc.dims.len() == 4 {
            nchw_view(out)
        } else {
            View::identity(vec![1, out.len()])
        };
        self.set(&n.output[0], view);
        Ok(())
    }

    pub(super) fn push(
        &mut self,
        n: &NodeProto,
        layer: Layer,
        open: bool,
    ) -> Result<Shape, ImportError> {
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
    pub(super) fn open_last(&self, name: &str) -> bool {
        matches!(&self.last, Some((o, Last::Open)) if o == name)
            && self.uses.get(name).copied().unwrap_or(0) == 1
    }

    /// Makes the runtime tensor hold the elements of `v` in the order `target` expects: free
    /// when they already agree; else by re-ordering the rows of the dense layer that produced
    /// them (its output order is arbitrary); anything else is an error.
    pub(super) fn arrange(
        &mut self,
        n: &NodeProto,
        v: &View,
        target: &View,
    ) -> Result<(), ImportError> {
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
    pub(super) fn reshape_to(&mut self, n: &NodeProto, to: Shape) -> Result<(), ImportError> {
        if self.shape != to {
            self.push(n, Layer::op(Op::Reshape { to }), false)?;
        }
        Ok(())
    }

    /// The input as an NCHW image, with the runtime tensor shaped `H × W × C`.
    pub(super) fn image_input(&mut self, n: &NodeProto) -> Result<Shape, ImportError> {
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

    pub(super) fn activation(&mut self, n: &NodeProto, act: Activation) -> Result<(), ImportError> {
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
    pub(super) fn dense(
        &mut self,
        n: &NodeProto,
        w: Vec<f32>,
        b: Vec<f32>,
    ) -> Result<(), ImportError> {
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

    pub(super) fn gemm(&mut self, n: &NodeProto) -> Result<(), ImportError> {
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

    pub(super) fn matmul(&mut self, n: &NodeProto) -> Result<(), ImportError> {
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
    pub(super) fn add(&mut self, n: &NodeProto) -> Result<(), ImportError> {
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

    pub(super) fn conv(&mut self, n: &NodeProto, transpose: bool) -> Result<(), ImportError> {
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
    pub(super) fn conv_params(
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
    pub(super) fn depthwise(&mut self, n: &NodeProto, s: Shape) -> Result<(), ImportError> {
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
    pub(super) fn pads(
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
    pub(super) fn pool(&mut self, n: &NodeProto, average: bool) -> Result<(), ImportError> {
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

    pub(super) fn resize(&mut self, n: &NodeProto) -> Result<(), ImportError> {
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

    pub(super) fn lstm(
        &mut self,
        n: &NodeProto,
        all_nodes: &[NodeProto],
    ) -> Result<(), ImportError> {
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

    pub(super) fn tile(&mut self, n: &NodeProto) -> Result<(), ImportError> {
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

pub(super) fn broadcast_bias(
    n: &NodeProto,
    c: &Const,
    units: usize,
) -> Result<Vec<f32>, ImportError> {
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
pub(super) fn axis(a: i64, rank: usize) -> Option<usize> {
    let r = rank as i64;
    let a = if a < 0 { a + r } else { a };
    (0..r).contains(&a).then_some(a as usize)
}

/// Axes of Squeeze/Unsqueeze: an input since opset 13, an attribute before.
pub(super) fn axes_of(imp: &Importer, n: &NodeProto) -> Option<Vec<i64>> {
    n.input
        .get(1)
        .filter(|s| !s.is_empty())
        .and_then(|s| imp.constant(s))
        .map(|c| c.data.iter().map(|&x| x as i64).collect())
        .or_else(|| attr_ints(n, "axes"))
}

pub(super) fn chain_op(
    imp: &mut Importer,
    n: &NodeProto,
    all: &[NodeProto],
) -> Result<(), ImportError> {
    let out = n.output.first().cloned().unwrap_or_default();
    match n.op_type.as_str() {
        "Gemm" => imp.gemm(n),
        "MatMul" => imp.matmul(n),
        "Add" if n.input.iter().all(|i| imp.views.contains_key(i)) => imp.join(n, false),
        "Add" => imp.add(n),
        "Concat" => imp.join(n, true),
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
