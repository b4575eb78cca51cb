//! int8 convolution on the hosts' panel layout with NEON: `sdot` where the CPU has the
//! dot-product extension, else the same sums from 16-bit products (`dense::aarch64::sdotv`).

use super::host::{row_slices, PackedI8, Padded, PanelI8, LANES, MAX_KH, MAX_PADDED, MAX_TAPS};
use crate::kernels::dense::aarch64::{requant4, sdotv, store4};
use crate::kernels::dense::int8::fold_zero_point;
use crate::kernels::{Requant, Window};
use core::arch::aarch64::*;
use core::mem::MaybeUninit;

/// Up to this many output channels, [`narrow`] runs along the taps instead.
const MAX_NARROW: usize = 3;

/// The int8 convolution with NEON. Returns false, having written nothing, below
/// `isa::NEON` or when the layer exceeds the stack buffers.
pub fn conv2d(x: &[i8], w: &[i8], g: &Window, q: &Requant, y: &mut [i8]) -> bool {
    use crate::kernels::isa;
    if isa::has(isa::DOTPROD) {
        // SAFETY: the CPU has the dot-product extension.
        unsafe { conv_dot(x, w, g, q, y) }
    } else if isa::has(isa::NEON) {
        conv::<false>(x, w, g, q, y)
    } else {
        false
    }
}

#[target_feature(enable = "dotprod")]
unsafe fn conv_dot(x: &[i8], w: &[i8], g: &Window, q: &Requant, y: &mut [i8]) -> bool {
    conv::<true>(x, w, g, q, y)
}

/// Weights are packed `[ky][quad][channel][4 taps]`, each kernel row padded with zero
/// weights to whole quads, so one `sdot` with four input bytes broadcast adds four taps to
/// four channels, reading each window from a padded copy of the input. `sdot` is signed on both
/// sides: padding holds the input zero point and the bias becomes `bias - zp · Σw`, so each
/// output is TFLite's `Σ (x - zp)·w` exactly.
#[inline(always)]
fn conv<const DOT: bool>(x: &[i8], w: &[i8], g: &Window, q: &Requant, y: &mut [i8]) -> bool {
    let (_, [oh, ow, oc]) = g.sizes();
    let [kh, kw] = g.kernel;
    let row = kw * g.input.c as usize;
    let row_len = row.div_ceil(4) * 4;
    let taps = kh * row;
    let block = kh * row_len * LANES;
    if taps == 0 || kh * row_len > MAX_TAPS || kh > MAX_KH || oc == 0 || q.bias.len() < oc {
        return false;
    }
    let zp = q.input_zero_point;
    // The input padded once, so no pixel is a border case.
    let mut xbuf = [MaybeUninit::<i8>::uninit(); MAX_PADDED];
    let Some(xp) = Padded::new(x, g, (zp as i8, 0), 4, &mut xbuf) else {
        return false;
    };
    if oc <= MAX_NARROW {
        return narrow::<DOT>(&xp, w, g, q, y);
    }
    let blocks = oc.div_ceil(LANES);
    let per_panel = PanelI8::blocks(g, row_len);
    let mut room = PanelI8::new();
    let mut first = 0;
    while first < blocks {
        let nb = per_panel.min(blocks - first);
        let PackedI8 {
            weights: panel,
            bias,
            mult,
            shift,
        } = room.pack(w, g, q, (first, nb), row_len, zp);
        let mut rows = [core::ptr::null(); MAX_KH];
        for oy in 0..oh {
            for ox in 0..ow {
                xp.rows((oy, ox), &mut rows);
                let out = &mut y[(oy * ow + ox) * oc..][..oc];
                for bi in 0..nb {
                    let o0 = (first + bi) * LANES;
                    let p = &panel[bi * block..][..block];
                    // SAFETY: rows just set (row_len bytes each); the copy is unchanged.
                    let [lo, hi] = unsafe { dot8::<DOT>(&rows[..kh], row_len, p) };
                    let n = (oc - o0).min(LANES);
                    for (h, s) in [lo, hi].into_iter().enumerate() {
                        let c = bi * LANES + 4 * h;
                        if 4 * h >= n {
                            break;
                        }
                        let (b, m, sh) = (&bias[c..c + 4], &mult[c..c + 4], &shift[c..c + 4]);
                        // SAFETY: NEON; 16-byte loads of 4-element slices.
                        let v = unsafe {
                            requant4(
                                vaddq_s32(s, vld1q_s32(b.as_ptr())),
                                vld1q_s32(m.as_ptr()),
                                vld1q_s32(sh.as_ptr()),
                                q,
                            )
                        };
                        store4(v, q, &mut out[o0 + 4 * h..o0 + n.min(4 * h + 4)]);
                    }
                }
            }
        }
        first += nb;
    }
    true
}

/// Eight channel sums (channels 0-3, 4-7) of one panel block `p` over every row, two quads
/// per step so four dependency chains are in flight.
///
/// # Safety
/// `rows` from `Padded::rows`, `row_len` bytes each, the copy still unchanged.
#[inline(always)]
unsafe fn dot8<const DOT: bool>(rows: &[*const i8], row_len: usize, p: &[i8]) -> [int32x4_t; 2] {
    // SAFETY: NEON is part of every aarch64 target.
    let z = unsafe { vdupq_n_s32(0) };
    let mut a = [z; 4];
    let quads = row_len / 4;
    let mut p = p;
    // SAFETY: the caller's contract.
    for r in unsafe { row_slices(rows, row_len) } {
        let (pr, rest) = p.split_at(quads * 4 * LANES);
        p = rest;
        let step = |acc: [int32x4_t; 2], t: usize| {
            let w = &pr[t * 4 * LANES..][..4 * LANES];
            // SAFETY: a 4-byte load from the row and two 16-byte loads from the quad's weights.
            unsafe {
                let u = vreinterpretq_s8_s32(vld1q_dup_s32(r[4 * t..][..4].as_ptr() as *const i32));
                [
                    sdotv::<DOT>(acc[0], vld1q_s8(w.as_ptr()), u),
                    sdotv::<DOT>(acc[1], vld1q_s8(w.as_ptr().add(16)), u),
                ]
            }
        };
        let mut t = 0;
        while t + 2 <= quads {
            [a[0], a[1]] = step([a[0], a[1]], t);
            [a[2], a[3]] = step([a[2], a[3]], t + 1);
            t += 2;
        }
        if t < quads {
            [a[0], a[1]] = step([a[0], a[1]], t);
        }
    }
    // SAFETY: NEON.
    unsafe { [vaddq_s32(a[0], a[2]), vaddq_s32(a[1], a[3])] }
}

/// The convolution for layers with at most [`MAX_NARROW`] output channels (such as a
/// decoder's last, one-channel layer): each output is one long dot product of the window
/// rows with the weight rows as stored, 16 taps per `sdot`, so no lane is idle.
#[inline(always)]
fn narrow<const DOT: bool>(xp: &Padded, w: &[i8], g: &Window, q: &Requant, y: &mut [i8]) -> bool {
    let (_, [oh, ow, oc]) = g.sizes();
    let kh = g.kernel[0];
    let row = g.kernel[1] * g.input.c as usize;
    let taps = kh * row;
    let zp = q.input_zero_point;
    let mut bias = [0i32; MAX_NARROW];
    bias[..oc].copy_from_slice(&q.bias[..oc]);
    fold_zero_point(&w[..oc * taps], taps, zp, &mut bias[..oc]);
    let mut rows = [core::ptr::null(); MAX_KH];
    for oy in 0..oh {
        for ox in 0..ow {
            xp.rows((oy, ox), &mut rows);
            let out = &mut y[(oy * ow + ox) * oc..][..oc];
            for (o, yo) in out.iter_mut().enumerate() {
                // SAFETY: NEON is part of every aarch64 target.
                let mut acc = unsafe { vdupq_n_s32(0) };
                let mut rest = 0i32;
                // SAFETY: rows just set (`row` bytes each).
                let rs = unsafe { row_slices(&rows[..kh], row) };
                for (r, wr) in rs.zip(w[o * taps..][..taps].chunks_exact(row)) {
                    let (r16, wr16) = (r.chunks_exact(16), wr.chunks_exact(16));
                    let (rt, wt) = (r16.remainder(), wr16.remainder());
                    for (u, v) in r16.zip(wr16) {
                        // SAFETY: two 16-byte loads from 16-byte chunks.
                        acc = unsafe {
                            sdotv::<DOT>(acc, vld1q_s8(u.as_ptr()), vld1q_s8(v.as_ptr()))
                        };
                    }
                    for (&u, &v) in rt.iter().zip(wt) {
                        rest = rest.wrapping_add(u as i32 * v as i32);
                    }
                }
                // SAFETY: NEON.
                let d = unsafe { vaddvq_s32(acc) }.wrapping_add(rest);
                *yo = q.finish(bias[o].wrapping_add(d), o);
            }
        }
    }
    true
}
