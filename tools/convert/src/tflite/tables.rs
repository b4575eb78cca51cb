//! int8 activation tables that reproduce TensorFlow Lite Micro's integer kernels bit for bit.
//!
//! TFLM computes int8 LOGISTIC and TANH with gemmlowp's fixed-point approximations and RELU /
//! RELU6 with a requantization and a clamp. Each output depends on one int8 input only, so a
//! 256-entry table evaluated with the same integer arithmetic gives the same bits at the cost
//! of one lookup per value.

use aedge_runtime::fixed::{
    multiply_by_quantized_multiplier, quantize_multiplier, rounding_divide_by_pot,
    saturating_rounding_doubling_high_mul as mul,
};
use aedge_runtime::Quant;

/// Builds a table from a function of the int8 input.
fn build(f: impl Fn(i32) -> i32) -> [i8; 256] {
    let mut t = [0i8; 256];
    for (i, e) in t.iter_mut().enumerate() {
        *e = f(i as i32 - 128).clamp(-128, 127) as i8;
    }
    t
}

/// gemmlowp's `SaturatingRoundingMultiplyByPOT` for a positive exponent.
fn shl_saturating(x: i32, e: u32) -> i32 {
    let threshold = (1i32 << (31 - e)) - 1;
    if x > threshold {
        i32::MAX
    } else if x < -threshold {
        i32::MIN
    } else {
        x << e
    }
}

/// gemmlowp's `Rescale`: from `src` integer bits to `dst`.
fn rescale(x: i32, src: i32, dst: i32) -> i32 {
    let e = src - dst;
    if e >= 0 {
        shl_saturating(x, e as u32)
    } else {
        rounding_divide_by_pot(x, (-e) as u32)
    }
}

/// `exp(x)` for `x` in `[-1/4, 0)`, Q0.31 in and out.
fn exp_quarter(a: i32) -> i32 {
    const EXP_MINUS_ONE_EIGHTH: i32 = 1895147668;
    const ONE_THIRD: i32 = 715827883;
    let x = a.wrapping_add(1 << 28);
    let x2 = mul(x, x);
    let x3 = mul(x2, x);
    let x4 = mul(x2, x2);
    let x4_over_4 = rounding_divide_by_pot(x4, 2);
    let poly = rounding_divide_by_pot(
        mul(x4_over_4.wrapping_add(x3), ONE_THIRD).wrapping_add(x2),
        1,
    );
    EXP_MINUS_ONE_EIGHTH.wrapping_add(mul(EXP_MINUS_ONE_EIGHTH, x.wrapping_add(poly)))
}

/// `exp(a)` for `a <= 0` in Q(int_bits).(31 - int_bits); the result is Q0.31.
fn exp_on_negative_values(a: i32, int_bits: i32) -> i32 {
    let frac = 31 - int_bits;
    let one_quarter = 1i32 << (frac - 2);
    let mask = one_quarter - 1;
    let a_mod = (a & mask).wrapping_sub(one_quarter);
    let mut result = exp_quarter(rescale(a_mod, int_bits, 0));
    let remainder = a_mod.wrapping_sub(a);
    // exp(-2^e) in Q0.31 for e = -2..=4.
    const BARREL: [(i32, i32); 7] = [
        (-2, 1672461947),
        (-1, 1302514674),
        (0, 790015084),
        (1, 290630308),
        (2, 39332535),
        (3, 720401),
        (4, 242),
    ];
    for (e, m) in BARREL {
        if int_bits > e && remainder & (1i32 << (frac + e)) != 0 {
            result = mul(result, m);
        }
    }
    if int_bits > 5 && a < -(1i32 << (36 - int_bits)) {
        result = 0;
    }
    if a == 0 {
        i32::MAX
    } else {
        result
    }
}

/// Newton–Raphson iterations on `1 / (1 + a)` for `a` in `[0, 1]` (Q0.31); returns `x` in Q2.29.
fn reciprocal_iterations(a: i32) -> (i32, i32) {
    let half_denominator = {
        let sum = a as i64 + i32::MAX as i64;
        ((sum + if sum >= 0 { 1 } else { -1 }) / 2) as i32
    };
    const C48_17: i32 = 1515870810;
    const CNEG32_17: i32 = -1010580540;
    const ONE_Q2: i32 = 1 << 29;
    let mut x = C48_17.wrapping_add(mul(half_denominator, CNEG32_17));
    for _ in 0..3 {
        let hd_x = mul(half_denominator, x);
        let one_minus = ONE_Q2.wrapping_sub(hd_x);
        x = x.wrapping_add(rescale(mul(x, one_minus), 4, 2));
    }
    (x, ONE_Q2)
}

/// gemmlowp's `logistic` for a Q(int_bits) input; result Q0.31.
fn logistic(a: i32, int_bits: i32) -> i32 {
    if a == 0 {
        return 1 << 30;
    }
    let abs = if a > 0 { a } else { a.wrapping_neg() };
    let e = exp_on_negative_values(abs.wrapping_neg(), int_bits);
    let (x, _) = reciprocal_iterations(e);
    // ExactMulByPot<-1> takes Q2 to Q1 (same raw), then Rescale to Q0.
    let positive = rescale(x, 1, 0);
    if a > 0 {
        positive
    } else {
        i32::MAX.wrapping_sub(positive)
    }
}

/// gemmlowp's `tanh` for a Q(int_bits) input; result Q0.31.
fn tanh(a: i32, int_bits: i32) -> i32 {
    if a == 0 {
        return 0;
    }
    let n = if a < 0 { a } else { a.wrapping_neg() };
    // ExactMulByPot<1>: the same raw value with one more integer bit.
    let e = exp_on_negative_values(n, int_bits + 1);
    let (x, one) = reciprocal_iterations(e);
    let t = rescale(x.wrapping_sub(one), 2, 0);
    if a < 0 {
        t.wrapping_neg()
    } else {
        t
    }
}

/// Input rescaling shared by TFLM's int8 LOGISTIC and TANH: the input in Q4.27, and the
/// radius beyond which the output saturates.
fn q4_input(input: Quant) -> (i32, i32, i32) {
    const INPUT_INTEGER_BITS: i32 = 4;
    let real = input.scale as f64 * (1u64 << (31 - INPUT_INTEGER_BITS)) as f64;
    let (multiplier, shift) = quantize_multiplier(real);
    // CalculateInputRadius: floor(15 · 2^27 / 2^shift).
    let radius = (((1i64 << INPUT_INTEGER_BITS) - 1) as f64
        * (1i64 << (31 - INPUT_INTEGER_BITS)) as f64
        / 2f64.powi(shift))
    .floor() as i32;
    (multiplier, shift, radius)
}

/// TFLM's int8 LOGISTIC and TANH share their input handling: codes beyond the radius
/// saturate, the rest go through `f` in Q4.27 and come back as the Q0.31 result divided by
/// `2^shift_out` plus `zero_point_out`.
fn q4_table(
    input: Quant,
    f: fn(i32, i32) -> i32,
    shift_out: u32,
    zero_point_out: i32,
) -> [i8; 256] {
    let (m, s, radius) = q4_input(input);
    let zp = input.zero_point as i32;
    build(|q| {
        let v = q - zp;
        if v <= -radius {
            -128
        } else if v >= radius {
            127
        } else {
            let x = multiply_by_quantized_multiplier(v, m, s);
            rounding_divide_by_pot(f(x, 4), shift_out) + zero_point_out
        }
    })
}

/// TFLM's int8 LOGISTIC from `input`; the output quantization is fixed at scale 1/256, zero
/// point -128.
pub(super) fn logistic_table(input: Quant) -> [i8; 256] {
    q4_table(input, logistic, 23, -128)
}

/// TFLM's int8 TANH from `input`; the output quantization is fixed at scale 1/128, zero
/// point 0.
pub(super) fn tanh_table(input: Quant) -> [i8; 256] {
    q4_table(input, tanh, 24, 0)
}

/// TFLM's int8 RELU: requantizes from `input` to `output` (multiplier from the f32 ratio of
/// the scales) and clamps at the output's zero point.
pub(super) fn relu_table(input: Quant, output: Quant) -> [i8; 256] {
    let (m, s) = quantize_multiplier((input.scale / output.scale) as f64);
    let (izp, ozp) = (input.zero_point as i32, output.zero_point as i32);
    let min = ozp.max(-128);
    build(|q| (ozp + multiply_by_quantized_multiplier(q - izp, m, s)).max(min))
}

/// A clamp to `[lo, hi]` in the int8 domain (TFLM's RELU6, and the fused RELU6 /
/// RELU_N1_TO_1 ranges applied after a requantization).
pub(super) fn clamp_table(lo: i32, hi: i32) -> [i8; 256] {
    build(|q| q.max(lo).min(hi))
}

/// TFLite's quantization of a real activation bound: `zero_point + round(x / scale)` (float
/// division, half away from zero), as `CalculateActivationRangeQuantized` computes it.
pub(super) fn quantized_bound(x: f32, q: Quant) -> i32 {
    q.zero_point as i32 + (x / q.scale).round() as i32
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The tables follow the real functions to within the quantization step (the exact bits
    /// are checked against TFLite Micro by the import tests).
    #[test]
    fn tables_approximate_the_functions() {
        let input = Quant {
            scale: 0.05,
            zero_point: 3,
        };
        let sig = logistic_table(input);
        let th = tanh_table(input);
        for q in -128..=127i32 {
            let x = input.dequantize(q as i8);
            let s = (sig[(q + 128) as usize] as f32 + 128.0) / 256.0;
            let t = th[(q + 128) as usize] as f32 / 128.0;
            assert!(
                (s - 1.0 / (1.0 + (-x).exp())).abs() <= 1.0 / 256.0 + 1e-6,
                "{x}"
            );
            assert!((t - x.tanh()).abs() <= 1.0 / 128.0 + 1e-6, "{x}");
        }
        assert_eq!(sig[(3 + 128) as usize], 0); // sigmoid(0) = 0.5 → -128 + 128
        assert_eq!(th[(3 + 128) as usize], 0);
    }

    #[test]
    fn relu_and_clamp_tables() {
        let q = Quant {
            scale: 0.1,
            zero_point: -20,
        };
        let t = relu_table(q, q);
        for v in -128..=127i32 {
            assert_eq!(t[(v + 128) as usize] as i32, v.max(-20));
        }
        let six = quantized_bound(6.0, q);
        assert_eq!(six, 40);
        let c = clamp_table(-20, six);
        assert_eq!(c[0], -20);
        assert_eq!(c[255], 40);
    }
}
