//! A layer record resolved against its input: output shape, geometry, and typed parameter
//! slices borrowed from the weights section. All checks that make running a layer safe live
//! here, so parsing and running share them.

use crate::desc::{Activation, Blob, LayerDesc, Op, Precision, Quant};
use crate::geometry::{geometry, Why};
use crate::kernels::Window;
use crate::shape::Shape;
use half::f16;

/// Typed parameters of a layer.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Params<'a> {
    /// No parameters (pooling, upsampling, reshape, f32 activation).
    None,
    /// f32 weights and bias.
    F32 { w: &'a [f32], b: &'a [f32] },
    /// f16 weights, f32 bias.
    F16 { w: &'a [f16], b: &'a [f32] },
    /// int8 weights with requantization parameters.
    Int8 {
        w: &'a [i8],
        b: &'a [i32],
        multiplier: &'a [i32],
        shift: &'a [i32],
    },
    /// A stand-alone int8 activation table.
    Lut,
    /// The rescaling of an int8 `Add` (input, saved, sum) or `Concat` (input, saved).
    Merge {
        multiplier: &'a [i32],
        shift: &'a [i32],
    },
}

/// A resolved layer.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Layer<'a> {
    pub desc: LayerDesc,
    pub input: Shape,
    pub output: Shape,
    /// Geometry for windowed ops (for upsampling, `stride` holds the factors).
    pub window: Window,
    pub params: Params<'a>,
    /// int8 activation table, when the activation needs one.
    pub lut: Option<&'a [i8; 256]>,
    /// Quantization of the output (int8), else [`Quant::NONE`].
    pub out_quant: Quant,
    /// Quantization before the table (int8), else [`Quant::NONE`].
    pub pre_quant: Quant,
}

impl Layer<'_> {
    /// Whether the output overwrites the input (no second buffer needed).
    pub fn in_place(&self) -> bool {
        matches!(
            self.desc.op,
            Op::Reshape { .. } | Op::Activation | Op::Save | Op::Add
        )
    }

    /// Multiply-accumulate operations of one inference.
    pub fn macs(&self) -> u64 {
        let k = (self.window.kernel[0] * self.window.kernel[1]) as u64;
        match self.desc.op {
            Op::Dense { .. } => self.input.len() as u64 * self.output.len() as u64,
            Op::Conv2d { .. } => self.output.len() as u64 * k * self.input.c as u64,
            Op::DepthwiseConv2d { .. } => self.output.len() as u64 * k,
            Op::ConvTranspose2d { .. } => self.input.len() as u64 * k * self.output.c as u64,
            Op::Lstm { units, .. } => {
                let steps = self.input.h as u64 * self.input.w as u64;
                steps * 4 * units as u64 * (self.input.c as u64 + units as u64)
            }
            _ => 0,
        }
    }

    /// Bytes of scratch memory the layer needs besides its input and output (the LSTM state).
    pub fn scratch_bytes(&self, precision: Precision) -> usize {
        match self.desc.op {
            Op::Lstm { units, .. } => match precision {
                // c and h in f32.
                Precision::F32 | Precision::F16 => 8 * units as usize,
                // c in i16, h in i8.
                Precision::Int8 => 3 * units as usize,
            },
            // The Cortex-M DSP kernel's staged window and per-channel constants (reserved on
            // every target, so host-computed arena sizes hold on the device).
            Op::Conv2d { .. } if precision == Precision::Int8 => {
                4 * crate::kernels::conv::int8::conv2d_scratch_words(&self.window)
            }
            _ => 0,
        }
    }

    /// The sequence geometry of an LSTM layer.
    pub fn seq(&self) -> crate::kernels::lstm::Seq {
        let (units, return_sequences) = match self.desc.op {
            Op::Lstm {
                units,
                return_sequences,
            } => (units as usize, return_sequences),
            _ => (0, false),
        };
        crate::kernels::lstm::Seq {
            steps: self.input.h as usize * self.input.w as usize,
            inputs: self.input.c as usize,
            units,
            return_sequences,
        }
    }

    /// Number of weights and biases.
    pub fn param_count(&self) -> usize {
        match self.params {
            Params::F32 { w, b } => w.len() + b.len(),
            Params::F16 { w, b } => w.len() + b.len(),
            Params::Int8 { w, b, .. } => w.len() + b.len(),
            Params::None | Params::Lut | Params::Merge { .. } => 0,
        }
    }
}

/// Borrows a blob as a typed slice, checking range and alignment.
fn blob<T: bytemuck::Pod>(weights: &[u8], b: Blob, count: usize) -> Result<&[T], Why> {
    let start = b.offset as usize;
    let end = start
        .checked_add(b.len as usize)
        .ok_or("parameter range overflows")?;
    let bytes = weights
        .get(start..end)
        .ok_or("parameter data lies outside the weights section")?;
    let s: &[T] = bytemuck::try_cast_slice(bytes).map_err(|_| "parameter data is misaligned")?;
    if s.len() != count {
        return Err("parameter data has the wrong size");
    }
    Ok(s)
}

fn check_quant(q: Quant) -> Result<(), Why> {
    if q.scale.is_finite() && q.scale > 0.0 {
        Ok(())
    } else {
        Err("quantization scale must be finite and positive")
    }
}

/// Resolves one layer record against its input shape and the quantization of its input.
/// `full_check` also scans per-channel parameter arrays (at parse time).
pub(crate) fn resolve<'a>(
    desc: LayerDesc,
    input: Shape,
    in_quant: Quant,
    precision: Precision,
    weights: &'a [u8],
    full_check: bool,
) -> Result<Layer<'a>, Why> {
    let (output, window) = geometry(&desc.op, input)?;
    let mut layer = Layer {
        desc,
        input,
        output,
        window,
        params: Params::None,
        lut: None,
        out_quant: in_quant,
        pre_quant: in_quant,
    };
    match desc.act {
        Activation::LeakyRelu { alpha } if !alpha.is_finite() => {
            return Err("LeakyReLU slope must be finite")
        }
        Activation::Clip { min, max } if !(min.is_finite() && max.is_finite() && min <= max) => {
            return Err("clip bounds must be finite with min <= max")
        }
        _ => {}
    }
    if !desc.op.has_weights() {
        if desc.weights.len != 0 || desc.bias.len != 0 {
            return Err("this op takes no weights");
        }
        if desc.act != Activation::Identity && desc.op != Op::Activation {
            return Err("this op cannot carry an activation");
        }
        match (precision, desc.op, desc.quant) {
            (Precision::Int8, Op::Activation, Some(q)) => {
                if q.multiplier.len != 0 || q.shift.len != 0 {
                    return Err("an int8 activation takes no multipliers");
                }
                check_quant(q.output)?;
                layer.lut = Some(lut(weights, q.lut)?);
                layer.params = Params::Lut;
                layer.out_quant = q.output;
                layer.pre_quant = in_quant;
            }
            (Precision::Int8, Op::Activation, None) => {
                return Err("an int8 activation needs a lookup table")
            }
            (Precision::Int8, Op::Add | Op::Concat { .. }, Some(q)) => {
                let n = if desc.op == Op::Add { 3 } else { 2 };
                if q.lut.len != 0 || q.pre != q.output {
                    return Err("Add and Concat take no lookup table");
                }
                check_quant(q.output)?;
                let multiplier = blob::<i32>(weights, q.multiplier, n)?;
                let shift = blob::<i32>(weights, q.shift, n)?;
                if multiplier.iter().any(|&m| m < 0)
                    || shift.iter().any(|&s| !(-31..=30).contains(&s))
                {
                    return Err(
                        "requantization multipliers must not be negative, shifts lie in -31..=30",
                    );
                }
                layer.params = Params::Merge { multiplier, shift };
                layer.out_quant = q.output;
                layer.pre_quant = q.output;
            }
            (Precision::Int8, Op::Add | Op::Concat { .. }, None) => {
                return Err("an int8 Add or Concat needs its requantization")
            }
            (_, _, Some(_)) => return Err("this op takes no quantization parameters"),
            (_, _, None) => {}
        }
        return Ok(layer);
    }

    // Rows of the weight matrix (one bias and requantization per row), weights per row, and
    // the number of requantization multipliers.
    let (out_c, fan_in, requant) = match desc.op {
        Op::Dense { .. } => (output.c as usize, input.len(), output.c as usize),
        Op::Lstm { units, .. } => {
            if desc.act != Activation::Identity {
                return Err("an LSTM cannot carry an activation");
            }
            let u = units as usize;
            (4 * u, input.c as usize + u, 8 * u + 1)
        }
        Op::DepthwiseConv2d { .. } => (
            output.c as usize,
            window.kernel[0] * window.kernel[1],
            output.c as usize,
        ),
        _ => (
            output.c as usize,
            window.kernel[0] * window.kernel[1] * input.c as usize,
            output.c as usize,
        ),
    };
    let count = out_c.checked_mul(fan_in).ok_or("too many weights")?;
    if count > crate::shape::MAX_ELEMENTS {
        return Err("too many weights");
    }
    match precision {
        Precision::F32 | Precision::F16 => {
            if desc.quant.is_some() {
                return Err("a float model has int8 parameters");
            }
            let b = blob::<f32>(weights, desc.bias, out_c)?;
            layer.params = if precision == Precision::F32 {
                Params::F32 {
                    w: blob(weights, desc.weights, count)?,
                    b,
                }
            } else {
                Params::F16 {
                    w: blob(weights, desc.weights, count)?,
                    b,
                }
            };
        }
        Precision::Int8 => {
            let q = desc
                .quant
                .ok_or("an int8 layer needs quantization parameters")?;
            check_quant(q.output)?;
            check_quant(q.pre)?;
            // One multiplier and shift per output channel, or (format 3, not for LSTMs) one
            // for all: per-tensor requantization.
            let per_tensor = q.multiplier.len as usize == core::mem::size_of::<i32>()
                && !matches!(desc.op, Op::Lstm { .. });
            let n = if per_tensor { 1 } else { requant };
            let multiplier = blob::<i32>(weights, q.multiplier, n)?;
            let shift = blob::<i32>(weights, q.shift, n)?;
            // O(channels) scans: done once by `Model::parse`; the run-time walk over the
            // same (immutable, already parsed) bytes skips them.
            if full_check && multiplier.iter().any(|&m| m < 0) {
                return Err("requantization multipliers must not be negative");
            }
            if full_check && shift.iter().any(|&s| !(-31..=30).contains(&s)) {
                return Err("requantization shifts must lie in -31..=30");
            }
            let bias = blob::<i32>(weights, desc.bias, out_c)?;
            // The per-tensor dense kernels rely on |bias| < 2^29 so that accumulators stay
            // below 2^30 (see `kernels::dense::int8`); the writer only uses per-tensor blobs
            // then.
            if full_check && per_tensor && bias.iter().any(|b| b.unsigned_abs() >= 1 << 29) {
                return Err("per-tensor requantization needs biases below 2^29");
            }
            if desc.act.needs_lut() {
                layer.lut = Some(lut(weights, q.lut)?);
            } else if q.lut.len != 0 || q.pre != q.output {
                return Err("only LeakyReLU, sigmoid, tanh and clip use a lookup table");
            }
            layer.params = Params::Int8 {
                w: blob(weights, desc.weights, count)?,
                b: bias,
                multiplier,
                shift,
            };
            layer.out_quant = q.output;
            layer.pre_quant = q.pre;
        }
    }
    Ok(layer)
}

fn lut(weights: &[u8], b: Blob) -> Result<&[i8; 256], Why> {
    let s: &[i8] = blob(weights, b, 256)?;
    s.try_into()
        .map_err(|_| "lookup table must have 256 entries")
}
