//! int8 convolution on the hosts' panel layout: VNNI (AVX-512 VNNI or AVX-VNNI), or on
//! AVX2 alone the same sums from 16-bit products.

use super::host::{
    row_slices, PackedI8, Padded, PanelI8, LANES, MAX_KH, MAX_PADDED, MAX_TAPS, PANEL_I8,
};
use crate::kernels::dense::int8::fold_zero_point;
use crate::kernels::dense::x86::{
    dp128v, dpv, requant8_right, requant8v, right_shifts_only, store8, EMULATED, YMM, ZMM,
};
use crate::kernels::{Requant, Window};
use core::arch::x86_64::*;
use core::mem::MaybeUninit;

/// Up to this many output channels, [`narrow`] vectorises along the taps instead.
const MAX_NARROW: usize = 3;

// The dot-product instruction a build of [`conv`] uses: `ZMM`, `YMM` or `EMULATED` (see
// `dense::x86::dpv`).

pub fn conv2d(x: &[i8], w: &[i8], g: &Window, q: &Requant, y: &mut [i8]) -> bool {
    match crate::kernels::isa::vnni() {
        // SAFETY: the CPU has AVX-512 VNNI and VL, hence AVX-512 F and AVX2.
        Some(true) => unsafe { conv_avx512(x, w, g, q, y) },
        // SAFETY: the CPU has AVX-VNNI, hence AVX2.
        Some(false) => unsafe { conv_avx(x, w, g, q, y) },
        // SAFETY: the CPU has AVX2 (and the cap allows it).
        None if crate::kernels::isa::has(crate::kernels::isa::AVX2) => unsafe {
            conv_avx2(x, w, g, q, y)
        },
        None => false,
    }
}

#[target_feature(enable = "avx2")]
unsafe fn conv_avx2(x: &[i8], w: &[i8], g: &Window, q: &Requant, y: &mut [i8]) -> bool {
    let mut wide = [MaybeUninit::<i16>::uninit(); PANEL_I8];
    // SAFETY: the caller checked the features `conv` uses.
    unsafe { conv::<EMULATED>(x, w, g, q, y, &mut wide) }
}

#[target_feature(enable = "avx2,avx512vnni,avx512vl")]
unsafe fn conv_avx512(x: &[i8], w: &[i8], g: &Window, q: &Requant, y: &mut [i8]) -> bool {
    // SAFETY: the caller checked the features `conv` uses.
    unsafe { conv::<ZMM>(x, w, g, q, y, &mut []) }
}

#[target_feature(enable = "avx2,avxvnni")]
unsafe fn conv_avx(x: &[i8], w: &[i8], g: &Window, q: &Requant, y: &mut [i8]) -> bool {
    // SAFETY: the caller checked the features `conv` uses.
    unsafe { conv::<YMM>(x, w, g, q, y, &mut []) }
}

/// Weights are packed `[ky][quad][channel][4 taps]`, each kernel row padded with zero
/// weights to whole quads, so one `vpdpbusd` with four input bytes broadcast adds four taps
/// to eight channels, reading each window from the input copy. `vpdpbusd` takes
/// unsigned bytes on one side: the input is copied flipped to `x + 128` first, and the
/// bias becomes `bias - (zp + 128) · Σw`, so each output is TFLite's
/// `Σ (x - zp)·w` exactly (padding holds zp, which adds nothing). Without VNNI the panel is
/// also kept widened in `wide` (see [`widen`]); with VNNI `wide` is unused and may be empty.
#[inline(always)]
unsafe fn conv<const V: u8>(
    x: &[i8],
    w: &[i8],
    g: &Window,
    q: &Requant,
    y: &mut [i8],
    wide: &mut [MaybeUninit<i16>],
) -> bool {
    let (_, [oh, ow, oc]) = g.sizes();
    let [kh, kw] = g.kernel;
    let row = kw * g.input.c as usize;
    let row_q = row.div_ceil(4);
    let row_len = row_q * 4;
    let taps = kh * row;
    if taps == 0 || kh * row_len > MAX_TAPS || kh > MAX_KH || oc == 0 || q.bias.len() < oc {
        return false;
    }
    let zp = q.input_zero_point;
    // The input flipped to u8 and padded once, so every broadcast is a single load and no
    // pixel is a border case.
    let mut xbuf = [MaybeUninit::<i8>::uninit(); MAX_PADDED];
    let Some(xp) = Padded::new(x, g, (zp as i8 ^ -128, -128), 4, &mut xbuf) else {
        return false;
    };
    if oc <= MAX_NARROW {
        return narrow::<V>(&xp, w, g, q, y);
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
        } = room.pack(w, g, q, (first, nb), row_len, zp + 128);
        let fast = right_shifts_only(mult, shift);
        let scales = Scales { mult, shift, fast };
        // SAFETY: AVX2 is present (every V); `wide` holds PANEL_I8 elements for EMULATED.
        let wide: &[i16] = if V == EMULATED {
            unsafe { widen(panel, wide) }
        } else {
            &[]
        };
        let mut rows = [core::ptr::null(); MAX_KH];
        for oy in 0..oh {
            for ox in 0..ow {
                xp.rows((oy, ox), &mut rows);
                let out = &mut y[(oy * ow + ox) * oc..][..oc];
                // (`block_sums` is called directly: a closure would not get the caller's
                // target features and its intrinsics would become calls.)
                let rows = &rows[..kh];
                let mut bi = 0;
                while bi < nb {
                    let o0 = (first + bi) * LANES;
                    if bi + 1 < nb {
                        // Two blocks share each input quad's broadcast.
                        // SAFETY: rows just set (row_len bytes each).
                        let [s0, s1] =
                            unsafe { block_sums::<V, 2>(rows, row_len, panel, wide, bias, bi) };
                        // With AVX-512: one 16-lane requantization.
                        if V == ZMM && fast && q.lut.is_none() && o0 + 2 * LANES <= oc {
                            // SAFETY: AVX-512 F is present with VNNI (EVEX); 16 multipliers
                            // and shifts from bi·8, 16 outputs from o0.
                            unsafe {
                                let mv =
                                    _mm512_loadu_si512(mult.as_ptr().add(bi * LANES) as *const _);
                                let sv =
                                    _mm512_loadu_si512(shift.as_ptr().add(bi * LANES) as *const _);
                                let v = requant16_right(s0, s1, mv, sv, q);
                                _mm_storeu_si128(out.as_mut_ptr().add(o0) as *mut __m128i, v);
                            }
                        } else {
                            // SAFETY: AVX2 is present (every V).
                            unsafe {
                                finish8(s0, &scales, bi, q, &mut out[o0..]);
                                finish8(s1, &scales, bi + 1, q, &mut out[o0 + LANES..]);
                            }
                        }
                        bi += 2;
                        continue;
                    }
                    // SAFETY: as above.
                    let [s] = unsafe { block_sums::<V, 1>(rows, row_len, panel, wide, bias, bi) };
                    // SAFETY: AVX2 is present (every V).
                    unsafe { finish8(s, &scales, bi, q, &mut out[o0..]) };
                    bi += 1;
                }
            }
        }
        first += nb;
    }
    true
}

/// The requantization constants of a panel's channels.
struct Scales<'a> {
    mult: &'a [i32],
    shift: &'a [i32],
    /// Every channel passes `right_shifts_only`.
    fast: bool,
}

/// Requantizes the eight sums `s` of block `bi` of the panel into `out`, which starts at the
/// block's first channel (the last block of a layer may have fewer than eight).
///
/// # Safety
/// AVX2 must be present (inlined into the kernel's build: a call per block would cost a
/// quarter of a small layer's time).
#[inline(always)]
unsafe fn finish8(s: __m256i, c: &Scales, bi: usize, q: &Requant, out: &mut [i8]) {
    let n = out.len().min(LANES);
    let (m, sh) = (
        &c.mult[bi * LANES..][..LANES],
        &c.shift[bi * LANES..][..LANES],
    );
    // SAFETY: loads of two 8-element slices.
    let (mv, sv) = unsafe {
        (
            _mm256_loadu_si256(m.as_ptr() as *const __m256i),
            _mm256_loadu_si256(sh.as_ptr() as *const __m256i),
        )
    };
    if c.fast && n == LANES {
        store8(requant8_right(s, mv, sv, q), q, out);
        return;
    }
    let mut tmp = [0i8; LANES];
    match requant8v(s, mv, sv, q) {
        Some(v) if n == LANES => {
            store8(v, q, out);
            return;
        }
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
    out[..n].copy_from_slice(&tmp[..n]);
}

/// The eight channel sums of each of the `N` blocks from `bi` of the panel, bias included.
///
/// # Safety
/// As [`dot_blocks`]: `rows` from `Padded::rows`, `row_len` bytes each, still valid.
#[inline(always)]
unsafe fn block_sums<const V: u8, const N: usize>(
    rows: &[*const i8],
    row_len: usize,
    panel: &[i8],
    wide: &[i16],
    bias: &[i32],
    bi: usize,
) -> [__m256i; N] {
    let block = rows.len() * row_len * LANES;
    // Whole blocks of the panel, or without VNNI of its widened copy (`block` i16 values:
    // two vectors a quad).
    let mut p = [core::ptr::null::<__m256i>(); N];
    for (n, p) in p.iter_mut().enumerate() {
        *p = if V == EMULATED {
            wide[(bi + n) * block..][..block].as_ptr() as *const __m256i
        } else {
            panel[(bi + n) * block..][..block].as_ptr() as *const __m256i
        };
    }
    let b = &bias[bi * LANES..][..N * LANES];
    // SAFETY: the caller's contract; each `p` is one whole block.
    unsafe {
        let mut s = if rows.len() == 3 && row_len == 4 {
            dot_blocks::<V, 3, 1, N>(rows, row_len, p)
        } else {
            dot_blocks::<V, 0, 0, N>(rows, row_len, p)
        };
        for (n, s) in s.iter_mut().enumerate() {
            let bn = _mm256_loadu_si256(b[n * LANES..].as_ptr() as *const __m256i);
            *s = _mm256_add_epi32(*s, bn);
        }
        s
    }
}

/// [`requant8_right`] on sixteen channels (`lo`, `hi`) with AVX-512, packed to bytes.
#[target_feature(enable = "avx512f")]
#[inline]
fn requant16_right(lo: __m256i, hi: __m256i, mv: __m512i, sv: __m512i, q: &Requant) -> __m128i {
    let a = _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
    let nudge = _mm512_set1_epi64(1 << 30);
    let even = _mm512_add_epi64(_mm512_mul_epi32(a, mv), nudge);
    let odd = _mm512_add_epi64(
        _mm512_mul_epi32(_mm512_srli_epi64(a, 32), _mm512_srli_epi64(mv, 32)),
        nudge,
    );
    let v = _mm512_mask_blend_epi32(
        0xaaaa,
        _mm512_srli_epi64(even, 31),
        _mm512_slli_epi64(odd, 1),
    );
    let rm1 = _mm512_xor_si512(sv, _mm512_set1_epi32(-1));
    let t = _mm512_srav_epi32(_mm512_add_epi32(v, _mm512_srai_epi32(v, 31)), rm1);
    let one = _mm512_set1_epi32(1);
    let v = _mm512_add_epi32(_mm512_srai_epi32(t, 1), _mm512_and_si512(t, one));
    let v = _mm512_add_epi32(v, _mm512_set1_epi32(q.output_zero_point));
    let v = _mm512_min_epi32(
        _mm512_max_epi32(v, _mm512_set1_epi32(q.min)),
        _mm512_set1_epi32(127),
    );
    // In -128..=127 already: the truncating pack is exact.
    _mm512_cvtepi32_epi8(v)
}

/// Eight channel sums of `u · w` for each of `N` blocks over every row (`u = x + 128`,
/// already flipped), four accumulators in flight in all: each input quad is loaded (and
/// without VNNI split) once for the `N` blocks. `p` are the blocks' panels: one vector a
/// quad, or without VNNI the widened copy of [`widen`], two a quad ([`quad`]).
#[inline(always)]
unsafe fn dot_blocks<const V: u8, const KH: usize, const Q: usize, const N: usize>(
    rows: &[*const i8],
    row_len: usize,
    p: [*const __m256i; N],
) -> [__m256i; N] {
    let z = _mm256_setzero_si256();
    // Chains per block: four in all.
    let mut a = [[z; N]; 4];
    let per_quad = if V == EMULATED { 2 } else { 1 };
    let mut pp = p;
    let (rows, quads) = if KH > 0 {
        (&rows[..KH], Q)
    } else {
        (rows, row_len / 4)
    };
    let chains = 4 / N;
    for (ky, &r) in rows.iter().enumerate() {
        let cp = r as *const i32;
        // SAFETY: t < quads: 4 bytes of the row and one quad's panel vectors (kh·quads of
        // them in all, the caller's contract) are in bounds; unaligned loads.
        let at = |t: usize| unsafe { cp.add(t) };
        let mut t = 0;
        while t + chains <= quads {
            for (g, acc) in a.iter_mut().enumerate().take(chains) {
                // SAFETY: as above.
                *acc = unsafe { quad::<V, N>(*acc, at(t + g), pp, per_quad * (t + g)) };
            }
            t += chains;
        }
        // Short rows start at the row's own chain, so a 3×3 one-channel kernel (one quad
        // per row) still has three chains in flight.
        while t < quads {
            let g = (ky + t) % chains;
            // SAFETY: as above.
            a[g] = unsafe { quad::<V, N>(a[g], at(t), pp, per_quad * t) };
            t += 1;
        }
        for p in pp.iter_mut() {
            // SAFETY: as above; the next row's quads follow.
            *p = unsafe { p.add(per_quad * quads) };
        }
    }
    let mut out = [z; N];
    for (n, o) in out.iter_mut().enumerate() {
        *o = _mm256_add_epi32(
            _mm256_add_epi32(a[0][n], a[1][n]),
            _mm256_add_epi32(a[2][n], a[3][n]),
        );
    }
    out
}

/// The packed panel with each 32-byte vector (eight channels × four taps) split into its
/// even and odd taps widened to 16 bits, for `vpmaddwd` without VNNI: the weights are split
/// once per panel instead of once per output pixel.
///
/// # Safety
/// AVX2 must be present; `wide` holds at least `panel.len()` elements.
#[inline(always)]
unsafe fn widen<'w>(panel: &[i8], wide: &'w mut [MaybeUninit<i16>]) -> &'w [i16] {
    let n = panel.len();
    assert!(wide.len() >= n && n.is_multiple_of(32));
    let src = panel.as_ptr() as *const __m256i;
    let dst = wide.as_mut_ptr() as *mut __m256i;
    // SAFETY: n/32 vectors read from the panel, n i16 (2·n/32 vectors) written to `wide`.
    unsafe {
        for k in 0..n / 32 {
            let s = _mm256_loadu_si256(src.add(k));
            let even = _mm256_srai_epi16::<8>(_mm256_slli_epi16::<8>(s));
            let odd = _mm256_srai_epi16::<8>(s);
            _mm256_storeu_si256(dst.add(2 * k), even);
            _mm256_storeu_si256(dst.add(2 * k + 1), odd);
        }
        &*(&wide[..n] as *const [MaybeUninit<i16>] as *const [i16])
    }
}

/// One input quad of [`dot_blocks`] into `N` blocks' accumulators: the four input bytes at
/// `u` (flipped, so unsigned) broadcast once, each block's weights at vector `k` of its panel.
/// Without VNNI the bytes are split once into even and odd 16-bit pairs and multiplied with
/// the widened weights: the same products and the same wrapping sums as `vpdpbusd`.
#[inline(always)]
unsafe fn quad<const V: u8, const N: usize>(
    acc: [__m256i; N],
    u: *const i32,
    w: [*const __m256i; N],
    k: usize,
) -> [__m256i; N] {
    let mut out = acc;
    // SAFETY: the caller's pointers are in bounds; AVX2 (and V's VNNI) is present.
    unsafe {
        if V == EMULATED {
            let v = (u as *const u32).read_unaligned();
            let ue = _mm256_set1_epi32((v & 0x00ff_00ff) as i32);
            let uo = _mm256_set1_epi32(((v >> 8) & 0x00ff_00ff) as i32);
            for (o, w) in out.iter_mut().zip(w) {
                let w = w.add(k);
                *o = _mm256_add_epi32(*o, _mm256_madd_epi16(ue, _mm256_loadu_si256(w)));
                *o = _mm256_add_epi32(*o, _mm256_madd_epi16(uo, _mm256_loadu_si256(w.add(1))));
            }
        } else {
            let b = _mm256_set1_epi32(u.read_unaligned());
            for (o, w) in out.iter_mut().zip(w) {
                *o = dpv::<V>(*o, b, _mm256_loadu_si256(w.add(k)));
            }
        }
    }
    out
}

/// The convolution of [`conv`] for layers with at most [`MAX_NARROW`] output channels,
/// on the flipped, padded input `xp`.
#[inline(always)]
unsafe fn narrow<const V: u8>(
    xp: &Padded,
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
    bias[..oc].copy_from_slice(&q.bias[..oc]);
    // The flipped input is x + 128: fold (zp + 128)·Σw into the bias.
    fold_zero_point(&w[..oc * taps], taps, zp + 128, &mut bias[..oc]);
    let mut rows = [core::ptr::null(); MAX_KH];
    let (m0, s0) = q.channel(0);
    let (mv, sv) = (_mm256_set1_epi32(m0), _mm256_set1_epi32(s0));
    let fast = right_shifts_only(&[m0], &[s0]);
    for oy in 0..oh {
        let mut ox = 0;
        // One output channel: eight neighbouring pixels' sums are reduced together and
        // requantized as one vector.
        while oc == 1 && ox + LANES <= ow {
            let mut part = [_mm256_setzero_si256(); LANES];
            for (i, p) in part.iter_mut().enumerate() {
                xp.rows((oy, ox + i), &mut rows);
                // SAFETY: rows just set (`row` bytes each); `taps` weights.
                *p = unsafe { narrow_partial::<V>(row_slices(&rows[..kh], row), &w[..taps], row) };
            }
            let lo = _mm256_hadd_epi32(
                _mm256_hadd_epi32(part[0], part[1]),
                _mm256_hadd_epi32(part[2], part[3]),
            );
            let hi = _mm256_hadd_epi32(
                _mm256_hadd_epi32(part[4], part[5]),
                _mm256_hadd_epi32(part[6], part[7]),
            );
            let sum = _mm256_add_epi32(
                _mm256_permute2x128_si256(lo, hi, 0x20),
                _mm256_permute2x128_si256(lo, hi, 0x31),
            );
            let acc = _mm256_add_epi32(sum, _mm256_set1_epi32(bias[0]));
            let out = &mut y[oy * ow + ox..][..LANES];
            match fast {
                true => store8(requant8_right(acc, mv, sv, q), q, out),
                false => match requant8v(acc, mv, sv, q) {
                    Some(v) => store8(v, q, out),
                    None => {
                        let mut a = [0i32; LANES];
                        // SAFETY: a store into an 8-element i32 array.
                        unsafe { _mm256_storeu_si256(a.as_mut_ptr() as *mut __m256i, acc) };
                        for (d, a) in out.iter_mut().zip(a) {
                            *d = q.finish(a, 0);
                        }
                    }
                },
            }
            ox += LANES;
        }
        for ox in ox..ow {
            xp.rows((oy, ox), &mut rows);
            let out = &mut y[(oy * ow + ox) * oc..][..oc];
            for (o, yo) in out.iter_mut().enumerate() {
                // SAFETY: rows just set (`row` bytes each); `taps` weights.
                let d = unsafe {
                    narrow_dot::<V>(row_slices(&rows[..kh], row), &w[o * taps..][..taps], row)
                };
                *yo = q.finish(bias[o].wrapping_add(d), o);
            }
        }
    }
    true
}

/// Layers with few output channels (such as a decoder's last, one-channel convolution): each
/// output is one long dot product of the window rows (flipped input, 32 and 16 bytes per
/// instruction) with the weight rows as stored, so no lane is idle. Returns eight lanes
/// that add up to it.
#[inline(always)]
unsafe fn narrow_partial<'r, const V: u8>(
    rows: impl Iterator<Item = &'r [i8]>,
    w: &[i8],
    row: usize,
) -> __m256i {
    let mut a = _mm256_setzero_si256();
    let mut b = _mm_setzero_si128();
    let mut rest = 0i32;
    for (r, wr) in rows.zip(w.chunks_exact(row)) {
        let r = &r[..row];
        let mut i = 0;
        // SAFETY: every load reads bytes i..i+32 (or +16, +4) with that end <= row.
        unsafe {
            while i + 32 <= row {
                let u = _mm256_loadu_si256(r.as_ptr().add(i) as *const __m256i);
                let v = _mm256_loadu_si256(wr.as_ptr().add(i) as *const __m256i);
                a = dpv::<V>(a, u, v);
                i += 32;
            }
            if i + 16 <= row {
                let u = _mm_loadu_si128(r.as_ptr().add(i) as *const __m128i);
                let v = _mm_loadu_si128(wr.as_ptr().add(i) as *const __m128i);
                b = dp128v::<V>(b, u, v);
                i += 16;
            }
            while i + 4 <= row {
                let u = _mm_cvtsi32_si128((r.as_ptr().add(i) as *const i32).read_unaligned());
                let v = _mm_cvtsi32_si128((wr.as_ptr().add(i) as *const i32).read_unaligned());
                b = dp128v::<V>(b, u, v);
                i += 4;
            }
        }
        for (&u, &v) in r[i..].iter().zip(&wr[i..]) {
            rest = rest.wrapping_add((u as u8 as i32) * v as i32);
        }
    }
    // Lanes whose total is the dot product (the 128-bit part and the scalar rest folded
    // into the low lanes).
    let b = _mm_add_epi32(b, _mm_cvtsi32_si128(rest));
    _mm256_add_epi32(a, _mm256_zextsi128_si256(b))
}

/// The dot product [`narrow_partial`] spreads over eight lanes.
#[inline(always)]
unsafe fn narrow_dot<'r, const V: u8>(
    rows: impl Iterator<Item = &'r [i8]>,
    w: &[i8],
    row: usize,
) -> i32 {
    // SAFETY: the caller's contract.
    let a = unsafe { narrow_partial::<V>(rows, w, row) };
    let s = _mm_add_epi32(_mm256_castsi256_si128(a), _mm256_extracti128_si256(a, 1));
    let s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0b01_00_11_10));
    let s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0b10_11_00_01));
    _mm_cvtsi128_si32(s)
}
