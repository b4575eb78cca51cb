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

use super::dispatch;
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
#[inline(always)]
fn dot(x: &[i8], w: &[i8]) -> i32 {
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
        if dsp::usable(x, w) {
            dsp::block(x, w, acc);
            return;
        }
    }
    #[cfg(all(feature = "std", target_arch = "x86_64"))]
    {
        if super::avx2() {
            // SAFETY: the CPU has AVX2 (checked just above).
            unsafe { x86::block(x, w, acc) };
            return;
        }
    }
    block_generic(x, w, acc)
}

#[cfg(all(feature = "std", target_arch = "x86_64"))]
#[path = "int8_dense_x86.rs"]
pub(crate) mod x86;

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
        if xt.is_empty() && full > 0 && dsp::usable(x, wb) && dsp::takes(k, q) {
            // The kernel stores the clamped pre-table values; a table, if any, maps them
            // after (the same as `Requant::finish`).
            dsp::layer(x, wb, &Requant { lut: None, ..*q }, yb);
            if let Some(t) = q.lut {
                super::int8::lookup(yb, t);
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
    let mut b = x86::dense_vnni(x, wb, q, yb) / ROWS;
    #[cfg(not(all(feature = "std", target_arch = "x86_64")))]
    let mut b = 0;
    while b < blocks {
        let o = b * ROWS;
        // Two blocks at a time where eight outputs can be requantized in one vector.
        #[cfg(all(feature = "std", target_arch = "x86_64"))]
        {
            if b + 1 < blocks && super::avx2() {
                let (a0, a1) = (block(b), block(b + 1));
                let acc = [a0[0], a0[1], a0[2], a0[3], a1[0], a1[1], a1[2], a1[3]];
                let (m, sh) = q.channels::<8>(o);
                // SAFETY: the CPU has AVX2 (checked just above).
                if unsafe { x86::requant8(&acc, &m, &sh, q, &mut yb[o..o + 8]) } {
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
    pub fn dense [] (x: &[i8], w: &[i8], q: &Requant, y: &mut [i8]) => dense_impl []
}

#[cfg(aedge_dsp)]
mod dsp {
    use super::{CHUNK, ROWS};

    extern "C" {
        fn aedge_dot4x8(x: *const i8, w: *const i8, end: *const i8, acc: *mut i32);
        fn aedge_dense4x8(args: *mut LayerArgs);
        fn aedge_dense4x8_noclamp(args: *mut LayerArgs);
        fn aedge_dense4x8_pt(args: *mut PtArgs);
        fn aedge_dense4x8_pt_noclamp(args: *mut PtArgs);
    }

    /// The per-tensor whole-layer kernel's state (read and advanced by field offset).
    #[repr(C)]
    struct PtArgs {
        x: *const i8,     // 0
        x_end: *const i8, // 4
        w: *const i8,     // 8
        y: *mut i8,       // 12
        bias: *const i32, // 16
        blocks: u32,      // 20
        multiplier: i32,  // 24
        right_shift: i32, // 28
        nudge: i32,       // 32: 2^(right_shift - 1) + zero_point · 2^right_shift
        min: i32,         // 36
    }

    /// Largest `k` for the per-tensor kernel: with |bias| < 2^29, `k · 127 · 128 < 2^29` keeps
    /// every accumulator below 2^30.
    const PT_MAX_K: usize = 1 << 14;

    /// The whole-layer kernel's state; the assembly reads and advances it by field offset.
    #[repr(C)]
    struct LayerArgs {
        x: *const i8,           // 0
        x_end: *const i8,       // 4
        w: *const i8,           // 8
        multiplier: *const i32, // 12
        shift: *const i32,      // 16
        y: *mut i8,             // 20
        bias: *const i32,       // 24
        blocks: u32,            // 28
        zero_point: i32,        // 32
        min: i32,               // 36
    }

    // The whole layer for k % 8 == 0 and no lookup table: per block of 4 rows, the
    // accumulators start at the biases, the inner loop runs four chunks per iteration (the
    // count mod 4 first), then each accumulator is requantized exactly as
    // `Requant::finish` (left shift, rounding doubling high multiply, rounding right shift,
    // zero point, clamp) and stored. Multipliers are non-negative (checked at parse), so
    // the high multiply's saturation case cannot occur.
    core::arch::global_asm!(
        ".macro AEDGE_CHUNK",
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
        ".endm",
        // One block's dot products from x = r0 to x_end = r2: the chunk count mod 4 first
        // (one, then two), then four chunks per loop iteration.
        ".macro AEDGE_BLOCK_DOT",
        "sub r7, r2, r0",
        "tst r7, #8",
        "beq 6f",
        "AEDGE_CHUNK",
        "6:",
        "sub r7, r2, r0",
        "tst r7, #16",
        "beq 7f",
        "AEDGE_CHUNK",
        "AEDGE_CHUNK",
        "7:",
        "cmp r0, r2",
        "beq 5f",
        "4:",
        "AEDGE_CHUNK",
        "AEDGE_CHUNK",
        "AEDGE_CHUNK",
        "AEDGE_CHUNK",
        "cmp r0, r2",
        "bne 4b",
        "5:",
        ".endm",
        ".macro AEDGE_REQUANT a, clamp",
        "ldr r9, [r0], #4",
        "ldr r10, [r1], #4",
        "cmp r10, #0",
        "ble 1f",
        "lsl \\a, \\a, r10",
        "movs r10, #0",
        "1:",
        "smull r11, lr, \\a, r9",
        "adds r11, r11, #0x40000000",
        "adc lr, lr, #0",
        "lsr r11, r11, #31",
        "orr \\a, r11, lr, lsl #1",
        "rsbs r10, r10, #0",
        "beq 2f",
        "sub r10, r10, #1",
        "asr r11, \\a, #31",
        "qadd \\a, \\a, r11",
        "asr \\a, \\a, r10",
        "and r11, \\a, #1",
        "add \\a, r11, \\a, asr #1",
        "2:",
        "qadd \\a, \\a, r7",
        ".if \\clamp",
        "cmp \\a, r8",
        "it lt",
        "movlt \\a, r8",
        ".endif",
        "ssat \\a, #8, \\a",
        "strb \\a, [r2], #1",
        ".endm",
        // aedge_dot4x8: r0 = x, r1 = packed weights, r2 = end of x, r3 = the 4 accumulators
        // (in/out); the main part of one block, for the layers the whole-layer routine
        // does not take. Registers: r3-r6 accumulators, r7-r10 the extended inputs,
        // r11/r12/lr the weights. LDRD needs word-aligned addresses (`usable`).
        ".section .text.aedge_dot4x8,\"ax\",%progbits",
        ".global aedge_dot4x8",
        ".type aedge_dot4x8,%function",
        ".thumb_func",
        ".p2align 2",
        "aedge_dot4x8:",
        "push {{r3-r11, lr}}",
        "ldm r3, {{r3-r6}}",
        "1:",
        "AEDGE_CHUNK",
        "cmp r0, r2",
        "bne 1b",
        "ldr r12, [sp]",
        "stm r12, {{r3-r6}}",
        "pop {{r3-r11, pc}}",
        ".size aedge_dot4x8, . - aedge_dot4x8",
        // One layer routine; `clamp` adds the lower clamp at `min` (a ReLU whose zero point
        // is above -128), which SSAT alone covers when min is -128.
        ".macro AEDGE_LAYER name, clamp",
        ".section .text.\\name,\"ax\",%progbits",
        ".global \\name",
        ".type \\name,%function",
        ".thumb_func",
        ".p2align 2",
        "\\name:",
        "push {{r0, r4-r11, lr}}",
        "3:",
        "ldr r12, [sp]",
        "ldr lr, [r12, #24]",
        "ldm lr!, {{r3-r6}}",
        "str lr, [r12, #24]",
        "ldrd r0, r2, [r12]",
        "ldr r1, [r12, #8]",
        "AEDGE_BLOCK_DOT",
        "ldr r12, [sp]",
        "str r1, [r12, #8]",
        "add r9, r12, #12",
        "ldm r9, {{r0-r2}}",
        "ldrd r7, r8, [r12, #32]",
        "AEDGE_REQUANT r3, \\clamp",
        "AEDGE_REQUANT r4, \\clamp",
        "AEDGE_REQUANT r5, \\clamp",
        "AEDGE_REQUANT r6, \\clamp",
        "add r9, r12, #12",
        "stm r9, {{r0-r2}}",
        "ldr r3, [r12, #28]",
        "subs r3, r3, #1",
        "str r3, [r12, #28]",
        "bne 3b",
        "pop {{r0, r4-r11, pc}}",
        ".size \\name, . - \\name",
        ".endm",
        "AEDGE_LAYER aedge_dense4x8, 1",
        "AEDGE_LAYER aedge_dense4x8_noclamp, 0",
        // Per-tensor requantization with the multiplier in r9, the right shift in r10 and
        // the rounding nudge plus the zero point (2^(r-1) + zp·2^r) in r11. With |acc| < 2^30
        // (|bias| < 2^29 checked at parse, k < 2^14 at the call) the rounding doubling high
        // multiply is SMMULR of 2·acc, and the rounding shift, zero point included, is one
        // add and one shift: `floor((x + 2^(r-1) - [x < 0]) / 2^r) + zp`, TFLite's
        // RoundingDivideByPOT (see `fixed`), without overflow for r <= 22.
        ".macro AEDGE_REQUANT_PT a, clamp",
        "lsl \\a, \\a, #1",
        "smmulr \\a, \\a, r9",
        "add lr, r11, \\a, asr #31",
        "add \\a, \\a, lr",
        "asr \\a, \\a, r10",
        ".if \\clamp",
        "cmp \\a, r8",
        "it lt",
        "movlt \\a, r8",
        ".endif",
        "ssat \\a, #8, \\a",
        "strb \\a, [r2], #1",
        ".endm",
        // As AEDGE_LAYER with `PtArgs`; the weights pointer stays in r1 across blocks.
        ".macro AEDGE_LAYER_PT name, clamp",
        ".section .text.\\name,\"ax\",%progbits",
        ".global \\name",
        ".type \\name,%function",
        ".thumb_func",
        ".p2align 2",
        "\\name:",
        "push {{r0, r4-r11, lr}}",
        "ldr r1, [r0, #8]",
        "3:",
        "ldr r12, [sp]",
        "ldr lr, [r12, #16]",
        "ldm lr!, {{r3-r6}}",
        "str lr, [r12, #16]",
        "ldrd r0, r2, [r12]",
        "AEDGE_BLOCK_DOT",
        "ldr r12, [sp]",
        "ldr r2, [r12, #12]",
        "ldrd r9, r10, [r12, #24]",
        "ldrd r11, r8, [r12, #32]",
        "AEDGE_REQUANT_PT r3, \\clamp",
        "AEDGE_REQUANT_PT r4, \\clamp",
        "AEDGE_REQUANT_PT r5, \\clamp",
        "AEDGE_REQUANT_PT r6, \\clamp",
        "str r2, [r12, #12]",
        "ldr r3, [r12, #20]",
        "subs r3, r3, #1",
        "str r3, [r12, #20]",
        "bne 3b",
        "pop {{r0, r4-r11, pc}}",
        ".size \\name, . - \\name",
        ".endm",
        "AEDGE_LAYER_PT aedge_dense4x8_pt, 1",
        "AEDGE_LAYER_PT aedge_dense4x8_pt_noclamp, 0",
    );

    /// All full blocks of a layer whose `k` is a non-zero multiple of [`CHUNK`], without a
    /// lookup table. `w` holds exactly the blocks' weights and `y` their outputs.
    pub fn layer(x: &[i8], w: &[i8], q: &super::Requant, y: &mut [i8]) {
        let blocks = y.len() / ROWS;
        assert!(
            !x.is_empty()
                && x.len().is_multiple_of(CHUNK)
                && blocks > 0
                && y.len() == blocks * ROWS
                && w.len() == y.len() * x.len()
                && q.bias.len() >= y.len()
                && q.multiplier.len() == q.shift.len()
                && (q.multiplier.len() >= y.len() || takes(x.len(), q))
                && q.lut.is_none()
        );
        if q.multiplier.len() == 1 {
            let r = -q.shift[0];
            let mut args = PtArgs {
                x: x.as_ptr(),
                // SAFETY: one past the end of `x`.
                x_end: unsafe { x.as_ptr().add(x.len()) },
                w: w.as_ptr(),
                y: y.as_mut_ptr(),
                bias: q.bias.as_ptr(),
                blocks: blocks as u32,
                multiplier: q.multiplier[0],
                right_shift: r,
                nudge: (1 << (r - 1)) + (q.output_zero_point << r),
                min: q.min,
            };
            // SAFETY: as below; in addition the model parser checked |bias| < 2^29 for
            // per-tensor layers and k < 2^14 here, so the SMMULR shortcut is exact.
            unsafe {
                if q.min <= -128 {
                    aedge_dense4x8_pt_noclamp(&mut args)
                } else {
                    aedge_dense4x8_pt(&mut args)
                }
            }
            return;
        }
        let mut args = LayerArgs {
            x: x.as_ptr(),
            // SAFETY: one past the end of `x`.
            x_end: unsafe { x.as_ptr().add(x.len()) },
            w: w.as_ptr(),
            multiplier: q.multiplier.as_ptr(),
            shift: q.shift.as_ptr(),
            y: y.as_mut_ptr(),
            bias: q.bias.as_ptr(),
            blocks: blocks as u32,
            zero_point: q.output_zero_point,
            min: q.min,
        };
        // SAFETY: checked above: per block the kernel reads all of `x` (8 bytes at a time;
        // its length is a non-zero multiple of 8), 4·x.len() bytes of `w`, 4 biases,
        // multipliers and shifts, and writes 4 outputs; `blocks` blocks fit every slice. x and
        // w are word-aligned (`usable`, required by LDRD). Callee-saved registers are restored.
        unsafe {
            if q.min <= -128 {
                aedge_dense4x8_noclamp(&mut args)
            } else {
                aedge_dense4x8(&mut args)
            }
        }
    }

    /// Whether the assembly kernel may run: word-aligned inputs and weights (for LDRD).
    #[inline]
    pub fn usable(x: &[i8], w: &[i8]) -> bool {
        (x.as_ptr() as usize | w.as_ptr() as usize).is_multiple_of(4)
    }

    /// Whether [`layer`] takes these requantization parameters: per channel, or per tensor
    /// within the per-tensor kernel's range (a right shift of 1..=22, k < 2^14).
    #[inline]
    pub fn takes(k: usize, q: &super::Requant) -> bool {
        if q.multiplier.len() != 1 {
            return true;
        }
        (1..=22).contains(&-q.shift[0])
            && k < PT_MAX_K
            && (-128..=127).contains(&q.output_zero_point)
    }

    /// The main part of one block. `x.len()` is a non-zero multiple of [`CHUNK`] and
    /// `w.len() == ROWS * x.len()`.
    #[inline]
    pub fn block(x: &[i8], w: &[i8], acc: &mut [i32; ROWS]) {
        debug_assert!(x.len().is_multiple_of(CHUNK) && !x.is_empty() && w.len() == ROWS * x.len());
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
