//! int8 dot products: `Σ (x − zp)·w` with i32 wrapping sums.

/// `Σ (x - zp) * w` (wrapping), the inner loop of every int8 layer. On Cortex-M cores with
/// the DSP extension it uses two 16-bit multiply-accumulates per instruction; elsewhere
/// [`dot_generic`]. Both give the same bits.
#[inline]
pub fn dot(x: &[i8], w: &[i8], zero_point: i32) -> i32 {
    #[cfg(aedge_dsp)]
    {
        super::cortex_m::dot(x, w, zero_point)
    }
    #[cfg(not(aedge_dsp))]
    {
        dot_generic(x, w, zero_point)
    }
}

/// The portable `Σ (x - zp) * w`, as `Σ x*w - zp * Σ w` so the inner loop has one multiply.
#[inline]
pub fn dot_generic(x: &[i8], w: &[i8], zero_point: i32) -> i32 {
    let mut xw = 0i32;
    let mut ws = 0i32;
    for (&a, &b) in x.iter().zip(w) {
        xw = xw.wrapping_add(a as i32 * b as i32);
        ws = ws.wrapping_add(b as i32);
    }
    xw.wrapping_sub(zero_point.wrapping_mul(ws))
}
