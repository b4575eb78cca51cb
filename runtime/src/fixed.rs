//! Fixed-point requantization as TFLite's reference kernels and CMSIS-NN do it, so int8
//! results can be compared bit for bit with those stacks.

/// `round(a * b / 2^31)` with TFLite's rounding, saturating the one overflow case.
///
/// TFLite adds a sign-dependent nudge (`2^30` or `1 - 2^30`) and divides truncating toward
/// zero; for negative products that equals flooring `ab + 2^30`, so both cases are one
/// arithmetic shift of `ab + 2^30` (a multiply, a 64-bit add and a shift on Cortex-M).
#[inline(always)]
pub fn saturating_rounding_doubling_high_mul(a: i32, b: i32) -> i32 {
    if a == i32::MIN && b == i32::MIN {
        return i32::MAX;
    }
    ((a as i64 * b as i64 + (1 << 30)) >> 31) as i32
}

/// `x / 2^exponent`, rounding half away from zero (TFLite's `RoundingDivideByPOT`).
/// `exponent` is in `0..=31`.
///
/// In 32 bits: `floor((x - [x < 0]) / 2^(e-1))` then halve rounding up. For `x >= 0` that is
/// `floor((x + 2^(e-1)) / 2^e)` (half up); for `x < 0`, `floor((x - 1 + 2^(e-1)) / 2^e)`
/// (half down): together, half away from zero. The saturating add only matters for
/// `x = i32::MIN`, where it gives the same result.
#[inline(always)]
pub fn rounding_divide_by_pot(x: i32, exponent: u32) -> i32 {
    if exponent == 0 {
        return x;
    }
    let t = x.saturating_add(x >> 31) >> (exponent - 1);
    // floor((t + 1) / 2) without overflowing at t = i32::MAX.
    (t >> 1) + (t & 1)
}

/// `x * multiplier * 2^shift / 2^31`, TFLite's `MultiplyByQuantizedMultiplier`.
/// `shift` must be in `-31..=30` (checked when a model is parsed).
#[inline(always)]
pub fn multiply_by_quantized_multiplier(x: i32, multiplier: i32, shift: i32) -> i32 {
    let left = shift.max(0) as u32;
    let right = (-shift).max(0) as u32;
    rounding_divide_by_pot(
        saturating_rounding_doubling_high_mul(x.wrapping_shl(left), multiplier),
        right,
    )
}

/// Splits a positive real multiplier into a Q31 multiplier and a power-of-two shift, as
/// TFLite's `QuantizeMultiplier`. Returns `(0, 0)` for zero, tiny or non-finite values.
pub fn quantize_multiplier(m: f64) -> (i32, i32) {
    if !(m.is_finite() && m > 0.0) {
        return (0, 0);
    }
    let (frac, mut exp) = frexp(m);
    // frac in [0.5, 1): round to Q31.
    let mut q = round_half_away(frac * (1u64 << 31) as f64) as i64;
    if q == 1i64 << 31 {
        q /= 2;
        exp += 1;
    }
    if exp < -31 {
        return (0, 0);
    }
    if exp > 30 {
        return (i32::MAX, 30);
    }
    (q as i32, exp)
}

fn round_half_away(x: f64) -> f64 {
    let t = x as i64 as f64; // trunc; values here are below 2^32
    if (x - t).abs() >= 0.5 {
        t + x.signum()
    } else {
        t
    }
}

/// `m = frac * 2^exp` with `frac` in `[0.5, 1)`, for finite positive `m`.
fn frexp(m: f64) -> (f64, i32) {
    let bits = m.to_bits();
    let biased = ((bits >> 52) & 0x7ff) as i32;
    if biased == 0 {
        // Subnormal: scale into the normal range first.
        let (f, e) = frexp(m * (1u64 << 54) as f64);
        return (f, e - 54);
    }
    let exp = biased - 1022;
    let frac = f64::from_bits((bits & !(0x7ffu64 << 52)) | (1022u64 << 52));
    (frac, exp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multiplier_roundtrips_real_values() {
        for &m in &[0.5, 0.75, 1.0, 0.001234, 3.5, 1e-6, 0.999_999_9] {
            let (q, s) = quantize_multiplier(m);
            let back = q as f64 / (1u64 << 31) as f64 * 2f64.powi(s);
            assert!((back - m).abs() / m < 1e-9, "{m}: {q} {s} -> {back}");
        }
        assert_eq!(quantize_multiplier(0.0), (0, 0));
        assert_eq!(quantize_multiplier(f64::NAN), (0, 0));
    }

    #[test]
    fn requantize_matches_real_arithmetic() {
        for &m in &[0.0123f64, 0.5, 0.9, 1.7, 0.000_31] {
            let (q, s) = quantize_multiplier(m);
            for x in [-100_000i32, -12_345, -1, 0, 1, 7, 99_999, 1 << 20] {
                let got = multiply_by_quantized_multiplier(x, q, s);
                let want = (x as f64 * m).round();
                assert!((got as f64 - want).abs() <= 1.0, "{x}*{m}: {got} vs {want}");
            }
        }
    }

    /// TFLite's reference arithmetic, literally (64-bit, nudge and truncating division).
    fn reference(x: i32, multiplier: i32, shift: i32) -> i32 {
        let left = if shift > 0 { shift } else { 0 };
        let right = if shift > 0 { 0 } else { -shift };
        let a = x.wrapping_shl(left as u32);
        let srdhm = if a == i32::MIN && multiplier == i32::MIN {
            i32::MAX
        } else {
            let ab = a as i64 * multiplier as i64;
            let nudge: i64 = if ab >= 0 { 1 << 30 } else { 1 - (1 << 30) };
            ((ab + nudge) / (1i64 << 31)) as i32
        };
        let mask: i64 = (1i64 << right) - 1;
        let v = srdhm as i64;
        let remainder = v & mask;
        let threshold = (mask >> 1) + (v < 0) as i64;
        ((v >> right) + (remainder > threshold) as i64) as i32
    }

    #[test]
    fn fast_requantization_equals_tflite_reference() {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let edges = [
            i32::MIN,
            i32::MIN + 1,
            -1,
            0,
            1,
            i32::MAX,
            1 << 30,
            -(1 << 30),
        ];
        for i in 0..400_000 {
            let r = next();
            let x = if i % 7 == 0 {
                edges[(r % 8) as usize]
            } else {
                (r >> 16) as i32 >> (r % 20)
            };
            let m = if i % 11 == 0 {
                edges[((r >> 8) % 8) as usize]
            } else {
                (next() >> 33) as i32 | 1 << 30
            };
            let shift = (next() % 62) as i32 - 31;
            assert_eq!(
                multiply_by_quantized_multiplier(x, m, shift),
                reference(x, m, shift),
                "x {x} m {m} shift {shift}"
            );
        }
    }

    #[test]
    fn rounding_divide_rounds_half_away_from_zero() {
        assert_eq!(rounding_divide_by_pot(5, 1), 3);
        assert_eq!(rounding_divide_by_pot(-5, 1), -3);
        assert_eq!(rounding_divide_by_pot(4, 1), 2);
        assert_eq!(rounding_divide_by_pot(-7, 2), -2);
        assert_eq!(rounding_divide_by_pot(i32::MIN, 31), -1);
    }
}
