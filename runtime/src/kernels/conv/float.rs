//! f32 convolutions, reading weights in place in the model file's `[out_c][kh][kw][in_c]`
//! layout.

use crate::desc::Activation;
use crate::dispatch;
use crate::kernels::dot::float::dot;
use crate::kernels::{conv_range, transpose_source, Weight, Window};

#[inline(always)]
fn conv2d_impl<W: Weight>(
    x: &[f32],
    w: &[W],
    b: &[f32],
    g: &Window,
    act: Activation,
    y: &mut [f32],
) {
    #[cfg(feature = "std")]
    if super::host::conv2d_f32(x, w, b, g, act, y) {
        return;
    }
    let ([ih, iw, ic], [oh, ow, oc]) = g.sizes();
    let [kh, kw] = g.kernel;
    for oy in 0..oh {
        let (ky_lo, ky_hi, iy0) = conv_range(oy, g.stride[0], g.pad[0], kh, ih);
        for ox in 0..ow {
            let (kx_lo, kx_hi, ix0) = conv_range(ox, g.stride[1], g.pad[1], kw, iw);
            // The valid part of each kernel row is contiguous in both input and weights.
            let run = (kx_hi - kx_lo) * ic;
            let out = &mut y[(oy * ow + ox) * oc..][..oc];
            for (o, yo) in out.iter_mut().enumerate() {
                let mut acc = b[o];
                for (r, ky) in (ky_lo..ky_hi).enumerate() {
                    let xrow = &x[((iy0 + r) * iw + ix0) * ic..][..run];
                    let wrow = &w[((o * kh + ky) * kw + kx_lo) * ic..][..run];
                    acc += dot(xrow, wrow);
                }
                *yo = act.apply(acc);
            }
        }
    }
}

dispatch! {
    /// 2-D convolution, HWC activations, weights `[out_c][kh][kw][in_c]`.
    pub fn conv2d [W: Weight] (x: &[f32], w: &[W], b: &[f32], g: &Window, act: Activation, y: &mut [f32]) => conv2d_impl [W] for [avx2]
}

#[inline(always)]
fn depthwise2d_impl<W: Weight>(
    x: &[f32],
    w: &[W],
    b: &[f32],
    g: &Window,
    act: Activation,
    y: &mut [f32],
) {
    let ([ih, iw, ic], [oh, ow, oc]) = g.sizes();
    let [kh, kw] = g.kernel;
    let m = oc / ic.max(1);
    for oy in 0..oh {
        let (ky_lo, ky_hi, iy0) = conv_range(oy, g.stride[0], g.pad[0], kh, ih);
        for ox in 0..ow {
            let (kx_lo, kx_hi, ix0) = conv_range(ox, g.stride[1], g.pad[1], kw, iw);
            let out = &mut y[(oy * ow + ox) * oc..][..oc];
            for (o, yo) in out.iter_mut().enumerate() {
                let ci = o / m;
                let mut acc = b[o];
                for (r, ky) in (ky_lo..ky_hi).enumerate() {
                    let wrow = &w[(o * kh + ky) * kw..][kx_lo..kx_hi];
                    let xrow = &x[((iy0 + r) * iw + ix0) * ic..];
                    for (j, wv) in wrow.iter().enumerate() {
                        acc += xrow[j * ic + ci] * wv.to_f32();
                    }
                }
                *yo = act.apply(acc);
            }
        }
    }
}

dispatch! {
    /// Depthwise 2-D convolution, HWC activations, weights `[out_c][kh][kw]`; output channel
    /// `o` reads input channel `o / (out_c / in_c)`.
    pub fn depthwise2d [W: Weight] (x: &[f32], w: &[W], b: &[f32], g: &Window, act: Activation, y: &mut [f32]) => depthwise2d_impl [W] for [avx2]
}

#[inline(always)]
fn conv_transpose2d_impl<W: Weight>(
    x: &[f32],
    w: &[W],
    b: &[f32],
    g: &Window,
    act: Activation,
    y: &mut [f32],
) {
    let ([ih, iw, ic], [oh, ow, oc]) = g.sizes();
    let [kh, kw] = g.kernel;
    for oy in 0..oh {
        for ox in 0..ow {
            let out = &mut y[(oy * ow + ox) * oc..][..oc];
            out.copy_from_slice(&b[..oc]);
            for ky in 0..kh {
                let Some(iy) = transpose_source(oy, ky, g.stride[0], g.pad[0], ih) else {
                    continue;
                };
                for kx in 0..kw {
                    let Some(ix) = transpose_source(ox, kx, g.stride[1], g.pad[1], iw) else {
                        continue;
                    };
                    let xv = &x[(iy * iw + ix) * ic..][..ic];
                    for (o, yo) in out.iter_mut().enumerate() {
                        *yo += dot(xv, &w[((o * kh + ky) * kw + kx) * ic..][..ic]);
                    }
                }
            }
            for yo in out.iter_mut() {
                *yo = act.apply(*yo);
            }
        }
    }
}

dispatch! {
    /// 2-D transposed convolution (gather form: each output sums the inputs that land on it).
    pub fn conv_transpose2d [W: Weight] (x: &[f32], w: &[W], b: &[f32], g: &Window, act: Activation, y: &mut [f32]) => conv_transpose2d_impl [W] for [avx2]
}
