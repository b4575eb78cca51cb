//! Convolution on hosts as a small matrix product per output pixel.
//!
//! The model file keeps convolution weights as `[out_c][kh][kw][in_c]`, the layout the
//! microcontroller kernels read in place. On a host with `std` there is stack to spare, so a
//! layer call first repacks the weights of up to a panel of output channels *output-major*
//! (`[tap][8 channels]`, taps in `[kh][kw][in_c]` order), then for every output pixel copies
//! its receptive field into one contiguous column (im2col, padding filled with a value that
//! contributes nothing) and forms eight channels per vector instruction, with no horizontal
//! reduction. Layers too large for the stack buffers fall back to the in-place kernels.
//!
//! f32: the sum of each output is taken over four interleaved tap groups, then combined, so
//! results differ from the in-place kernel (used without `std`, e.g. on the device) by
//! rounding only; a given build always gives the same bits. int8: exact integer sums, the same
//! bits as every other path.

use super::float::Weight;
use super::{conv_range, Window};
use crate::desc::Activation;
use core::mem::MaybeUninit;

/// Output channels per vector.
const LANES: usize = 8;
/// Taps (`kh · kw · in_c`) a layer may have.
const MAX_TAPS: usize = 2304;
/// Kernel rows a layer may have.
const MAX_KH: usize = 16;
/// Fewest output channels for which the f32 panels beat the in-place kernel.
const MIN_F32_CHANNELS: usize = 6;
/// f32 weights in one packed panel (36 KB).
const PANEL_F32: usize = MAX_TAPS * 4;

/// Initialises `buf` to `v` and returns it as a plain slice: the stack buffers are large and
/// only the part a layer uses is ever written, so they are not zeroed up front.
#[inline(always)]
fn filled<T: Copy>(buf: &mut [MaybeUninit<T>], v: T) -> &mut [T] {
    for b in buf.iter_mut() {
        b.write(v);
    }
    // SAFETY: every element was just written; MaybeUninit<T> has T's layout.
    unsafe { &mut *(buf as *mut [MaybeUninit<T>] as *mut [T]) }
}

/// Where the kernel rows of output `(oy, ox)` start: in `x` itself when the whole window
/// lies inside the input and `row_len` values from each row start are in bounds (the
/// interior, nearly every pixel), else in `col`, filled here with the window's values and
/// `fill` for the padding (each row `row_len` long, values past `kw · ic` are `fill` too).
#[inline(always)]
fn window_rows<'a, T: Copy>(
    x: &'a [T],
    g: &Window,
    (oy, ox): (usize, usize),
    row_len: usize,
    fill: T,
    col: &'a mut [T],
    rows: &mut [&'a [T]; MAX_KH],
) {
    let ([ih, iw, ic], _) = g.sizes();
    let [kh, kw] = g.kernel;
    let (ky_lo, ky_hi, iy0) = conv_range(oy, g.stride[0], g.pad[0], kh, ih);
    let (kx_lo, kx_hi, ix0) = conv_range(ox, g.stride[1], g.pad[1], kw, iw);
    let inside = ky_lo == 0 && ky_hi == kh && kx_lo == 0 && kx_hi == kw;
    if inside && ((iy0 + kh - 1) * iw + ix0) * ic + row_len <= x.len() {
        for (ky, r) in rows.iter_mut().enumerate().take(kh) {
            *r = &x[((iy0 + ky) * iw + ix0) * ic..][..row_len];
        }
        return;
    }
    let col = &mut col[..kh * row_len];
    col.fill(fill);
    for ky in ky_lo..ky_hi {
        let iy = iy0 + (ky - ky_lo);
        let (lo, hi) = (kx_lo * ic, kx_hi * ic);
        col[ky * row_len + lo..ky * row_len + hi]
            .copy_from_slice(&x[(iy * iw + ix0) * ic..][..hi - lo]);
    }
    for (r, c) in rows.iter_mut().zip(col.chunks_exact(row_len)) {
        *r = c;
    }
}

/// f32 (and f16-weight) 2-D convolution through packed panels. Returns false, having
/// written nothing, when the layer exceeds the stack buffers.
#[inline(always)]
pub(crate) fn conv2d_f32<W: Weight>(
    x: &[f32],
    w: &[W],
    b: &[f32],
    g: &Window,
    act: Activation,
    y: &mut [f32],
) -> bool {
    let (_, [oh, ow, oc]) = g.sizes();
    let [kh, kw] = g.kernel;
    let row = kw * g.input.c as usize;
    let taps = kh * row;
    // With few output channels most lanes would idle: the in-place kernel, which vectorises
    // along the taps instead, is faster there.
    if taps == 0 || taps > MAX_TAPS || kh > MAX_KH || oc < MIN_F32_CHANNELS {
        return false;
    }
    let blocks = oc.div_ceil(LANES);
    let per_panel = PANEL_F32 / (taps * LANES);
    let mut panel_buf = [MaybeUninit::<f32>::uninit(); PANEL_F32];
    let mut col_buf = [MaybeUninit::<f32>::uninit(); MAX_TAPS];
    let col = filled(&mut col_buf[..taps], 0.0);
    let mut first = 0;
    while first < blocks {
        let nb = per_panel.min(blocks - first);
        let panel = filled(&mut panel_buf[..nb * taps * LANES], 0.0);
        for (bi, dst) in panel.chunks_exact_mut(taps * LANES).enumerate() {
            for j in 0..LANES.min(oc - (first + bi) * LANES) {
                let o = (first + bi) * LANES + j;
                for (t, v) in w[o * taps..][..taps].iter().enumerate() {
                    dst[t * LANES + j] = v.to_f32();
                }
            }
        }
        for oy in 0..oh {
            for ox in 0..ow {
                let mut rows: [&[f32]; MAX_KH] = [&[]; MAX_KH];
                window_rows(x, g, (oy, ox), row, 0.0, col, &mut rows);
                let out = &mut y[(oy * ow + ox) * oc..][..oc];
                for (bi, p) in panel.chunks_exact(taps * LANES).enumerate() {
                    let o0 = (first + bi) * LANES;
                    let acc = dot8(&rows[..kh], p);
                    for (j, (yo, a)) in out[o0..].iter_mut().zip(acc).enumerate() {
                        *yo = act.apply(b[o0 + j] + a);
                    }
                }
            }
        }
        first += nb;
    }
    true
}

/// Eight channel sums `Σ_t tap[t] · p[t][j]` over the taps of every row, in four interleaved
/// groups so four dependency chains are in flight.
#[inline(always)]
fn dot8(rows: &[&[f32]], p: &[f32]) -> [f32; LANES] {
    let mut acc = [[0.0f32; LANES]; 4];
    let mut p = p;
    for r in rows {
        let (pr, rest) = p.split_at(r.len() * LANES);
        p = rest;
        let quads = r.len() / 4;
        for (c4, p4) in r.chunks_exact(4).zip(pr.chunks_exact(4 * LANES)) {
            for (g, (&c, pl)) in c4.iter().zip(p4.chunks_exact(LANES)).enumerate() {
                for j in 0..LANES {
                    acc[g][j] += c * pl[j];
                }
            }
        }
        // The last 0-3 taps, with constant accumulator indices so `acc` stays in registers.
        let (rest, prest) = (&r[4 * quads..], &pr[4 * quads * LANES..]);
        for g in 0..3 {
            if g < rest.len() {
                let pl = &prest[g * LANES..][..LANES];
                for j in 0..LANES {
                    acc[g][j] += rest[g] * pl[j];
                }
            }
        }
    }
    core::array::from_fn(|j| (acc[0][j] + acc[1][j]) + (acc[2][j] + acc[3][j]))
}

/// int8 2-D convolution with VNNI (x86-64 with AVX-VNNI or AVX-512 VNNI). Returns false,
/// having written nothing, on other CPUs or when the layer exceeds the stack buffers.
#[cfg(target_arch = "x86_64")]
pub(crate) fn conv2d_i8(
    x: &[i8],
    w: &[i8],
    g: &Window,
    q: &super::int8::Requant,
    y: &mut [i8],
) -> bool {
    vnni::conv2d(x, w, g, q, y)
}

#[cfg(target_arch = "x86_64")]
mod vnni {
    use super::{filled, window_rows, Window, LANES, MAX_KH, MAX_TAPS};
    use crate::kernels::int8::Requant;
    use crate::kernels::int8_dense::x86::{dp, dp128, requant8v, store8};
    use core::arch::x86_64::*;
    use core::mem::MaybeUninit;

    /// Packed int8 weights in one panel (36 KB).
    const PANEL: usize = MAX_TAPS * 16;
    /// Output channels in one panel.
    const PANEL_CHANNELS: usize = 512;
    /// Input bytes the flipped copy may hold (64 KB); larger inputs use the in-place kernel.
    const MAX_INPUT: usize = 1 << 16;
    /// Up to this many output channels, [`narrow`] vectorises along the taps instead.
    const MAX_NARROW: usize = 3;

    pub fn conv2d(x: &[i8], w: &[i8], g: &Window, q: &Requant, y: &mut [i8]) -> bool {
        if !crate::kernels::isa::allows(crate::kernels::isa::VNNI) {
            return false;
        }
        if std::is_x86_feature_detected!("avx512vnni") && std::is_x86_feature_detected!("avx512vl")
        {
            // SAFETY: the CPU has AVX-512 VNNI and VL (checked just above), hence AVX2.
            unsafe { conv_avx512(x, w, g, q, y) }
        } else if std::is_x86_feature_detected!("avxvnni") {
            // SAFETY: the CPU has AVX-VNNI (checked just above), hence AVX2.
            unsafe { conv_avx(x, w, g, q, y) }
        } else {
            false
        }
    }

    #[target_feature(enable = "avx2,avx512vnni,avx512vl")]
    unsafe fn conv_avx512(x: &[i8], w: &[i8], g: &Window, q: &Requant, y: &mut [i8]) -> bool {
        // SAFETY: the caller checked the features `conv` uses.
        unsafe { conv::<true>(x, w, g, q, y) }
    }

    #[target_feature(enable = "avx2,avxvnni")]
    unsafe fn conv_avx(x: &[i8], w: &[i8], g: &Window, q: &Requant, y: &mut [i8]) -> bool {
        // SAFETY: the caller checked the features `conv` uses.
        unsafe { conv::<false>(x, w, g, q, y) }
    }

    /// Weights are packed `[ky][quad][channel][4 taps]`, each kernel row padded with zero
    /// weights to whole quads, so one `vpdpbusd` with four input bytes broadcast adds four taps
    /// to eight channels, reading interior windows straight from the input. `vpdpbusd` takes
    /// unsigned bytes on one side: the input is copied flipped to `x + 128` first, and the
    /// bias becomes `bias - (zp + 128) · Σw`, so each output is TFLite's
    /// `Σ (x - zp)·w` exactly (padding holds zp, which adds nothing).
    #[inline(always)]
    unsafe fn conv<const EVEX: bool>(
        x: &[i8],
        w: &[i8],
        g: &Window,
        q: &Requant,
        y: &mut [i8],
    ) -> bool {
        let (_, [oh, ow, oc]) = g.sizes();
        let [kh, kw] = g.kernel;
        let row = kw * g.input.c as usize;
        let row_q = row.div_ceil(4);
        let row_len = row_q * 4;
        let taps = kh * row;
        let block = kh * row_len * LANES;
        if taps == 0 || kh * row_len > MAX_TAPS || kh > MAX_KH || oc == 0 || q.bias.len() < oc {
            return false;
        }
        if x.len() > MAX_INPUT {
            return false;
        }
        // The input flipped to u8 once, so every broadcast is a single load.
        let mut xbuf = [MaybeUninit::<i8>::uninit(); MAX_INPUT];
        for (d, &v) in xbuf.iter_mut().zip(x) {
            d.write(v ^ -128);
        }
        // SAFETY: the first x.len() elements were just written.
        let x = unsafe { &*(&xbuf[..x.len()] as *const [MaybeUninit<i8>] as *const [i8]) };
        let zp = q.input_zero_point;
        if oc <= MAX_NARROW {
            return narrow::<EVEX>(x, w, g, q, y);
        }
        let blocks = oc.div_ceil(LANES);
        let per_panel = (PANEL / block).min(PANEL_CHANNELS / LANES);
        let mut panel_buf = [MaybeUninit::<i8>::uninit(); PANEL];
        let mut bias_buf = [MaybeUninit::<i32>::uninit(); PANEL_CHANNELS];
        let mut mult_buf = [MaybeUninit::<i32>::uninit(); PANEL_CHANNELS];
        let mut shift_buf = [MaybeUninit::<i32>::uninit(); PANEL_CHANNELS];
        let mut col_buf = [MaybeUninit::<i8>::uninit(); MAX_TAPS];
        let col = filled(&mut col_buf[..kh * row_len], 0);
        let mut first = 0;
        while first < blocks {
            let nb = per_panel.min(blocks - first);
            let panel = filled(&mut panel_buf[..nb * block], 0);
            let bias = filled(&mut bias_buf[..nb * LANES], 0);
            // Written once per panel: vectors loaded right after scalar stores would stall.
            let mult = filled(&mut mult_buf[..nb * LANES], 0);
            let shift = filled(&mut shift_buf[..nb * LANES], 0);
            for (i, (m, s)) in mult.iter_mut().zip(shift.iter_mut()).enumerate() {
                (*m, *s) = q.channel((first * LANES + i).min(oc - 1));
            }
            for (bi, dst) in panel.chunks_exact_mut(block).enumerate() {
                for j in 0..LANES.min(oc - (first + bi) * LANES) {
                    let o = (first + bi) * LANES + j;
                    let mut sum = 0i32;
                    for (ky, src) in w[o * taps..][..taps].chunks_exact(row).enumerate() {
                        let dr = &mut dst[ky * row_len * LANES..][..row_len * LANES];
                        for (t, &v) in src.iter().enumerate() {
                            dr[(t / 4) * 4 * LANES + j * 4 + t % 4] = v;
                            sum += v as i32;
                        }
                    }
                    bias[bi * LANES + j] = q.bias[o].wrapping_sub((zp + 128).wrapping_mul(sum));
                }
            }
            for oy in 0..oh {
                for ox in 0..ow {
                    let mut rows: [&[i8]; MAX_KH] = [&[]; MAX_KH];
                    window_rows(x, g, (oy, ox), row_len, zp as i8 ^ -128, col, &mut rows);
                    let out = &mut y[(oy * ow + ox) * oc..][..oc];
                    for (bi, p) in panel.chunks_exact(block).enumerate() {
                        let o0 = (first + bi) * LANES;
                        // SAFETY: every row holds row_len bytes and `p` kh·row_len·8.
                        let mut s = unsafe { dot8::<EVEX>(&rows[..kh], p) };
                        // SAFETY: 8 values from bi·8 in `bias` (whole blocks).
                        s = _mm256_add_epi32(s, unsafe {
                            _mm256_loadu_si256(bias.as_ptr().add(bi * LANES) as *const __m256i)
                        });
                        let n = (oc - o0).min(LANES);
                        let (m, sh) = (&mult[bi * LANES..][..LANES], &shift[bi * LANES..][..LANES]);
                        // SAFETY: loads of two 8-element slices.
                        let (mv, sv) = unsafe {
                            (
                                _mm256_loadu_si256(m.as_ptr() as *const __m256i),
                                _mm256_loadu_si256(sh.as_ptr() as *const __m256i),
                            )
                        };
                        let mut tmp = [0i8; LANES];
                        match requant8v(s, mv, sv, q) {
                            Some(v) => store8(v, q, &mut tmp),
                            None => {
                                let mut acc = [0i32; LANES];
                                // SAFETY: a store into an 8-element i32 array.
                                unsafe { _mm256_storeu_si256(acc.as_mut_ptr() as *mut __m256i, s) };
                                for j in 0..n {
                                    tmp[j] = q.finish_with(acc[j], m[j], sh[j]);
                                }
                            }
                        }
                        out[o0..o0 + n].copy_from_slice(&tmp[..n]);
                    }
                }
            }
            first += nb;
        }
        true
    }

    /// Eight channel sums of `u · w` over every row (`u = x + 128`, already flipped), four
    /// accumulators in flight.
    #[inline(always)]
    unsafe fn dot8<const EVEX: bool>(rows: &[&[i8]], p: &[i8]) -> __m256i {
        let z = _mm256_setzero_si256();
        let mut a = [z; 4];
        let mut pp = p.as_ptr() as *const __m256i;
        for r in rows {
            let quads = r.len() / 4;
            let cp = r.as_ptr() as *const i32;
            let mut t = 0;
            // SAFETY: t < quads: 4 bytes of the row and 32 of the panel (kh·quads·32 bytes
            // in all, the caller's contract) are in bounds; unaligned loads.
            unsafe {
                let bx = |t: usize| _mm256_set1_epi32(cp.add(t).read_unaligned());
                while t + 4 <= quads {
                    for (g, acc) in a.iter_mut().enumerate() {
                        *acc = dp::<EVEX>(*acc, bx(t + g), _mm256_loadu_si256(pp.add(t + g)));
                    }
                    t += 4;
                }
                while t < quads {
                    a[t % 4] = dp::<EVEX>(a[t % 4], bx(t), _mm256_loadu_si256(pp.add(t)));
                    t += 1;
                }
                pp = pp.add(quads);
            }
        }
        _mm256_add_epi32(_mm256_add_epi32(a[0], a[1]), _mm256_add_epi32(a[2], a[3]))
    }

    /// The convolution of [`conv`] for layers with at most [`MAX_NARROW`] output channels,
    /// on the flipped input `x`.
    #[inline(always)]
    unsafe fn narrow<const EVEX: bool>(
        x: &[i8],
        w: &[i8],
        g: &Window,
        q: &Requant,
        y: &mut [i8],
    ) -> bool {
        let (_, [oh, ow, oc]) = g.sizes();
        let [kh, kw] = g.kernel;
        let row = kw * g.input.c as usize;
        let taps = kh * row;
        let zp = q.input_zero_point;
        let mut bias = [0i32; MAX_NARROW];
        for (o, b) in bias.iter_mut().enumerate().take(oc) {
            let sum = w[o * taps..][..taps]
                .iter()
                .fold(0i32, |a, &v| a + v as i32);
            *b = q.bias[o].wrapping_sub((zp + 128).wrapping_mul(sum));
        }
        let mut col_buf = [MaybeUninit::<i8>::uninit(); MAX_TAPS];
        let col = filled(&mut col_buf[..taps], 0);
        for oy in 0..oh {
            for ox in 0..ow {
                let mut rows: [&[i8]; MAX_KH] = [&[]; MAX_KH];
                window_rows(x, g, (oy, ox), row, zp as i8 ^ -128, col, &mut rows);
                let out = &mut y[(oy * ow + ox) * oc..][..oc];
                for (o, yo) in out.iter_mut().enumerate() {
                    // SAFETY: kh rows of `row` bytes, `taps` weights.
                    let d = unsafe { narrow_dot::<EVEX>(&rows[..kh], &w[o * taps..][..taps], row) };
                    *yo = q.finish(bias[o].wrapping_add(d), o);
                }
            }
        }
        true
    }

    /// Layers with few output channels (such as a decoder's last, one-channel convolution): each
    /// output is one long dot product of the window rows (flipped input, 32 and 16 bytes per
    /// instruction) with the weight rows as stored, so no lane is idle.
    #[inline(always)]
    unsafe fn narrow_dot<const EVEX: bool>(rows: &[&[i8]], w: &[i8], row: usize) -> i32 {
        let mut a = _mm256_setzero_si256();
        let mut b = _mm_setzero_si128();
        let mut rest = 0i32;
        for (r, wr) in rows.iter().zip(w.chunks_exact(row)) {
            let r = &r[..row];
            let mut i = 0;
            // SAFETY: every load reads bytes i..i+32 (or +16, +4) with that end <= row.
            unsafe {
                while i + 32 <= row {
                    let u = _mm256_loadu_si256(r.as_ptr().add(i) as *const __m256i);
                    let v = _mm256_loadu_si256(wr.as_ptr().add(i) as *const __m256i);
                    a = dp::<EVEX>(a, u, v);
                    i += 32;
                }
                if i + 16 <= row {
                    let u = _mm_loadu_si128(r.as_ptr().add(i) as *const __m128i);
                    let v = _mm_loadu_si128(wr.as_ptr().add(i) as *const __m128i);
                    b = dp128::<EVEX>(b, u, v);
                    i += 16;
                }
                while i + 4 <= row {
                    let u = _mm_cvtsi32_si128((r.as_ptr().add(i) as *const i32).read_unaligned());
                    let v = _mm_cvtsi32_si128((wr.as_ptr().add(i) as *const i32).read_unaligned());
                    b = dp128::<EVEX>(b, u, v);
                    i += 4;
                }
            }
            for (&u, &v) in r[i..].iter().zip(&wr[i..]) {
                rest = rest.wrapping_add((u as u8 as i32) * v as i32);
            }
        }
        let s = _mm_add_epi32(
            _mm_add_epi32(_mm256_castsi256_si128(a), _mm256_extracti128_si256(a, 1)),
            b,
        );
        let s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0b01_00_11_10));
        let s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0b10_11_00_01));
        _mm_cvtsi128_si32(s).wrapping_add(rest)
    }
}
