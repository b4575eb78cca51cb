//! The serialized description of a model: metadata and layers, postcard-encoded in the graph
//! section of an `.aedge` file. Parameters are not stored here but referenced as [`Blob`]s in
//! the file's aligned weights section, so they can be used in place from flash.

use crate::shape::Shape;
use serde::{Deserialize, Serialize};

/// A byte range in the weights section.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Blob {
    /// Offset from the start of the weights section.
    pub offset: u32,
    /// Length in bytes.
    pub len: u32,
}

impl Blob {
    /// The empty blob (no data).
    pub const EMPTY: Blob = Blob { offset: 0, len: 0 };
}

/// Number format of a model's parameters and activations.
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Precision {
    /// f32 weights and activations.
    F32,
    /// f16 weights (half the flash), computed in f32.
    F16,
    /// int8 weights (symmetric, per output channel) and activations (asymmetric, per tensor).
    Int8,
}

impl core::fmt::Display for Precision {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Precision::F32 => "f32",
            Precision::F16 => "f16",
            Precision::Int8 => "int8",
        })
    }
}

/// Element-wise activation applied after a layer.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq)]
pub enum Activation {
    /// No activation.
    Identity,
    /// `max(x, 0)`.
    Relu,
    /// `x` if positive, else `alpha * x`.
    LeakyRelu {
        /// Slope for negative inputs.
        alpha: f32,
    },
    /// `1 / (1 + e^-x)`.
    Sigmoid,
    /// `tanh(x)`.
    Tanh,
    /// `x` clamped to `[min, max]` (ReLU6 is `0..6`; TFLite's fused RELU6 and RELU_N1_TO_1).
    Clip {
        /// Lower bound.
        min: f32,
        /// Upper bound.
        max: f32,
    },
}

impl Activation {
    /// Applies the activation to one value.
    #[inline]
    pub fn apply(self, x: f32) -> f32 {
        match self {
            Activation::Identity => x,
            Activation::Relu => {
                if x > 0.0 {
                    x
                } else {
                    0.0
                }
            }
            Activation::LeakyRelu { alpha } => {
                if x > 0.0 {
                    x
                } else {
                    alpha * x
                }
            }
            Activation::Sigmoid => 1.0 / (1.0 + libm::expf(-x)),
            Activation::Tanh => libm::tanhf(x),
            // max then min, so NaN stays NaN as with the other activations' comparisons.
            Activation::Clip { min, max } => {
                if x < min {
                    min
                } else if x > max {
                    max
                } else {
                    x
                }
            }
        }
    }

    /// Whether the int8 kernels implement it by a 256-entry lookup table.
    pub fn needs_lut(self) -> bool {
        matches!(
            self,
            Activation::LeakyRelu { .. }
                | Activation::Sigmoid
                | Activation::Tanh
                | Activation::Clip { .. }
        )
    }
}

/// One layer's operation and geometry. Shapes follow from the input shape.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq)]
pub enum Op {
    /// Fully connected: the input (any shape) is flattened; output `1 × 1 × units`.
    /// Weights `[units][inputs]`, bias `[units]`. In int8 models the weights are packed
    /// (see [`crate::kernels::dense::int8`]) and the bias includes `-input_zero_point · Σw`.
    Dense {
        /// Output features.
        units: u16,
    },
    /// 2-D convolution. Weights `[out_c][kh][kw][in_c]`, bias `[out_c]`.
    Conv2d {
        /// Output channels.
        out_c: u16,
        /// Kernel height and width.
        kernel: [u8; 2],
        /// Vertical and horizontal stride.
        stride: [u8; 2],
        /// Zero padding: top, left, bottom, right.
        pad: [u8; 4],
    },
    /// 2-D transposed convolution (input `i` lands at output `i * stride + k - pad`).
    /// Weights `[out_c][kh][kw][in_c]`, bias `[out_c]`.
    ConvTranspose2d {
        /// Output channels.
        out_c: u16,
        /// Kernel height and width.
        kernel: [u8; 2],
        /// Vertical and horizontal stride.
        stride: [u8; 2],
        /// Rows and columns cropped at the top and left of the full output.
        pad: [u8; 2],
        /// Output height and width.
        out: [u16; 2],
    },
    /// Max pooling; padded positions are ignored.
    MaxPool2d {
        /// Window height and width.
        kernel: [u8; 2],
        /// Vertical and horizontal stride.
        stride: [u8; 2],
        /// Padding: top, left, bottom, right.
        pad: [u8; 4],
    },
    /// Nearest-neighbour upsampling by integer factors.
    Upsample2d {
        /// Vertical and horizontal factor.
        factor: [u8; 2],
    },
    /// Reinterprets the tensor with a new shape of the same size (Flatten is `Reshape` to a
    /// vector). Costs nothing at run time.
    Reshape {
        /// The new shape.
        to: Shape,
    },
    /// A stand-alone element-wise activation (the layer's `act`).
    Activation,
    /// Long short-term memory over a sequence: the input `h × w × c` is read as `h·w` time
    /// steps of `c` features. Gates in the order input, forget, cell, output (PyTorch's and
    /// Keras's); `c' = f·c + i·g`, `h' = o·tanh(c')`, starting from zero state.
    /// Weights `[4·units][c]` (input part) followed by `[4·units][units]` (recurrent part);
    /// bias `[4·units]` (input and recurrent biases summed). The layer's `act` must be
    /// identity.
    Lstm {
        /// Hidden state size.
        units: u16,
        /// Output every step's hidden state (`h × w × units`) or only the last (`units`).
        return_sequences: bool,
    },
    /// Repeats the whole input (flattened to a vector of `n`) `times` times, giving
    /// `times × 1 × n`: the "repeat vector" between a sequence encoder and decoder.
    Repeat {
        /// Number of copies (time steps).
        times: u16,
    },
    /// Depthwise 2-D convolution: output channel `o` filters input channel `o / multiplier`
    /// alone (TFLite's DEPTHWISE_CONV_2D, ONNX's Conv with `group` = input channels), so the
    /// output has `multiplier` channels per input channel. Weights `[out_c][kh][kw]`, bias
    /// `[out_c]`.
    DepthwiseConv2d {
        /// Output channels per input channel.
        multiplier: u8,
        /// Kernel height and width.
        kernel: [u8; 2],
        /// Vertical and horizontal stride.
        stride: [u8; 2],
        /// Zero padding: top, left, bottom, right.
        pad: [u8; 4],
    },
    /// Average pooling over the valid (unpadded) part of each window, as TFLite's
    /// AVERAGE_POOL_2D (and ONNX's with `count_include_pad = 0`). In int8 the output keeps the
    /// input quantization and the mean of the int8 values is rounded half away from zero.
    AvgPool2d {
        /// Window height and width.
        kernel: [u8; 2],
        /// Vertical and horizontal stride.
        stride: [u8; 2],
        /// Padding: top, left, bottom, right.
        pad: [u8; 4],
    },
    /// Keeps a copy of the tensor for a later [`Op::Add`] or [`Op::Concat`] (a skip
    /// connection) and passes it on unchanged. Saved tensors form a stack: each `Add` or
    /// `Concat` takes the most recently saved one, so skips nest as in a U-Net; at most
    /// [`crate::MAX_SKIPS`] are held at once. In int8 the copy keeps its quantization.
    Save,
    /// Element-wise sum of the tensor and the most recently [`Op::Save`]d one, which must
    /// have the same shape (a residual connection). In int8 both inputs are rescaled to the
    /// output's quantization as TFLite's ADD does: multipliers and shifts for the input,
    /// the saved tensor and the sum, in that order.
    Add,
    /// The tensor and the most recently [`Op::Save`]d one side by side along channels: ONNX's
    /// Concat on the channel axis, Keras's Concatenate. The saved tensor must have the same
    /// height and width. In int8 each input is requantized to the output's quantization:
    /// multipliers and shifts for the input and the saved tensor.
    Concat {
        /// Channels of the saved tensor.
        channels: u16,
        /// Whether the saved tensor's channels come first (PyTorch U-Nets often write
        /// `cat([skip, x])`), else the tensor's do (Keras's `concatenate([x, skip])`).
        saved_first: bool,
    },
}

impl Op {
    /// Short name for reports.
    pub fn name(&self) -> &'static str {
        match self {
            Op::Dense { .. } => "Dense",
            Op::Conv2d { .. } => "Conv2d",
            Op::ConvTranspose2d { .. } => "ConvTranspose2d",
            Op::MaxPool2d { .. } => "MaxPool2d",
            Op::Upsample2d { .. } => "Upsample2d",
            Op::Reshape { .. } => "Reshape",
            Op::Activation => "Activation",
            Op::Lstm { .. } => "Lstm",
            Op::Repeat { .. } => "Repeat",
            Op::AvgPool2d { .. } => "AvgPool2d",
            Op::DepthwiseConv2d { .. } => "DepthwiseConv2d",
            Op::Save => "Save",
            Op::Add => "Add",
            Op::Concat { .. } => "Concat",
        }
    }

    /// Whether the layer has weights and a bias.
    pub fn has_weights(&self) -> bool {
        matches!(
            self,
            Op::Dense { .. }
                | Op::Conv2d { .. }
                | Op::DepthwiseConv2d { .. }
                | Op::ConvTranspose2d { .. }
                | Op::Lstm { .. }
        )
    }
}

/// Quantization of one int8 tensor: `real = scale * (q - zero_point)`.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq)]
pub struct Quant {
    /// Step between two adjacent int8 values.
    pub scale: f32,
    /// The int8 value that represents real zero.
    pub zero_point: i8,
}

impl Quant {
    /// Quantization that leaves values unchanged (used where a model has no int8 tensors).
    pub const NONE: Quant = Quant {
        scale: 1.0,
        zero_point: 0,
    };

    /// Quantizes one value (round half away from zero, saturating), as TFLite does.
    #[inline]
    pub fn quantize(&self, x: f32) -> i8 {
        // Anything beyond ±1024 saturates anyway (|zero point| <= 128), and below 2^23 the
        // integer and fractional parts are exact, so rounding is a truncation plus a
        // comparison: branch-free, it vectorises where `roundf` would be a call per value.
        // `clamp` maps ±inf to the bounds; NaN gives 0, as a float clamp and `as i8` would.
        let y = (x / self.scale).clamp(-1024.0, 1024.0);
        let t = y as i32;
        let f = y - t as f32;
        let r = t + (f >= 0.5) as i32 - (f <= -0.5) as i32;
        let q = (r + self.zero_point as i32).clamp(-128, 127) as i8;
        if y.is_nan() {
            0
        } else {
            q
        }
    }

    /// Real value of one quantized value.
    #[inline]
    pub fn dequantize(&self, q: i8) -> f32 {
        self.scale * (q as i32 - self.zero_point as i32) as f32
    }
}

/// int8 parameters of a layer.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq)]
pub struct LayerQuant {
    /// Quantization of the layer's output tensor.
    pub output: Quant,
    /// Quantization the accumulators are requantized to before the activation lookup table;
    /// equal to `output` for layers without a table.
    pub pre: Quant,
    /// Per-output-channel fixed-point multipliers (`i32`, Q31). For [`Op::Lstm`]: `4·units`
    /// for the input part of the gates, `4·units` for the recurrent part, then one for the
    /// hidden-state output (see [`crate::kernels::lstm`]).
    pub multiplier: Blob,
    /// Per-output-channel shifts (`i32`; positive = left), laid out as `multiplier`.
    pub shift: Blob,
    /// 256-entry `i8` activation table indexed by `pre` value + 128, or empty.
    pub lut: Blob,
}

/// How the reconstruction error is measured, in model units.
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Metric {
    /// Mean squared error: the default anomaly score. BCE of a reconstruction grows with an
    /// image's brightness, so scored by BCE bright normal images look as anomalous as dark
    /// anomalies (Fashion-MNIST T-shirts: AUROC 0.53 by BCE, 0.85 by MSE, same model).
    #[default]
    Mse,
    /// Mean absolute error.
    Mae,
    /// Mean binary cross-entropy (inputs in `[0, 1]`).
    Bce,
    /// How far the code lies from the normal codes: the Mahalanobis distance under a
    /// Gaussian fitted to the codes of normal samples ([`LatentDesc`]), squared and divided
    /// by the code's length. Runs the encoder only. Wins where the decoder reconstructs
    /// anomalies too well (Fashion-MNIST one-class, keras-conv: mean AUROC 93.6 against 83.6
    /// by MSE).
    Latent,
    /// MSE and [`Metric::Latent`], each standardised by its mean and spread on held-out
    /// normal samples, summed: off the normal manifold or at an unusual place on it.
    MseLatent,
}

impl Metric {
    /// The per-element reconstruction error this metric uses (MSE for the latent ones).
    pub fn reconstruction(self) -> Metric {
        match self {
            Metric::Latent | Metric::MseLatent => Metric::Mse,
            m => m,
        }
    }

    /// Whether the score needs the model's [`LatentDesc`].
    pub fn uses_latent(self) -> bool {
        matches!(self, Metric::Latent | Metric::MseLatent)
    }
}

impl core::fmt::Display for Metric {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Metric::Mse => "mse",
            Metric::Mae => "mae",
            Metric::Bce => "bce",
            Metric::Latent => "latent",
            Metric::MseLatent => "mse+latent",
        })
    }
}

/// How the anomaly threshold was chosen.
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq)]
pub enum ThresholdRule {
    /// Not calibrated (threshold set by hand or infinite).
    Manual,
    /// The given percentile (0–100) of the calibration errors.
    Percentile(f32),
    /// Mean plus `k` standard deviations of the calibration errors.
    MeanPlusKStd(f32),
}

/// Summary of the reconstruction errors on the calibration set.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Default)]
pub struct ErrorStats {
    /// Number of calibration samples (0 = not calibrated).
    pub count: u32,
    /// Mean error.
    pub mean: f32,
    /// Standard deviation.
    pub std: f32,
    /// Smallest error.
    pub min: f32,
    /// Median.
    pub p50: f32,
    /// 95th percentile.
    pub p95: f32,
    /// 99th percentile.
    pub p99: f32,
    /// Largest error.
    pub max: f32,
}

/// Per-channel affine preprocessing from sensor units to model units:
/// `model = raw * scale[c] + offset[c]`. Each blob holds one `f32` or one per channel.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq)]
pub struct Preprocess {
    /// `f32` scales.
    pub scale: Blob,
    /// `f32` offsets.
    pub offset: Blob,
}

/// Model metadata: the first record of the graph section.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq)]
pub struct Meta<'a> {
    /// A name for reports.
    #[serde(borrow)]
    pub name: &'a str,
    /// Number format.
    pub precision: Precision,
    /// Shape of one input sample.
    pub input: Shape,
    /// Quantization of the (preprocessed) input for int8 models; [`Quant::NONE`] otherwise.
    pub input_quant: Quant,
    /// Preprocessing from sensor units.
    pub preprocess: Preprocess,
    /// Number of layers in the encoder; the latent code is this layer's output.
    pub encoder_layers: u16,
    /// Reconstruction error metric for `score`.
    pub metric: Metric,
    /// Errors above this are anomalies.
    pub threshold: f32,
    /// How `threshold` was chosen.
    pub threshold_rule: ThresholdRule,
    /// Calibration error summary.
    pub errors: ErrorStats,
    /// Number of layer records that follow.
    pub layer_count: u16,
}

/// One layer record.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq)]
pub struct LayerDesc {
    /// Operation and geometry.
    pub op: Op,
    /// Activation applied to the output.
    pub act: Activation,
    /// Weights (`f32`, `f16` or `i8` by precision).
    pub weights: Blob,
    /// Bias (`f32`, or `i32` for int8).
    pub bias: Blob,
    /// int8 parameters (int8 models only).
    pub quant: Option<LayerQuant>,
}

/// How a series model turns a stream of samples into per-timestamp anomaly scores: the
/// optional record after the layers (format version 4; `range`, `period`, `seasonal` and the
/// likelihood's `hold` and `novelty` since version 6). The model's input is `window × 1 × channels`, one row per
/// timestamp; the preprocessing holds the series' standardisation.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq)]
pub struct SeriesDesc<'a> {
    /// The sensor column names, comma-separated, one per input channel, in channel order.
    #[serde(borrow)]
    pub columns: &'a str,
    /// Samples between two scored windows (1 = a score for every timestamp).
    pub stride: u16,
    /// The window's error is that of its newest `tail` rows (the window as context for
    /// them); `tail` = window length scores the whole window.
    pub tail: u16,
    /// How a window's error becomes a score in `[0, 1]`.
    pub likelihood: Likelihood,
    /// `f32` `[channels][2]`: each channel's lowest and highest value on the normal stretch,
    /// where the stream's range of values seen starts (empty: no range check).
    pub range: Blob,
    /// Rows between a sample and the sample one period earlier it is compared with (288 for
    /// a daily cycle of 5-minute samples); 0: no seasonal comparison.
    pub period: u16,
    /// The seasonal comparison's error on the normal stretch, where its running estimate
    /// starts.
    pub seasonal: Moments,
}

/// Count, mean and standard deviation of a set of errors.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq)]
pub struct Moments {
    /// Number of errors (0: none).
    pub count: u32,
    /// Mean.
    pub mean: f32,
    /// Standard deviation.
    pub std: f32,
}

/// The series record of format versions 4 and 5, read into [`SeriesDesc`] with the range
/// check and the hold off.
#[derive(Deserialize)]
pub(crate) struct SeriesDescV4<'a> {
    #[serde(borrow)]
    columns: &'a str,
    stride: u16,
    tail: u16,
    memory: u32,
    short: u16,
    alarm: f32,
}

impl<'a> From<SeriesDescV4<'a>> for SeriesDesc<'a> {
    fn from(v: SeriesDescV4<'a>) -> Self {
        SeriesDesc {
            columns: v.columns,
            stride: v.stride,
            tail: v.tail,
            likelihood: Likelihood {
                memory: v.memory,
                short: v.short,
                alarm: v.alarm,
                hold: 0,
                novelty: 0.0,
            },
            range: Blob::EMPTY,
            period: 0,
            seasonal: Moments::default(),
        }
    }
}

/// A memory of the shapes a one-channel series takes (see [`crate::pattern`]): the optional
/// record after the latent record (format version 8). A stream reports a window of
/// downsampled points that resonates with no learned category.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq)]
pub struct PatternDesc {
    /// Samples per downsampled point.
    pub step: u16,
    /// Points per pattern (a power of two, 2 to 16).
    pub window: u16,
    /// Steps the value range is quantized to.
    pub levels: u16,
    /// The value mapped to level 0 (the normal stretch's lowest, widened by half its span).
    pub low: f32,
    /// The value mapped to the top level.
    pub high: f32,
    /// The starting vigilance: how similar a pattern must be to a category to resonate.
    pub vigilance: f32,
    /// Categories kept (the oldest is replaced when full).
    pub capacity: u16,
    /// Points learned before any is reported (the normal stretch's).
    pub warmup: u16,
}

/// The Gaussian of normal codes behind [`Metric::Latent`]: the optional record after the
/// series record (format version 5). With `x = code − mean` and `p_i = basis_i · x` along
/// the `k` leading principal directions, the distance is
/// `(Σ p_i² · inv_var_i + (|x|² − Σ p_i²) · rest_inv_var) / code length` — the directions
/// left out share their mean variance, so `k` trades flash for accuracy.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq)]
pub struct LatentDesc {
    /// `f32` mean code.
    pub mean: Blob,
    /// `f32` `[k][code length]`: unit principal directions, largest variance first.
    pub basis: Blob,
    /// `f32` `[k]`: 1 / the variance along each direction.
    pub inv_var: Blob,
    /// 1 / the mean variance of the directions left out (0 when `k` is the code length).
    pub rest_inv_var: f32,
    /// For [`Metric::MseLatent`]: the MSE's and the distance's mean and 1 / standard
    /// deviation on held-out normal samples, `[mse mean, mse 1/std, latent mean, latent
    /// 1/std]`.
    pub mix: [f32; 4],
}

impl LatentDesc {
    /// Principal directions kept.
    pub fn components(&self) -> usize {
        self.inv_var.len as usize / 4
    }

    /// Bytes its arrays take in the weights section (flash).
    pub fn bytes(&self) -> usize {
        (self.mean.len + self.basis.len + self.inv_var.len) as usize
    }
}

/// A running estimate of the distribution of window errors, turned into an anomaly
/// likelihood as NAB's "anomaly likelihood" does: how improbable the recent mean error is
/// under the errors seen so far (see [`crate::Stream`]).
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq)]
pub struct Likelihood {
    /// Windows the long-run estimate remembers (older errors fade out).
    pub memory: u32,
    /// Windows averaged into the recent error.
    pub short: u16,
    /// Scores at or above this are anomalous.
    pub alarm: f32,
    /// Windows a score must beat the highest score of to be reported (0: every score is):
    /// one report per event instead of one per window while it lasts.
    pub hold: u16,
    /// Added to the likelihood (as `−log10` of a tail probability) of a window whose newest
    /// sample lies outside every value seen before on some channel (0: no range check).
    pub novelty: f32,
}

impl Likelihood {
    /// NAB's choices: a long-run memory of 8640 windows (a month of 5-minute samples), the
    /// newest error alone as the recent error, and an alarm at 0.5 (a tail probability of
    /// 10⁻⁷); no hold, no range check.
    pub const NAB: Likelihood = Likelihood {
        memory: 8640,
        short: 1,
        alarm: 0.5,
        hold: 0,
        novelty: 0.0,
    };
}
