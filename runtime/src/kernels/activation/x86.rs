//! The int8 table lookup with AVX-512 VBMI.

use core::arch::x86_64::*;

/// The table lookup with AVX-512 VBMI, 64 values per step: two `vpermi2b` each look up
/// the index's low 7 bits in one half of the table, and the top bit picks the half.
/// Returns false (nothing written) on CPUs without it.
pub fn lookup(y: &mut [i8], lut: &[i8; 256]) -> bool {
    if !crate::kernels::isa::vbmi() {
        return false;
    }
    // SAFETY: the CPU has AVX-512 F, BW and VBMI (VBMI implies F; checked above).
    unsafe { lookup_vbmi(y, lut) };
    true
}

#[target_feature(enable = "avx512f,avx512bw,avx512vbmi")]
unsafe fn lookup_vbmi(y: &mut [i8], lut: &[i8; 256]) {
    // SAFETY: four 64-byte loads inside the 256-byte table.
    let t: [__m512i; 4] = core::array::from_fn(|i| unsafe {
        _mm512_loadu_si512(lut.as_ptr().add(64 * i) as *const __m512i)
    });
    let flip = _mm512_set1_epi8(-128);
    for chunk in y.chunks_mut(64) {
        let n = chunk.len();
        let mask: __mmask64 = if n == 64 { !0 } else { (1u64 << n) - 1 };
        let p = chunk.as_mut_ptr();
        // SAFETY: masked load and store of the chunk's n bytes.
        unsafe {
            let u = _mm512_xor_si512(_mm512_maskz_loadu_epi8(mask, p), flip);
            let lo = _mm512_permutex2var_epi8(t[0], u, t[1]);
            let hi = _mm512_permutex2var_epi8(t[2], u, t[3]);
            let v = _mm512_mask_blend_epi8(_mm512_movepi8_mask(u), lo, hi);
            _mm512_mask_storeu_epi8(p, mask, v);
        }
    }
}
