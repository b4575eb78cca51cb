//! int8 convolutions in the TFLite / CMSIS-NN scheme (per-channel weights, per-tensor
//! activations).

use crate::dispatch;
use crate::kernels::dot::int8::dot;
use crate::kernels::{conv_range, transpose_source, Requant, Window};

/// Largest number of taps per output (kernel height × width × input channels) for which the
/// Cortex-M convolution keeps a window's taps in registers as 16-bit pairs and packs the
/// weights the same way (a first layer on grayscale input has 9).
pub const PAIRED_TAPS: usize = 16;

/// Most words of 16-bit weights the Cortex-M convolution keeps in the arena for a layer of
/// more than [`PAIRED_TAPS`] taps (weights up to 2 KiB): read from RAM as ready pairs instead
/// of from flash as bytes to extend, for every output pixel.
pub const WIDE_WEIGHT_WORDS: usize = 1024;

/// Words of 16-bit weight pairs the Cortex-M convolution widens a layer's weights into: two
/// per four taps (whole groups of four) per output channel, or 0 when the layer has at most
/// [`PAIRED_TAPS`] taps or that is more than [`WIDE_WEIGHT_WORDS`].
pub fn wide_weight_words(g: &Window) -> usize {
    let taps = g.kernel[0] * g.kernel[1] * g.input.c as usize;
    let words = taps / 4 * 2 * g.output.c as usize;
    if taps > PAIRED_TAPS && words <= WIDE_WEIGHT_WORDS {
        words
    } else {
        0
    }
}

/// Scratch words [`conv2d`] uses for a layer of geometry `g` on Cortex-M cores with the DSP
/// extension (a staged window, four taps per word, four words of requantization constants per
/// output channel, for layers of at most [`PAIRED_TAPS`] taps the weights as 16-bit pairs,
/// and for others [`wide_weight_words`]); the arena planner reserves them on every target, so
/// a size computed on the host holds on the device.
pub fn conv2d_scratch_words(g: &Window) -> usize {
    let taps = g.kernel[0] * g.kernel[1] * g.input.c as usize;
    let oc = g.output.c as usize;
    let paired = if taps <= PAIRED_TAPS {
        taps.div_ceil(2) * oc
    } else {
        0
    };
    taps.div_ceil(4) + 4 * oc + paired + wide_weight_words(g)
}

#[inline(always)]
fn conv2d_impl(x: &[i8], w: &[i8], g: &Window, q: &Requant, y: &mut [i8], scratch: &mut [u32]) {
    #[cfg(all(feature = "std", any(target_arch = "x86_64", target_arch = "aarch64")))]
    if super::host::conv2d_i8(x, w, g, q, y) {
        return;
    }
    #[cfg(aedge_dsp)]
    if super::cortex_m::conv2d(x, w, g, q, y, scratch) {
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
    pub fn conv2d [] (x: &[i8], w: &[i8], g: &Window, q: &Requant, y: &mut [i8], scratch: &mut [u32]) => conv2d_impl [] for [avx2]
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
    pub fn depthwise2d [] (x: &[i8], w: &[i8], g: &Window, q: &Requant, y: &mut [i8]) => depthwise2d_impl [] for [avx2]
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
    pub fn conv_transpose2d [] (x: &[i8], w: &[i8], g: &Window, q: &Requant, y: &mut [i8]) => conv_transpose2d_impl [] for [avx2]
}
