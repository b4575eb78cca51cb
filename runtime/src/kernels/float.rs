//! f32 kernels. Weights are read through [`Weight`], so the same code computes f32 models and
//! f16-weight models (converted to f32 on the fly, never copied to RAM).

use super::{conv_range, dispatch, transpose_source, Window};
use crate::desc::Activation;
use half::f16;

/// A weight element that can be read as f32.
pub trait Weight: Copy {
    /// The value as f32.
    fn to_f32(self) -> f32;

    /// Whether [`Weight::chunk8`] is faster than eight [`Weight::to_f32`] calls.
    const CHUNKED: bool = false;

    /// Eight values as f32 (`w.len() == 8`).
    #[inline(always)]
    fn chunk8(w: &[Self]) -> [f32; 8] {
        core::array::from_fn(|i| w[i].to_f32())
    }
}

impl Weight for f32 {
    #[inline(always)]
    fn to_f32(self) -> f32 {
        self
    }
}

impl Weight for f16 {
    #[inline(always)]
    fn to_f32(self) -> f32 {
        f16::to_f32(self)
    }

    // Only x86 hosts with std have a vector conversion to gain from (F16C, detected at run
    // time); elsewhere per-value conversion avoids the temporary array.
    const CHUNKED: bool = cfg!(all(
        feature = "std",
        any(target_arch = "x86", target_arch = "x86_64")
    ));

    /// Through half's slice conversion: F16C (`vcvtph2ps`) where the CPU has it, detected at
    /// run time with std; exact either way.
    #[inline(always)]
    fn chunk8(w: &[Self]) -> [f32; 8] {
        use half::slice::HalfFloatSliceExt;
        let mut out = [0.0f32; 8];
        w.convert_to_f32_slice(&mut out);
        out
    }
}

/// Dot product with eight independent accumulators, so the compiler can vectorise it.
// Forced inline on x86 so the AVX2 builds of the kernels contain it; plain `inline`
// elsewhere (forcing it into the conv loops costs the Cortex-M4 registers).
#[cfg_attr(target_arch = "x86_64", inline(always))]
#[cfg_attr(not(target_arch = "x86_64"), inline)]
pub fn dot<W: Weight>(x: &[f32], w: &[W]) -> f32 {
    let n = x.len().min(w.len());
    let (x, w) = (&x[..n], &w[..n]);
    let mut acc = [0.0f32; 8];
    let xs = x.chunks_exact(8);
    let ws = w.chunks_exact(8);
    let (xr, wr) = (xs.remainder(), ws.remainder());
    for (xa, wa) in xs.zip(ws) {
        if W::CHUNKED {
            let wf = W::chunk8(wa);
            for i in 0..8 {
                acc[i] += xa[i] * wf[i];
            }
        } else {
            for i in 0..8 {
                acc[i] += xa[i] * wa[i].to_f32();
            }
        }
    }
    let mut tail = 0.0;
    for (a, b) in xr.iter().zip(wr) {
        tail += a * b.to_f32();
    }
    ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7])) + tail
}

#[inline(always)]
fn dense_impl<W: Weight>(x: &[f32], w: &[W], b: &[f32], act: Activation, y: &mut [f32]) {
    let n = x.len();
    for (o, (yo, bo)) in y.iter_mut().zip(b).enumerate() {
        *yo = act.apply(bo + dot(x, &w[o * n..][..n]));
    }
}

dispatch! {
    /// Fully connected layer: `y[o] = act(b[o] + w[o] · x)`, weights `[outputs][inputs]`.
    pub fn dense [W: Weight] (x: &[f32], w: &[W], b: &[f32], act: Activation, y: &mut [f32]) => dense_impl [W]
}

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
    if super::host_conv::conv2d_f32(x, w, b, g, act, y) {
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
    pub fn conv2d [W: Weight] (x: &[f32], w: &[W], b: &[f32], g: &Window, act: Activation, y: &mut [f32]) => conv2d_impl [W]
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
    pub fn depthwise2d [W: Weight] (x: &[f32], w: &[W], b: &[f32], g: &Window, act: Activation, y: &mut [f32]) => depthwise2d_impl [W]
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
    pub fn conv_transpose2d [W: Weight] (x: &[f32], w: &[W], b: &[f32], g: &Window, act: Activation, y: &mut [f32]) => conv_transpose2d_impl [W]
}

/// Applies an activation in place.
pub fn activate(y: &mut [f32], act: Activation) {
    if act != Activation::Identity {
        for v in y {
            *v = act.apply(*v);
        }
    }
}
