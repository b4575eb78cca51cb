//! The moving kernels of [`super::spatial`] on Cortex-M cores with the DSP extension.

use core::arch::asm;

/// `out[i] = max(out[i], xs[i])` on int8 channels, four per word: `SSUB8` sets a GE flag for
/// each byte where `xs >= out`, `SEL` takes those bytes from `xs` and the others from `out`.
/// Equal bytes are the same value either way, so the result is the portable kernel's.
/// Lengths not a multiple of four finish byte by byte.
#[inline(always)]
pub(super) fn max_into_i8(out: &mut [i8], xs: &[i8]) {
    let mut oc = out.chunks_exact_mut(4);
    let mut xc = xs.chunks_exact(4);
    for (o, v) in (&mut oc).zip(&mut xc) {
        let a = u32::from_le_bytes([o[0] as u8, o[1] as u8, o[2] as u8, o[3] as u8]);
        let b = u32::from_le_bytes([v[0] as u8, v[1] as u8, v[2] as u8, v[3] as u8]);
        let m: u32;
        // SAFETY: register-only arithmetic; it sets the APSR.GE flags, which the default
        // (flag-clobbering) asm block allows.
        unsafe {
            asm!(
                "ssub8 {t}, {b}, {a}",
                "sel {m}, {b}, {a}",
                a = in(reg) a,
                b = in(reg) b,
                t = out(reg) _,
                m = lateout(reg) m,
                options(pure, nomem, nostack),
            );
        }
        for (d, s) in o.iter_mut().zip(m.to_le_bytes()) {
            *d = s as i8;
        }
    }
    for (o, &v) in oc.into_remainder().iter_mut().zip(xc.remainder()) {
        if v > *o {
            *o = v;
        }
    }
}
