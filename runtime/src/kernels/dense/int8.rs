//! The int8 fully connected layer with packed weights.
//!
//! A dense layer at batch 1 reads every weight once, so its speed is set by how many
//! instructions each weight costs. The weights are stored pre-arranged so that the kernel
//! computes [`ROWS`] outputs at once from one pass over the input, with one weight pointer:
//!
//! * rows are grouped in blocks of [`ROWS`]; within a block, the first `k - k % CHUNK` inputs
//!   come as chunks of [`CHUNK`] values, row after row (`[chunk][row][CHUNK]`), followed by
//!   each row's remaining `k % CHUNK` weights (`[row][k % CHUNK]`);
//! * the last `n % ROWS` rows follow in plain `[row][k]` order.
//!
//! The input zero point is folded into the bias when the model is built
//! (`bias - zp · Σw`, [`fold_zero_point`]), so the inner loop is a plain `Σ x·w`. In i32
//! wrapping arithmetic that is the same sum as TFLite's `Σ (x - zp)·w`, bit for bit.
//!
//! On Cortex-M cores with the DSP extension the inner loop is hand-written Thumb-2: per chunk
//! of 8 inputs it extends the inputs once (SXTB16) and then, for each of the 4 rows, loads 8
//! weights with one LDRD, extends them (4 × SXTB16) and multiply-accumulates pairs (4 ×
//! SMLAD): 42 instructions + 2 of loop control per 32 MACs, 1.375 per MAC.

use crate::dispatch;
use crate::kernels::Requant;

/// Output rows computed together.
pub const ROWS: usize = 4;
/// Inputs per packed chunk.
pub const CHUNK: usize = 8;

/// Index in the packed layout of weight `(row, col)` of a `rows × cols` matrix.
#[inline]
pub fn packed_index(row: usize, col: usize, rows: usize, cols: usize) -> usize {
    let full = rows - rows % ROWS;
    if row >= full {
        return row * cols + col;
    }
    let (block, r) = (row / ROWS, row % ROWS);
    let main = cols - cols % CHUNK;
    let base = block * ROWS * cols;
    if col < main {
        base + ((col / CHUNK) * ROWS + r) * CHUNK + col % CHUNK
    } else {
        base + ROWS * main + r * (cols % CHUNK) + (col - main)
    }
}

/// Rearranges row-major `[rows][cols]` weights into the packed layout. Both slices hold
/// `rows * cols` values (extra values are left alone).
pub fn pack(w: &[i8], rows: usize, cols: usize, out: &mut [i8]) {
    for r in 0..rows {
        for c in 0..cols {
            out[packed_index(r, c, rows, cols)] = w[r * cols + c];
        }
    }
}

/// The inverse of [`pack`].
pub fn unpack(packed: &[i8], rows: usize, cols: usize, out: &mut [i8]) {
    for r in 0..rows {
        for c in 0..cols {
            out[r * cols + c] = packed[packed_index(r, c, rows, cols)];
        }
    }
}

/// Folds the input zero point into row-major `[rows][cols]` weights' biases:
/// `bias[r] -= zero_point * Σ w[r][..]` (wrapping, as the accumulators do).
pub fn fold_zero_point(w: &[i8], cols: usize, zero_point: i32, bias: &mut [i32]) {
    for (b, row) in bias.iter_mut().zip(w.chunks_exact(cols.max(1))) {
        let sum: i32 = row.iter().map(|&v| v as i32).sum();
        *b = b.wrapping_sub(zero_point.wrapping_mul(sum));
    }
}

/// `Σ x·w` over one row.
#[inline(always)]
pub(super) fn dot(x: &[i8], w: &[i8]) -> i32 {
    x.iter()
        .zip(w)
        .fold(0i32, |a, (&p, &q)| a.wrapping_add(p as i32 * q as i32))
}

/// Adds the main (chunked) part of one block to `acc`, portably. `w` holds the block's
/// chunks, `x` the matching inputs.
#[cfg_attr(aedge_dsp, inline(never))]
#[cfg_attr(not(aedge_dsp), inline(always))]
fn block_generic(x: &[i8], w: &[i8], acc: &mut [i32; ROWS]) {
    for (xc, wc) in x.chunks_exact(CHUNK).zip(w.chunks_exact(ROWS * CHUNK)) {
        for (a, wr) in acc.iter_mut().zip(wc.chunks_exact(CHUNK)) {
            // At most 8 · 128 · 128 per chunk: no overflow inside.
            let s: i32 = xc.iter().zip(wr).map(|(&p, &q)| p as i32 * q as i32).sum();
            *a = a.wrapping_add(s);
        }
    }
}

/// The main part of one block: the assembly kernel where it applies, else portable code.
#[inline(always)]
fn block_main(x: &[i8], w: &[i8], acc: &mut [i32; ROWS]) {
    #[cfg(aedge_dsp)]
    {
        if super::cortex_m::usable(x, w) {
            super::cortex_m::block(x, w, acc);
            return;
        }
    }
    #[cfg(all(feature = "std", target_arch = "x86_64"))]
    {
        if crate::kernels::isa::has(crate::kernels::isa::AVX2) {
            // SAFETY: the CPU has AVX2 (checked just above).
            unsafe { super::x86::block(x, w, acc) };
            return;
        }
    }
    block_generic(x, w, acc)
}

/// Adds the `k % CHUNK` trailing inputs of one block (stored row after row).
#[inline(never)]
fn block_tail(x: &[i8], w: &[i8], acc: &mut [i32; ROWS]) {
    let t = x.len();
    for (a, wr) in acc.iter_mut().zip(w.chunks_exact(t)) {
        *a = a.wrapping_add(dot(x, wr));
    }
}

/// The last `n % ROWS` rows, stored plainly.
#[inline(never)]
fn plain_rows(x: &[i8], w: &[i8], q: &Requant, first: usize, y: &mut [i8]) {
    let k = x.len();
    for (i, (yo, wr)) in y.iter_mut().zip(w.chunks_exact(k)).enumerate() {
        let o = first + i;
        *yo = q.finish(q.bias[o].wrapping_add(dot(x, wr)), o);
    }
}

#[inline(always)]
fn dense_impl(x: &[i8], w: &[i8], q: &Requant, y: &mut [i8]) {
    let (k, n) = (x.len(), y.len());
    if k == 0 {
        for (o, yo) in y.iter_mut().enumerate() {
            *yo = q.finish(q.bias[o], o);
        }
        return;
    }
    let main = k - k % CHUNK;
    let full = n - n % ROWS;
    let (xm, xt) = x.split_at(main);
    let (wb, wrest) = w.split_at(full * k);
    let (yb, yrest) = y.split_at_mut(full);
    #[cfg(aedge_dsp)]
    {
        if xt.is_empty()
            && full > 0
            && super::cortex_m::usable(x, wb)
            && super::cortex_m::takes(k, q)
        {
            // The kernel stores the clamped pre-table values; a table, if any, maps them
            // after (the same as `Requant::finish`).
            super::cortex_m::layer(x, wb, &Requant { lut: None, ..*q }, yb);
            if let Some(t) = q.lut {
                crate::kernels::activation::lookup(yb, t);
            }
            if !yrest.is_empty() {
                plain_rows(x, &wrest[..yrest.len() * k], q, full, yrest);
            }
            return;
        }
    }
    // Accumulators of one block (bias included).
    let block = |b: usize| {
        let o = b * ROWS;
        let blk = &wb[b * ROWS * k..][..ROWS * k];
        let bias = &q.bias[o..o + ROWS];
        let mut acc = [bias[0], bias[1], bias[2], bias[3]];
        let (bm, bt) = blk.split_at(ROWS * main);
        if main > 0 {
            block_main(xm, bm, &mut acc);
        }
        if !xt.is_empty() {
            block_tail(xt, bt, &mut acc);
        }
        acc
    };
    let blocks = full / ROWS;
    #[cfg(all(feature = "std", target_arch = "x86_64"))]
    let mut b = super::x86::dense_pairs(x, wb, q, yb) / ROWS;
    #[cfg(all(feature = "std", target_arch = "aarch64"))]
    let mut b = super::aarch64::dense_blocks(x, wb, q, yb) / ROWS;
    #[cfg(not(all(feature = "std", any(target_arch = "x86_64", target_arch = "aarch64"))))]
    let mut b = 0;
    while b < blocks {
        let o = b * ROWS;
        // Two blocks at a time where eight outputs can be requantized in one vector.
        #[cfg(all(feature = "std", target_arch = "x86_64"))]
        {
            if b + 1 < blocks && crate::kernels::isa::has(crate::kernels::isa::AVX2) {
                let (a0, a1) = (block(b), block(b + 1));
                let acc = [a0[0], a0[1], a0[2], a0[3], a1[0], a1[1], a1[2], a1[3]];
                let (m, sh) = q.channels::<8>(o);
                // SAFETY: the CPU has AVX2 (checked just above).
                if unsafe { super::x86::requant8(&acc, &m, &sh, q, &mut yb[o..o + 8]) } {
                    b += 2;
                    continue;
                }
            }
        }
        let acc = block(b);
        let (m, sh) = q.channels::<ROWS>(o);
        for (((yo, a), m), sh) in yb[o..o + ROWS].iter_mut().zip(acc).zip(m).zip(sh) {
            *yo = q.finish_with(a, m, sh);
        }
        b += 1;
    }
    if !yrest.is_empty() {
        plain_rows(x, &wrest[..yrest.len() * k], q, full, yrest);
    }
}

dispatch! {
    /// Fully connected int8 layer: `x` has `k` values, `w` the packed `[y.len()][k]` weights, and
    /// `q.bias` already holds the folded input zero point (`q.input_zero_point` is not used).
    pub fn dense [] (x: &[i8], w: &[i8], q: &Requant, y: &mut [i8]) => dense_impl [] for [avx2]
}
