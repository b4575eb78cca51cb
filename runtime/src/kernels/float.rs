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

    /// Eight values at `w` as f32 in a vector.
    ///
    /// # Safety
    /// Eight values must be readable at `w`, and the CPU must have AVX2 and F16C.
    #[cfg(all(feature = "std", target_arch = "x86_64"))]
    unsafe fn load8(w: *const Self) -> core::arch::x86_64::__m256;
}

impl Weight for f32 {
    #[inline(always)]
    fn to_f32(self) -> f32 {
        self
    }

    #[cfg(all(feature = "std", target_arch = "x86_64"))]
    #[inline(always)]
    unsafe fn load8(w: *const Self) -> core::arch::x86_64::__m256 {
        // SAFETY: the caller's contract.
        unsafe { core::arch::x86_64::_mm256_loadu_ps(w) }
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

    #[cfg(all(feature = "std", target_arch = "x86_64"))]
    #[inline(always)]
    unsafe fn load8(w: *const Self) -> core::arch::x86_64::__m256 {
        use core::arch::x86_64::*;
        // SAFETY: the caller's contract; exact conversion (`vcvtph2ps`).
        unsafe { _mm256_cvtph_ps(_mm_loadu_si128(w as *const __m128i)) }
    }
}

/// Dot product with eight independent accumulators, so the compiler can vectorise it.
// Forced inline on x86 so the AVX2 builds of the kernels contain it; plain `inline`
// elsewhere (forcing it into the conv loops costs the Cortex-M4 registers).
#[cfg_attr(target_arch = "x86_64", inline(always))]
#[cfg_attr(not(target_arch = "x86_64"), inline)]
pub fn dot<W: Weight>(x: &[f32], w: &[W]) -> f32 {
    #[cfg(feature = "std")]
    {
        dot_wide(x, w)
    }
    #[cfg(not(feature = "std"))]
    {
        dot8(x, w)
    }
}

/// [`dot`] for hosts: four groups of eight accumulators, so four vector dependency chains are
/// in flight (one 8-wide chain is latency-bound at a quarter of the multiply throughput).
/// Microcontrollers keep [`dot8`], whose eight scalars fit their registers. The two sum in a
/// different order, so f32 results of std and no_std builds differ by rounding only.
#[cfg(feature = "std")]
#[cfg_attr(target_arch = "x86_64", inline(always))]
#[cfg_attr(not(target_arch = "x86_64"), inline)]
fn dot_wide<W: Weight>(x: &[f32], w: &[W]) -> f32 {
    #[cfg(target_arch = "x86_64")]
    if super::avx2() {
        // SAFETY: the CPU has AVX2 and F16C (checked just above).
        return unsafe { dot_avx(x, w) };
    }
    let n = x.len().min(w.len());
    let (x, w) = (&x[..n], &w[..n]);
    let mut acc = [[0.0f32; 8]; 4];
    let xs = x.chunks_exact(32);
    let ws = w.chunks_exact(32);
    let (xr, wr) = (xs.remainder(), ws.remainder());
    for (xa, wa) in xs.zip(ws) {
        for g in 0..4 {
            let (xg, wg) = (&xa[8 * g..][..8], &wa[8 * g..][..8]);
            if W::CHUNKED {
                let wf = W::chunk8(wg);
                for i in 0..8 {
                    acc[g][i] += xg[i] * wf[i];
                }
            } else {
                for i in 0..8 {
                    acc[g][i] += xg[i] * wg[i].to_f32();
                }
            }
        }
    }
    let mut a: [f32; 8] =
        core::array::from_fn(|i| (acc[0][i] + acc[1][i]) + (acc[2][i] + acc[3][i]));
    let x8 = xr.chunks_exact(8);
    let w8 = wr.chunks_exact(8);
    let (xt, wt) = (x8.remainder(), w8.remainder());
    for (xa, wa) in x8.zip(w8) {
        for i in 0..8 {
            a[i] += xa[i] * wa[i].to_f32();
        }
    }
    let mut tail = 0.0;
    for (p, q) in xt.iter().zip(wt) {
        tail += p * q.to_f32();
    }
    ((a[0] + a[4]) + (a[1] + a[5])) + ((a[2] + a[6]) + (a[3] + a[7])) + tail
}

/// [`dot_wide`] in AVX intrinsics, the same additions in the same order (the compiler's own
/// vectorisation of the generic code shuffles lanes and runs at a third of the speed).
#[cfg(all(feature = "std", target_arch = "x86_64"))]
#[inline(always)]
unsafe fn dot_avx<W: Weight>(x: &[f32], w: &[W]) -> f32 {
    use core::arch::x86_64::*;
    let n = x.len().min(w.len());
    let (xp, wp) = (x.as_ptr(), w.as_ptr());
    // SAFETY: every load reads 8 values at an offset i with i + 8 <= n.
    unsafe {
        let mut acc = [_mm256_setzero_ps(); 4];
        let mut i = 0;
        while i + 32 <= n {
            for (g, a) in acc.iter_mut().enumerate() {
                let p = _mm256_mul_ps(
                    _mm256_loadu_ps(xp.add(i + 8 * g)),
                    W::load8(wp.add(i + 8 * g)),
                );
                *a = _mm256_add_ps(*a, p);
            }
            i += 32;
        }
        let mut a = _mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3]));
        while i + 8 <= n {
            a = _mm256_add_ps(
                a,
                _mm256_mul_ps(_mm256_loadu_ps(xp.add(i)), W::load8(wp.add(i))),
            );
            i += 8;
        }
        let mut tail = 0.0;
        for (p, q) in x[i..n].iter().zip(&w[i..n]) {
            tail += p * q.to_f32();
        }
        // ((a0 + a4) + (a1 + a5)) + ((a2 + a6) + (a3 + a7)), as the generic code.
        let s = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
        let h = _mm_hadd_ps(s, s);
        (_mm_cvtss_f32(h) + _mm_cvtss_f32(_mm_shuffle_ps(h, h, 1))) + tail
    }
}

/// `Σ x·w` over several rows of `x` against `w` (the rows' weights back to back), with the
/// four accumulator chains of [`dot`] carried across rows and one final reduction: per row,
/// 32-value groups go to the four chains, then up to three 8-value groups to chains 0, 1, 2,
/// then the last `len % 8` products to a scalar sum.
#[cfg(feature = "std")]
#[inline(always)]
pub(crate) fn dot_rows<'r, W: Weight>(rows: impl Iterator<Item = &'r [f32]>, w: &[W]) -> f32 {
    #[cfg(target_arch = "x86_64")]
    if super::avx2() {
        // SAFETY: the CPU has AVX2 and F16C (checked just above).
        return unsafe { dot_rows_avx(rows, w) };
    }
    let mut acc = [[0.0f32; 8]; 4];
    let mut tail = 0.0f32;
    let mut w = w;
    for r in rows {
        let (wr, rest) = w.split_at(r.len().min(w.len()));
        w = rest;
        let mut i = 0;
        while i + 32 <= r.len() {
            for (g, a) in acc.iter_mut().enumerate() {
                for l in 0..8 {
                    a[l] += r[i + 8 * g + l] * wr[i + 8 * g + l].to_f32();
                }
            }
            i += 32;
        }
        for a in acc.iter_mut().take(3) {
            if i + 8 <= r.len() {
                for l in 0..8 {
                    a[l] += r[i + l] * wr[i + l].to_f32();
                }
                i += 8;
            }
        }
        for (p, q) in r[i..].iter().zip(&wr[i..]) {
            tail += p * q.to_f32();
        }
    }
    let a: [f32; 8] = core::array::from_fn(|i| (acc[0][i] + acc[1][i]) + (acc[2][i] + acc[3][i]));
    ((a[0] + a[4]) + (a[1] + a[5])) + ((a[2] + a[6]) + (a[3] + a[7])) + tail
}

/// [`dot_rows`] in AVX intrinsics, the same additions in the same order.
#[cfg(all(feature = "std", target_arch = "x86_64"))]
#[inline(always)]
unsafe fn dot_rows_avx<'r, W: Weight>(rows: impl Iterator<Item = &'r [f32]>, w: &[W]) -> f32 {
    use core::arch::x86_64::*;
    let mut acc = [_mm256_setzero_ps(); 4];
    let mut tail = 0.0f32;
    let mut w = w;
    for r in rows {
        let (wr, rest) = w.split_at(r.len().min(w.len()));
        w = rest;
        let n = wr.len();
        let (xp, wp) = (r.as_ptr(), wr.as_ptr());
        let mut i = 0;
        // SAFETY: every load reads 8 values at i with i + 8 <= n (n <= r.len()).
        unsafe {
            let prod = |i: usize| _mm256_mul_ps(_mm256_loadu_ps(xp.add(i)), W::load8(wp.add(i)));
            while i + 32 <= n {
                for (g, a) in acc.iter_mut().enumerate() {
                    *a = _mm256_add_ps(*a, prod(i + 8 * g));
                }
                i += 32;
            }
            for a in acc.iter_mut().take(3) {
                if i + 8 <= n {
                    *a = _mm256_add_ps(*a, prod(i));
                    i += 8;
                }
            }
        }
        for (p, q) in r[i..n].iter().zip(&wr[i..]) {
            tail += p * q.to_f32();
        }
    }
    let a = _mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3]));
    let s = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
    let h = _mm_hadd_ps(s, s);
    (_mm_cvtss_f32(h) + _mm_cvtss_f32(_mm_shuffle_ps(h, h, 1))) + tail
}

/// `Σ x·w` with eight independent accumulators, so the compiler can vectorise it.
// Only no_std builds call it (std builds use `dot_wide`).
#[cfg_attr(feature = "std", allow(dead_code))]
#[cfg_attr(target_arch = "x86_64", inline(always))]
#[cfg_attr(not(target_arch = "x86_64"), inline)]
fn dot8<W: Weight>(x: &[f32], w: &[W]) -> f32 {
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
    // One loop per activation, so each is a tight loop (the ReLU family vectorises).
    match act {
        Activation::Identity => {}
        Activation::Relu => y.iter_mut().for_each(|v| *v = Activation::Relu.apply(*v)),
        Activation::Clip { .. } | Activation::LeakyRelu { .. } => {
            y.iter_mut().for_each(|v| *v = act.apply(*v))
        }
        _ => y.iter_mut().for_each(|v| *v = act.apply(*v)),
    }
}
