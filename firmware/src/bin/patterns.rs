//! The pattern memory's worst case on the device: a memory of the runtime's full capacity
//! (`pattern::CAPACITY` categories of 8-point patterns, one point per sample), filled with
//! patterns of pseudo-random samples that resonate with nothing, then timed over further
//! pushes, each of which matches its pattern against every category (and, past the warm-up,
//! adapts the vigilance). A series model's stream pays this on the pushes that end a
//! pattern-memory step, on top of its usual scoring push.
#![no_std]
#![no_main]

use aedge_firmware::{finish, stack, timer};
use aedge_runtime::pattern::{self, Patterns};
use aedge_runtime::{Error, PatternDesc};
use cortex_m_rt::entry;

/// Points learned before the memory reports or adapts: just more than filling it takes, so
/// the timed pushes cross the warm-up's end and an adaptation.
const WARMUP: u16 = pattern::CAPACITY + 8;
/// Pushes timed once the memory is full.
const TIMED: usize = 2048;
/// Room for the memory's buffer (checked against `pattern::buffer_len` at run time).
const BUFFER: usize = 3800;

static mut MEMORY: [f32; BUFFER] = [0.0; BUFFER];

/// xorshift32: samples in `[0, 1)` that make a new shape at almost every point.
fn next(state: &mut u32) -> f32 {
    *state ^= *state << 13;
    *state ^= *state >> 17;
    *state ^= *state << 5;
    (*state >> 8) as f32 / (1u32 << 24) as f32
}

fn run() -> Result<(), Error> {
    timer::init();
    let desc = PatternDesc {
        step: 1,
        window: 8,
        levels: pattern::LEVELS,
        low: 0.0,
        high: 1.0,
        // Only an identical pattern resonates until the warm-up ends.
        vigilance: 1.0,
        capacity: pattern::CAPACITY,
        warmup: WARMUP,
    };
    let len = pattern::buffer_len(&desc);
    // SAFETY: the only reference to MEMORY, taken once in this single-threaded program.
    let memory: &mut [f32] = unsafe { &mut *core::ptr::addr_of_mut!(MEMORY) };
    let buffer = memory.get_mut(..len).ok_or(Error::BadLength {
        what: "pattern benchmark buffer",
        expected: len,
        got: BUFFER,
    })?;
    let mut p = Patterns::new(desc, buffer)?;
    let mut state = 0x2545_f491u32;
    let mut pushes = 0usize;
    while p.categories() < desc.capacity as usize {
        p.push(next(&mut state));
        pushes += 1;
    }
    defmt::info!(
        "patterns full {=usize} of {=u16} after {=usize} pushes, buffer {=usize} B",
        p.categories(),
        desc.capacity,
        pushes,
        4 * len
    );
    // One line per push, in order, so the host can pair each with the cycle plugin's reads.
    for _ in 0..TIMED {
        let x = next(&mut state);
        let start = timer::now();
        p.push(x);
        let ticks = timer::elapsed(start);
        defmt::info!("pattern push {=u32} {=str}", ticks, timer::UNIT);
    }
    defmt::info!("stack high-water {=usize} B", stack::high_water());
    Ok(())
}

#[entry]
fn main() -> ! {
    stack::paint();
    finish(run())
}
