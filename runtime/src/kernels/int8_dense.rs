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

use super::int8::Requant;

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
#[inline]
fn dot(x: &[i8], w: &[i8]) -> i32 {
    x.iter()
        .zip(w)
        .fold(0i32, |a, (&p, &q)| a.wrapping_add(p as i32 * q as i32))
}

/// Adds the main (chunked) part of one block to `acc`, portably. `w` holds the block's
/// chunks, `x` the matching inputs.
#[cfg_attr(aedge_dsp, inline(never))]
#[cfg_attr(not(aedge_dsp), inline)]
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
        if dsp::usable(x, w) {
            dsp::block(x, w, acc);
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

/// Fully connected int8 layer: `x` has `k` values, `w` the packed `[y.len()][k]` weights, and
/// `q.bias` already holds the folded input zero point (`q.input_zero_point` is not used).
pub fn dense(x: &[i8], w: &[i8], q: &Requant, y: &mut [i8]) {
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
    for (b, (blk, yq)) in wb
        .chunks_exact(ROWS * k)
        .zip(yb.chunks_exact_mut(ROWS))
        .enumerate()
    {
        let o = b * ROWS;
        let bias = &q.bias[o..o + ROWS];
        let mut acc = [bias[0], bias[1], bias[2], bias[3]];
        let (bm, bt) = blk.split_at(ROWS * main);
        if main > 0 {
            block_main(xm, bm, &mut acc);
        }
        if !xt.is_empty() {
            block_tail(xt, bt, &mut acc);
        }
        let (m, sh) = (&q.multiplier[o..o + ROWS], &q.shift[o..o + ROWS]);
        for (((yo, a), &m), &sh) in yq.iter_mut().zip(acc).zip(m).zip(sh) {
            *yo = q.finish_with(a, m, sh);
        }
    }
    if !yrest.is_empty() {
        plain_rows(x, &wrest[..yrest.len() * k], q, full, yrest);
    }
}

#[cfg(aedge_dsp)]
mod dsp {
    use super::{CHUNK, ROWS};

    // r0 = x, r1 = packed weights, r2 = end of x, r3 = the 4 accumulators (in/out).
    // Registers: r3-r6 accumulators, r7-r10 the extended inputs, r11/r12/lr the weights.
    // LDRD needs word-aligned addresses, which `usable` checks.
    core::arch::global_asm!(
        ".section .text.aedge_dot4x8,\"ax\",%progbits",
        ".global aedge_dot4x8",
        ".type aedge_dot4x8,%function",
        ".thumb_func",
        ".p2align 2",
        "aedge_dot4x8:",
        "push {{r3-r11, lr}}",
        "ldm r3, {{r3-r6}}",
        "1:",
        "ldrd r11, r12, [r0], #8",
        "sxtb16 r7, r11",
        "sxtb16 r8, r11, ror #8",
        "sxtb16 r9, r12",
        "sxtb16 r10, r12, ror #8",
        ".irp acc, r3, r4, r5, r6",
        "ldrd r11, r12, [r1], #8",
        "sxtb16 lr, r11",
        "smlad \\acc, r7, lr, \\acc",
        "sxtb16 r11, r11, ror #8",
        "smlad \\acc, r8, r11, \\acc",
        "sxtb16 lr, r12",
        "smlad \\acc, r9, lr, \\acc",
        "sxtb16 r12, r12, ror #8",
        "smlad \\acc, r10, r12, \\acc",
        ".endr",
        "cmp r0, r2",
        "bne 1b",
        "ldr r12, [sp]",
        "stm r12, {{r3-r6}}",
        "pop {{r3-r11, pc}}",
        ".size aedge_dot4x8, . - aedge_dot4x8",
    );

    extern "C" {
        fn aedge_dot4x8(x: *const i8, w: *const i8, end: *const i8, acc: *mut i32);
    }

    /// Whether the assembly kernel may run: word-aligned inputs and weights (for LDRD).
    #[inline]
    pub fn usable(x: &[i8], w: &[i8]) -> bool {
        (x.as_ptr() as usize | w.as_ptr() as usize) % 4 == 0
    }

    /// The main part of one block. `x.len()` is a non-zero multiple of [`CHUNK`] and
    /// `w.len() == ROWS * x.len()`.
    #[inline]
    pub fn block(x: &[i8], w: &[i8], acc: &mut [i32; ROWS]) {
        debug_assert!(x.len() % CHUNK == 0 && !x.is_empty() && w.len() == ROWS * x.len());
        // SAFETY: the loop reads x[..x.len()] in steps of 8 until it reaches `end` (x.len() is
        // a non-zero multiple of 8) and exactly 4 · x.len() weights, which `w` holds; both are
        // word-aligned (checked by `usable`); it writes the 4 accumulators and restores every
        // callee-saved register it uses.
        unsafe {
            aedge_dot4x8(
                x.as_ptr(),
                w.as_ptr(),
                x.as_ptr().add(x.len()),
                acc.as_mut_ptr(),
            )
        }
    }
}
