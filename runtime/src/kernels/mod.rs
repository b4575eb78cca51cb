//! Layer kernels. They take caller-owned slices whose lengths were checked when the model was
//! parsed, and never allocate.

pub mod float;
#[cfg(feature = "std")]
mod host_conv;
pub mod int8;
#[cfg(aedge_dsp)]
mod int8_conv_dsp;
pub mod int8_dense;
pub mod lstm;
pub mod spatial;

use crate::shape::Shape;

/// Whether this x86-64 host has AVX2, FMA and F16C (checked once, then cached by std). Hot kernels
/// are compiled a second time for these features and picked at run time, so one binary runs
/// on any x86-64 CPU and uses 256-bit vectors where they exist. The arithmetic is the same
/// (no reassociation), so results do not depend on the CPU.
#[cfg(all(feature = "std", target_arch = "x86_64"))]
#[inline]
pub(crate) fn avx2() -> bool {
    isa::allows(isa::AVX2)
        && std::is_x86_feature_detected!("avx2")
        && std::is_x86_feature_detected!("fma")
        && std::is_x86_feature_detected!("f16c")
}

/// The x86-64 instruction-set levels the kernels pick from at run time, and a cap on them so
/// tests can check every path gives the same bits on one machine (and benchmarks can
/// compare them).
#[cfg(all(feature = "std", target_arch = "x86_64"))]
#[doc(hidden)]
pub mod isa {
    use core::sync::atomic::{AtomicU8, Ordering};

    /// Plain x86-64 (SSE2).
    pub const PORTABLE: u8 = 0;
    /// AVX2 and FMA.
    pub const AVX2: u8 = 1;
    /// AVX-VNNI or AVX-512 VNNI (int8 dot products).
    pub const VNNI: u8 = 2;

    static CAP: AtomicU8 = AtomicU8::new(u8::MAX);

    /// Caps the levels the kernels may use (process-wide); `u8::MAX` lifts the cap.
    pub fn cap(level: u8) {
        CAP.store(level, Ordering::Relaxed);
    }

    /// Whether `level` is allowed by the cap (the CPU must still be checked).
    #[inline]
    pub(crate) fn allows(level: u8) -> bool {
        CAP.load(Ordering::Relaxed) >= level
    }

    /// The VNNI encoding to use, if allowed and present: `Some(true)` for AVX-512 VNNI with
    /// VL (EVEX), `Some(false)` for AVX-VNNI (VEX).
    #[inline]
    pub(crate) fn vnni() -> Option<bool> {
        if !allows(VNNI) {
            None
        } else if std::is_x86_feature_detected!("avx512vnni")
            && std::is_x86_feature_detected!("avx512vl")
        {
            Some(true)
        } else if std::is_x86_feature_detected!("avxvnni") {
            Some(false)
        } else {
            None
        }
    }
}

/// Defines `$name` as a run-time dispatch between an AVX2 + FMA build of `$imp` and the
/// portable one. `$imp` must be `#[inline(always)]` so it is compiled inside each.
macro_rules! dispatch {
    ($(#[$m:meta])* pub fn $name:ident [$($g:tt)*] ($($a:ident : $t:ty),*) => $imp:ident [$($gi:tt)*]) => {
        $(#[$m])*
        // Out of line: the interpreter's frame then holds one kernel's locals at a time.
        #[inline(never)]
        pub fn $name<$($g)*>($($a: $t),*) {
            #[cfg(all(feature = "std", target_arch = "x86_64"))]
            {
                #[target_feature(enable = "avx2,fma,f16c")]
                unsafe fn wide<$($g)*>($($a: $t),*) {
                    $imp::<$($gi)*>($($a),*)
                }
                if super::avx2() {
                    // SAFETY: the CPU has AVX2 and FMA (checked just above).
                    return unsafe { wide::<$($gi)*>($($a),*) };
                }
            }
            $imp::<$($gi)*>($($a),*)
        }
    };
}
pub(crate) use dispatch;

/// Geometry of a sliding-window layer (convolution, transposed convolution, pooling).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    /// Input shape.
    pub input: Shape,
    /// Output shape.
    pub output: Shape,
    /// Kernel height and width.
    pub kernel: [usize; 2],
    /// Vertical and horizontal stride.
    pub stride: [usize; 2],
    /// Padding (or cropping, for transposed convolution) at the top and left.
    pub pad: [usize; 2],
}

impl Window {
    /// Input and output height, width and channels as `usize`.
    #[inline(always)]
    pub fn sizes(&self) -> ([usize; 3], [usize; 3]) {
        let d = |s: crate::shape::Shape| [s.h as usize, s.w as usize, s.c as usize];
        (d(self.input), d(self.output))
    }
}

/// Valid kernel offsets `k` for output position `o` of a convolution-like window:
/// input index `o * stride + k - pad` must lie in `0..n`. Returns `(k_lo, k_hi, first_input)`.
#[inline]
pub(crate) fn conv_range(
    o: usize,
    stride: usize,
    pad: usize,
    k: usize,
    n: usize,
) -> (usize, usize, usize) {
    let start = o * stride; // position of k = 0 plus pad
    let k_lo = pad.saturating_sub(start);
    let k_hi = k.min((n + pad).saturating_sub(start));
    let first = (start + k_lo).saturating_sub(pad);
    (k_lo, k_hi.max(k_lo), first)
}

/// Input index contributing to transposed-convolution output `o` through kernel offset `k`.
#[inline]
pub(crate) fn transpose_source(
    o: usize,
    k: usize,
    stride: usize,
    pad: usize,
    n: usize,
) -> Option<usize> {
    let t = (o + pad).checked_sub(k)?;
    if t % stride != 0 {
        return None;
    }
    let i = t / stride;
    (i < n).then_some(i)
}
