//! aarch64 paths of the int8 dense layer: NEON, with `sdot` where the CPU has the dot-product
//! extension. Also the int8 dot step and the vector requantization the aarch64 convolution
//! shares.

use super::int8::{dot, CHUNK, ROWS};
use crate::kernels::Requant;
use core::arch::aarch64::*;
use core::arch::asm;

/// `acc + Σ` of four i8 × i8 products per lane: `sdot` with `DOT`, else the same sums from
/// 16-bit products (`smull`, exact: |a·b| ≤ 2^14) added pairwise twice. i32 lanes add
/// wrapping in both, so every build gives the same bits.
#[inline(always)]
pub(crate) fn sdotv<const DOT: bool>(acc: int32x4_t, a: int8x16_t, b: int8x16_t) -> int32x4_t {
    if DOT {
        let mut r = acc;
        // SAFETY: register-only arithmetic. `DOT` builds run only on CPUs with the extension
        // (`isa::DOTPROD`); the directive lets the assembler take `sdot` in the other builds,
        // where this branch is dead.
        unsafe {
            asm!(
                ".arch_extension dotprod",
                "sdot {r:v}.4s, {a:v}.16b, {b:v}.16b",
                r = inout(vreg) r,
                a = in(vreg) a,
                b = in(vreg) b,
                options(pure, nomem, nostack, preserves_flags)
            );
        }
        r
    } else {
        // SAFETY: NEON is part of every aarch64 target Rust builds for.
        unsafe {
            let lo = vmull_s8(vget_low_s8(a), vget_low_s8(b));
            let hi = vmull_high_s8(a, b);
            vaddq_s32(acc, vpaddq_s32(vpaddlq_s16(lo), vpaddlq_s16(hi)))
        }
    }
}

/// `Requant::finish` before the table, on four accumulators: `vqrdmulh` is TFLite's
/// saturating rounding doubling high multiply exactly, and its rounding divide by a power
/// of two (half away from zero) is a rounding shift (half up) of the value nudged down by
/// one where it is negative and a right shift applies. Values end in `q.min..=127`.
#[inline(always)]
pub(crate) fn requant4(a: int32x4_t, m: int32x4_t, sh: int32x4_t, q: &Requant) -> int32x4_t {
    // SAFETY: NEON is part of every aarch64 target.
    unsafe {
        let zero = vdupq_n_s32(0);
        let neg_right = vminq_s32(sh, zero);
        let v = vqrdmulhq_s32(vshlq_s32(a, vmaxq_s32(sh, zero)), m);
        // -1 for negative values where the shift is non-zero (its sign bit is set), else 0.
        let nudge = vshrq_n_s32::<31>(vandq_s32(v, neg_right));
        let v = vrshlq_s32(vqaddq_s32(v, nudge), neg_right);
        let v = vqaddq_s32(v, vdupq_n_s32(q.output_zero_point));
        vminq_s32(vmaxq_s32(v, vdupq_n_s32(q.min)), vdupq_n_s32(127))
    }
}

/// Writes the first `y.len()` (at most 4) of four requantized values, through the table if any.
#[inline(always)]
pub(crate) fn store4(v: int32x4_t, q: &Requant, y: &mut [i8]) {
    let mut out = [0i32; 4];
    // SAFETY: a 16-byte store into a 4-element i32 array.
    unsafe { vst1q_s32(out.as_mut_ptr(), v) };
    for (d, v) in y.iter_mut().zip(out) {
        *d = match q.lut {
            Some(t) => t[(v as u8 ^ 0x80) as usize],
            None => v as i8,
        };
    }
}

/// Full blocks of a dense layer in one pass, requantized with NEON. Returns how many rows of
/// `y` it wrote (a multiple of [`ROWS`]; 0 below `isa::NEON` or when `k < CHUNK`), so the
/// caller finishes the rest. `w` holds the full blocks in the packed layout, `k = x.len()`.
pub fn dense_blocks(x: &[i8], w: &[i8], q: &Requant, y: &mut [i8]) -> usize {
    use crate::kernels::isa;
    if isa::has(isa::DOTPROD) {
        // SAFETY: the CPU has the dot-product extension.
        unsafe { blocks_dot(x, w, q, y) }
    } else if isa::has(isa::NEON) {
        blocks::<false>(x, w, q, y)
    } else {
        0
    }
}

#[target_feature(enable = "dotprod")]
unsafe fn blocks_dot(x: &[i8], w: &[i8], q: &Requant, y: &mut [i8]) -> usize {
    blocks::<true>(x, w, q, y)
}

/// One chunk's 8 inputs twice over, as `sdot`'s other operand for two rows at once.
#[inline(always)]
fn chunk(x: &[i8], c: usize) -> int8x16_t {
    let v = &x[c * CHUNK..][..CHUNK];
    // SAFETY: an 8-byte load from an 8-byte slice.
    unsafe {
        let h = vld1_s8(v.as_ptr());
        vcombine_s8(h, h)
    }
}

/// Rows `2h, 2h + 1` of chunk `c` of a block: 16 weights (the packed `[chunk][row][8]`).
#[inline(always)]
fn rows2(w: &[i8], c: usize, h: usize) -> int8x16_t {
    let v = &w[(c * ROWS + 2 * h) * CHUNK..][..2 * CHUNK];
    // SAFETY: a 16-byte load from a 16-byte slice.
    unsafe { vld1q_s8(v.as_ptr()) }
}

#[inline(always)]
fn blocks<const DOT: bool>(x: &[i8], w: &[i8], q: &Requant, y: &mut [i8]) -> usize {
    let k = x.len();
    let main = k - k % CHUNK;
    let chunks = main / CHUNK;
    let n = y.len() / ROWS;
    if chunks == 0 || n == 0 {
        return 0;
    }
    let (xm, xt) = x.split_at(main);
    let t = xt.len();
    for b in 0..n {
        let o = b * ROWS;
        let (bm, bt) = w[o * k..][..ROWS * k].split_at(ROWS * main);
        // SAFETY: NEON is part of every aarch64 target.
        let z = unsafe { vdupq_n_s32(0) };
        // Lanes of a01: row 0's first and second four inputs, then row 1's; likewise a23.
        // Two accumulators per row pair keep four dependency chains in flight.
        let (mut a01, mut a23, mut c01, mut c23) = (z, z, z, z);
        let mut c = 0;
        while c + 2 <= chunks {
            let (x0, x1) = (chunk(xm, c), chunk(xm, c + 1));
            a01 = sdotv::<DOT>(a01, rows2(bm, c, 0), x0);
            a23 = sdotv::<DOT>(a23, rows2(bm, c, 1), x0);
            c01 = sdotv::<DOT>(c01, rows2(bm, c + 1, 0), x1);
            c23 = sdotv::<DOT>(c23, rows2(bm, c + 1, 1), x1);
            c += 2;
        }
        if c < chunks {
            let x0 = chunk(xm, c);
            a01 = sdotv::<DOT>(a01, rows2(bm, c, 0), x0);
            a23 = sdotv::<DOT>(a23, rows2(bm, c, 1), x0);
        }
        let (m, sh) = q.channels::<ROWS>(o);
        let bias = &q.bias[o..o + ROWS];
        // SAFETY: NEON; 16-byte loads of 4-element arrays and slices.
        let v = unsafe {
            let s = vpaddq_s32(vaddq_s32(a01, c01), vaddq_s32(a23, c23));
            let mut s = vaddq_s32(s, vld1q_s32(bias.as_ptr()));
            if t > 0 {
                let mut acc = [0i32; ROWS];
                vst1q_s32(acc.as_mut_ptr(), s);
                for (a, row) in acc.iter_mut().zip(bt.chunks_exact(t)) {
                    *a = a.wrapping_add(dot(xt, row));
                }
                s = vld1q_s32(acc.as_ptr());
            }
            requant4(s, vld1q_s32(m.as_ptr()), vld1q_s32(sh.as_ptr()), q)
        };
        store4(v, q, &mut y[o..o + ROWS]);
    }
    n * ROWS
}
