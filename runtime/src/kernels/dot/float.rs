//! f32 dot products: `Σ x·w` over f32 inputs and [`Weight`] weights.

use crate::kernels::Weight;

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
    if crate::kernels::isa::has(crate::kernels::isa::AVX2) {
        // SAFETY: the CPU has AVX2 and F16C (checked just above).
        return unsafe { super::x86::dot_avx(x, w) };
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

/// `Σ x·w` over several rows of `x` against `w` (the rows' weights back to back), with the
/// four accumulator chains of [`dot`] carried across rows and one final reduction: per row,
/// 32-value groups go to the four chains, then up to three 8-value groups to chains 0, 1, 2,
/// then the last `len % 8` products to a scalar sum.
#[cfg(feature = "std")]
#[inline(always)]
pub(crate) fn dot_rows<'r, W: Weight>(rows: impl Iterator<Item = &'r [f32]>, w: &[W]) -> f32 {
    #[cfg(target_arch = "x86_64")]
    if crate::kernels::isa::has(crate::kernels::isa::AVX2) {
        // SAFETY: the CPU has AVX2 and F16C (checked just above).
        return unsafe { super::x86::dot_rows_avx(rows, w) };
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
