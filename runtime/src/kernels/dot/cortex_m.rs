//! The int8 dot product with the Cortex-M DSP extension (M4, M7, M33).

use core::arch::asm;

/// Four values per step: SXTB16 splits each word of four i8 into two pairs of i16,
/// SSUB16 subtracts the zero point in both lanes (|x - zp| <= 255 fits i16), SMLAD adds
/// two products to the accumulator. Integer adds wrap, so the sum equals the generic one.
#[inline]
pub fn dot(x: &[i8], w: &[i8], zero_point: i32) -> i32 {
    let n = x.len().min(w.len());
    let quads = n / 4;
    let zp = zero_point as u32;
    let zp2 = (zp & 0xffff) | (zp << 16);
    let mut acc = 0i32;
    for q in 0..quads {
        // SAFETY: 4q + 3 < n, and Cortex-M4/M7/M33 load unaligned words from RAM and flash.
        let (xv, wv) = unsafe {
            (
                (x.as_ptr().add(4 * q) as *const u32).read_unaligned(),
                (w.as_ptr().add(4 * q) as *const u32).read_unaligned(),
            )
        };
        // SAFETY: register-only arithmetic; the temporaries are written before they are
        // read and never share a register with the inputs (`out`, not `lateout`).
        unsafe {
            asm!(
                "sxtb16 {xe}, {xv}",
                "sxtb16 {xo}, {xv}, ror #8",
                "ssub16 {xe}, {xe}, {zp}",
                "ssub16 {xo}, {xo}, {zp}",
                "sxtb16 {we}, {wv}",
                "sxtb16 {wo}, {wv}, ror #8",
                "smlad {acc}, {xe}, {we}, {acc}",
                "smlad {acc}, {xo}, {wo}, {acc}",
                xv = in(reg) xv,
                wv = in(reg) wv,
                zp = in(reg) zp2,
                xe = out(reg) _,
                xo = out(reg) _,
                we = out(reg) _,
                wo = out(reg) _,
                acc = inout(reg) acc,
                options(pure, nomem, nostack),
            );
        }
    }
    for i in 4 * quads..n {
        acc = acc.wrapping_add((x[i] as i32 - zero_point) * w[i] as i32);
    }
    acc
}
