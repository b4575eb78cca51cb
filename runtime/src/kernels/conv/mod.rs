//! Sliding-window layers with weights: 2-D convolution, depthwise convolution and transposed
//! convolution, f32 (f32 or f16 weights) and int8, with the hosts' panel kernels (`std`), an
//! x86-64 VNNI path, an aarch64 NEON path and a Cortex-M DSP path for int8 convolution.

#[cfg(all(feature = "std", target_arch = "aarch64"))]
mod aarch64;
#[cfg(aedge_dsp)]
mod cortex_m;
pub mod float;
#[cfg(feature = "std")]
mod host;
pub mod int8;
#[cfg(all(feature = "std", target_arch = "x86_64"))]
mod x86;
