//! The x86-64 instruction-set levels kernels are compiled for, which of them this CPU has,
//! and a process-wide cap on them, so tests can check that every level gives the same bits
//! on one machine and benchmarks can compare them.
//!
//! One binary runs on any x86-64 CPU: a hot loop is compiled once per level by
//! [`dispatch!`](crate::dispatch) and the best allowed one is picked at run time. The
//! arithmetic is the same at every level (no reassociation), so results do not depend on the
//! CPU. Without `std` nothing is detected and only the portable builds run.

use core::sync::atomic::{AtomicU8, Ordering};

/// Plain x86-64 (SSE2).
pub const PORTABLE: u8 = 0;
/// AVX2, FMA and F16C.
pub const AVX2: u8 = 1;
/// AVX-VNNI or AVX-512 VNNI (int8 dot products), and AVX-512 VBMI (int8 table lookups).
pub const VNNI: u8 = 2;
/// AVX-512 F, BW, DQ and VL with AVX2, FMA and F16C (512-bit f32 loops).
pub const AVX512: u8 = 3;

static CAP: AtomicU8 = AtomicU8::new(u8::MAX);

/// Caps the levels kernels may use (process-wide): a cap of `level` allows every level up to
/// it. `u8::MAX` lifts the cap.
pub fn cap(level: u8) {
    CAP.store(level, Ordering::Relaxed);
}

/// The name of `level` for reports.
pub fn name(level: u8) -> &'static str {
    match level {
        PORTABLE => "portable (SSE2)",
        AVX2 => "AVX2",
        VNNI => "VNNI",
        AVX512 => "AVX-512",
        _ => "unknown",
    }
}

/// The highest level this CPU has and the cap allows: what the kernels run.
pub fn best() -> u8 {
    [AVX512, VNNI, AVX2]
        .into_iter()
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

#[cfg(feature = "std")]
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

#[cfg(not(feature = "std"))]
#[inline]
fn detected(level: u8) -> bool {
    level == PORTABLE
}

/// Whether AVX-512 VBMI (with BW) is allowed and present: the int8 table lookup.
#[cfg(feature = "std")]
#[inline]
pub(crate) fn vbmi() -> bool {
    use std::is_x86_feature_detected as x;
    allows(VNNI) && x!("avx512vbmi") && x!("avx512bw")
}

/// The VNNI encoding to use, if allowed and present: `Some(true)` for AVX-512 VNNI with VL
/// (EVEX), `Some(false)` for AVX-VNNI (VEX).
#[cfg(feature = "std")]
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
