//! Calibration: activation ranges for int8 post-training quantization (measured by running
//! the f32 model through this runtime), the int8 export itself, and anomaly thresholds from
//! reconstruction errors.

use crate::desc::{
    Activation, ErrorStats, LayerDesc, LayerQuant, Op, Precision, Quant, ThresholdRule,
};
use crate::error::Error;
use crate::fixed::quantize_multiplier;
use crate::ir::{Graph, Layer};
use crate::qgraph::{int8_weighted, merge_desc, plain_desc, table_desc, QLayer};
use crate::run::Activations;
use crate::writer::WeightsBuilder;
use crate::{AlignedBytes, Model};
use alloc::vec::Vec;

/// How a tensor's range is taken from the calibration values.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum RangeMethod {
    /// Smallest and largest value seen.
    MinMax,
    /// The given low and high percentiles (e.g. 99.99 keeps values between the 0.01th and the
    /// 99.99th percentile), which ignores rare outliers.
    Percentile(f32),
}

/// A real-valued range.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Range {
    /// Lower end.
    pub min: f32,
    /// Upper end.
    pub max: f32,
}

/// Ranges of one layer.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LayerRange {
    /// Before the activation (differs from `out` only for table activations).
    pub pre: Range,
    /// The layer's output.
    pub out: Range,
}

/// Ranges of every tensor of a graph.
#[derive(Clone, Debug, PartialEq)]
pub struct Ranges {
    /// The preprocessed input.
    pub input: Range,
    /// Each layer, in order.
    pub layers: Vec<LayerRange>,
}

/// Asymmetric int8 quantization covering `r` (widened to include zero, as TFLite does).
pub fn quant_for(r: Range) -> Quant {
    let lo = r.min.min(0.0);
    let hi = r.max.max(0.0);
    let scale = ((hi - lo) / 255.0).max(1e-8);
    let zp = libm::roundf(-128.0 - lo / scale).clamp(-128.0, 127.0) as i8;
    Quant {
        scale,
        zero_point: zp,
    }
}

/// The fixed output quantization TFLite uses for sigmoid and tanh, if `act` has one.
fn fixed_output(act: Activation) -> Option<Quant> {
    match act {
        Activation::Sigmoid => Some(Quant {
            scale: 1.0 / 256.0,
            zero_point: -128,
        }),
        Activation::Tanh => Some(Quant {
            scale: 1.0 / 128.0,
            zero_point: 0,
        }),
        _ => None,
    }
}

/// Collects values of one tensor.
struct Collector {
    method: RangeMethod,
    min: f32,
    max: f32,
    values: Vec<f32>,
}

impl Collector {
    fn new(method: RangeMethod) -> Self {
        Collector {
            method,
            min: f32::INFINITY,
            max: f32::NEG_INFINITY,
            values: Vec::new(),
        }
    }

    fn add(&mut self, v: &[f32]) {
        for &x in v.iter().filter(|x| x.is_finite()) {
            self.min = self.min.min(x);
            self.max = self.max.max(x);
        }
        if let RangeMethod::Percentile(_) = self.method {
            self.values
                .extend(v.iter().copied().filter(|x| x.is_finite()));
        }
    }

    fn range(mut self) -> Range {
        if self.min > self.max {
            return Range { min: 0.0, max: 0.0 };
        }
        match self.method {
            RangeMethod::MinMax => Range {
                min: self.min,
                max: self.max,
            },
            RangeMethod::Percentile(p) => {
                let p = p.clamp(50.0, 100.0) as f64 / 100.0;
                let n = self.values.len();
                let at = |q: f64| libm::round((n - 1) as f64 * q) as usize;
                let (hi_i, lo_i) = (at(p), at(1.0 - p));
                let hi = *self.values.select_nth_unstable_by(hi_i, f32::total_cmp).1;
                let lo = *self.values.select_nth_unstable_by(lo_i, f32::total_cmp).1;
                Range { min: lo, max: hi }
            }
        }
    }
}

/// Measures activation ranges by running the f32 graph on calibration samples (raw sensor
/// units, as passed to [`Model::reconstruct`]).
pub fn ranges<'s>(
    graph: &Graph,
    samples: impl IntoIterator<Item = &'s [f32]>,
    method: RangeMethod,
) -> Result<Ranges, Error> {
    // Split table activations into their own layer so their input range is observable.
    let mut split = graph.clone();
    split.layers.clear();
    let mut slot = Vec::new(); // (pre index, out index) into the split graph's layers
    for l in &graph.layers {
        if l.op.has_weights() && l.act.needs_lut() {
            split.layers.push(Layer {
                act: Activation::Identity,
                ..l.clone()
            });
            split.layers.push(Layer::activation(l.act));
            slot.push((split.layers.len() - 2, split.layers.len() - 1));
        } else {
            split.layers.push(l.clone());
            slot.push((split.layers.len() - 1, split.layers.len() - 1));
        }
    }
    split.encoder_layers = 0;
    let bytes = AlignedBytes::from(split.to_aedge(Precision::F32)?);
    let model = Model::parse(&bytes)?;
    let mut arena = AlignedBytes::zeroed(model.arena_len());
    let mut input = Collector::new(method);
    let mut tensors: Vec<Collector> = (0..split.layers.len())
        .map(|_| Collector::new(method))
        .collect();
    let scaling = model.scaling();
    let mut count = 0;
    let mut pre = Vec::new();
    for s in samples {
        pre.resize(s.len(), 0.0);
        scaling.apply(s, &mut pre);
        input.add(&pre);
        model.trace(s, &mut arena, &mut |i, a| {
            if let Activations::F32(v) = a {
                tensors[i].add(v);
            }
        })?;
        count += 1;
    }
    if count == 0 {
        return Err(Error::Unsupported("calibration needs at least one sample"));
    }
    let mut done: Vec<Option<Range>> = tensors.into_iter().map(|t| Some(t.range())).collect();
    let layers = slot
        .iter()
        .map(|&(p, o)| LayerRange {
            pre: done[p].unwrap_or(Range { min: 0.0, max: 0.0 }),
            out: done[o].take().unwrap_or(Range { min: 0.0, max: 0.0 }),
        })
        .collect();
    Ok(Ranges {
        input: input.range(),
        layers,
    })
}

/// Builds the int8 model: per-output-channel symmetric weights, per-tensor asymmetric
/// activations, i32 biases, Q31 requantization multipliers and activation tables.
pub(crate) fn quantize(graph: &Graph, ranges: &Ranges) -> Result<Vec<u8>, Error> {
    if ranges.layers.len() != graph.layers.len() {
        return Err(Error::Unsupported(
            "calibration ranges do not match the graph",
        ));
    }
    let mut wb = WeightsBuilder::default();
    let pre = graph.preprocess(&mut wb)?;
    let input_quant = quant_for(ranges.input);
    let mut in_q = input_quant;
    let mut descs = Vec::with_capacity(graph.layers.len());
    // Quantization of the tensors saved for skip connections, most recent last.
    let mut saved = Vec::new();
    for (l, r) in graph.layers.iter().zip(&ranges.layers) {
        let desc = if let Op::Add | Op::Concat { .. } = l.op {
            let other = saved.pop().ok_or(Error::Unsupported(
                "an Add or Concat without an earlier Save",
            ))?;
            let out = quant_for(r.out);
            let desc = merge_desc(l.op, in_q, other, out, &mut wb)?;
            in_q = out;
            desc
        } else if l.op.has_weights() {
            let out = fixed_output(l.act).unwrap_or_else(|| quant_for(r.out));
            let pre_q = if l.act.needs_lut() {
                quant_for(r.pre)
            } else {
                out
            };
            let desc = match l.op {
                Op::Lstm { units, .. } => quantize_lstm(l, units as usize, in_q, out, &mut wb)?,
                _ => quantize_weighted(l, in_q, pre_q, out, &mut wb)?,
            };
            in_q = out;
            desc
        } else if l.op == Op::Activation {
            let out = fixed_output(l.act).unwrap_or_else(|| quant_for(r.out));
            let desc = table_desc(l.act, in_q, out, &table(l.act, in_q, out), &mut wb)?;
            in_q = out;
            desc
        } else {
            if l.op == Op::Save {
                saved.push(in_q);
            }
            plain_desc(l.op, l.act)
        };
        descs.push(desc);
    }
    crate::ir::finish(
        wb,
        &graph.meta(Precision::Int8, input_quant, pre)?,
        &descs,
        graph,
    )
}

fn quantize_weighted(
    l: &Layer,
    in_q: Quant,
    pre: Quant,
    out: Quant,
    wb: &mut WeightsBuilder,
) -> Result<LayerDesc, Error> {
    let oc = l.bias.len();
    if oc == 0 || !l.weights.len().is_multiple_of(oc) {
        return Err(Error::Unsupported(
            "weights do not divide into output channels",
        ));
    }
    let fan_in = l.weights.len() / oc;
    let mut wq = Vec::with_capacity(l.weights.len());
    let mut bias = Vec::with_capacity(oc);
    let mut requant = Vec::with_capacity(oc);
    for (c, row) in l.weights.chunks_exact(fan_in).enumerate() {
        let ws = symmetric(row, &mut wq);
        let acc_scale = in_q.scale as f64 * ws as f64;
        let b = libm::round(l.bias[c] as f64 / acc_scale).clamp(i32::MIN as f64, i32::MAX as f64);
        bias.push(b as i32);
        requant.push(acc_scale / pre.scale as f64);
    }
    let q = QLayer {
        op: l.op,
        act: l.act,
        weights: wq,
        bias,
        requant,
        pre,
        output: out,
        lut: l.act.needs_lut().then(|| table(l.act, pre, out)),
    };
    int8_weighted(&q, in_q, wb)
}

/// Quantizes one weight row symmetrically (scale `max|w| / 127`) onto `out`; returns the scale.
fn symmetric(row: &[f32], out: &mut Vec<i8>) -> f32 {
    let max_abs = row.iter().fold(0.0f32, |m, w| m.max(libm::fabsf(*w)));
    let ws = if max_abs > 0.0 { max_abs / 127.0 } else { 1.0 };
    out.extend(
        row.iter()
            .map(|w| libm::roundf(w / ws).clamp(-127.0, 127.0) as i8),
    );
    ws
}

/// Scale of the LSTM kernel's Q3.12 gate pre-activations.
const GATE_SCALE: f64 = 1.0 / 4096.0;

/// int8 LSTM: per-row symmetric weights for the input and the recurrent part, the bias in the
/// input accumulator's units, multipliers to the Q3.12 gates, and one from the Q0.30 product
/// `o·tanh(c)` to the hidden state's quantization `out` (see `kernels::lstm`).
fn quantize_lstm(
    l: &Layer,
    units: usize,
    in_q: Quant,
    out: Quant,
    wb: &mut WeightsBuilder,
) -> Result<LayerDesc, Error> {
    let rows = 4 * units;
    if l.bias.len() != rows
        || !l.weights.len().is_multiple_of(rows)
        || l.weights.len() / rows < units
    {
        return Err(Error::Unsupported(
            "LSTM weights do not match 4 gates of `units` rows",
        ));
    }
    let inputs = l.weights.len() / rows - units;
    let (wx, wh) = l.weights.split_at(rows * inputs);
    let mut wq = Vec::with_capacity(l.weights.len());
    let mut bq = Vec::with_capacity(rows);
    let mut mult = Vec::with_capacity(2 * rows + 1);
    let mut shift = Vec::with_capacity(2 * rows + 1);
    let mut push = |m: f64| {
        let (m, s) = quantize_multiplier(m);
        mult.push(m);
        shift.push(s);
    };
    for (r, row) in wx.chunks_exact(inputs.max(1)).take(rows).enumerate() {
        let ws = if inputs == 0 {
            1.0
        } else {
            symmetric(row, &mut wq)
        };
        let acc_scale = in_q.scale as f64 * ws as f64;
        let b = libm::round(l.bias[r] as f64 / acc_scale).clamp(i32::MIN as f64, i32::MAX as f64);
        bq.push(b as i32);
        push(acc_scale / GATE_SCALE);
    }
    for row in wh.chunks_exact(units) {
        let ws = symmetric(row, &mut wq);
        push(out.scale as f64 * ws as f64 / GATE_SCALE);
    }
    push(1.0 / ((1u64 << 30) as f64 * out.scale as f64));
    Ok(LayerDesc {
        op: l.op,
        act: l.act,
        weights: wb.i8s(&wq)?,
        bias: wb.i32s(&bq)?,
        quant: Some(LayerQuant {
            output: out,
            pre: out,
            multiplier: wb.i32s(&mult)?,
            shift: wb.i32s(&shift)?,
            lut: Default::default(),
        }),
    })
}

/// The 256-entry int8 table of `act` from quantization `from` to `to`.
pub fn table(act: Activation, from: Quant, to: Quant) -> [i8; 256] {
    let mut t = [0i8; 256];
    for (i, e) in t.iter_mut().enumerate() {
        let x = from.dequantize((i as i32 - 128) as i8);
        *e = to.quantize(act.apply(x));
    }
    t
}

/// Anomaly threshold and error summary from reconstruction errors of held-out normal data
/// (the device's [`crate::learn::threshold_in_place`] on a copy).
pub fn threshold(errors: &[f32], rule: ThresholdRule) -> Result<(f32, ErrorStats), Error> {
    let mut e: Vec<f32> = errors.to_vec();
    crate::learn::threshold_in_place(&mut e, rule)
}

// Graph's calibration and quantization live with the calibrator, so the IR (ir.rs) does
// not depend on it: calibrate uses ir and qgraph, never the other way round.
impl Graph {
    /// Writes an int8 `.aedge` file, quantized with activation ranges from
    /// [`ranges`].
    pub fn to_aedge_int8(&self, ranges: &Ranges) -> Result<Vec<u8>, Error> {
        quantize(self, ranges)
    }

    /// Sets the anomaly threshold from the f32 model's reconstruction errors on held-out
    /// normal `samples` (raw units), with the error summary.
    pub fn calibrate_threshold<'s>(
        &mut self,
        samples: impl IntoIterator<Item = &'s [f32]>,
        rule: ThresholdRule,
    ) -> Result<(), Error> {
        let bytes = AlignedBytes::from(self.to_aedge(Precision::F32)?);
        let model = Model::parse(&bytes)?;
        let mut arena = AlignedBytes::zeroed(model.arena_len());
        let errors = samples
            .into_iter()
            .map(|x| model.score(x, &mut arena).map(|s| s.error))
            .collect::<Result<Vec<_>, _>>()?;
        (self.threshold, self.errors) = threshold(&errors, rule)?;
        self.threshold_rule = rule;
        Ok(())
    }
}
