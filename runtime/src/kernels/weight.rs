//! How the f32 kernels read weights: [`Weight`] gives f32 models and f16-weight models (converted
//! on the fly, never copied to RAM) the same code.

use half::f16;

/// A weight element that can be read as f32.
pub trait Weight: Copy {
    /// The value as f32.
    fn to_f32(self) -> f32;

    /// Whether [`Weight::chunk8`] is faster than eight [`Weight::to_f32`] calls.
    const CHUNKED: bool = false;

    /// Eight values as f32 (`w.len() == 8`).
    #[inline(always)]
    fn chunk8(w: &[Self]) -> [f32; 8] {
        core::array::from_fn(|i| w[i].to_f32())
    }

    /// Eight values at `w` as f32 in a vector.
    ///
    /// # Safety
    /// Eight values must be readable at `w`, and the CPU must have AVX2 and F16C.
    #[cfg(all(feature = "std", target_arch = "x86_64"))]
    unsafe fn load8(w: *const Self) -> core::arch::x86_64::__m256;
}

impl Weight for f32 {
    #[inline(always)]
    fn to_f32(self) -> f32 {
        self
    }

    #[cfg(all(feature = "std", target_arch = "x86_64"))]
    #[inline(always)]
    unsafe fn load8(w: *const Self) -> core::arch::x86_64::__m256 {
        // SAFETY: the caller's contract.
        unsafe { core::arch::x86_64::_mm256_loadu_ps(w) }
    }
}

impl Weight for f16 {
    #[inline(always)]
    fn to_f32(self) -> f32 {
        f16::to_f32(self)
    }

    // Only x86 hosts with std have a vector conversion to gain from (F16C, detected at run
    // time); elsewhere per-value conversion avoids the temporary array.
    const CHUNKED: bool = cfg!(all(
        feature = "std",
        any(target_arch = "x86", target_arch = "x86_64")
    ));

    /// Through half's slice conversion: F16C (`vcvtph2ps`) where the CPU has it, detected at
    /// run time with std; exact either way.
    #[inline(always)]
    fn chunk8(w: &[Self]) -> [f32; 8] {
        use half::slice::HalfFloatSliceExt;
        let mut out = [0.0f32; 8];
        w.convert_to_f32_slice(&mut out);
        out
    }

    #[cfg(all(feature = "std", target_arch = "x86_64"))]
    #[inline(always)]
    unsafe fn load8(w: *const Self) -> core::arch::x86_64::__m256 {
        use core::arch::x86_64::*;
        // SAFETY: the caller's contract; exact conversion (`vcvtph2ps`).
        unsafe { _mm256_cvtph_ps(_mm_loadu_si128(w as *const __m128i)) }
    }
}
