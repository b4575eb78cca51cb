//! Fully connected layers: f32 (f32 or f16 weights) and int8 with packed weights, with the
//! int8 layer's x86-64 (AVX2, VNNI), aarch64 (NEON, `sdot`) and Cortex-M DSP paths.

#[cfg(all(feature = "std", target_arch = "aarch64"))]
pub(crate) mod aarch64;
#[cfg(aedge_dsp)]
mod cortex_m;
pub mod float;
pub mod int8;
#[cfg(all(feature = "std", target_arch = "x86_64"))]
pub(crate) mod x86;
