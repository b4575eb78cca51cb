//! The graph IR: a float description of an autoencoder that every front end produces (the
//! trainer, ONNX import) and every back end consumes (`.aedge` in f32 / f16 / int8, ONNX).
//! Layers and metadata use the same types as the `.aedge` format; weights are owned `f32`.

use crate::desc::{
    Activation, ErrorStats, LatentDesc, LayerDesc, Likelihood, Meta, Metric, Op, Precision,
    Preprocess, Quant, SeriesDesc, ThresholdRule,
};
use crate::error::Error;
use crate::geometry::geometry;
use crate::latent_fit::LatentFit;
use crate::shape::Shape;
use crate::writer::{count, preprocess_blobs, WeightsBuilder};
use alloc::string::String;
use alloc::vec::Vec;

/// One layer with float parameters. Weight layouts are those of [`Op`].
#[derive(Clone, Debug, PartialEq)]
pub struct Layer {
    /// Operation and geometry.
    pub op: Op,
    /// Activation applied to the output.
    pub act: Activation,
    /// Weights (empty for ops without).
    pub weights: Vec<f32>,
    /// Bias (empty for ops without).
    pub bias: Vec<f32>,
}

impl Layer {
    /// Fully connected layer with `units` outputs; `weights` is `[units][inputs]`.
    pub fn dense(units: u16, weights: Vec<f32>, bias: Vec<f32>, act: Activation) -> Self {
        Layer {
            op: Op::Dense { units },
            act,
            weights,
            bias,
        }
    }

    /// Convolution; `weights` is `[out_c][kh][kw][in_c]`, `pad` is top, left, bottom, right.
    pub fn conv2d(
        out_c: u16,
        kernel: [u8; 2],
        stride: [u8; 2],
        pad: [u8; 4],
        weights: Vec<f32>,
        bias: Vec<f32>,
        act: Activation,
    ) -> Self {
        Layer {
            op: Op::Conv2d {
                out_c,
                kernel,
                stride,
                pad,
            },
            act,
            weights,
            bias,
        }
    }

    /// Transposed convolution; `weights` is `[out_c][kh][kw][in_c]`, `pad` crops the top and
    /// left of the full output, `out` is the output height and width.
    #[allow(clippy::too_many_arguments)]
    pub fn conv_transpose2d(
        out_c: u16,
        kernel: [u8; 2],
        stride: [u8; 2],
        pad: [u8; 2],
        out: [u16; 2],
        weights: Vec<f32>,
        bias: Vec<f32>,
        act: Activation,
    ) -> Self {
        Layer {
            op: Op::ConvTranspose2d {
                out_c,
                kernel,
                stride,
                pad,
                out,
            },
            act,
            weights,
            bias,
        }
    }

    /// LSTM with `units` hidden units; `weights` is `[4·units][inputs]` followed by
    /// `[4·units][units]` (gates input, forget, cell, output), `bias` is `[4·units]`.
    pub fn lstm(units: u16, return_sequences: bool, weights: Vec<f32>, bias: Vec<f32>) -> Self {
        Layer {
            op: Op::Lstm {
                units,
                return_sequences,
            },
            act: Activation::Identity,
            weights,
            bias,
        }
    }

    /// A layer without parameters.
    pub fn op(op: Op) -> Self {
        Layer {
            op,
            act: Activation::Identity,
            weights: Vec::new(),
            bias: Vec::new(),
        }
    }

    /// A stand-alone activation.
    pub fn activation(act: Activation) -> Self {
        Layer {
            act,
            ..Layer::op(Op::Activation)
        }
    }
}

/// TensorFlow's "same" padding (top, left, bottom, right) for a convolution or pooling window:
/// output size `ceil(input / stride)`, the odd pixel of padding at the bottom/right.
pub fn same_padding(input: Shape, kernel: [u8; 2], stride: [u8; 2]) -> [u8; 4] {
    let pad = |n: u16, k: u8, s: u8| -> (u8, u8) {
        let (n, k, s) = (n as usize, k as usize, s.max(1) as usize);
        let out = n.div_ceil(s);
        let total = ((out - 1) * s + k).saturating_sub(n);
        ((total / 2) as u8, (total - total / 2) as u8)
    };
    let (t, b) = pad(input.h, kernel[0], stride[0]);
    let (l, r) = pad(input.w, kernel[1], stride[1]);
    [t, l, b, r]
}

/// A float autoencoder graph with its metadata.
#[derive(Clone, Debug, PartialEq)]
pub struct Graph {
    /// A name for reports.
    pub name: String,
    /// Shape of one input sample.
    pub input: Shape,
    /// Preprocessing scale (one value or one per channel): `model = raw * scale + offset`.
    pub preprocess_scale: Vec<f32>,
    /// Preprocessing offset (one value or one per channel).
    pub preprocess_offset: Vec<f32>,
    /// Number of layers in the encoder.
    pub encoder_layers: usize,
    /// The anomaly score. A latent metric takes effect once [`Graph::latent`] is fitted
    /// (until then files score by its reconstruction part).
    pub metric: Metric,
    /// Anomaly threshold.
    pub threshold: f32,
    /// How the threshold was chosen.
    pub threshold_rule: ThresholdRule,
    /// Calibration error summary.
    pub errors: ErrorStats,
    /// The layers in order.
    pub layers: Vec<Layer>,
    /// How a series model scores a stream (None for models of whole samples).
    pub series: Option<Series>,
    /// The Gaussian of normal codes for [`Metric::Latent`] (fitted per precision by
    /// [`crate::precisions::calibrate_thresholds`]).
    pub latent: Option<LatentFit>,
    /// Principal directions that fit keeps (flash: 4 B × code length each).
    pub latent_components: usize,
}

/// The series definition a graph carries into its files (see [`crate::SeriesDesc`]).
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    /// Sensor column names, one per input channel (no commas).
    pub columns: Vec<String>,
    /// Samples between two scored windows.
    pub stride: u16,
    /// Newest rows of the window whose error is the window's (see [`crate::SeriesDesc`]).
    pub tail: u16,
    /// How window errors become scores.
    pub likelihood: Likelihood,
    /// Each channel's lowest and highest value on the normal stretch (empty: no range
    /// check; see [`crate::SeriesDesc::range`]).
    pub range: Vec<[f32; 2]>,
    /// Rows to the sample a period earlier (0: no seasonal comparison).
    pub period: u16,
    /// The seasonal comparison's error on the normal stretch.
    pub seasonal: crate::desc::Moments,
    /// The memory of the series' shapes (one-channel series; `None`: no pattern novelty).
    pub pattern: Option<crate::desc::PatternDesc>,
}

impl Series {
    /// The joined column names for [`Series::desc`], or an error if a name holds a comma.
    pub(crate) fn joined_columns(&self) -> Result<String, Error> {
        if self.columns.iter().any(|c| c.contains(',') || c.is_empty()) {
            return Err(Error::Unsupported(
                "series column names must be non-empty and hold no comma",
            ));
        }
        Ok(self.columns.join(","))
    }

    /// The stored record, borrowing `columns` (from [`Series::joined_columns`]), its range
    /// written to `wb`.
    pub(crate) fn desc<'c>(
        &self,
        columns: &'c str,
        wb: &mut WeightsBuilder,
    ) -> Result<SeriesDesc<'c>, Error> {
        let range: Vec<f32> = self.range.iter().flatten().copied().collect();
        Ok(SeriesDesc {
            columns,
            stride: self.stride,
            tail: self.tail,
            likelihood: self.likelihood,
            range: if range.is_empty() {
                crate::desc::Blob::EMPTY
            } else {
                wb.f32s(&range)?
            },
            period: self.period,
            seasonal: self.seasonal,
        })
    }
}

/// Writes `meta`, `descs` and the graph's series and latent records.
pub(crate) fn finish(
    mut wb: WeightsBuilder,
    meta: &Meta,
    descs: &[LayerDesc],
    graph: &Graph,
) -> Result<Vec<u8>, Error> {
    let latent = match &graph.latent {
        None => None,
        Some(f) => Some(LatentDesc {
            mean: wb.f32s(&f.mean)?,
            basis: wb.f32s(&f.basis)?,
            inv_var: wb.f32s(&f.inv_var)?,
            rest_inv_var: f.rest_inv_var,
            mix: f.mix,
        }),
    };
    match &graph.series {
        None => wb.finish(meta, descs, None, latent.as_ref(), None),
        Some(s) => {
            let columns = s.joined_columns()?;
            let desc = s.desc(&columns, &mut wb)?;
            wb.finish(
                meta,
                descs,
                Some(&desc),
                latent.as_ref(),
                s.pattern.as_ref(),
            )
        }
    }
}

impl Graph {
    /// An empty graph with identity preprocessing, MSE and no threshold (+infinity).
    pub fn new(name: &str, input: Shape) -> Self {
        Graph {
            name: name.into(),
            input,
            preprocess_scale: alloc::vec![1.0],
            preprocess_offset: alloc::vec![0.0],
            encoder_layers: 0,
            metric: Metric::Mse,
            threshold: f32::INFINITY,
            threshold_rule: ThresholdRule::Manual,
            errors: ErrorStats::default(),
            layers: Vec::new(),
            series: None,
            latent: None,
            latent_components: crate::latent_fit::DEFAULT_COMPONENTS,
        }
    }

    /// Appends a layer.
    pub fn push(&mut self, layer: Layer) -> &mut Self {
        self.layers.push(layer);
        self
    }

    /// Output shape of every layer, checking the geometry and that skip connections nest
    /// and match.
    pub fn shapes(&self) -> Result<Vec<Shape>, Error> {
        let mut shape = self.input;
        let mut out = Vec::with_capacity(self.layers.len());
        let mut skips = crate::skip::Skips::new(Precision::F32);
        for (i, l) in self.layers.iter().enumerate() {
            let invalid = |reason| Error::InvalidGraph {
                layer: i as u16,
                reason,
            };
            skips.track(&l.op, shape, Quant::NONE).map_err(invalid)?;
            shape = geometry(&l.op, shape).map_err(invalid)?.0;
            out.push(shape);
        }
        Ok(out)
    }

    /// Whether a skip connection carries a tensor from the encoder past the code, so the
    /// decoder cannot run on a code alone (as [`crate::Model::decodes_codes`] says of a file).
    pub fn skips_cross_code(&self) -> bool {
        let encoder = &self.layers[..self.encoder_layers.min(self.layers.len())];
        let held = encoder.iter().fold(0i32, |d, l| match l.op {
            Op::Save => d + 1,
            Op::Add | Op::Concat { .. } => d - 1,
            _ => d,
        });
        held > 0
    }

    /// Shape after the last layer.
    pub fn output_shape(&self) -> Result<Shape, Error> {
        Ok(self.shapes()?.last().copied().unwrap_or(self.input))
    }

    pub(crate) fn meta(
        &self,
        precision: Precision,
        input_quant: Quant,
        pre: Preprocess,
    ) -> Result<Meta<'_>, Error> {
        Ok(Meta {
            name: &self.name,
            precision,
            input: self.input,
            input_quant,
            preprocess: pre,
            encoder_layers: count(self.encoder_layers, "encoder_layers is too large")?,
            // Until the latent Gaussian is fitted, a latent metric scores by its
            // reconstruction part (files written on the way to the fit).
            metric: if self.metric.uses_latent() && self.latent.is_none() {
                self.metric.reconstruction()
            } else {
                self.metric
            },
            threshold: self.threshold,
            threshold_rule: self.threshold_rule,
            errors: self.errors,
            layer_count: count(self.layers.len(), "too many layers")?,
        })
    }

    pub(crate) fn preprocess(&self, wb: &mut WeightsBuilder) -> Result<Preprocess, Error> {
        preprocess_blobs(&self.preprocess_scale, &self.preprocess_offset, wb)
    }

    /// Writes an `.aedge` file with f32 or f16 weights. For int8 use
    /// [`Graph::to_aedge_int8`] with calibration ranges.
    pub fn to_aedge(&self, precision: Precision) -> Result<Vec<u8>, Error> {
        let mut wb = WeightsBuilder::default();
        let pre = self.preprocess(&mut wb)?;
        let mut descs = Vec::with_capacity(self.layers.len());
        for l in &self.layers {
            let weights = match precision {
                Precision::F32 => wb.f32s(&l.weights)?,
                Precision::F16 => wb.f16s(&l.weights)?,
                Precision::Int8 => {
                    return Err(Error::Unsupported(
                        "int8 export needs calibration: use Graph::to_aedge_int8",
                    ))
                }
            };
            descs.push(LayerDesc {
                op: l.op,
                act: l.act,
                weights,
                bias: wb.f32s(&l.bias)?,
                quant: None,
            });
        }
        finish(wb, &self.meta(precision, Quant::NONE, pre)?, &descs, self)
    }
}
