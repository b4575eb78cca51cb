//! The instruction-set levels kernels are compiled for (x86-64: SSE2, AVX2, VNNI, AVX-512;
//! aarch64: plain, NEON, NEON with `sdot`), which of them this CPU has, and a process-wide
//! cap on them, so tests can check that every level gives the same bits on one machine and
//! benchmarks can compare them.
//!
//! One binary runs on any CPU of its architecture: a hot loop is compiled once per level
//! (by [`dispatch!`](crate::dispatch) or a kernel's own `target_feature` builds) and the best
//! allowed one is picked at run time. The arithmetic is the same at every level (no
//! reassociation), so results do not depend on the CPU. Without `std` nothing is detected
//! and only the portable builds run.

use core::sync::atomic::{AtomicU8, Ordering};

/// The portable build: plain code the compiler vectorises for the architecture's baseline
/// (SSE2 on x86-64, NEON on aarch64).
pub const PORTABLE: u8 = 0;
/// AVX2, FMA and F16C.
#[cfg(target_arch = "x86_64")]
pub const AVX2: u8 = 1;
/// AVX-VNNI or AVX-512 VNNI (int8 dot products), and AVX-512 VBMI (int8 table lookups).
#[cfg(target_arch = "x86_64")]
pub const VNNI: u8 = 2;
/// AVX-512 F, BW, DQ and VL with AVX2, FMA and F16C (512-bit f32 loops).
#[cfg(target_arch = "x86_64")]
pub const AVX512: u8 = 3;
/// Hand-written NEON int8 kernels (16-bit products, pairwise adds).
#[cfg(target_arch = "aarch64")]
pub const NEON: u8 = 1;
/// NEON with the dot-product extension (`sdot`: four int8 products added to each i32 lane;
/// Cortex-A55/A76 and later, Apple M1 and later).
#[cfg(target_arch = "aarch64")]
pub const DOTPROD: u8 = 2;

/// Every level of this architecture, lowest first.
#[cfg(target_arch = "x86_64")]
pub const LEVELS: &[u8] = &[PORTABLE, AVX2, VNNI, AVX512];
/// Every level of this architecture, lowest first.
#[cfg(target_arch = "aarch64")]
pub const LEVELS: &[u8] = &[PORTABLE, NEON, DOTPROD];
/// Every level of this architecture: other architectures have the portable builds only.
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
pub const LEVELS: &[u8] = &[PORTABLE];

static CAP: AtomicU8 = AtomicU8::new(u8::MAX);

/// Caps the levels kernels may use (process-wide): a cap of `level` allows every level up to
/// it. `u8::MAX` lifts the cap.
pub fn cap(level: u8) {
    CAP.store(level, Ordering::Relaxed);
}

/// The name of `level` for reports.
pub fn name(level: u8) -> &'static str {
    #[cfg(target_arch = "x86_64")]
    let names = ["portable (SSE2)", "AVX2", "VNNI", "AVX-512"];
    #[cfg(target_arch = "aarch64")]
    let names = ["portable", "NEON", "NEON dotprod"];
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    let names = ["portable"];
    names.get(level as usize).copied().unwrap_or("unknown")
}

/// The highest level this CPU has and the cap allows: what the kernels run.
pub fn best() -> u8 {
    LEVELS
        .iter()
        .rev()
        .copied()
        .find(|&l| has(l))
        .unwrap_or(PORTABLE)
}

/// Whether `level` is allowed by the cap (the CPU must still be checked).
#[inline]
pub fn allows(level: u8) -> bool {
    CAP.load(Ordering::Relaxed) >= level
}

/// Whether this CPU has `level` and the cap allows it. std caches the CPU's features, so
/// this is a few loads.
#[inline]
pub fn has(level: u8) -> bool {
    allows(level) && detected(level)
}

#[cfg(all(feature = "std", target_arch = "x86_64"))]
#[inline]
fn detected(level: u8) -> bool {
    use std::is_x86_feature_detected as x;
    let avx2 = || x!("avx2") && x!("fma") && x!("f16c");
    match level {
        PORTABLE => true,
        AVX2 => avx2(),
        VNNI => vnni().is_some() || vbmi(),
        AVX512 => avx2() && x!("avx512f") && x!("avx512bw") && x!("avx512dq") && x!("avx512vl"),
        _ => false,
    }
}

#[cfg(all(feature = "std", target_arch = "aarch64"))]
#[inline]
fn detected(level: u8) -> bool {
    match level {
        PORTABLE | NEON => true,
        DOTPROD => std::arch::is_aarch64_feature_detected!("dotprod"),
        _ => false,
    }
}

#[cfg(not(all(feature = "std", any(target_arch = "x86_64", target_arch = "aarch64"))))]
#[inline]
fn detected(level: u8) -> bool {
    level == PORTABLE
}

/// Whether AVX-512 VBMI (with BW) is allowed and present: the int8 table lookup.
#[cfg(all(feature = "std", target_arch = "x86_64"))]
#[inline]
pub(crate) fn vbmi() -> bool {
    use std::is_x86_feature_detected as x;
    allows(VNNI) && x!("avx512vbmi") && x!("avx512bw")
}

/// The VNNI encoding to use, if allowed and present: `Some(true)` for AVX-512 VNNI with VL
/// (EVEX), `Some(false)` for AVX-VNNI (VEX).
#[cfg(all(feature = "std", target_arch = "x86_64"))]
#[inline]
pub(crate) fn vnni() -> Option<bool> {
    use std::is_x86_feature_detected as x;
    if !allows(VNNI) {
        None
    } else if x!("avx512vnni") && x!("avx512vl") {
        Some(true)
    } else if x!("avxvnni") {
        Some(false)
    } else {
        None
    }
}
