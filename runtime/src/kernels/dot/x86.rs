//! The f32 dot products in AVX intrinsics.

use crate::kernels::Weight;

/// [`dot_wide`] in AVX intrinsics, the same additions in the same order (the compiler's own
/// vectorisation of the generic code shuffles lanes and runs at a third of the speed).
#[cfg(all(feature = "std", target_arch = "x86_64"))]
#[inline(always)]
pub(super) unsafe fn dot_avx<W: Weight>(x: &[f32], w: &[W]) -> f32 {
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

/// [`dot_rows`] in AVX intrinsics, the same additions in the same order.
#[cfg(all(feature = "std", target_arch = "x86_64"))]
#[inline(always)]
pub(super) unsafe fn dot_rows_avx<'r, W: Weight>(
    rows: impl Iterator<Item = &'r [f32]>,
    w: &[W],
) -> f32 {
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
