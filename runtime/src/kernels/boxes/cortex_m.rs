//! The box overlap and learning with the Cortex-M DSP extension (M4, M7, M33): four bytes
//! per step.

use core::arch::asm;

/// The `q`-th (unaligned) words of `w` and `x`.
///
/// # Safety
/// `4q + 3` must be below both lengths.
#[inline(always)]
unsafe fn words(w: &[u8], x: &[u8], q: usize) -> (u32, u32) {
    // SAFETY: in bounds by the caller's promise; Cortex-M4/M7/M33 load unaligned words from
    // RAM and flash.
    unsafe {
        (
            (w.as_ptr().add(4 * q) as *const u32).read_unaligned(),
            (x.as_ptr().add(4 * q) as *const u32).read_unaligned(),
        )
    }
}

/// `min(w, x)` per byte: UQSUB8 gives `max(w − x, 0)`, USUB8 takes it from `w` (never below
/// 0).
#[inline(always)]
fn least(wv: u32, xv: u32) -> u32 {
    let d: u32;
    // SAFETY: register-only arithmetic (USUB8 also sets the GE flags, which nothing reads);
    // the temporary is written before it is read and shares no input register.
    unsafe {
        asm!(
            "uqsub8 {d}, {wv}, {xv}",
            "usub8 {d}, {wv}, {d}",
            wv = in(reg) wv,
            xv = in(reg) xv,
            d = out(reg) d,
            options(pure, nomem, nostack),
        );
    }
    d
}

/// [`least`], then USADA8 against zero adds a word's four bytes to a sum: six instructions
/// for four bytes, loads included, against about thirty for the byte loop.
#[inline]
pub fn overlap(w: &[u8], x: &[u8]) -> (u32, u32) {
    let n = w.len().min(x.len());
    let quads = n / 4;
    let (mut common, mut size) = (0u32, 0u32);
    for q in 0..quads {
        // SAFETY: 4q + 3 < n.
        let (wv, xv) = unsafe { words(w, x, q) };
        let d = least(wv, xv);
        // SAFETY: register-only arithmetic.
        unsafe {
            asm!(
                "usada8 {c}, {d}, {zero}, {c}",
                "usada8 {s}, {wv}, {zero}, {s}",
                wv = in(reg) wv,
                d = in(reg) d,
                zero = in(reg) 0u32,
                c = inout(reg) common,
                s = inout(reg) size,
                options(pure, nomem, nostack),
            );
        }
    }
    for i in 4 * quads..n {
        common += w[i].min(x[i]) as u32;
        size += w[i] as u32;
    }
    (common, size)
}

/// [`least`] stored back into `w`: five instructions for four bytes, loads and store
/// included.
#[inline]
pub fn learn(w: &mut [u8], x: &[u8]) {
    let n = w.len().min(x.len());
    let quads = n / 4;
    for q in 0..quads {
        // SAFETY: 4q + 3 < n.
        let (wv, xv) = unsafe { words(w, x, q) };
        // SAFETY: as the load (`w` is in RAM).
        unsafe { (w.as_mut_ptr().add(4 * q) as *mut u32).write_unaligned(least(wv, xv)) };
    }
    for i in 4 * quads..n {
        w[i] = w[i].min(x[i]);
    }
}
