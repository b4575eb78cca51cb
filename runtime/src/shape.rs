//! Tensor shapes. Activations are stored height × width × channels (HWC, channels last), the
//! layout TFLite and CMSIS-NN use; a vector of `n` values is `1 × 1 × n`.

use serde::{Deserialize, Serialize};

/// Largest number of elements a tensor may have; keeps every index computation in range on
/// 32-bit targets.
pub const MAX_ELEMENTS: usize = 1 << 26;

/// The shape of one activation tensor, channels last.
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Shape {
    /// Rows.
    pub h: u16,
    /// Columns.
    pub w: u16,
    /// Channels.
    pub c: u16,
}

impl Shape {
    /// An image of `h × w` pixels with `c` channels.
    pub const fn new(h: u16, w: u16, c: u16) -> Self {
        Shape { h, w, c }
    }

    /// A flat vector of `n` values.
    pub const fn vector(n: u16) -> Self {
        Shape { h: 1, w: 1, c: n }
    }

    /// Number of elements (saturates instead of overflowing; validated shapes never do).
    pub fn len(&self) -> usize {
        (self.h as usize)
            .saturating_mul(self.w as usize)
            .saturating_mul(self.c as usize)
    }

    /// True when the tensor has no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether the shape is non-empty and small enough to index safely.
    pub fn is_valid(&self) -> bool {
        !self.is_empty() && self.len() <= MAX_ELEMENTS
    }
}

impl core::fmt::Display for Shape {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{}x{}x{}", self.h, self.w, self.c)
    }
}
