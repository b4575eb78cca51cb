//! x86-64 paths of the int8 dense layer (AVX2, and VNNI where the CPU has it).

use super::int8::{CHUNK, ROWS};
use crate::kernels::Requant;
use core::arch::x86_64::*;

/// The main part of one block with AVX2: per chunk the 8 inputs are widened to i16 and
/// broadcast to both 128-bit lanes, the 32 weights (4 rows × 8) widened to two vectors of
/// 16 i16, and `vpmaddwd` forms exact i32 pair sums (|x·w| ≤ 2^14, no saturation). Same
/// integer sums as the portable loop.
#[target_feature(enable = "avx2")]
pub unsafe fn block(x: &[i8], w: &[i8], acc: &mut [i32; ROWS]) {
    let chunks = x.len() / CHUNK;
    assert!(w.len() >= chunks * ROWS * CHUNK);
    let mut a01 = _mm256_setzero_si256();
    let mut a23 = _mm256_setzero_si256();
    for c in 0..chunks {
        // SAFETY: 8 bytes of x and 32 of w at this chunk are in bounds (asserted above);
        // unaligned loads.
        let (xv, w01, w23) = unsafe {
            let xp = x.as_ptr().add(c * CHUNK) as *const __m128i;
            let wp = w.as_ptr().add(c * ROWS * CHUNK) as *const __m128i;
            (
                _mm_loadl_epi64(xp),
                _mm_loadu_si128(wp),
                _mm_loadu_si128(wp.add(1)),
            )
        };
        let x16 = _mm256_broadcastsi128_si256(_mm_cvtepi8_epi16(xv));
        a01 = _mm256_add_epi32(a01, _mm256_madd_epi16(_mm256_cvtepi8_epi16(w01), x16));
        a23 = _mm256_add_epi32(a23, _mm256_madd_epi16(_mm256_cvtepi8_epi16(w23), x16));
    }
    // Lanes 0-3 of a01 are row 0's partial sums, 4-7 row 1's; likewise a23.
    let h = _mm256_hadd_epi32(a01, a23); // r0 r0 r2 r2 | r1 r1 r3 r3
    let h = _mm256_hadd_epi32(h, h); // r0 r2 r0 r2 | r1 r3 r1 r3
    let lo = _mm256_castsi256_si128(h);
    let hi = _mm256_extracti128_si256(h, 1);
    let sums = [
        _mm_cvtsi128_si32(lo),
        _mm_cvtsi128_si32(hi),
        _mm_extract_epi32(lo, 1),
        _mm_extract_epi32(hi, 1),
    ];
    for (a, s) in acc.iter_mut().zip(sums) {
        *a = a.wrapping_add(s);
    }
}

/// `Requant::finish` on eight accumulators at once, exactly: the rounding doubling high
/// multiply as 64-bit products of the even and the odd lanes, the rounding right shift as
/// in `fixed::rounding_divide_by_pot`, then zero point, clamp and table. Returns false
/// (and writes nothing) if a multiplier is negative, where only the scalar code handles
/// TFLite's saturation case; parsed models never have one.
#[target_feature(enable = "avx2")]
pub unsafe fn requant8(acc: &[i32; 8], m: &[i32], sh: &[i32], q: &Requant, y: &mut [i8]) -> bool {
    assert!(m.len() == 8 && sh.len() == 8 && y.len() == 8);
    // SAFETY: unaligned 32-byte loads of three 8-element i32 arrays.
    let (a, mv, sv) = unsafe {
        (
            _mm256_loadu_si256(acc.as_ptr() as *const __m256i),
            _mm256_loadu_si256(m.as_ptr() as *const __m256i),
            _mm256_loadu_si256(sh.as_ptr() as *const __m256i),
        )
    };
    match requant8v(a, mv, sv, q) {
        Some(v) => {
            store8(v, q, y);
            true
        }
        None => false,
    }
}

/// The arithmetic of [`requant8`] on vectors: accumulators `a`, multipliers `mv`, shifts
/// `sv`. `None` if a multiplier is negative.
#[target_feature(enable = "avx2")]
#[inline]
pub(crate) fn requant8v(a: __m256i, mv: __m256i, sv: __m256i, q: &Requant) -> Option<__m256i> {
    if _mm256_movemask_ps(_mm256_castsi256_ps(mv)) != 0 {
        return None;
    }
    let zero = _mm256_setzero_si256();
    let one = _mm256_set1_epi32(1);
    let left = _mm256_max_epi32(sv, zero);
    let right = _mm256_max_epi32(_mm256_sub_epi32(zero, sv), zero);
    let v = doubling_high_mul(_mm256_sllv_epi32(a, left), mv);
    // v > i32::MIN here (multipliers are non-negative), so v + (v >> 31) cannot overflow.
    let t = _mm256_srav_epi32(
        _mm256_add_epi32(v, _mm256_srai_epi32(v, 31)),
        _mm256_sub_epi32(right, one),
    );
    let rounded = _mm256_add_epi32(_mm256_srai_epi32(t, 1), _mm256_and_si256(t, one));
    let v = _mm256_blendv_epi8(rounded, v, _mm256_cmpeq_epi32(right, zero));
    // Clamping to ±2^30 first keeps the zero-point add from overflowing and does not
    // change the final clamp to [min, 127].
    let v = _mm256_min_epi32(
        _mm256_max_epi32(v, _mm256_set1_epi32(-(1 << 30))),
        _mm256_set1_epi32(1 << 30),
    );
    let v = _mm256_add_epi32(v, _mm256_set1_epi32(q.output_zero_point));
    let v = _mm256_min_epi32(
        _mm256_max_epi32(v, _mm256_set1_epi32(q.min)),
        _mm256_set1_epi32(127),
    );
    Some(v)
}

/// TFLite's rounding doubling high multiply of eight lanes by non-negative multipliers:
/// `(a · m + 2^30) >> 31` from 64-bit products of the even and the odd lanes.
#[target_feature(enable = "avx2")]
#[inline]
fn doubling_high_mul(a: __m256i, mv: __m256i) -> __m256i {
    let nudge = _mm256_set1_epi64x(1 << 30);
    let even = _mm256_add_epi64(_mm256_mul_epi32(a, mv), nudge);
    let odd = _mm256_add_epi64(
        _mm256_mul_epi32(_mm256_srli_epi64(a, 32), _mm256_srli_epi64(mv, 32)),
        nudge,
    );
    // Bits 31..62 of each product: low half for even lanes, high half for odd ones.
    _mm256_blend_epi32(
        _mm256_srli_epi64(even, 31),
        _mm256_slli_epi64(odd, 1),
        0b1010_1010,
    )
}

/// Whether every channel can take [`requant8_right`]: non-negative multipliers and right
/// shifts of at least one (TFLite's usual case: scales below one half).
pub(crate) fn right_shifts_only(multiplier: &[i32], shift: &[i32]) -> bool {
    multiplier.iter().all(|&m| m >= 0) && shift.iter().all(|&s| s <= -1)
}

/// [`requant8v`] for channels passing [`right_shifts_only`]: with no left shift, no saturating
/// case and a right shift of at least one (so |v| <= 2^30 and the ±2^30 clamp is a no-op), the
/// same results in 12 fewer operations. `sv` holds the (negative) shifts.
#[target_feature(enable = "avx2")]
#[inline]
pub(crate) fn requant8_right(a: __m256i, mv: __m256i, sv: __m256i, q: &Requant) -> __m256i {
    let one = _mm256_set1_epi32(1);
    let v = doubling_high_mul(a, mv);
    // right - 1 = -shift - 1 = !shift.
    let rm1 = _mm256_xor_si256(sv, _mm256_set1_epi32(-1));
    let t = _mm256_srav_epi32(_mm256_add_epi32(v, _mm256_srai_epi32(v, 31)), rm1);
    let v = _mm256_add_epi32(_mm256_srai_epi32(t, 1), _mm256_and_si256(t, one));
    let v = _mm256_add_epi32(v, _mm256_set1_epi32(q.output_zero_point));
    _mm256_min_epi32(
        _mm256_max_epi32(v, _mm256_set1_epi32(q.min)),
        _mm256_set1_epi32(127),
    )
}

/// Writes eight requantized values (in `q.min..=127`) to `y`, through the table if any.
#[target_feature(enable = "avx2")]
#[inline]
pub(crate) fn store8(v: __m256i, q: &Requant, y: &mut [i8]) {
    let y = &mut y[..8];
    if q.lut.is_none() {
        // The values fit in i8 already: both saturating packs are exact.
        let w = _mm_packs_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
        // SAFETY: an 8-byte store into `y`, which holds 8 bytes.
        unsafe { _mm_storel_epi64(y.as_mut_ptr() as *mut __m128i, _mm_packs_epi16(w, w)) };
        return;
    }
    let mut out = [0i32; 8];
    // SAFETY: a 32-byte unaligned store into an 8-element i32 array.
    unsafe { _mm256_storeu_si256(out.as_mut_ptr() as *mut __m256i, v) };
    for (d, v) in y.iter_mut().zip(out) {
        *d = match q.lut {
            Some(t) => t[(v as u8 ^ 0x80) as usize],
            None => v as i8,
        };
    }
}

/// Full blocks of a dense layer, two blocks (8 rows) at a time, in one pass: with VNNI
/// (`vpdpbusd`: four u8 × i8 products added to each i32 lane) where the CPU has AVX-VNNI or
/// AVX-512 VNNI, else with the same sums from `vpmaddwd` on AVX2 ([`dpv`]). Returns how many
/// rows of `y` it wrote (a multiple of 8; 0 on CPUs without AVX2), so the caller finishes the
/// rest. `w` holds the full blocks in the packed layout, `k = x.len()`.
///
/// `vpdpbusd` multiplies unsigned by signed bytes, so the weights are flipped to `w + 128`
/// (one XOR) and `128 · Σx`, the same for every row, is subtracted once: in wrapping i32
/// arithmetic `Σ (w + 128)·x - 128·Σx = Σ w·x`, the portable sum bit for bit.
pub fn dense_pairs(x: &[i8], w: &[i8], q: &Requant, y: &mut [i8]) -> usize {
    use crate::kernels::isa;
    match isa::vnni() {
        // SAFETY: the CPU has AVX-512 VNNI and VL, hence AVX2.
        Some(true) => unsafe { pairs_avx512(x, w, q, y) },
        // SAFETY: the CPU has AVX-VNNI, hence AVX2.
        Some(false) => unsafe { pairs_avx(x, w, q, y) },
        // SAFETY: the CPU has AVX2 (and the cap allows it).
        None if isa::has(isa::AVX2) => unsafe { pairs_avx2(x, w, q, y) },
        None => 0,
    }
}

#[target_feature(enable = "avx2")]
unsafe fn pairs_avx2(x: &[i8], w: &[i8], q: &Requant, y: &mut [i8]) -> usize {
    // SAFETY: the caller checked the features `pairs` uses.
    unsafe { pairs::<EMULATED>(x, w, q, y) }
}

#[target_feature(enable = "avx2,avx512vnni,avx512vl")]
unsafe fn pairs_avx512(x: &[i8], w: &[i8], q: &Requant, y: &mut [i8]) -> usize {
    // SAFETY: the caller checked the features `pairs` uses.
    unsafe { pairs::<ZMM>(x, w, q, y) }
}

#[target_feature(enable = "avx2,avxvnni")]
unsafe fn pairs_avx(x: &[i8], w: &[i8], q: &Requant, y: &mut [i8]) -> usize {
    // SAFETY: the caller checked the features `pairs` uses.
    unsafe { pairs::<YMM>(x, w, q, y) }
}

/// AVX-512 VNNI with VL (EVEX encoding).
pub(crate) const ZMM: u8 = 2;
/// AVX-VNNI (VEX encoding).
pub(crate) const YMM: u8 = 1;
/// AVX2 alone: `vpdpbusd`'s sums from 16-bit products (AMD Zen 2/3, Intel before Ice Lake).
pub(crate) const EMULATED: u8 = 0;

/// `acc + Σ` of four u8 × i8 products per lane, in the encoding the CPU has (`V`). Without
/// VNNI the even and odd bytes are widened to 16 bits and multiplied pairwise (`vpmaddwd`):
/// |u·s| ≤ 255·128 fits and the lanes add wrapping, as `vpdpbusd` does, so every build gives
/// the same bits.
#[inline(always)]
pub(crate) unsafe fn dpv<const V: u8>(acc: __m256i, u: __m256i, s: __m256i) -> __m256i {
    // SAFETY: the caller is compiled with the features of its V.
    unsafe {
        match V {
            ZMM => _mm256_dpbusd_epi32(acc, u, s),
            YMM => _mm256_dpbusd_avx_epi32(acc, u, s),
            _ => {
                let u_even = _mm256_and_si256(u, _mm256_set1_epi16(0xff));
                let u_odd = _mm256_srli_epi16::<8>(u);
                let s_even = _mm256_srai_epi16::<8>(_mm256_slli_epi16::<8>(s));
                let s_odd = _mm256_srai_epi16::<8>(s);
                let p = _mm256_add_epi32(
                    _mm256_madd_epi16(u_even, s_even),
                    _mm256_madd_epi16(u_odd, s_odd),
                );
                _mm256_add_epi32(acc, p)
            }
        }
    }
}

/// [`dpv`] on 128-bit vectors: its low half on zero-extended vectors (the upper lanes add
/// nothing), so the emulation stays in one place.
#[inline(always)]
pub(crate) unsafe fn dp128v<const V: u8>(acc: __m128i, u: __m128i, s: __m128i) -> __m128i {
    let z = |v| _mm256_zextsi128_si256(v);
    // SAFETY: the caller is compiled with the features of its V.
    unsafe { _mm256_castsi256_si128(dpv::<V>(z(acc), z(u), z(s))) }
}

#[inline(always)]
unsafe fn pairs<const V: u8>(x: &[i8], w: &[i8], q: &Requant, y: &mut [i8]) -> usize {
    let k = x.len();
    let main = k - k % CHUNK;
    let t = k % CHUNK;
    let chunks = main / CHUNK;
    let pairs = y.len() / (2 * ROWS);
    if chunks == 0 || pairs == 0 {
        return 0;
    }
    assert!(w.len() >= pairs * 2 * ROWS * k && q.bias.len() >= pairs * 2 * ROWS);
    // The activation table, if any, is applied to all rows at once at the end.
    let (lut, q) = (q.lut, &Requant { lut: None, ..*q });
    let sum = |v: &[i8]| v.iter().fold(0i32, |a, &b| a.wrapping_add(b as i32));
    let (xm, xt) = x.split_at(main);
    let flip = _mm256_set1_epi8(-128);
    let corr = _mm256_set1_epi32(sum(xm).wrapping_mul(-128));
    // A 4-input tail is one more dword per row; other tail lengths are added in scalar code.
    let (xt4, tcorr) = if t == 4 {
        let v = i32::from_le_bytes([xt[0] as u8, xt[1] as u8, xt[2] as u8, xt[3] as u8]);
        (
            _mm256_set1_epi32(v),
            _mm256_set1_epi32(sum(xt).wrapping_mul(-128)),
        )
    } else {
        (_mm256_setzero_si256(), _mm256_setzero_si256())
    };
    // Lane order of `hadd(block a, block b)`: rows a0 a1 b0 b1 | a2 a3 b2 b3.
    let order = _mm256_setr_epi32(0, 1, 4, 5, 2, 3, 6, 7);
    let xp = x.as_ptr();
    for p in 0..pairs {
        let o = p * 2 * ROWS;
        // SAFETY: the pair's 8·k weights are in bounds (asserted above); all loads unaligned.
        let wa = unsafe { w.as_ptr().add(o * k) };
        let wb = unsafe { wa.add(ROWS * k) };
        let ld = |p: *const i8, c: usize| unsafe {
            _mm256_xor_si256(
                _mm256_loadu_si256(p.add(c * ROWS * CHUNK) as *const __m256i),
                flip,
            )
        };
        let xc = |c: usize| unsafe {
            _mm256_set1_epi64x((xp.add(c * CHUNK) as *const i64).read_unaligned())
        };
        let z = _mm256_setzero_si256();
        // Two accumulators per block keep two dependency chains each in flight.
        let (mut a0, mut a1, mut b0, mut b1) = (z, z, z, z);
        let mut c = 0;
        while c + 2 <= chunks {
            let (x0, x1) = (xc(c), xc(c + 1));
            unsafe {
                a0 = dpv::<V>(a0, ld(wa, c), x0);
                b0 = dpv::<V>(b0, ld(wb, c), x0);
                a1 = dpv::<V>(a1, ld(wa, c + 1), x1);
                b1 = dpv::<V>(b1, ld(wb, c + 1), x1);
            }
            c += 2;
        }
        if c < chunks {
            let x0 = xc(c);
            unsafe {
                a0 = dpv::<V>(a0, ld(wa, c), x0);
                b0 = dpv::<V>(b0, ld(wb, c), x0);
            }
        }
        let h = _mm256_hadd_epi32(_mm256_add_epi32(a0, a1), _mm256_add_epi32(b0, b1));
        let mut s = _mm256_add_epi32(_mm256_permutevar8x32_epi32(h, order), corr);
        // SAFETY: 8 biases from o (asserted above).
        s = _mm256_add_epi32(s, unsafe {
            _mm256_loadu_si256(q.bias.as_ptr().add(o) as *const __m256i)
        });
        if t == 4 {
            // SAFETY: each block's 16 tail bytes follow its chunks.
            let tw = unsafe {
                _mm256_loadu2_m128i(
                    wb.add(ROWS * main) as *const __m128i,
                    wa.add(ROWS * main) as *const __m128i,
                )
            };
            s = _mm256_add_epi32(s, unsafe {
                dpv::<V>(tcorr, _mm256_xor_si256(tw, flip), xt4)
            });
        } else if t > 0 {
            let mut acc = [0i32; 8];
            // SAFETY: a 32-byte unaligned store into an 8-element i32 array.
            unsafe { _mm256_storeu_si256(acc.as_mut_ptr() as *mut __m256i, s) };
            let tails = |b: usize| &w[o * k + b * ROWS * k + ROWS * main..][..ROWS * t];
            for (i, a) in acc.iter_mut().enumerate() {
                let row = &tails(i / ROWS)[(i % ROWS) * t..][..t];
                *a = a.wrapping_add(super::int8::dot(xt, row));
            }
            s = unsafe { _mm256_loadu_si256(acc.as_ptr() as *const __m256i) };
        }
        let (m, sh) = q.channels::<8>(o);
        // SAFETY: loads of two 8-element i32 arrays.
        let (mv, sv) = unsafe {
            (
                _mm256_loadu_si256(m.as_ptr() as *const __m256i),
                _mm256_loadu_si256(sh.as_ptr() as *const __m256i),
            )
        };
        let out = &mut y[o..o + 2 * ROWS];
        // The short form when all eight multipliers are >= 0 and all shifts <= -1 (sign bits).
        let signs = |v: __m256i| _mm256_movemask_ps(_mm256_castsi256_ps(v));
        if signs(mv) == 0 && signs(sv) == 0xff {
            store8(requant8_right(s, mv, sv, q), q, out);
            continue;
        }
        match requant8v(s, mv, sv, q) {
            Some(v) => store8(v, q, out),
            None => {
                let mut acc = [0i32; 8];
                // SAFETY: as above.
                unsafe { _mm256_storeu_si256(acc.as_mut_ptr() as *mut __m256i, s) };
                for (i, (d, a)) in out.iter_mut().zip(acc).enumerate() {
                    *d = q.finish_with(a, m[i], sh[i]);
                }
            }
        }
    }
    if let Some(t) = lut {
        crate::kernels::activation::lookup(&mut y[..pairs * 2 * ROWS], t);
    }
    pairs * 2 * ROWS
}
