//! Layer kernels. They take caller-owned slices whose lengths were checked when the model was
//! parsed, and never allocate.
//!
//! Organised by op family, one file per precision and one per architecture (tract's
//! `linalg` layout): `dot/`, `dense/`, `conv/` and `activation/` each hold `float.rs` /
//! `int8.rs` (portable) and `x86.rs` (`std` on x86-64: AVX2, VNNI, AVX-512), `aarch64.rs`
//! (`std` on aarch64: NEON, `sdot`) or `cortex_m.rs` (the DSP extension) beside them. [`isa`]
//! says which level this CPU may use, and [`dispatch!`](crate::dispatch) compiles a kernel
//! once per x86 level and picks one at run time. `boxes/` is the pattern memory's byte
//! matching (portable and `cortex_m.rs`).

pub mod activation;
pub mod boxes;
pub mod conv;
pub mod dense;
pub mod dot;
pub mod isa;
pub mod lstm;
pub mod merge;
mod requant;
pub mod spatial;
#[cfg(aedge_dsp)]
mod spatial_cortex_m;
mod weight;

pub use requant::Requant;
pub use weight::Weight;

use crate::shape::Shape;

/// Defines `fn $name` that runs the `#[inline(always)]` function `$imp` compiled for each
/// listed x86-64 level ([`isa`]) this CPU has (best first: `avx512`, `avx2`), else its portable build. `$imp`
/// must call only inlined code, and no closures: a closure is its own function and would not
/// inherit the target features.
///
/// ```ignore
/// aedge_runtime::dispatch! {
///     /// Doc comment.
///     pub fn name [W: Weight] (x: &[f32], w: &[W]) -> f32 => name_impl [W] for [avx2]
/// }
/// ```
#[doc(hidden)]
#[macro_export]
macro_rules! dispatch {
    ($(#[$m:meta])* $vis:vis fn $name:ident [$($g:tt)*] ($($a:ident : $t:ty),* $(,)?) $(-> $ret:ty)?
        => $imp:ident [$($gi:tt)*] for [$($tier:ident)*]) => {
        $(#[$m])*
        // Out of line: the interpreter's frame then holds one kernel's locals at a time.
        #[inline(never)]
        $vis fn $name<$($g)*>($($a: $t),*) $(-> $ret)? {
            #[cfg(target_arch = "x86_64")]
            {
                $crate::dispatch!(@tiers [$($tier)*] [$($g)*] ($($a: $t),*) [$($ret)?] => $imp [$($gi)*]);
            }
            $imp::<$($gi)*>($($a),*)
        }
    };
    (@tiers [] $($rest:tt)*) => {};
    (@tiers [$tier:ident $($more:ident)*] $g:tt $args:tt $ret:tt => $imp:ident $gi:tt) => {
        $crate::dispatch!(@tier $tier $g $args $ret => $imp $gi);
        $crate::dispatch!(@tiers [$($more)*] $g $args $ret => $imp $gi);
    };
    (@tier avx512 $($rest:tt)*) => {
        $crate::dispatch!(@build AVX512 "avx512f,avx512bw,avx512dq,avx512vl,avx2,fma,f16c" $($rest)*);
    };
    (@tier avx2 $($rest:tt)*) => {
        $crate::dispatch!(@build AVX2 "avx2,fma,f16c" $($rest)*);
    };
    (@build $level:ident $features:literal [$($g:tt)*] ($($a:ident : $t:ty),*) [$($ret:ty)?]
        => $imp:ident [$($gi:tt)*]) => {
        if $crate::kernels::isa::has($crate::kernels::isa::$level) {
            #[target_feature(enable = $features)]
            unsafe fn build<$($g)*>($($a: $t),*) $(-> $ret)? {
                $imp::<$($gi)*>($($a),*)
            }
            // SAFETY: this CPU has the features `build` is compiled for (checked just above).
            return unsafe { build::<$($gi)*>($($a),*) };
        }
    };
}

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
