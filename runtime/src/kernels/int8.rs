//! int8 kernels in the TFLite / CMSIS-NN scheme: symmetric per-output-channel int8 weights,
//! asymmetric per-tensor int8 activations, i32 bias and accumulators, fixed-point
//! requantization, and lookup tables for non-linear activations.

use super::{conv_range, dispatch, transpose_source, Window};
use crate::fixed::multiply_by_quantized_multiplier;

/// Everything needed to turn an i32 accumulator into an int8 output.
#[derive(Clone, Copy, Debug)]
pub struct Requant<'a> {
    /// Zero point of the layer input (subtracted from every input value).
    pub input_zero_point: i32,
    /// i32 bias per output channel, in units of `input_scale * weight_scale[c]`.
    pub bias: &'a [i32],
    /// Q31 multiplier per output channel, or one for every channel (per-tensor).
    pub multiplier: &'a [i32],
    /// Shift per output channel, or one for every channel (as `multiplier`).
    pub shift: &'a [i32],
    /// Zero point of the requantized (pre-table) value.
    pub output_zero_point: i32,
    /// Lower clamp (the zero point for ReLU, else -128).
    pub min: i32,
    /// Optional 256-entry activation table, indexed by the requantized value + 128.
    pub lut: Option<&'a [i8; 256]>,
}

impl Requant<'_> {
    /// Requantizes accumulator `acc` of output channel `c` (bias included).
    #[inline(always)]
    pub(crate) fn finish(&self, acc: i32, c: usize) -> i8 {
        let (m, s) = self.channel(c);
        self.finish_with(acc, m, s)
    }

    /// Multiplier and shift of output channel `c`.
    #[inline(always)]
    pub(crate) fn channel(&self, c: usize) -> (i32, i32) {
        let c = if self.multiplier.len() == 1 { 0 } else { c };
        (self.multiplier[c], self.shift[c])
    }

    /// Multipliers and shifts of the `N` channels from `first`.
    #[inline(always)]
    pub(crate) fn channels<const N: usize>(&self, first: usize) -> ([i32; N], [i32; N]) {
        if self.multiplier.len() == 1 {
            return ([self.multiplier[0]; N], [self.shift[0]; N]);
        }
        // One range check per group instead of one per channel.
        let (m, s) = (
            &self.multiplier[first..first + N],
            &self.shift[first..first + N],
        );
        (
            core::array::from_fn(|i| m[i]),
            core::array::from_fn(|i| s[i]),
        )
    }

    /// [`Requant::finish`] with the channel's multiplier and shift already loaded.
    #[inline(always)]
    pub(crate) fn finish_with(&self, acc: i32, multiplier: i32, shift: i32) -> i8 {
        let v = multiply_by_quantized_multiplier(acc, multiplier, shift)
            .saturating_add(self.output_zero_point)
            .max(self.min)
            .min(127);
        match self.lut {
            // v is in -128..=127 (min >= -128), so this is v + 128 without a bounds check.
            Some(t) => t[(v as u8 ^ 0x80) as usize],
            None => v as i8,
        }
    }
}

/// `Σ (x - zp) * w` (wrapping), the inner loop of every int8 layer. On Cortex-M cores with
/// the DSP extension it uses two 16-bit multiply-accumulates per instruction; elsewhere
/// [`dot_generic`]. Both give the same bits.
#[inline]
pub fn dot(x: &[i8], w: &[i8], zero_point: i32) -> i32 {
    #[cfg(aedge_dsp)]
    {
        dsp::dot(x, w, zero_point)
    }
    #[cfg(not(aedge_dsp))]
    {
        dot_generic(x, w, zero_point)
    }
}

#[cfg(aedge_dsp)]
mod dsp {
    use core::arch::asm;

    /// Four values per step: SXTB16 splits each word of four i8 into two pairs of i16,
    /// SSUB16 subtracts the zero point in both lanes (|x - zp| <= 255 fits i16), SMLAD adds
    /// two products to the accumulator. Integer adds wrap, so the sum equals the generic one.
    #[inline]
    pub fn dot(x: &[i8], w: &[i8], zero_point: i32) -> i32 {
        let n = x.len().min(w.len());
        let quads = n / 4;
        let zp = zero_point as u32;
        let zp2 = (zp & 0xffff) | (zp << 16);
        let mut acc = 0i32;
        for q in 0..quads {
            // SAFETY: 4q + 3 < n, and Cortex-M4/M7/M33 load unaligned words from RAM and flash.
            let (xv, wv) = unsafe {
                (
                    (x.as_ptr().add(4 * q) as *const u32).read_unaligned(),
                    (w.as_ptr().add(4 * q) as *const u32).read_unaligned(),
                )
            };
            // SAFETY: register-only arithmetic; the temporaries are written before they are
            // read and never share a register with the inputs (`out`, not `lateout`).
            unsafe {
                asm!(
                    "sxtb16 {xe}, {xv}",
                    "sxtb16 {xo}, {xv}, ror #8",
                    "ssub16 {xe}, {xe}, {zp}",
                    "ssub16 {xo}, {xo}, {zp}",
                    "sxtb16 {we}, {wv}",
                    "sxtb16 {wo}, {wv}, ror #8",
                    "smlad {acc}, {xe}, {we}, {acc}",
                    "smlad {acc}, {xo}, {wo}, {acc}",
                    xv = in(reg) xv,
                    wv = in(reg) wv,
                    zp = in(reg) zp2,
                    xe = out(reg) _,
                    xo = out(reg) _,
                    we = out(reg) _,
                    wo = out(reg) _,
                    acc = inout(reg) acc,
                    options(pure, nomem, nostack),
                );
            }
        }
        for i in 4 * quads..n {
            acc = acc.wrapping_add((x[i] as i32 - zero_point) * w[i] as i32);
        }
        acc
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

/// Scratch words [`conv2d`] uses for a layer of geometry `g` on Cortex-M cores with the DSP
/// extension (a staged window, four taps per word, and four words of requantization
/// constants per output channel); the arena planner reserves them on every target, so a size
/// computed on the host holds on the device.
pub fn conv2d_scratch_words(g: &Window) -> usize {
    (g.kernel[0] * g.kernel[1] * g.input.c as usize).div_ceil(4) + 4 * g.output.c as usize
}

#[inline(always)]
fn conv2d_impl(x: &[i8], w: &[i8], g: &Window, q: &Requant, y: &mut [i8], scratch: &mut [u32]) {
    #[cfg(all(feature = "std", target_arch = "x86_64"))]
    if super::host_conv::conv2d_i8(x, w, g, q, y) {
        return;
    }
    #[cfg(aedge_dsp)]
    if super::int8_conv_dsp::conv2d(x, w, g, q, y, scratch) {
        return;
    }
    #[cfg(not(aedge_dsp))]
    let _ = scratch;
    let ([ih, iw, ic], [oh, ow, oc]) = g.sizes();
    let [kh, kw] = g.kernel;
    for oy in 0..oh {
        let (ky_lo, ky_hi, iy0) = conv_range(oy, g.stride[0], g.pad[0], kh, ih);
        for ox in 0..ow {
            let (kx_lo, kx_hi, ix0) = conv_range(ox, g.stride[1], g.pad[1], kw, iw);
            let run = (kx_hi - kx_lo) * ic;
            let out = &mut y[(oy * ow + ox) * oc..][..oc];
            for (o, yo) in out.iter_mut().enumerate() {
                let mut acc = q.bias[o];
                for (r, ky) in (ky_lo..ky_hi).enumerate() {
                    let xrow = &x[((iy0 + r) * iw + ix0) * ic..][..run];
                    let wrow = &w[((o * kh + ky) * kw + kx_lo) * ic..][..run];
                    acc = acc.wrapping_add(dot(xrow, wrow, q.input_zero_point));
                }
                *yo = q.finish(acc, o);
            }
        }
    }
}

dispatch! {
    /// 2-D convolution, HWC activations, weights `[out_c][kh][kw][in_c]`. Padded positions hold
    /// the input zero point (real zero), so they contribute nothing. `scratch` of at least
    /// [`conv2d_scratch_words`] words lets Cortex-M DSP cores gather each window once; with
    /// less (or elsewhere) the kernel works without it.
    pub fn conv2d [] (x: &[i8], w: &[i8], g: &Window, q: &Requant, y: &mut [i8], scratch: &mut [u32]) => conv2d_impl []
}

#[inline(always)]
fn depthwise2d_impl(x: &[i8], w: &[i8], g: &Window, q: &Requant, y: &mut [i8]) {
    let ([ih, iw, ic], [oh, ow, oc]) = g.sizes();
    let [kh, kw] = g.kernel;
    let m = oc / ic.max(1);
    let zp = q.input_zero_point;
    for oy in 0..oh {
        let (ky_lo, ky_hi, iy0) = conv_range(oy, g.stride[0], g.pad[0], kh, ih);
        for ox in 0..ow {
            let (kx_lo, kx_hi, ix0) = conv_range(ox, g.stride[1], g.pad[1], kw, iw);
            let out = &mut y[(oy * ow + ox) * oc..][..oc];
            for (o, yo) in out.iter_mut().enumerate() {
                let ci = o / m;
                let mut acc = q.bias[o];
                for (r, ky) in (ky_lo..ky_hi).enumerate() {
                    let wrow = &w[(o * kh + ky) * kw..][kx_lo..kx_hi];
                    let xrow = &x[((iy0 + r) * iw + ix0) * ic..];
                    for (j, &wv) in wrow.iter().enumerate() {
                        let xv = xrow[j * ic + ci] as i32 - zp;
                        acc = acc.wrapping_add(xv * wv as i32);
                    }
                }
                *yo = q.finish(acc, o);
            }
        }
    }
}

dispatch! {
    /// Depthwise 2-D convolution (TFLite's DEPTHWISE_CONV_2D arithmetic), weights
    /// `[out_c][kh][kw]`; padded positions contribute nothing (they hold the zero point).
    pub fn depthwise2d [] (x: &[i8], w: &[i8], g: &Window, q: &Requant, y: &mut [i8]) => depthwise2d_impl []
}

#[inline(always)]
fn conv_transpose2d_impl(x: &[i8], w: &[i8], g: &Window, q: &Requant, y: &mut [i8]) {
    let ([ih, iw, ic], [oh, ow, oc]) = g.sizes();
    let [kh, kw] = g.kernel;
    for oy in 0..oh {
        for ox in 0..ow {
            let out = &mut y[(oy * ow + ox) * oc..][..oc];
            for (o, yo) in out.iter_mut().enumerate() {
                let mut a = q.bias[o];
                for ky in 0..kh {
                    let Some(iy) = transpose_source(oy, ky, g.stride[0], g.pad[0], ih) else {
                        continue;
                    };
                    for kx in 0..kw {
                        let Some(ix) = transpose_source(ox, kx, g.stride[1], g.pad[1], iw) else {
                            continue;
                        };
                        let xv = &x[(iy * iw + ix) * ic..][..ic];
                        let wv = &w[((o * kh + ky) * kw + kx) * ic..][..ic];
                        a = a.wrapping_add(dot(xv, wv, q.input_zero_point));
                    }
                }
                *yo = q.finish(a, o);
            }
        }
    }
}

dispatch! {
    /// 2-D transposed convolution in gather form: each output sums the inputs that land on it, so
    /// no accumulator buffer is needed beyond a register.
    pub fn conv_transpose2d [] (x: &[i8], w: &[i8], g: &Window, q: &Requant, y: &mut [i8]) => conv_transpose2d_impl []
}

/// Applies a 256-entry table in place (stand-alone int8 activation, and the activation of
/// layers computed without one).
pub fn lookup(y: &mut [i8], lut: &[i8; 256]) {
    #[cfg(all(feature = "std", target_arch = "x86_64"))]
    if x86::lookup(y, lut) {
        return;
    }
    for v in y {
        *v = lut[(*v as i32 + 128) as usize];
    }
}

#[cfg(all(feature = "std", target_arch = "x86_64"))]
mod x86 {
    use core::arch::x86_64::*;

    /// The table lookup with AVX-512 VBMI, 64 values per step: two `vpermi2b` each look up
    /// the index's low 7 bits in one half of the table, and the top bit picks the half.
    /// Returns false (nothing written) on CPUs without it.
    pub fn lookup(y: &mut [i8], lut: &[i8; 256]) -> bool {
        if !crate::kernels::isa::allows(crate::kernels::isa::VNNI)
            || !std::is_x86_feature_detected!("avx512vbmi")
            || !std::is_x86_feature_detected!("avx512bw")
        {
            return false;
        }
        // SAFETY: the CPU has AVX-512 F, BW and VBMI (VBMI implies F; checked above).
        unsafe { lookup_vbmi(y, lut) };
        true
    }

    #[target_feature(enable = "avx512f,avx512bw,avx512vbmi")]
    unsafe fn lookup_vbmi(y: &mut [i8], lut: &[i8; 256]) {
        // SAFETY: four 64-byte loads inside the 256-byte table.
        let t: [__m512i; 4] = core::array::from_fn(|i| unsafe {
            _mm512_loadu_si512(lut.as_ptr().add(64 * i) as *const __m512i)
        });
        let flip = _mm512_set1_epi8(-128);
        for chunk in y.chunks_mut(64) {
            let n = chunk.len();
            let mask: __mmask64 = if n == 64 { !0 } else { (1u64 << n) - 1 };
            let p = chunk.as_mut_ptr();
            // SAFETY: masked load and store of the chunk's n bytes.
            unsafe {
                let u = _mm512_xor_si512(_mm512_maskz_loadu_epi8(mask, p), flip);
                let lo = _mm512_permutex2var_epi8(t[0], u, t[1]);
                let hi = _mm512_permutex2var_epi8(t[2], u, t[3]);
                let v = _mm512_mask_blend_epi8(_mm512_movepi8_mask(u), lo, hi);
                _mm512_mask_storeu_epi8(p, mask, v);
            }
        }
    }
}
