//! Dot products, the inner loop of the dense, convolution and LSTM kernels: f32 (with f32 or
//! f16 weights) and int8, portable, with an x86-64 AVX path for f32 and a Cortex-M DSP path
//! for int8 that give the same bits.

#[cfg(aedge_dsp)]
mod cortex_m;
pub mod float;
pub mod int8;
#[cfg(all(feature = "std", target_arch = "x86_64"))]
mod x86;
