//! LSTM kernels. Gates in the order input, forget, cell, output; `c' = f·c + i·g` and
//! `h' = o·tanh(c')` from zero state. Weights are `[4·units][inputs]` (input part) followed by
//! `[4·units][units]` (recurrent part). The state lives in caller-owned scratch buffers, so
//! no heap is needed.
//!
//! The int8 kernel follows the integer LSTM of TFLite in spirit: int8 weights and activations
//! with i32 accumulators, gate pre-activations requantized to Q3.12 `i16`, gate outputs in
//! Q0.15, a Q4.11 `i16` cell state (range ±16), and the hidden state requantized to the
//! layer's int8 output quantization. Sigmoid and tanh come from 257-entry Q0.15 tables with
//! linear interpolation, generated at build time.

use super::dot::float::dot;
use super::dot::int8;
use super::Weight;
use crate::fixed::{multiply_by_quantized_multiplier, rounding_divide_by_pot};

include!(concat!(env!("OUT_DIR"), "/lstm_tables.rs"));

/// Geometry of one LSTM layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Seq {
    /// Time steps.
    pub steps: usize,
    /// Features per step.
    pub inputs: usize,
    /// Hidden state size.
    pub units: usize,
    /// Whether every step's hidden state is output (else only the last).
    pub return_sequences: bool,
}

#[inline]
fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + libm::expf(-x))
}

/// One time step in f32: reads `x` and `h_prev` (absent at the first step, meaning zeros),
/// updates `c` and writes the new hidden state to `h`.
#[allow(clippy::too_many_arguments)]
fn step_f32<W: Weight>(
    x: &[f32],
    h_prev: Option<&[f32]>,
    wx: &[W],
    wh: &[W],
    b: &[f32],
    s: &Seq,
    c: &mut [f32],
    h: &mut [f32],
) {
    let (n, u) = (s.inputs, s.units);
    let gate = |k: usize, j: usize| -> f32 {
        let r = k * u + j;
        let mut acc = b[r] + dot(x, &wx[r * n..][..n]);
        if let Some(hp) = h_prev {
            acc += dot(hp, &wh[r * u..][..u]);
        }
        acc
    };
    for j in 0..u {
        let i = sigmoid(gate(0, j));
        let f = sigmoid(gate(1, j));
        let g = libm::tanhf(gate(2, j));
        let o = sigmoid(gate(3, j));
        c[j] = f * c[j] + i * g;
        h[j] = o * libm::tanhf(c[j]);
    }
}

/// f32 (or f16-weight) LSTM over `x` (`steps × inputs`). `y` is `steps × units` with
/// `return_sequences`, else `units`. Scratch: `c` and `h`, `units` each.
#[allow(clippy::too_many_arguments)]
pub fn lstm_f32<W: Weight>(
    x: &[f32],
    w: &[W],
    b: &[f32],
    s: &Seq,
    y: &mut [f32],
    c: &mut [f32],
    h: &mut [f32],
) {
    let (n, u) = (s.inputs, s.units);
    let (wx, wh) = w.split_at(4 * u * n);
    let (c, h) = (&mut c[..u], &mut h[..u]);
    c.fill(0.0);
    for t in 0..s.steps {
        let xt = &x[t * n..][..n];
        if s.return_sequences {
            // The previous hidden state is the previous output row.
            let (prev, cur) = y.split_at_mut(t * u);
            let hp = t.checked_sub(1).map(|p| &prev[p * u..][..u]);
            step_f32(xt, hp, wx, wh, b, s, c, &mut cur[..u]);
        } else {
            let hp = (t > 0).then_some(&h[..]);
            step_f32(xt, hp, wx, wh, b, s, c, &mut y[..u]);
            h.copy_from_slice(&y[..u]);
        }
    }
}

/// Sigmoid of a Q3.12 value, in Q0.15.
#[inline]
pub fn sigmoid_q15(x: i16) -> i32 {
    interpolate(&SIGMOID_Q15, x)
}

/// tanh of a Q3.12 value, in Q0.15.
#[inline]
pub fn tanh_q15(x: i16) -> i32 {
    interpolate(&TANH_Q15, x)
}

#[inline(always)]
fn interpolate(t: &[i16; 257], x: i16) -> i32 {
    let u = (x as i32 + 32768) as usize;
    let (i, frac) = (u >> 8, (u & 255) as i32);
    let (a, b) = (t[i] as i32, t[i + 1] as i32);
    a + (((b - a) * frac + 128) >> 8)
}

#[inline(always)]
fn sat16(v: i32) -> i16 {
    v.clamp(i16::MIN as i32, i16::MAX as i32) as i16
}

/// Requantization parameters of an int8 LSTM layer.
#[derive(Clone, Copy, Debug)]
pub struct LstmQuant<'a> {
    /// Zero point of the input sequence.
    pub input_zero_point: i32,
    /// Zero point of the hidden state (the layer's output quantization).
    pub hidden_zero_point: i32,
    /// i32 bias per gate row, in units of `input_scale * input_weight_scale[row]`.
    pub bias: &'a [i32],
    /// `4·units` multipliers from the input accumulators to Q3.12, `4·units` from the
    /// recurrent accumulators to Q3.12, and one from the Q0.30 hidden product to the output.
    pub multiplier: &'a [i32],
    /// Shifts, laid out as `multiplier`.
    pub shift: &'a [i32],
}

/// One int8 time step; see [`step_f32`].
#[allow(clippy::too_many_arguments)]
fn step_int8(
    x: &[i8],
    h_prev: Option<&[i8]>,
    wx: &[i8],
    wh: &[i8],
    q: &LstmQuant,
    s: &Seq,
    c: &mut [i16],
    h: &mut [i8],
) {
    let (n, u) = (s.inputs, s.units);
    let gate = |k: usize, j: usize| -> i16 {
        let r = k * u + j;
        let ax = q.bias[r].wrapping_add(int8::dot(x, &wx[r * n..][..n], q.input_zero_point));
        let mut g = multiply_by_quantized_multiplier(ax, q.multiplier[r], q.shift[r]);
        if let Some(hp) = h_prev {
            let ah = int8::dot(hp, &wh[r * u..][..u], q.hidden_zero_point);
            let r2 = 4 * u + r;
            g = g.saturating_add(multiply_by_quantized_multiplier(
                ah,
                q.multiplier[r2],
                q.shift[r2],
            ));
        }
        sat16(g)
    };
    let (m_out, s_out) = (q.multiplier[8 * u], q.shift[8 * u]);
    for j in 0..u {
        let i = sigmoid_q15(gate(0, j));
        let f = sigmoid_q15(gate(1, j));
        let g = tanh_q15(gate(2, j));
        let o = sigmoid_q15(gate(3, j));
        // Q0.15 · Q4.11 → Q4.11 and Q0.15 · Q0.15 → Q4.11.
        let cj = rounding_divide_by_pot(f * c[j] as i32, 15)
            .saturating_add(rounding_divide_by_pot(i * g, 19));
        c[j] = sat16(cj);
        // Q4.11 → Q3.12 for the table (tanh is flat beyond ±8).
        let tc = tanh_q15(sat16(c[j] as i32 * 2));
        let hv = multiply_by_quantized_multiplier(o * tc, m_out, s_out);
        h[j] = hv.saturating_add(q.hidden_zero_point).clamp(-128, 127) as i8;
    }
}

/// int8 LSTM over `x` (`steps × inputs`). `y` is `steps × units` with `return_sequences`,
/// else `units`. Scratch: `c` and `h`, `units` each.
pub fn lstm_int8(
    x: &[i8],
    w: &[i8],
    q: &LstmQuant,
    s: &Seq,
    y: &mut [i8],
    c: &mut [i16],
    h: &mut [i8],
) {
    let (n, u) = (s.inputs, s.units);
    let (wx, wh) = w.split_at(4 * u * n);
    let (c, h) = (&mut c[..u], &mut h[..u]);
    c.fill(0);
    for t in 0..s.steps {
        let xt = &x[t * n..][..n];
        if s.return_sequences {
            let (prev, cur) = y.split_at_mut(t * u);
            let hp = t.checked_sub(1).map(|p| &prev[p * u..][..u]);
            step_int8(xt, hp, wx, wh, q, s, c, &mut cur[..u]);
        } else {
            let hp = (t > 0).then_some(&h[..]);
            step_int8(xt, hp, wx, wh, q, s, c, &mut y[..u]);
            h.copy_from_slice(&y[..u]);
        }
    }
}
