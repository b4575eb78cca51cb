//! Kernels that join a tensor with a saved one (skip connections): the element-wise sum of
//! [`crate::Op::Add`] and the channel concatenation of [`crate::Op::Concat`], in f32 and int8.

use crate::desc::Quant;
use crate::fixed::{multiply_by_quantized_multiplier as mbqm, quantize_multiplier};

/// The left shift TFLite's int8 ADD gives both inputs before rescaling them to a common
/// scale, so the rescaled values keep 20 fractional bits.
pub const ADD_LEFT_SHIFT: u32 = 20;

/// Fixed-point parameters of an int8 sum: index 0 the input, 1 the saved tensor, 2 the sum.
#[derive(Clone, Copy, Debug)]
pub struct AddQuant {
    /// Zero points of the input and of the saved tensor.
    pub zero_points: [i32; 2],
    /// Q31 multipliers (see [`add_multipliers`]).
    pub multipliers: [i32; 3],
    /// Their shifts (positive = left).
    pub shifts: [i32; 3],
    /// Zero point of the output.
    pub output_zero_point: i32,
}

/// The multipliers and shifts of an int8 sum of tensors quantized by `a` and `b` into
/// `out`, as TFLite prepares its ADD: both inputs scaled relative to twice the larger input
/// scale, the sum by that over `2^20 · out.scale`.
pub fn add_multipliers(a: Quant, b: Quant, out: Quant) -> ([i32; 3], [i32; 3]) {
    let twice_max = 2.0 * (a.scale as f64).max(b.scale as f64);
    let reals = [
        a.scale as f64 / twice_max,
        b.scale as f64 / twice_max,
        twice_max / ((1u64 << ADD_LEFT_SHIFT) as f64 * out.scale as f64),
    ];
    let q = reals.map(quantize_multiplier);
    (q.map(|(m, _)| m), q.map(|(_, s)| s))
}

/// `x[i] += saved[i]`.
pub fn add_f32(x: &mut [f32], saved: &[f32]) {
    for (a, b) in x.iter_mut().zip(saved) {
        *a += b;
    }
}

/// `x[i] = x[i] ⊕ saved[i]` in int8 by the arithmetic of TFLite's reference ADD (no activation).
pub fn add_i8(x: &mut [i8], saved: &[i8], q: &AddQuant) {
    let [m0, m1, m2] = q.multipliers;
    let [s0, s1, s2] = q.shifts;
    let [z0, z1] = q.zero_points;
    for (a, &b) in x.iter_mut().zip(saved) {
        let ia = mbqm((*a as i32 - z0) << ADD_LEFT_SHIFT, m0, s0);
        let ib = mbqm((b as i32 - z1) << ADD_LEFT_SHIFT, m1, s1);
        let o = mbqm(ia + ib, m2, s2) + q.output_zero_point;
        *a = o.clamp(-128, 127) as i8;
    }
}

/// How one int8 input of a concatenation maps into the output's quantization.
#[derive(Clone, Copy, Debug)]
pub struct Rescale {
    /// The input's zero point.
    pub zero_point: i32,
    /// Q31 multiplier of `input scale / output scale`.
    pub multiplier: i32,
    /// Its shift (positive = left).
    pub shift: i32,
    /// The output's zero point.
    pub output_zero_point: i32,
}

impl Rescale {
    /// The rescaling from `from` to `to`'s quantization.
    pub fn between(from: Quant, to: Quant) -> Rescale {
        let (multiplier, shift) = quantize_multiplier(from.scale as f64 / to.scale as f64);
        Rescale {
            zero_point: from.zero_point as i32,
            multiplier,
            shift,
            output_zero_point: to.zero_point as i32,
        }
    }

    /// Whether it leaves every value as it is (same scale and zero point): a copy.
    fn is_identity(&self) -> bool {
        self.multiplier == 1 << 30 && self.shift == 1 && self.zero_point == self.output_zero_point
    }

    fn apply(&self, v: &mut [i8]) {
        if self.is_identity() {
            return;
        }
        for q in v {
            let o = mbqm(*q as i32 - self.zero_point, self.multiplier, self.shift)
                + self.output_zero_point;
            *q = o.clamp(-128, 127) as i8;
        }
    }
}

/// Pixel by pixel, `a`'s `ca` channels then `b`'s `cb`, into `y`.
pub fn concat<T: Copy>(a: &[T], ca: usize, b: &[T], cb: usize, y: &mut [T]) {
    let pixels = y.len() / (ca + cb).max(1);
    for p in 0..pixels {
        let out = &mut y[p * (ca + cb)..][..ca + cb];
        out[..ca].copy_from_slice(&a[p * ca..][..ca]);
        out[ca..].copy_from_slice(&b[p * cb..][..cb]);
    }
}

/// [`concat()`] of int8 tensors, each input rescaled into the output's quantization.
pub fn concat_i8(
    a: &[i8],
    ca: usize,
    ra: &Rescale,
    b: &[i8],
    cb: usize,
    rb: &Rescale,
    y: &mut [i8],
) {
    let pixels = y.len() / (ca + cb).max(1);
    for p in 0..pixels {
        let out = &mut y[p * (ca + cb)..][..ca + cb];
        let (ya, yb) = out.split_at_mut(ca);
        ya.copy_from_slice(&a[p * ca..][..ca]);
        yb.copy_from_slice(&b[p * cb..][..cb]);
        ra.apply(ya);
        rb.apply(yb);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(scale: f32, zero_point: i8) -> Quant {
        Quant { scale, zero_point }
    }

    #[test]
    fn int8_sums_round_to_the_nearest_output_code() {
        let (a, b, out) = (q(0.02, -3), q(0.05, 10), q(0.07, -20));
        let (multipliers, shifts) = add_multipliers(a, b, out);
        let p = AddQuant {
            zero_points: [-3, 10],
            multipliers,
            shifts,
            output_zero_point: -20,
        };
        for va in (-128..128).step_by(7) {
            for vb in (-128..128).step_by(5) {
                let mut x = [va as i8];
                add_i8(&mut x, &[vb as i8], &p);
                let real = a.dequantize(va as i8) + b.dequantize(vb as i8);
                let want = out.quantize(real) as i32;
                assert!(
                    (x[0] as i32 - want).abs() <= 1,
                    "{va} {vb}: {} vs {want}",
                    x[0]
                );
            }
        }
    }

    #[test]
    fn concatenation_interleaves_channels_and_rescales() {
        let y = &mut [0.0f32; 10];
        concat(
            &[1.0, 2.0, 3.0, 4.0],
            2,
            &[5.0, 6.0, 7.0, 8.0, 9.0, 10.0],
            3,
            y,
        );
        assert_eq!(y, &[1.0, 2.0, 5.0, 6.0, 7.0, 3.0, 4.0, 8.0, 9.0, 10.0]);

        let (from, to) = (q(0.1, 5), q(0.2, -1));
        let same = Rescale::between(to, to);
        let half = Rescale::between(from, to);
        let y = &mut [0i8; 4];
        concat_i8(&[7, -9], 1, &same, &[15, 25], 1, &half, y);
        // 15 → 0.1·10 = 1.0 → 5 + -1 = 4; 25 → 2.0 → 10 - 1 = 9.
        assert_eq!(y, &[7, 4, -9, 9]);
    }
}
