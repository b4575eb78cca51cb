//! The int8 scheme's output stage (TFLite / CMSIS-NN): an i32 accumulator, bias included,
//! becomes an int8 output by a fixed-point multiplier and shift, a zero point, a clamp and an
//! optional activation table.

use crate::fixed::multiply_by_quantized_multiplier;

/// Everything needed to turn an i32 accumulator into an int8 output.
#[derive(Clone, Copy, Debug)]
pub struct Requant<'a> {
    /// Zero point of the layer input (subtracted from every input value).
    pub input_zero_point: i32,
    /// i32 bias per output channel, in units of `input_scale * weight_scale[c]`.
    pub bias: &'a [i32],
    /// Q31 multiplier per output channel, or one for every channel (per-tensor).
    pub multiplier: &'a [i32],
    /// Shift per output channel, or one for every channel (as `multiplier`).
    pub shift: &'a [i32],
    /// Zero point of the requantized (pre-table) value.
    pub output_zero_point: i32,
    /// Lower clamp (the zero point for ReLU, else -128).
    pub min: i32,
    /// Optional 256-entry activation table, indexed by the requantized value + 128.
    pub lut: Option<&'a [i8; 256]>,
}

impl Requant<'_> {
    /// Requantizes accumulator `acc` of output channel `c` (bias included).
    #[inline(always)]
    pub(crate) fn finish(&self, acc: i32, c: usize) -> i8 {
        let (m, s) = self.channel(c);
        self.finish_with(acc, m, s)
    }

    /// Multiplier and shift of output channel `c`.
    #[inline(always)]
    pub(crate) fn channel(&self, c: usize) -> (i32, i32) {
        let c = if self.multiplier.len() == 1 { 0 } else { c };
        (self.multiplier[c], self.shift[c])
    }

    /// Multipliers and shifts of the `N` channels from `first`.
    #[inline(always)]
    pub(crate) fn channels<const N: usize>(&self, first: usize) -> ([i32; N], [i32; N]) {
        if self.multiplier.len() == 1 {
            return ([self.multiplier[0]; N], [self.shift[0]; N]);
        }
        // One range check per group instead of one per channel.
        let (m, s) = (
            &self.multiplier[first..first + N],
            &self.shift[first..first + N],
        );
        (
            core::array::from_fn(|i| m[i]),
            core::array::from_fn(|i| s[i]),
        )
    }

    /// [`Requant::finish`] with the channel's multiplier and shift already loaded.
    #[inline(always)]
    pub(crate) fn finish_with(&self, acc: i32, multiplier: i32, shift: i32) -> i8 {
        let v = multiply_by_quantized_multiplier(acc, multiplier, shift)
            .saturating_add(self.output_zero_point)
            .max(self.min)
            .min(127);
        match self.lut {
            // v is in -128..=127 (min >= -128), so this is v + 128 without a bounds check.
            Some(t) => t[(v as u8 ^ 0x80) as usize],
            None => v as i8,
        }
    }
}
