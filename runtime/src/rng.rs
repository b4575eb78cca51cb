//! The project's one random number generator: seeded, tiny and identical on every platform,
//! so reference weights, data shuffles and test inputs are the same on a host and a device.

#[cfg(feature = "alloc")]
use alloc::vec::Vec;

/// SplitMix64: a tiny seeded generator, identical on every platform.
#[derive(Clone, Debug)]
pub struct SplitMix(pub u64);

impl SplitMix {
    /// Next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[lo, hi)`.
    pub fn uniform(&mut self, lo: f32, hi: f32) -> f32 {
        lo + (hi - lo) * ((self.next_u64() >> 40) as f32 / (1u64 << 24) as f32)
    }

    /// `n` uniform values in `[lo, hi)`.
    #[cfg(feature = "alloc")]
    pub fn vec(&mut self, n: usize, lo: f32, hi: f32) -> Vec<f32> {
        (0..n).map(|_| self.uniform(lo, hi)).collect()
    }

    /// Glorot-uniform weights.
    #[cfg(feature = "alloc")]
    pub fn glorot(&mut self, n: usize, fan_in: usize, fan_out: usize) -> Vec<f32> {
        let a = libm::sqrtf(6.0 / (fan_in + fan_out) as f32);
        self.vec(n, -a, a)
    }
}
