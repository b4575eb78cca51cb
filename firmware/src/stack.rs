//! Stack high-water mark by painting: fill the free stack with a pattern at start-up, and
//! later find the deepest word that no longer holds it.

use core::ptr::{addr_of, read_volatile, write_volatile};

const PAINT: u32 = 0xACE0_BACE;

extern "C" {
    // From cortex-m-rt's link.x as flip-link rewrites it: the stack grows down from
    // `_stack_start` (where .data begins) to `_stack_end` (the start of RAM), so an overflow
    // runs off RAM and faults.
    static _stack_start: u32;
    static _stack_end: u32;
}

fn bounds() -> (*mut u32, *mut u32) {
    // Only the addresses of the linker symbols are taken, never their values.
    (
        addr_of!(_stack_end) as *mut u32,
        addr_of!(_stack_start) as *mut u32,
    )
}

/// Paints the free stack below the current stack pointer (keeping a small margin).
pub fn paint() {
    let (bottom, _) = bounds();
    let sp = cortex_m::register::msp::read() as *mut u32;
    let mut p = bottom;
    // SAFETY: [bottom, sp - 64 B) is unused stack memory: nothing lives there yet.
    unsafe {
        let end = sp.sub(16);
        while p < end {
            write_volatile(p, PAINT);
            p = p.add(1);
        }
    }
}

/// Bytes of stack used at the deepest point since [`paint`].
pub fn high_water() -> usize {
    let (bottom, top) = bounds();
    let mut p = bottom;
    // SAFETY: reads within the stack region only.
    unsafe {
        while p < top && read_volatile(p) == PAINT {
            p = p.add(1);
        }
    }
    top as usize - p as usize
}

/// Bytes of stack in use right now (from the top to the stack pointer).
pub fn depth() -> usize {
    let (_, top) = bounds();
    top as usize - cortex_m::register::msp::read() as usize
}
