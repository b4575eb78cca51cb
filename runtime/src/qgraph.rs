//! The int8 graph IR: a model whose quantization is already decided (an imported int8 TFLite
//! file), described with integer parameters and real requantization scales. [`QGraph::to_aedge`]
//! does what an int8 interpreter does when it prepares such a model (Q31 multipliers and
//! shifts, the input zero point folded into dense biases, packed dense weights) and writes an
//! int8 `.aedge` file.

use crate::desc::{
    Activation, ErrorStats, LayerDesc, LayerQuant, Meta, Metric, Op, Precision, Quant,
    ThresholdRule,
};
use crate::error::Error;
use crate::fixed::quantize_multiplier;
use crate::kernels::dense;
use crate::shape::Shape;
use crate::writer::{count, preprocess_blobs, WeightsBuilder};
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

/// One int8 layer.
#[derive(Clone, Debug, PartialEq)]
pub struct QLayer {
    /// Operation and geometry.
    pub op: Op,
    /// Activation. On weighted layers [`Activation::Relu`] clamps at the output zero point
    /// and table activations need `lut`; on [`Op::Activation`] layers it only names what
    /// `lut` computes.
    pub act: Activation,
    /// Weights in the natural (unpacked) layout of [`Op`], `[out_c][..]`.
    pub weights: Vec<i8>,
    /// i32 bias per output channel, in units of the accumulator (`input scale × weight scale`).
    pub bias: Vec<i32>,
    /// Real requantization scale per output channel (`input scale × weight scale / pre
    /// scale`); it becomes a Q31 multiplier and shift.
    pub requant: Vec<f64>,
    /// Quantization the accumulators are requantized to, before `lut`.
    pub pre: Quant,
    /// Quantization of the output (equal to `pre` without a table). For ops without
    /// parameters other than [`Op::Activation`] it must equal the input's.
    pub output: Quant,
    /// 256-entry table applied to the requantized value (indexed by value + 128).
    pub lut: Option<[i8; 256]>,
}

impl QLayer {
    /// A layer without parameters (pooling, reshape, upsampling) that keeps quantization `q`.
    pub fn plain(op: Op, q: Quant) -> Self {
        QLayer {
            op,
            act: Activation::Identity,
            weights: Vec::new(),
            bias: Vec::new(),
            requant: Vec::new(),
            pre: q,
            output: q,
            lut: None,
        }
    }

    /// A stand-alone int8 activation given by its table from quantization `from` to `to`.
    pub fn table(act: Activation, from: Quant, to: Quant, lut: [i8; 256]) -> Self {
        QLayer {
            act,
            pre: from,
            output: to,
            lut: Some(lut),
            ..QLayer::plain(Op::Activation, to)
        }
    }
}

/// An int8 model with its metadata.
#[derive(Clone, Debug, PartialEq)]
pub struct QGraph {
    /// A name for reports.
    pub name: String,
    /// Shape of one input sample.
    pub input: Shape,
    /// Quantization of the (preprocessed) input.
    pub input_quant: Quant,
    /// Preprocessing scale (one value or one per channel): `model = raw * scale + offset`.
    pub preprocess_scale: Vec<f32>,
    /// Preprocessing offset (one value or one per channel).
    pub preprocess_offset: Vec<f32>,
    /// Number of layers in the encoder (the latent code is this layer's output).
    pub encoder_layers: usize,
    /// Reconstruction error metric.
    pub metric: Metric,
    /// Anomaly threshold (+infinity when not calibrated).
    pub threshold: f32,
    /// How the threshold was chosen.
    pub threshold_rule: ThresholdRule,
    /// Calibration error summary.
    pub errors: ErrorStats,
    /// The layers in order.
    pub layers: Vec<QLayer>,
}

impl QGraph {
    /// A chain of int8 `layers` on inputs of `input` quantized by `input_quant`, the encoder
    /// its first `encoder_layers`: no preprocessing, MSE, no threshold yet.
    pub fn chain(
        name: &str,
        input: Shape,
        input_quant: Quant,
        encoder_layers: usize,
        layers: Vec<QLayer>,
    ) -> QGraph {
        QGraph {
            name: name.into(),
            input,
            input_quant,
            preprocess_scale: vec![1.0],
            preprocess_offset: vec![0.0],
            encoder_layers,
            metric: Metric::Mse,
            threshold: f32::INFINITY,
            threshold_rule: ThresholdRule::Manual,
            errors: ErrorStats::default(),
            layers,
        }
    }

    /// Writes the int8 `.aedge` file.
    pub fn to_aedge(&self) -> Result<Vec<u8>, Error> {
        let mut wb = WeightsBuilder::default();
        let pre = preprocess_blobs(&self.preprocess_scale, &self.preprocess_offset, &mut wb)?;
        let mut in_q = self.input_quant;
        let mut descs = Vec::with_capacity(self.layers.len());
        for (i, l) in self.layers.iter().enumerate() {
            let invalid = |reason| Error::InvalidGraph {
                layer: i as u16,
                reason,
            };
            let desc = if l.op.has_weights() {
                if matches!(l.op, Op::Lstm { .. }) {
                    return Err(invalid("int8 LSTMs are written by calibration only"));
                }
                weighted(l, in_q, &mut wb).map_err(invalid)?
            } else if l.op == Op::Activation {
                let lut = l
                    .lut
                    .ok_or_else(|| invalid("an int8 activation needs a table"))?;
                table_desc(l.act, in_q, l.output, &lut, &mut wb)?
            } else {
                if l.output != in_q || l.lut.is_some() {
                    return Err(invalid(
                        "pooling, reshape and upsampling keep their input's quantization",
                    ));
                }
                plain_desc(l.op, Activation::Identity)
            };
            in_q = l.output;
            descs.push(desc);
        }
        let meta = Meta {
            name: &self.name,
            precision: Precision::Int8,
            input: self.input,
            input_quant: self.input_quant,
            preprocess: pre,
            encoder_layers: count(self.encoder_layers, "encoder_layers is too large")?,
            metric: self.metric,
            threshold: self.threshold,
            threshold_rule: self.threshold_rule,
            errors: self.errors,
            layer_count: count(self.layers.len(), "too many layers")?,
        };
        wb.finish(&meta, &descs, None, None, None)
    }
}

/// The record of a stand-alone int8 activation: `lut` maps codes of `from` to codes of `to`.
pub(crate) fn table_desc(
    act: Activation,
    from: Quant,
    to: Quant,
    lut: &[i8; 256],
    wb: &mut WeightsBuilder,
) -> Result<LayerDesc, Error> {
    Ok(LayerDesc {
        op: Op::Activation,
        act,
        weights: Default::default(),
        bias: Default::default(),
        quant: Some(LayerQuant {
            output: to,
            pre: from,
            multiplier: Default::default(),
            shift: Default::default(),
            lut: wb.i8s(lut)?,
        }),
    })
}

/// The record of an int8 [`Op::Add`] or [`Op::Concat`] joining an input quantized by `in_q`
/// with a saved tensor quantized by `saved` into `out`: the fixed-point rescaling of each
/// input (and of an `Add`'s sum), computed as TFLite prepares its ADD.
pub(crate) fn merge_desc(
    op: Op,
    in_q: Quant,
    saved: Quant,
    out: Quant,
    wb: &mut WeightsBuilder,
) -> Result<LayerDesc, Error> {
    let (mult, shift): (Vec<i32>, Vec<i32>) = if op == Op::Add {
        let (m, s) = crate::kernels::merge::add_multipliers(in_q, saved, out);
        (m.to_vec(), s.to_vec())
    } else {
        [in_q, saved]
            .iter()
            .map(|&q| {
                let r = crate::kernels::merge::Rescale::between(q, out);
                (r.multiplier, r.shift)
            })
            .unzip()
    };
    Ok(LayerDesc {
        op,
        act: Activation::Identity,
        weights: Default::default(),
        bias: Default::default(),
        quant: Some(LayerQuant {
            output: out,
            pre: out,
            multiplier: wb.i32s(&mult)?,
            shift: wb.i32s(&shift)?,
            lut: Default::default(),
        }),
    })
}

/// The record of a layer without parameters (pooling, reshape, upsampling, repeat).
pub(crate) fn plain_desc(op: Op, act: Activation) -> LayerDesc {
    LayerDesc {
        op,
        act,
        weights: Default::default(),
        bias: Default::default(),
        quant: None,
    }
}

/// The record of a dense, convolution or transposed-convolution layer with int8 weights.
fn weighted(l: &QLayer, in_q: Quant, wb: &mut WeightsBuilder) -> Result<LayerDesc, &'static str> {
    let oc = l.bias.len();
    if oc == 0 || l.requant.len() != oc || !l.weights.len().is_multiple_of(oc) {
        return Err("bias, scales and weights disagree on the number of output channels");
    }
    if l.act.needs_lut() != l.lut.is_some() {
        return Err("table activations (and only they) need a table");
    }
    if l.lut.is_none() && l.pre != l.output {
        return Err("without a table the output quantization is the requantized one");
    }
    int8_weighted(l, in_q, wb).map_err(|_| "parameters too large for the file")
}

/// Writes an int8 weighted layer: requantization scales become Q31 multipliers and shifts
/// (TFLite's `QuantizeMultiplier`); dense weights get the kernel's packed layout with the
/// input zero point folded into the bias. Shared with calibration.
pub(crate) fn int8_weighted(
    l: &QLayer,
    in_q: Quant,
    wb: &mut WeightsBuilder,
) -> Result<LayerDesc, Error> {
    let oc = l.bias.len();
    let fan_in = l.weights.len() / oc.max(1);
    let (mult, shift): (Vec<i32>, Vec<i32>) =
        l.requant.iter().map(|&m| quantize_multiplier(m)).unzip();
    let mut bias = l.bias.clone();
    let weights = if matches!(l.op, Op::Dense { .. }) {
        dense::int8::fold_zero_point(&l.weights, fan_in, in_q.zero_point as i32, &mut bias);
        let mut packed = alloc::vec![0i8; l.weights.len()];
        dense::int8::pack(&l.weights, oc, fan_in, &mut packed);
        wb.i8s_aligned(&packed)?
    } else {
        wb.i8s(&l.weights)?
    };
    // One multiplier and shift for the whole layer when every channel has the same (a
    // per-tensor quantized model): the kernels then keep them in registers. The parser
    // requires |bias| < 2^29 for that (the dense kernels' accumulator bound).
    let same = mult.windows(2).all(|w| w[0] == w[1]) && shift.windows(2).all(|w| w[0] == w[1]);
    let small_bias = bias.iter().all(|b| b.unsigned_abs() < 1 << 29);
    let (mult, shift) = if same && small_bias && !mult.is_empty() {
        (&mult[..1], &shift[..1])
    } else {
        (&mult[..], &shift[..])
    };
    let lut = match &l.lut {
        Some(t) => wb.i8s(t)?,
        None => Default::default(),
    };
    Ok(LayerDesc {
        op: l.op,
        act: l.act,
        weights,
        bias: wb.i32s(&bias)?,
        quant: Some(LayerQuant {
            output: l.output,
            pre: l.pre,
            multiplier: wb.i32s(mult)?,
            shift: wb.i32s(shift)?,
            lut,
        }),
    })
}
