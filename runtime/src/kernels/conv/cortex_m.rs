//! int8 2-D convolution on Cortex-M cores with the DSP extension (M4, M7, M33).
//!
//! `Σ (x − zp)·w` is computed as `Σ x·w − zp·Σ w`, with `bias − zp·Σ w` per output channel
//! worked out once per layer into the scratch. The window's rows are then read straight from
//! the input: SXTB16 splits four input bytes into two i16 pairs once, and two output channels
//! take two SMLADs each from them. Windows that overlap the padding, and layers whose rows are
//! not whole words (channel counts not a multiple of four, such as a first layer on grayscale
//! input), are first copied into the scratch with padded taps set to the zero point. So each
//! input byte is extended and offset once per window, not once per output channel, and no
//! kernel row costs a call.
//!
//! Two layouts of the weights cut the rest: layers of at most 16 taps per output (a 3×3 first
//! layer on one channel) pack them into 16-bit pairs once per layer and keep each window's
//! taps as pairs in registers, so an output is a few SMLADs and its requantization (for 9–10
//! taps a whole pixel's channels in assembly); larger layers whose weights widened to 16 bits
//! fit [`super::int8::WIDE_WEIGHT_WORDS`] read them as ready pairs from the arena (one `LDRD`
//! per four taps instead of a flash load and two SXTB16s).
//!
//! Sums wrap in 32 bits like the portable kernel's, so results are bit-identical.

use super::int8::PAIRED_TAPS;
use crate::kernels::{conv_range, Requant, Window};
use core::arch::asm;

/// Runs the convolution if `scratch` is large enough; `false` (nothing written) otherwise.
pub fn conv2d(
    x: &[i8],
    w: &[i8],
    g: &Window,
    q: &Requant,
    y: &mut [i8],
    scratch: &mut [u32],
) -> bool {
    let ([ih, iw, ic], [oh, ow, oc]) = g.sizes();
    let [kh, kw] = g.kernel;
    let taps = kh * kw * ic;
    let quads = taps.div_ceil(4);
    if taps == 0
        || scratch.len() < super::int8::conv2d_scratch_words(g)
        || w.len() < taps * oc
        || y.len() < oh * ow * oc
        || q.bias.len() < oc
        || x.len() < ih * iw * ic
    {
        return false;
    }
    let (stage, rest) = scratch.split_at_mut(quads);
    let stage: &mut [i8] = bytemuck::cast_slice_mut(stage);
    let stage = &mut stage[..taps];
    // Per output channel, once per layer: the offset `bias − zp·Σw`, the multiplier, the shift
    // (the right shift for the short form) and the short form's rounding constant.
    let (chan, rest) = rest.split_at_mut(4 * oc);
    let chan: &mut [[i32; 4]] = bytemuck::cast_slice_mut(chan);
    let zp = q.input_zero_point;
    let short = short_requant(q, oc, taps);
    for (o, (c, wo)) in chan.iter_mut().zip(w.chunks_exact(taps)).enumerate() {
        let sum = wo.iter().fold(0i32, |a, &v| a.wrapping_add(v as i32));
        let (m, sh) = q.channel(o);
        *c = if short {
            let r = -sh;
            let nudge = (1i32 << (r - 1)) + (q.output_zero_point << r);
            [q.bias[o].wrapping_sub(zp.wrapping_mul(sum)), m, r, nudge]
        } else {
            [q.bias[o].wrapping_sub(zp.wrapping_mul(sum)), m, sh, 0]
        };
    }
    if taps <= PAIRED_TAPS {
        let pairs = taps.div_ceil(2);
        let packed = &mut rest[..pairs * oc];
        for (o, wo) in w.chunks_exact(taps).take(oc).enumerate() {
            for (p, d) in packed[o * pairs..][..pairs].iter_mut().enumerate() {
                let hi = wo.get(2 * p + 1).copied().unwrap_or(0);
                *d = pair(wo[2 * p], hi);
            }
        }
        let c = Paired {
            chan,
            weights: packed,
            q,
            short,
        };
        match pairs {
            1 => paired::<1>(x, g, &c, y, stage),
            2 => paired::<2>(x, g, &c, y, stage),
            3 => paired::<3>(x, g, &c, y, stage),
            4 => paired::<4>(x, g, &c, y, stage),
            5 => paired::<5>(x, g, &c, y, stage),
            6 => paired::<6>(x, g, &c, y, stage),
            7 => paired::<7>(x, g, &c, y, stage),
            _ => paired::<8>(x, g, &c, y, stage),
        }
        return true;
    }
    // Whole groups of four taps as two 16-bit pairs each, in the lanes SXTB16 splits an
    // input word into: (w0, w2) and (w1, w3).
    let groups = taps / 4;
    let wide_words = super::int8::wide_weight_words(g);
    let wide = &mut rest[..wide_words];
    for (o, wo) in w.chunks_exact(taps).take(oc).enumerate() {
        let Some(dst) = wide.get_mut(o * 2 * groups..(o + 1) * 2 * groups) else {
            break;
        };
        for (d, t) in dst.chunks_exact_mut(2).zip(wo.chunks_exact(4)) {
            d[0] = pair(t[0], t[2]);
            d[1] = pair(t[1], t[3]);
        }
    }
    let wide: &[u32] = wide;
    let row = kw * ic;
    let direct_rows = ic % 4 == 0;
    let mut out = y.chunks_exact_mut(oc);
    for oy in 0..oh {
        let (ky_lo, ky_hi, iy0) = conv_range(oy, g.stride[0], g.pad[0], kh, ih);
        for ox in 0..ow {
            let Some(out) = out.next() else { return true };
            let (kx_lo, kx_hi, ix0) = conv_range(ox, g.stride[1], g.pad[1], kw, iw);
            let inside = ky_lo == 0 && ky_hi == kh && kx_lo == 0 && kx_hi == kw;
            // The window as `rows` runs of `len` bytes, `stride` apart.
            let (src, rows, len, stride): (&[i8], usize, usize, usize) = if inside && direct_rows {
                (&x[(iy0 * iw + ix0) * ic..], kh, row, iw * ic)
            } else {
                let r = Rows {
                    ky: (ky_lo, ky_hi, iy0),
                    kx: (kx_lo, kx_hi, ix0),
                };
                stage_window(x, g, &r, zp as i8, stage);
                (&stage[..], 1, taps, taps)
            };
            let weights = w[..oc / 2 * 2 * taps].chunks_exact(2 * taps);
            for (o, ((wp, cp), yp)) in weights
                .zip(chan.chunks_exact(2))
                .zip(out.chunks_exact_mut(2))
                .enumerate()
            {
                let (w0, w1) = wp.split_at(taps);
                let ch = [
                    chan_weights(w0, wide, 2 * o, groups),
                    chan_weights(w1, wide, 2 * o + 1, groups),
                ];
                let [a0, a1] = if wide.is_empty() {
                    dot::<2, false>(src, rows, len, stride, ch)
                } else {
                    dot::<2, true>(src, rows, len, stride, ch)
                };
                let (a0, a1) = (a0.wrapping_add(cp[0][0]), a1.wrapping_add(cp[1][0]));
                if short {
                    yp[0] = requant_short(a0, &cp[0], q);
                    yp[1] = requant_short(a1, &cp[1], q);
                } else {
                    yp[0] = q.finish_with(a0, cp[0][1], cp[0][2]);
                    yp[1] = q.finish_with(a1, cp[1][1], cp[1][2]);
                }
            }
            if oc % 2 == 1 {
                let o = oc - 1;
                let wo = &w[o * taps..][..taps];
                let ch = [chan_weights(wo, wide, o, groups)];
                let [a] = if wide.is_empty() {
                    dot::<1, false>(src, rows, len, stride, ch)
                } else {
                    dot::<1, true>(src, rows, len, stride, ch)
                };
                let c = &chan[o];
                out[o] = if short {
                    requant_short(a.wrapping_add(c[0]), c, q)
                } else {
                    q.finish_with(a.wrapping_add(c[0]), c[1], c[2])
                };
            }
        }
    }
    true
}

/// The five-pair channel loop's state; the assembly reads it by field offset.
#[repr(C)]
struct Pairs5 {
    x: [u32; 5],               // 0: the window's taps as pairs
    w: *const u32,             // 20: five packed weight pairs per channel
    chan: *const [i32; 4],     // 24: per channel [offset, multiplier, r, nudge]
    y: *mut i8,                // 28: the pixel's outputs
    chan_end: *const [i32; 4], // 32
    min: i32,                  // 36
}

extern "C" {
    fn aedge_pairs5(args: *const Pairs5);
}

// Every output channel of one pixel of a layer with 9 or 10 taps (a 3×3 convolution of one
// input channel), in the short requantization form and without a lookup table: the taps
// stay in r1–r5, each channel is five SMLADs on its packed weights from the offset, then
// `SMMULR` of twice the sum, the rounding shift with the zero point folded into the nudge,
// and the clamp — as `requant_short`.
core::arch::global_asm!(
    ".section .text.aedge_pairs5,\"ax\",%progbits",
    ".global aedge_pairs5",
    ".type aedge_pairs5,%function",
    ".thumb_func",
    ".p2align 2",
    "aedge_pairs5:",
    "push {{r4-r11, lr}}",
    "ldm r0, {{r1-r10}}",
    "2:",
    "ldr r0, [r7], #4",
    "ldrd r11, r12, [r6], #8",
    "smlad r0, r1, r11, r0",
    "smlad r0, r2, r12, r0",
    "ldrd r11, r12, [r6], #8",
    "smlad r0, r3, r11, r0",
    "smlad r0, r4, r12, r0",
    "ldr r11, [r6], #4",
    "smlad r0, r5, r11, r0",
    "ldm r7!, {{r11, r12, lr}}",
    "lsl r0, r0, #1",
    "smmulr r0, r0, r11",
    "add lr, lr, r0",
    "add lr, lr, r0, asr #31",
    "asr r0, lr, r12",
    "ssat r0, #8, r0",
    "cmp r0, r10",
    "it lt",
    "movlt r0, r10",
    "strb r0, [r8], #1",
    "cmp r7, r9",
    "bne 2b",
    "pop {{r4-r11, pc}}",
    ".size aedge_pairs5, . - aedge_pairs5",
);

/// Two taps as the 16-bit lanes SMLAD multiplies: `lo` in bits 0–15, `hi` in 16–31.
#[inline(always)]
fn pair(lo: i8, hi: i8) -> u32 {
    (lo as i16 as u16 as u32) | ((hi as i16 as u16 as u32) << 16)
}

/// `acc + lo(x)·lo(w) + hi(x)·hi(w)` on 16-bit lanes, wrapping as the portable sums do.
#[inline(always)]
fn smlad(x: u32, w: u32, acc: i32) -> i32 {
    let r: i32;
    // SAFETY: register-only arithmetic.
    unsafe {
        asm!(
            "smlad {r}, {x}, {w}, {a}",
            x = in(reg) x,
            w = in(reg) w,
            a = in(reg) acc,
            r = lateout(reg) r,
            options(pure, nomem, nostack),
        );
    }
    r
}

/// What every output of a paired layer needs: per channel `[offset, multiplier, shift,
/// nudge]` and `P` packed weight pairs, and how to requantize.
struct Paired<'a> {
    chan: &'a [[i32; 4]],
    weights: &'a [u32],
    q: &'a Requant<'a>,
    short: bool,
}

/// A layer of at most [`PAIRED_TAPS`] taps (`P` pairs): each window is staged once, its taps
/// held in `P` registers as 16-bit pairs, and every output channel is `P` SMLADs on its
/// packed weights and a requantization — instead of extending the window's bytes again for
/// every pair of channels.
#[inline(never)]
fn paired<const P: usize>(x: &[i8], g: &Window, c: &Paired, y: &mut [i8], stage: &mut [i8]) {
    let ([ih, iw, _], [oh, ow, oc]) = g.sizes();
    let [kh, kw] = g.kernel;
    let zp = c.q.input_zero_point as i8;
    // Five pairs in the short form without a table: the channel loop in assembly.
    let fast = P == 5
        && c.short
        && c.q.lut.is_none()
        && c.chan.len() == oc
        && c.weights.len() == 5 * oc
        && oc > 0;
    let mut args = Pairs5 {
        x: [0; 5],
        w: c.weights.as_ptr(),
        chan: c.chan.as_ptr(),
        y: core::ptr::null_mut(),
        chan_end: c.chan.as_ptr_range().end,
        min: c.q.min,
    };
    let mut out = y.chunks_exact_mut(oc);
    for oy in 0..oh {
        let ky = conv_range(oy, g.stride[0], g.pad[0], kh, ih);
        for ox in 0..ow {
            let Some(out) = out.next() else { return };
            let r = Rows {
                ky,
                kx: conv_range(ox, g.stride[1], g.pad[1], kw, iw),
            };
            let mut xp = [0u32; P];
            if let Some(p) = if P == 5 { window_3x3(x, g, &r) } else { None } {
                // The common first layer: 3×3 on one channel, away from the border, read
                // in place.
                xp[..5].copy_from_slice(&p);
            } else {
                stage_window(x, g, &r, zp, stage);
                for (p, v) in xp.iter_mut().enumerate() {
                    *v = pair(stage[2 * p], stage.get(2 * p + 1).copied().unwrap_or(0));
                }
            }
            if fast {
                args.x[..P].copy_from_slice(&xp);
                args.y = out.as_mut_ptr();
                // SAFETY: `chan` holds `oc` entries and `weights` `5·oc` words (`paired`'s
                // caller sizes them so; checked above for `chan`), `out` `oc` bytes; the
                // assembly reads `args` and those, writes `oc` bytes of `out`, and saves
                // every callee-saved register it uses.
                unsafe { aedge_pairs5(&args) };
                continue;
            }
            for ((yo, ch), wo) in out.iter_mut().zip(c.chan).zip(c.weights.chunks_exact(P)) {
                let mut acc = ch[0];
                for p in 0..P {
                    acc = smlad(xp[p], wo[p], acc);
                }
                *yo = if c.short {
                    requant_short(acc, ch, c.q)
                } else {
                    c.q.finish_with(acc, ch[1], ch[2])
                };
            }
        }
    }
}

/// Whether [`requant_short`] gives TFLite's requantization exactly for this layer: fewer than
/// 2^14 taps and biases below 2^29 keep every accumulator below 2^30 (|x − zp| ≤ 255,
/// |w| ≤ 127), and every shift is a right shift of 1 to 22.
fn short_requant(q: &Requant, oc: usize, taps: usize) -> bool {
    let shifts = if q.shift.len() == 1 {
        q.shift
    } else {
        &q.shift[..oc.min(q.shift.len())]
    };
    taps < 1 << 14
        && q.bias[..oc].iter().all(|b| b.unsigned_abs() < 1 << 29)
        && shifts.iter().all(|s| (-22..=-1).contains(s))
}

/// TFLite's requantization, zero point and clamp of one accumulator, in the form the
/// dense per-tensor kernel uses (see `kernels::dense::int8`): with |acc| < 2^30 the rounding doubling
/// high multiply is `SMMULR` of `2·acc`, and the rounding right shift by `r` with the zero
/// point folded in is `(t + 2^(r−1) + zp·2^r − [t < 0]) >> r`, without overflow for r ≤ 22.
/// `c` is the channel's `[offset, multiplier, r, 2^(r−1) + zp·2^r]`.
#[inline(always)]
fn requant_short(acc: i32, c: &[i32; 4], q: &Requant) -> i8 {
    let t: i32;
    // SAFETY: register-only arithmetic.
    unsafe {
        asm!(
            "smmulr {t}, {a}, {m}",
            a = in(reg) acc << 1,
            m = in(reg) c[1],
            t = lateout(reg) t,
            options(pure, nomem, nostack),
        );
    }
    let v = ((t + c[3] + (t >> 31)) >> c[2]).clamp(q.min, 127);
    match q.lut {
        // v is in -128..=127 (min >= -128): the index is v + 128.
        Some(table) => table[(v as u8 ^ 0x80) as usize],
        None => v as i8,
    }
}

/// The taps of a 3×3 window on one input channel as five pairs read straight from the input,
/// if the layer is such and the window lies inside the input; else `None`.
#[inline(always)]
fn window_3x3(x: &[i8], g: &Window, r: &Rows) -> Option<[u32; 5]> {
    let ([_, iw, ic], _) = g.sizes();
    let ((ky_lo, ky_hi, iy0), (kx_lo, kx_hi, ix0)) = (r.ky, r.kx);
    if g.kernel != [3, 3] || ic != 1 || (ky_lo, ky_hi, kx_lo, kx_hi) != (0, 3, 0, 3) {
        return None;
    }
    let p = x.get(iy0 * iw + ix0..)?;
    let (a, b, c) = (p.get(..3)?, p.get(iw..iw + 3)?, p.get(2 * iw..2 * iw + 3)?);
    Some([
        pair(a[0], a[1]),
        pair(a[2], b[0]),
        pair(b[1], b[2]),
        pair(c[0], c[1]),
        pair(c[2], 0),
    ])
}

/// The valid kernel rows and columns of one window, from [`conv_range`].
struct Rows {
    ky: (usize, usize, usize),
    kx: (usize, usize, usize),
}

/// Copies a window into `stage` in tap order (kernel row, column, channel), padded taps as
/// the zero point (which the `− zp·Σw` offset cancels).
#[inline(always)]
fn stage_window(x: &[i8], g: &Window, r: &Rows, zp: i8, stage: &mut [i8]) {
    let ([_, iw, ic], _) = g.sizes();
    let [_, kw] = g.kernel;
    let ((ky_lo, ky_hi, iy0), (kx_lo, kx_hi, ix0)) = (r.ky, r.kx);
    let (lo, hi) = (kx_lo * ic, kx_hi * ic);
    for (ky, dst) in stage.chunks_exact_mut(kw * ic).enumerate() {
        if ky < ky_lo || ky >= ky_hi {
            dst.fill(zp);
            continue;
        }
        let src = &x[((iy0 + ky - ky_lo) * iw + ix0) * ic..][..hi - lo];
        // Byte loops: a row is a few bytes, less than a memcpy call costs.
        let (before, rest) = dst.split_at_mut(lo);
        let (inside, after) = rest.split_at_mut(hi - lo);
        for d in before.iter_mut().chain(after.iter_mut()) {
            *d = zp;
        }
        for (d, &v) in inside.iter_mut().zip(src) {
            *d = v;
        }
    }
}

/// Four weights of the channel at pointer operand `$p`, as two 16-bit pairs in `{t}` (taps 0
/// and 2) and `{w}` (taps 1 and 3), the lanes SXTB16 splits an input word into: from bytes
/// (a word, split: 3 instructions) or from widened pairs (a doubleword: 1).
macro_rules! load_bytes {
    ($p:literal) => {
        concat!(
            "ldr {w}, [{",
            $p,
            "}], #4\n",
            "sxtb16 {t}, {w}\n",
            "sxtb16 {w}, {w}, ror #8"
        )
    };
}
macro_rules! load_wide {
    ($p:literal) => {
        concat!("ldrd {t}, {w}, [{", $p, "}], #8")
    };
}

/// `a0 += Σ x·w0`, `a1 += Σ x·w1` over `quads` words of input (`px`): per word, SXTB16
/// splits four input bytes into `(x0, x2)`, `(x1, x3)` once, each channel's four weights are
/// loaded by `$load` (from `p0`, `p1`), and each channel takes two SMLADs (15 instructions
/// per 8 MACs with the loop from bytes, 11 from widened pairs).
macro_rules! quads2 {
    ($load:ident, $px:expr, $p0:expr, $p1:expr, $n:expr, $a0:expr, $a1:expr) => {
        asm!(
            "2:",
            "ldr {xo}, [{px}], #4",
            $load!("p0"),
            "sxtb16 {xe}, {xo}",
            "sxtb16 {xo}, {xo}, ror #8",
            "smlad {a0}, {xe}, {t}, {a0}",
            "smlad {a0}, {xo}, {w}, {a0}",
            $load!("p1"),
            "smlad {a1}, {xe}, {t}, {a1}",
            "smlad {a1}, {xo}, {w}, {a1}",
            "subs {n}, {n}, #1",
            "bne 2b",
            px = inout(reg) $px => _,
            p0 = inout(reg) $p0 => _,
            p1 = inout(reg) $p1 => _,
            n = inout(reg) $n => _,
            a0 = inout(reg) *$a0,
            a1 = inout(reg) *$a1,
            xe = out(reg) _,
            xo = out(reg) _,
            w = out(reg) _,
            t = out(reg) _,
            options(nostack, readonly),
        )
    };
}

/// [`quads2!`] for one channel.
macro_rules! quads1 {
    ($load:ident, $px:expr, $p0:expr, $n:expr, $a:expr) => {
        asm!(
            "2:",
            "ldr {xo}, [{px}], #4",
            $load!("p0"),
            "sxtb16 {xe}, {xo}",
            "sxtb16 {xo}, {xo}, ror #8",
            "smlad {a}, {xe}, {t}, {a}",
            "smlad {a}, {xo}, {w}, {a}",
            "subs {n}, {n}, #1",
            "bne 2b",
            px = inout(reg) $px => _,
            p0 = inout(reg) $p0 => _,
            n = inout(reg) $n => _,
            a = inout(reg) *$a,
            xe = out(reg) _,
            xo = out(reg) _,
            w = out(reg) _,
            t = out(reg) _,
            options(nostack, readonly),
        )
    };
}

/// One output channel's weights as the window dot products read them: its bytes, and its
/// whole groups of four taps widened to 16-bit pairs (see `wide_weight_words`) when the layer
/// has them (empty otherwise).
#[derive(Clone, Copy)]
struct Chan<'a> {
    bytes: &'a [i8],
    wide: &'a [u32],
}

/// Channel `o`'s weights: its bytes and, when the layer's are widened (`wide` not empty), its
/// `2·groups` words of them.
#[inline(always)]
fn chan_weights<'a>(bytes: &'a [i8], wide: &'a [u32], o: usize, groups: usize) -> Chan<'a> {
    Chan {
        bytes,
        wide: wide
            .get(2 * o * groups..2 * (o + 1) * groups)
            .unwrap_or(&[]),
    }
}

/// `Σ x·w` of the window (`rows` runs of `len` bytes, `stride` apart, from `src`) with `N`
/// (1 or 2) output channels' weights (`rows · len` taps each; `W`: also widened, see
/// [`Chan`]), by the assembly loops per row and the taps past the last whole group of four
/// one at a time. Lengths are checked once, up front; zeros if they do not hold (never, for
/// the callers' windows). Widened weights need rows of whole groups (`len` a multiple of 4)
/// or one staged row.
#[inline(always)]
fn dot<const N: usize, const W: bool>(
    src: &[i8],
    rows: usize,
    len: usize,
    stride: usize,
    ch: [Chan; N],
) -> [i32; N] {
    let mut acc = [0i32; N];
    let Some(need) = rows.checked_sub(1).map(|r| r * stride + len) else {
        return acc;
    };
    let quads = len / 4;
    let fits = |c: &Chan| c.bytes.len() >= rows * len && (!W || c.wide.len() >= rows * quads * 2);
    if !(1..=2).contains(&N)
        || src.len() < need
        || !ch.iter().all(fits)
        || len > stride
        || (W && rows > 1 && !len.is_multiple_of(4))
    {
        return acc;
    }
    let mut px = src.as_ptr();
    let mut pb = ch.map(|c| c.bytes.as_ptr());
    let mut pk = ch.map(|c| c.wide.as_ptr());
    for _ in 0..rows {
        if quads > 0 {
            // SAFETY: each row of the input is `len` bytes from `px`, of each channel's bytes
            // `len` from `pb`, of its widened groups `2·quads` words from `pk` (all checked
            // above); each loop reads 4·quads input bytes and 4·quads weight bytes or 8·quads
            // bytes of u32-aligned widened weights.
            // Byte weights may be unaligned (the M4, M7 and M33 load unaligned words);
            // widened ones are u32-aligned, as `LDRD` needs.
            unsafe {
                let (a0, a1) = acc.split_at_mut(1);
                match (N, W) {
                    (1, false) => quads1!(load_bytes, px, pb[0], quads, &mut a0[0]),
                    (1, true) => quads1!(load_wide, px, pk[0], quads, &mut a0[0]),
                    (_, false) => {
                        quads2!(
                            load_bytes,
                            px,
                            pb[0],
                            pb[N - 1],
                            quads,
                            &mut a0[0],
                            &mut a1[0]
                        )
                    }
                    (_, true) => {
                        quads2!(
                            load_wide,
                            px,
                            pk[0],
                            pk[N - 1],
                            quads,
                            &mut a0[0],
                            &mut a1[0]
                        )
                    }
                }
            }
        }
        for t in 4 * quads..len {
            // SAFETY: t < len, within the row (as above).
            let v = unsafe { *px.add(t) } as i32;
            for (a, p) in acc.iter_mut().zip(&pb) {
                // SAFETY: as above.
                *a = a.wrapping_add(v * unsafe { *p.add(t) } as i32);
            }
        }
        // Past the last row these point beyond the slices but are never read.
        px = px.wrapping_add(stride);
        pb = pb.map(|p| p.wrapping_add(len));
        pk = pk.map(|p| p.wrapping_add(2 * quads));
    }
    acc
}
