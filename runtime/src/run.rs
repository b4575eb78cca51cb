//! Inference: the interpreter loop over the layer chain and the public entry points
//! (`reconstruct`, `encode`, `decode`, `score`, `denoise`).

use crate::desc::{Activation, Metric, Op, Precision, Quant};
use crate::error::Error;
use crate::kernels::{activation, conv, dense, lstm, merge, spatial, Requant, Weight};
use crate::layer::{Layer, Params};
use crate::model::{Layers, Model};
use crate::plan::{tensor_bytes, Side, ARENA_ALIGN};
use crate::shape::Shape;
use crate::skip::Skips;

/// The result of [`Model::score`].
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Score {
    /// The anomaly score by the model's metric: a reconstruction error in model units, a
    /// latent distance, or their standardised sum.
    pub error: f32,
    /// The model's threshold.
    pub threshold: f32,
    /// `error > threshold`.
    pub anomalous: bool,
}

/// The parts of a score, from [`Model::score_parts`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ScoreParts {
    /// Reconstruction error by the metric's per-element error (MSE for the latent metrics);
    /// `None` for [`Metric::Latent`], which does not run the decoder.
    pub reconstruction: Option<f32>,
    /// The latent distance, for models with a latent record.
    pub latent: Option<f32>,
}

/// A layer's output, as passed to a [`Model::trace`] callback.
#[derive(Clone, Copy, Debug)]
pub enum Activations<'t> {
    /// f32 values (f32 and f16 models).
    F32(&'t [f32]),
    /// int8 values with their quantization.
    Int8(&'t [i8], Quant),
}

/// Where the current tensor is.
#[derive(Clone, Copy, Debug)]
struct Cursor {
    side: Side,
    shape: Shape,
}

fn check_len(what: &'static str, expected: usize, got: usize) -> Result<(), Error> {
    if expected == got {
        Ok(())
    } else {
        Err(Error::BadLength {
            what,
            expected,
            got,
        })
    }
}

fn f32s(b: &[u8]) -> Result<&[f32], Error> {
    bytemuck::try_cast_slice(b).map_err(|_| Error::Misaligned {
        what: "arena",
        align: ARENA_ALIGN,
    })
}

fn f32s_mut(b: &mut [u8]) -> Result<&mut [f32], Error> {
    cast_mut(b)
}

/// Arena bytes as wider elements (f32 tensors, i16 LSTM state, u32 conv scratch).
fn cast_mut<T: bytemuck::Pod>(b: &mut [u8]) -> Result<&mut [T], Error> {
    bytemuck::try_cast_slice_mut(b).map_err(|_| Error::Misaligned {
        what: "arena",
        align: ARENA_ALIGN,
    })
}

fn i8s(b: &[u8]) -> &[i8] {
    bytemuck::cast_slice(b)
}

fn i8s_mut(b: &mut [u8]) -> &mut [i8] {
    bytemuck::cast_slice_mut(b)
}

// Running a model is kept apart from describing it (model.rs: parsing, validation,
// accessors), as tract keeps description and execution apart; both are `impl Model`.
impl<'a> Model<'a> {
    fn arena<'x>(&self, arena: &'x mut [u8]) -> Result<&'x mut [u8], Error> {
        if arena.len() < self.arena_len {
            return Err(Error::ArenaTooSmall {
                needed: self.arena_len,
                got: arena.len(),
            });
        }
        if !(arena.as_ptr() as usize).is_multiple_of(ARENA_ALIGN) {
            return Err(Error::Misaligned {
                what: "arena",
                align: ARENA_ALIGN,
            });
        }
        Ok(&mut arena[..self.arena_len])
    }

    fn elem(&self) -> usize {
        crate::plan::elem_size(self.meta.precision)
    }

    /// The bytes of the tensor at `c`.
    fn region<'x>(&self, arena: &'x mut [u8], c: Cursor) -> &'x mut [u8] {
        self.region_in(&mut arena[self.saved_len..], c)
    }

    /// [`Self::region`] within the two-ended part of the arena (after the saved tensors).
    fn region_in<'x>(&self, arena: &'x mut [u8], c: Cursor) -> &'x mut [u8] {
        let n = c.shape.len() * self.elem();
        let len = arena.len();
        match c.side {
            Side::Start => &mut arena[..n],
            Side::End => &mut arena[len - tensor_bytes(self.meta.precision, c.shape)..][..n],
        }
    }

    /// Splits the two-ended part of the arena (after the saved tensors) into the input tensor
    /// at `c`, the output region on the other side, and the gap between them (scratch for
    /// stateful layers; the planner sized it).
    fn split<'x>(
        &self,
        arena: &'x mut [u8],
        c: Cursor,
        out: Shape,
    ) -> (&'x [u8], &'x mut [u8], &'x mut [u8]) {
        let p = self.meta.precision;
        let (n_in, n_out) = (c.shape.len() * self.elem(), out.len() * self.elem());
        let (t_in, t_out) = (tensor_bytes(p, c.shape), tensor_bytes(p, out));
        let len = arena.len();
        match c.side {
            Side::Start => {
                let (a, y) = arena.split_at_mut(len - t_out);
                let (x, gap) = a.split_at_mut(t_in);
                (&x[..n_in], &mut y[..n_out], gap)
            }
            Side::End => {
                let (a, x) = arena.split_at_mut(len - t_in);
                let (y, gap) = a.split_at_mut(t_out);
                (&x[..n_in], &mut y[..n_out], gap)
            }
        }
    }

    /// Runs layers `from..to` on the tensor at `cur`, calling `trace` after each.
    fn run_layers(
        &self,
        arena: &mut [u8],
        from: usize,
        to: usize,
        mut cur: Cursor,
        trace: &mut dyn FnMut(usize, Activations<'_>),
    ) -> Result<Cursor, Error> {
        let mut in_quant = if from == 0 {
            self.meta.input_quant
        } else {
            self.latent_quant
        };
        // A plain loop: iterator adapters (skip/take) keep extra copies of the large layer
        // record on the stack, which costs RAM on a microcontroller.
        let mut layers = Layers::new(self);
        let mut skips = Skips::new(self.meta.precision);
        for i in 0..to {
            let Some(layer) = layers.next() else { break };
            if i < from {
                continue;
            }
            let l = layer?;
            if matches!(l.desc.op, Op::Save | Op::Add | Op::Concat { .. }) {
                cur = self.apply_skip(&l, in_quant, arena, cur, &mut skips)?;
            } else if l.in_place() {
                let buf = self.region(arena, cur);
                self.apply_in_place(&l, buf)?;
                cur.shape = l.output;
            } else {
                let (x, y, gap) = self.split(&mut arena[self.saved_len..], cur, l.output);
                self.apply(&l, in_quant, x, y, gap)?;
                cur = Cursor {
                    side: cur.side.other(),
                    shape: l.output,
                };
            }
            in_quant = l.out_quant;
            let out = self.region(arena, cur);
            match self.meta.precision {
                Precision::Int8 => trace(i, Activations::Int8(i8s(out), l.out_quant)),
                _ => trace(i, Activations::F32(f32s(out)?)),
            }
        }
        Ok(cur)
    }

    /// Runs a skip connection's op: a `Save` copies the tensor at `cur` into the saved
    /// region, an `Add` sums the last saved tensor into it, a `Concat` joins the two on the
    /// other side of the arena.
    #[inline(never)]
    fn apply_skip(
        &self,
        l: &Layer,
        in_quant: Quant,
        arena: &mut [u8],
        cur: Cursor,
        skips: &mut Skips,
    ) -> Result<Cursor, Error> {
        let broken = |why| Error::InvalidGraph {
            layer: u16::MAX,
            reason: why,
        };
        let (saved, ends) = arena.split_at_mut(self.saved_len);
        let n = cur.shape.len() * self.elem();
        let int8 = self.meta.precision == Precision::Int8;
        let (m, s) = match l.params {
            Params::Merge { multiplier, shift } => (multiplier, shift),
            _ => (&[][..], &[][..]),
        };
        match l.desc.op {
            Op::Save => {
                let at = skips.push(cur.shape, in_quant).map_err(broken)?;
                saved[at.offset..][..n].copy_from_slice(self.region_in(ends, cur));
                Ok(cur)
            }
            Op::Add => {
                let at = skips.pop(&l.desc.op, cur.shape).map_err(broken)?;
                let other = &saved[at.offset..][..n];
                let buf = self.region_in(ends, cur);
                if int8 {
                    let q = merge::AddQuant {
                        zero_points: [in_quant.zero_point as i32, at.quant.zero_point as i32],
                        multipliers: [m[0], m[1], m[2]],
                        shifts: [s[0], s[1], s[2]],
                        output_zero_point: l.out_quant.zero_point as i32,
                    };
                    merge::add_i8(i8s_mut(buf), i8s(other), &q);
                } else {
                    merge::add_f32(f32s_mut(buf)?, f32s(other)?);
                }
                Ok(cur)
            }
            _ => {
                let at = skips.pop(&l.desc.op, cur.shape).map_err(broken)?;
                let other = &saved[at.offset..][..at.shape.len() * self.elem()];
                let (x, y, _) = self.split(ends, cur, l.output);
                let (cx, cs) = (cur.shape.c as usize, at.shape.c as usize);
                let saved_first = matches!(
                    l.desc.op,
                    Op::Concat {
                        saved_first: true,
                        ..
                    }
                );
                if int8 {
                    let zo = l.out_quant.zero_point as i32;
                    let rescale = |q: Quant, j: usize| merge::Rescale {
                        zero_point: q.zero_point as i32,
                        multiplier: m[j],
                        shift: s[j],
                        output_zero_point: zo,
                    };
                    let (rx, rs) = (rescale(in_quant, 0), rescale(at.quant, 1));
                    let (x, other, y) = (i8s(x), i8s(other), i8s_mut(y));
                    if saved_first {
                        merge::concat_i8(other, cs, &rs, x, cx, &rx, y);
                    } else {
                        merge::concat_i8(x, cx, &rx, other, cs, &rs, y);
                    }
                } else {
                    let (x, other, y) = (f32s(x)?, f32s(other)?, f32s_mut(y)?);
                    if saved_first {
                        merge::concat(other, cs, x, cx, y);
                    } else {
                        merge::concat(x, cx, other, cs, y);
                    }
                }
                Ok(Cursor {
                    side: cur.side.other(),
                    shape: l.output,
                })
            }
        }
    }

    fn apply_in_place(&self, l: &Layer, buf: &mut [u8]) -> Result<(), Error> {
        match (l.desc.op, l.lut) {
            (Op::Activation, Some(lut)) => activation::lookup(i8s_mut(buf), lut),
            (Op::Activation, None) => activation::activate(f32s_mut(buf)?, l.desc.act),
            _ => {} // reshape: same bytes, new shape
        }
        Ok(())
    }

    // Out of line so the interpreter loop's frame does not also hold the layer dispatch's.
    #[inline(never)]
    fn apply(
        &self,
        l: &Layer,
        in_quant: Quant,
        x: &[u8],
        y: &mut [u8],
        gap: &mut [u8],
    ) -> Result<(), Error> {
        let g = &l.window;
        let act = l.desc.act;
        match l.params {
            Params::F32 { w, b } => float_op(l, f32s(x)?, w, b, f32s_mut(y)?, f32s_mut(gap)?),
            Params::F16 { w, b } => float_op(l, f32s(x)?, w, b, f32s_mut(y)?, f32s_mut(gap)?),
            Params::Int8 {
                w,
                b,
                multiplier,
                shift,
            } if matches!(l.desc.op, Op::Lstm { .. }) => {
                let s = l.seq();
                let q = lstm::LstmQuant {
                    input_zero_point: in_quant.zero_point as i32,
                    hidden_zero_point: l.out_quant.zero_point as i32,
                    bias: b,
                    multiplier,
                    shift,
                };
                let (c, h) = gap.split_at_mut(2 * s.units);
                let c: &mut [i16] = cast_mut(c)?;
                lstm::lstm_int8(i8s(x), w, &q, &s, i8s_mut(y), c, i8s_mut(h));
            }
            Params::Int8 {
                w,
                b,
                multiplier,
                shift,
            } => {
                let q = Requant {
                    input_zero_point: in_quant.zero_point as i32,
                    bias: b,
                    multiplier,
                    shift,
                    output_zero_point: l.pre_quant.zero_point as i32,
                    min: if act == Activation::Relu {
                        l.pre_quant.zero_point as i32
                    } else {
                        -128
                    },
                    lut: l.lut,
                };
                let (x, y) = (i8s(x), i8s_mut(y));
                match l.desc.op {
                    Op::Dense { .. } => dense::int8::dense(x, w, &q, y),
                    Op::Conv2d { .. } => {
                        // Whole words of the gap (the planner reserved the kernel's scratch).
                        let words = gap.len() / 4;
                        conv::int8::conv2d(x, w, g, &q, y, cast_mut(&mut gap[..4 * words])?)
                    }
                    Op::DepthwiseConv2d { .. } => conv::int8::depthwise2d(x, w, g, &q, y),
                    Op::ConvTranspose2d { .. } => conv::int8::conv_transpose2d(x, w, g, &q, y),
                    _ => return Err(Error::Unsupported("weights on a layer without weights")),
                }
            }
            Params::Merge { .. } => return Err(Error::Unsupported("a skip op outside its runner")),
            Params::None | Params::Lut => match (self.meta.precision, l.desc.op) {
                (Precision::Int8, Op::MaxPool2d { .. }) => {
                    spatial::max_pool2d_i8(i8s(x), g, i8s_mut(y))
                }
                (Precision::Int8, Op::Upsample2d { .. }) => {
                    spatial::upsample2d(i8s(x), g, i8s_mut(y))
                }
                (Precision::Int8, Op::Repeat { .. }) => spatial::repeat(i8s(x), i8s_mut(y)),
                (Precision::Int8, Op::AvgPool2d { .. }) => {
                    spatial::avg_pool2d_int8(i8s(x), g, i8s_mut(y))
                }
                (_, Op::AvgPool2d { .. }) => spatial::avg_pool2d(f32s(x)?, g, f32s_mut(y)?),
                (_, Op::MaxPool2d { .. }) => spatial::max_pool2d(f32s(x)?, g, f32s_mut(y)?),
                (_, Op::Upsample2d { .. }) => spatial::upsample2d(f32s(x)?, g, f32s_mut(y)?),
                (_, Op::Repeat { .. }) => spatial::repeat(f32s(x)?, f32s_mut(y)?),
                _ => return Err(Error::Unsupported("layer without its parameters")),
            },
        }
        Ok(())
    }

    /// Preprocesses raw input into the start of the arena (and quantizes it for int8).
    fn load_input(&self, input: &[f32], arena: &mut [u8]) -> Result<Cursor, Error> {
        check_len("input", self.meta.input.len(), input.len())?;
        let cur = Cursor {
            side: Side::Start,
            shape: self.meta.input,
        };
        // Checked first, in one pass, so the conversion loops below have no early exit and
        // the compiler can vectorise them.
        if let Some(index) = input.iter().position(|v| !v.is_finite()) {
            return Err(Error::NonFiniteInput { index });
        }
        let scaling = self.scaling();
        let buf = self.region(arena, cur);
        match self.meta.precision {
            Precision::Int8 => {
                let q = self.meta.input_quant;
                let out = i8s_mut(buf);
                if let Some((s0, o0)) = scaling.per_tensor() {
                    for (d, &raw) in out.iter_mut().zip(input) {
                        *d = q.quantize(raw * s0 + o0);
                    }
                } else {
                    for (i, (d, &raw)) in out.iter_mut().zip(input).enumerate() {
                        *d = q.quantize(scaling.to_model(i, raw));
                    }
                }
            }
            _ => {
                let out = f32s_mut(buf)?;
                if let Some((s0, o0)) = scaling.per_tensor() {
                    for (d, &raw) in out.iter_mut().zip(input) {
                        *d = raw * s0 + o0;
                    }
                } else {
                    for (i, (d, &raw)) in out.iter_mut().zip(input).enumerate() {
                        *d = scaling.to_model(i, raw);
                    }
                }
            }
        }
        Ok(cur)
    }

    /// Writes the tensor at `cur` as f32 values, calling `emit(index, value)`.
    fn read_output(
        &self,
        arena: &mut [u8],
        cur: Cursor,
        quant: Quant,
        mut emit: impl FnMut(usize, f32),
    ) -> Result<(), Error> {
        let buf = self.region(arena, cur);
        match self.meta.precision {
            Precision::Int8 => i8s(buf)
                .iter()
                .enumerate()
                .for_each(|(i, &q)| emit(i, quant.dequantize(q))),
            _ => f32s(buf)?.iter().enumerate().for_each(|(i, &v)| emit(i, v)),
        }
        Ok(())
    }

    /// Copies the tensor at `cur` to `out` as f32 values (`out` has its length): one tight
    /// loop, without an index per value.
    fn write_output(
        &self,
        arena: &mut [u8],
        cur: Cursor,
        quant: Quant,
        out: &mut [f32],
    ) -> Result<(), Error> {
        let buf = self.region(arena, cur);
        match self.meta.precision {
            Precision::Int8 => {
                for (o, &q) in out.iter_mut().zip(i8s(buf)) {
                    *o = quant.dequantize(q);
                }
            }
            _ => out.copy_from_slice(&f32s(buf)?[..out.len()]),
        }
        Ok(())
    }

    fn forward(&self, input: &[f32], arena: &mut [u8]) -> Result<(Cursor, Quant), Error> {
        let cur = self.load_input(input, arena)?;
        self.forward_with(arena, cur, &mut |_, _| {})
    }

    fn forward_with(
        &self,
        arena: &mut [u8],
        cur: Cursor,
        trace: &mut dyn FnMut(usize, Activations<'_>),
    ) -> Result<(Cursor, Quant), Error> {
        let n = self.layer_count();
        let cur = self.run_layers(arena, 0, n, cur, trace)?;
        Ok((cur, self.output_quant))
    }

    /// Runs the whole autoencoder: `input` in sensor units, `output` the reconstruction in
    /// model units (after preprocessing).
    pub fn reconstruct(
        &self,
        input: &[f32],
        output: &mut [f32],
        arena: &mut [u8],
    ) -> Result<(), Error> {
        check_len("output", self.output.len(), output.len())?;
        let arena = self.arena(arena)?;
        let (cur, q) = self.forward(input, arena)?;
        self.write_output(arena, cur, q, output)
    }

    /// Runs the encoder: `input` in sensor units, `latent` the code.
    pub fn encode(&self, input: &[f32], latent: &mut [f32], arena: &mut [u8]) -> Result<(), Error> {
        check_len("latent", self.latent.len(), latent.len())?;
        let arena = self.arena(arena)?;
        let cur = self.load_input(input, arena)?;
        let cur = self.run_layers(
            arena,
            0,
            self.meta.encoder_layers as usize,
            cur,
            &mut |_, _| {},
        )?;
        self.write_output(arena, cur, self.latent_quant, latent)
    }

    /// Runs the decoder: `latent` a code, `output` the reconstruction in model units.
    pub fn decode(
        &self,
        latent: &[f32],
        output: &mut [f32],
        arena: &mut [u8],
    ) -> Result<(), Error> {
        check_len("latent", self.latent.len(), latent.len())?;
        check_len("output", self.output.len(), output.len())?;
        if self.skips_cross_code {
            return Err(Error::Unsupported(
                "this model's skip connections cross the code, so its decoder cannot run on a code alone; reconstruct whole samples",
            ));
        }
        let arena = self.arena(arena)?;
        let cur = Cursor {
            side: Side::Start,
            shape: self.latent,
        };
        if let Some(i) = latent.iter().position(|v| !v.is_finite()) {
            return Err(Error::NonFiniteInput { index: i });
        }
        let buf = self.region(arena, cur);
        match self.meta.precision {
            Precision::Int8 => {
                let q = self.latent_quant;
                i8s_mut(buf)
                    .iter_mut()
                    .zip(latent)
                    .for_each(|(d, &v)| *d = q.quantize(v));
            }
            _ => f32s_mut(buf)?.copy_from_slice(latent),
        }
        let from = self.meta.encoder_layers as usize;
        let cur = self.run_layers(arena, from, self.layer_count(), cur, &mut |_, _| {})?;
        self.write_output(arena, cur, self.output_quant, output)
    }

    /// The anomaly score of `input` (sensor units) by the model's metric, and the verdict
    /// against the stored threshold.
    pub fn score(&self, input: &[f32], arena: &mut [u8]) -> Result<Score, Error> {
        let parts = self.score_parts(input, arena)?;
        let recon = parts.reconstruction.unwrap_or(0.0);
        let error = match self.meta.metric {
            Metric::Latent => parts.latent.unwrap_or(0.0),
            // The record is decoded here, after the forward pass, rather than held on the
            // stack through it (RAM on MCUs).
            Metric::MseLatent => match self.latent_fit() {
                Some(l) => {
                    let [rm, rs, lm, ls] = l.mix;
                    (recon - rm) * rs + (parts.latent.unwrap_or(0.0) - lm) * ls
                }
                None => recon,
            },
            _ => recon,
        };
        let threshold = self.meta.threshold;
        Ok(Score {
            error,
            threshold,
            anomalous: error > threshold,
        })
    }

    /// The parts a score is made of: the reconstruction error (the metric's per-element
    /// error, model units; not computed for [`Metric::Latent`], which runs the encoder only)
    /// and, with a latent record, the latent distance.
    pub fn score_parts(&self, input: &[f32], arena: &mut [u8]) -> Result<ScoreParts, Error> {
        let arena = self.arena(arena)?;
        let cur = self.load_input(input, arena)?;
        let code_layer = (self.meta.encoder_layers as usize).checked_sub(1);
        let mut latent = None;
        let mut trace = |i: usize, a: Activations<'_>| {
            if !self.latent_record.is_empty() && Some(i) == code_layer {
                latent = Some(self.latent_distance(a));
            }
        };
        if self.meta.metric == Metric::Latent {
            let to = self.meta.encoder_layers as usize;
            self.run_layers(arena, 0, to, cur, &mut trace)?;
            return Ok(ScoreParts {
                reconstruction: None,
                latent,
            });
        }
        let (cur, q) = self.forward_with(arena, cur, &mut trace)?;
        let scaling = self.scaling();
        let metric = self.meta.metric;
        // Errors are summed in f32 blocks of 16 (eight interleaved partial sums, in a fixed
        // order) and the blocks in f64: no long f64 dependency chain on hosts, and one f64
        // addition per 16 values instead of per value on FPUs without double precision (64 B
        // of stack).
        let mut block = [0.0f32; ERROR_BLOCK];
        let mut sum = 0.0f64;
        self.read_output(arena, cur, q, |i, y| {
            let x = scaling.to_model(i, input[i]);
            block[i % ERROR_BLOCK] = element_error(metric, x, y);
            if i % ERROR_BLOCK == ERROR_BLOCK - 1 {
                sum += block_sum(&block) as f64;
            }
        })?;
        sum += block_sum(&block[..input.len() % ERROR_BLOCK]) as f64;
        Ok(ScoreParts {
            reconstruction: Some((sum / input.len() as f64) as f32),
            latent,
        })
    }

    /// Mean reconstruction error (the model's metric, model units) of the values from index
    /// `from` on: a series window's newest rows. Summed in order in f32 (a few values).
    pub(crate) fn error_from(
        &self,
        input: &[f32],
        arena: &mut [u8],
        from: usize,
    ) -> Result<f32, Error> {
        let arena = self.arena(arena)?;
        let (cur, q) = self.forward(input, arena)?;
        let scaling = self.scaling();
        let metric = self.meta.metric;
        let mut sum = 0.0f32;
        self.read_output(arena, cur, q, |i, y| {
            if i >= from {
                sum += element_error(metric, scaling.to_model(i, input[i]), y);
            }
        })?;
        Ok(sum / (input.len().saturating_sub(from)).max(1) as f32)
    }

    /// The reconstruction mapped back to sensor units: `input` and `output` both raw.
    pub fn denoise(
        &self,
        input: &[f32],
        output: &mut [f32],
        arena: &mut [u8],
    ) -> Result<(), Error> {
        check_len("output", self.output.len(), output.len())?;
        let arena = self.arena(arena)?;
        let (cur, q) = self.forward(input, arena)?;
        let scaling = self.scaling();
        self.read_output(arena, cur, q, |i, y| output[i] = scaling.to_raw(i, y))
    }

    /// The model-unit values the network sees for raw `input` (`raw × scale + offset` per
    /// channel), as every entry point computes them: for callers that fill
    /// [`Model::input_mut`] themselves or feed another engine the same inputs.
    pub fn preprocess(&self, input: &[f32], out: &mut [f32]) -> Result<(), Error> {
        check_len("input", self.meta.input.len(), input.len())?;
        check_len("preprocessed input", self.meta.input.len(), out.len())?;
        self.scaling().apply(input, out);
        Ok(())
    }

    /// The input tensor's bytes inside the arena, in the model's storage type: `i8` values
    /// (already quantized with [`Meta::input_quant`](crate::Meta)) for int8 models, native
    /// `f32` values (already preprocessed) otherwise. Write a sample here and call
    /// [`Model::run`]: the arena is then the only memory inference needs.
    pub fn input_mut<'x>(&self, arena: &'x mut [u8]) -> Result<&'x mut [u8], Error> {
        let arena = self.arena(arena)?;
        Ok(self.region(
            arena,
            Cursor {
                side: Side::Start,
                shape: self.meta.input,
            },
        ))
    }

    /// Runs the network on the tensor written through [`Model::input_mut`] and returns the
    /// output tensor's bytes (same storage type; int8 outputs use the model's output
    /// quantization). No preprocessing, dequantization or error metric: this is the bare
    /// inference that benchmarks count.
    pub fn run<'x>(&self, arena: &'x mut [u8]) -> Result<&'x [u8], Error> {
        self.run_traced(arena, &mut |_, _| {})
    }

    /// [`Model::run`], passing every layer's output to `trace` as it is produced: per-layer
    /// timing on a device (read a timer in `trace`), or inspection of the bare network.
    pub fn run_traced<'x>(
        &self,
        arena: &'x mut [u8],
        trace: &mut dyn FnMut(usize, Activations<'_>),
    ) -> Result<&'x [u8], Error> {
        let arena = self.arena(arena)?;
        let cur = Cursor {
            side: Side::Start,
            shape: self.meta.input,
        };
        let (cur, _) = self.forward_with(arena, cur, trace)?;
        Ok(self.region(arena, cur))
    }

    /// int8 inference on quantized tensors: copies `input` into the arena, runs, and copies
    /// the output out. Fails on float models.
    pub fn infer_int8(
        &self,
        input: &[i8],
        output: &mut [i8],
        arena: &mut [u8],
    ) -> Result<(), Error> {
        if self.meta.precision != Precision::Int8 {
            return Err(Error::Unsupported("infer_int8 needs an int8 model"));
        }
        check_len("input", self.meta.input.len(), input.len())?;
        check_len("output", self.output.len(), output.len())?;
        i8s_mut(self.input_mut(arena)?).copy_from_slice(input);
        output.copy_from_slice(i8s(self.run(arena)?));
        Ok(())
    }

    /// Runs the whole model like [`Model::reconstruct`] and passes every layer's output to
    /// `trace`: for calibration, debugging and per-layer parity checks.
    pub fn trace(
        &self,
        input: &[f32],
        arena: &mut [u8],
        trace: &mut dyn FnMut(usize, Activations<'_>),
    ) -> Result<(), Error> {
        let arena = self.arena(arena)?;
        let cur = self.load_input(input, arena)?;
        self.forward_with(arena, cur, trace).map(|_| ())
    }
}

fn float_op<W: Weight>(l: &Layer, x: &[f32], w: &[W], b: &[f32], y: &mut [f32], gap: &mut [f32]) {
    let act = l.desc.act;
    match l.desc.op {
        Op::Dense { .. } => dense::float::dense(x, w, b, act, y),
        Op::Conv2d { .. } => conv::float::conv2d(x, w, b, &l.window, act, y),
        Op::DepthwiseConv2d { .. } => conv::float::depthwise2d(x, w, b, &l.window, act, y),
        Op::ConvTranspose2d { .. } => conv::float::conv_transpose2d(x, w, b, &l.window, act, y),
        Op::Lstm { units, .. } => {
            let (c, h) = gap.split_at_mut(units as usize);
            lstm::lstm_f32(x, w, b, &l.seq(), y, c, h);
        }
        // resolve() only gives weights to the ops above.
        _ => {}
    }
}

/// Values per f32 block of [`Model::score`]'s error sum.
const ERROR_BLOCK: usize = 16;

/// Sum of up to [`ERROR_BLOCK`] values: eight interleaved partial sums, then a fixed tree.
#[inline]
fn block_sum(v: &[f32]) -> f32 {
    let mut lanes = [0.0f32; 8];
    for (i, &e) in v.iter().enumerate() {
        lanes[i % 8] += e;
    }
    ((lanes[0] + lanes[4]) + (lanes[1] + lanes[5]))
        + ((lanes[2] + lanes[6]) + (lanes[3] + lanes[7]))
}

/// Error contribution of one element.
#[inline]
pub fn element_error(metric: Metric, x: f32, y: f32) -> f32 {
    match metric {
        Metric::Mse | Metric::Latent | Metric::MseLatent => (x - y) * (x - y),
        Metric::Mae => libm::fabsf(x - y),
        Metric::Bce => {
            // Clamped as Keras does, so a saturated sigmoid does not give infinity.
            const EPS: f32 = 1e-7;
            let y = y.clamp(EPS, 1.0 - EPS);
            -(x * libm::logf(y) + (1.0 - x) * libm::logf(1.0 - y))
        }
    }
}
