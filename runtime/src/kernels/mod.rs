//! Layer kernels. They take caller-owned slices whose lengths were checked when the model was
//! parsed, and never allocate.

pub mod float;
pub mod int8;
pub mod int8_dense;
pub mod lstm;
pub mod spatial;

use crate::shape::Shape;

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
