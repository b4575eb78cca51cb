//! Kernels that only move values around, shared by every precision.

use super::{conv_range, Window};

/// Max pooling over the valid part of each window. Works on any ordered element (f32, i8;
/// int8 max pooling keeps the input quantization). Each window's first valid input starts
/// the maximum and a later one replaces it only if greater, so a NaN never wins unless it
/// comes first. Whole channel vectors at a time, so the compiler can use vector max.
pub fn max_pool2d<T: Copy + PartialOrd>(x: &[T], g: &Window, y: &mut [T]) {
    pool_max(x, g, y, max_into)
}

/// [`max_pool2d`] of int8 values: on Cortex-M cores with the DSP extension four channels per
/// instruction, the same bytes.
pub fn max_pool2d_i8(x: &[i8], g: &Window, y: &mut [i8]) {
    #[cfg(aedge_dsp)]
    {
        pool_max(x, g, y, super::spatial_cortex_m::max_into_i8)
    }
    #[cfg(not(aedge_dsp))]
    {
        pool_max(x, g, y, max_into)
    }
}

/// The windows of a max pooling, each merged into its output by `merge` (`out = max(out, xs)`
/// per channel).
#[inline(always)]
fn pool_max<T: Copy>(x: &[T], g: &Window, y: &mut [T], merge: impl Fn(&mut [T], &[T])) {
    let (ih, iw, c) = (g.input.h as usize, g.input.w as usize, g.input.c as usize);
    let (oh, ow) = (g.output.h as usize, g.output.w as usize);
    for oy in 0..oh {
        let (ky_lo, ky_hi, iy0) = conv_range(oy, g.stride[0], g.pad[0], g.kernel[0], ih);
        for ox in 0..ow {
            let (kx_lo, kx_hi, ix0) = conv_range(ox, g.stride[1], g.pad[1], g.kernel[1], iw);
            let (rows, cols) = (ky_hi - ky_lo, kx_hi - kx_lo);
            if rows == 0 || cols == 0 {
                continue;
            }
            let out = &mut y[(oy * ow + ox) * c..][..c];
            out.copy_from_slice(&x[(iy0 * iw + ix0) * c..][..c]);
            for iy in iy0..iy0 + rows {
                for ix in ix0..ix0 + cols {
                    if (iy, ix) == (iy0, ix0) {
                        continue;
                    }
                    merge(out, &x[(iy * iw + ix) * c..][..c]);
                }
            }
        }
    }
}

/// `out[i] = max(out[i], xs[i])`, keeping `out[i]` unless `xs[i]` is greater. Sixteen at a
/// time in fixed-size groups, so the compiler emits vector max instructions whatever the
/// channel count.
#[inline(always)]
fn max_into<T: Copy + PartialOrd>(out: &mut [T], xs: &[T]) {
    #[inline(always)]
    fn step<T: Copy + PartialOrd>(o: &mut T, v: T) {
        // Hosts: an unconditional store of a select, which vectorises (a conditional store
        // does not). Microcontrollers have no vectors; there the conditional store is cheaper.
        if cfg!(feature = "std") {
            *o = if v > *o { v } else { *o };
        } else if v > *o {
            *o = v;
        }
    }
    let mut oc = out.chunks_exact_mut(16);
    let mut xc = xs.chunks_exact(16);
    for (o, v) in (&mut oc).zip(&mut xc) {
        let (o, v): (&mut [T; 16], &[T; 16]) = (o.try_into().unwrap(), v.try_into().unwrap());
        for i in 0..16 {
            step(&mut o[i], v[i]);
        }
    }
    for (o, &v) in oc.into_remainder().iter_mut().zip(xc.remainder()) {
        step(o, v);
    }
}

/// Folds the valid (unpadded) inputs of each pooling window, channel by channel, then calls
/// `out(index, folded, count)` for every output value.
#[inline(always)]
fn window_fold<T: Copy, A: Copy>(
    x: &[T],
    g: &Window,
    init: A,
    step: impl Fn(A, T) -> A,
    mut out: impl FnMut(usize, A, usize),
) {
    let (ih, iw, c) = (g.input.h as usize, g.input.w as usize, g.input.c as usize);
    let (oh, ow) = (g.output.h as usize, g.output.w as usize);
    for oy in 0..oh {
        let (ky_lo, ky_hi, iy0) = conv_range(oy, g.stride[0], g.pad[0], g.kernel[0], ih);
        for ox in 0..ow {
            let (kx_lo, kx_hi, ix0) = conv_range(ox, g.stride[1], g.pad[1], g.kernel[1], iw);
            let count = (ky_hi - ky_lo) * (kx_hi - kx_lo);
            for ch in 0..c {
                let mut acc = init;
                for iy in iy0..iy0 + (ky_hi - ky_lo) {
                    for ix in ix0..ix0 + (kx_hi - kx_lo) {
                        acc = step(acc, x[(iy * iw + ix) * c + ch]);
                    }
                }
                out((oy * ow + ox) * c + ch, acc, count);
            }
        }
    }
}

/// Average pooling over the valid part of each window (padding is not counted).
pub fn avg_pool2d(x: &[f32], g: &Window, y: &mut [f32]) {
    window_fold(
        x,
        g,
        0.0f32,
        |s, v| s + v,
        |i, sum, n| {
            y[i] = if n == 0 { 0.0 } else { sum / n as f32 };
        },
    );
}

/// int8 average pooling, TFLite's reference arithmetic: the sum of the int8 values divided by
/// the number of valid inputs, rounded half away from zero. The output keeps the input's
/// quantization (the mean of `q` is the quantized mean).
pub fn avg_pool2d_int8(x: &[i8], g: &Window, y: &mut [i8]) {
    window_fold(
        x,
        g,
        0i32,
        |s, v| s + v as i32,
        |i, sum, n| {
            let n = n.max(1) as i32;
            let mean = if sum > 0 {
                (sum + n / 2) / n
            } else {
                (sum - n / 2) / n
            };
            y[i] = mean.clamp(-128, 127) as i8;
        },
    );
}

/// Nearest-neighbour upsampling by integer factors. The first output row of each input row
/// is built pixel by pixel; the rows repeating it are copied whole (one long copy instead of
/// `ow` short ones).
pub fn upsample2d<T: Copy>(x: &[T], g: &Window, y: &mut [T]) {
    let (iw, c) = (g.input.w as usize, g.input.c as usize);
    let (oh, ow) = (g.output.h as usize, g.output.w as usize);
    let (fh, fw) = (g.stride[0], g.stride[1]);
    let row = ow * c;
    for oy in 0..oh {
        let iy = oy / fh;
        if oy % fh != 0 {
            let (done, rest) = y.split_at_mut(oy * row);
            rest[..row].copy_from_slice(&done[(oy - 1) * row..]);
            continue;
        }
        for ox in 0..ow {
            let ix = ox / fw;
            y[(oy * ow + ox) * c..][..c].copy_from_slice(&x[(iy * iw + ix) * c..][..c]);
        }
    }
}

/// Repeats the whole input back to back until `y` is full (repeat vector).
pub fn repeat<T: Copy>(x: &[T], y: &mut [T]) {
    if x.is_empty() {
        return;
    }
    for chunk in y.chunks_mut(x.len()) {
        chunk.copy_from_slice(&x[..chunk.len()]);
    }
}
