//! The int8 fully connected layer on Cortex-M cores with the DSP extension: the Thumb-2 inner
//! loops described in [`super::int8`].

use super::int8::{CHUNK, ROWS};

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
pub fn layer(x: &[i8], w: &[i8], q: &crate::kernels::Requant, y: &mut [i8]) {
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
pub fn takes(k: usize, q: &crate::kernels::Requant) -> bool {
    if q.multiplier.len() != 1 {
        return true;
    }
    (1..=22).contains(&-q.shift[0]) && k < PT_MAX_K && (-128..=127).contains(&q.output_zero_point)
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
