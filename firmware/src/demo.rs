//! What the demos in `src/bin/` do, one function each, so `check` (the host's end-to-end
//! run) and the single-purpose demos share them: the static buffers, the model's banner,
//! learning a threshold on the device, streaming a series, the timed bare inference and its
//! per-layer profile. Everything logs over defmt in the lines `aedge::mcu::log` parses.

use crate::{load_sample, precision_name, read_sample, stack, timer};
use crate::{INPUT_LEN, MODEL_NAME, OUTPUT_LEN, SAMPLE_COUNT, SAMPLE_LEN, STREAM_LEN};
use aedge_runtime::{Arena, Error, Model, Stream};
use core::ptr::addr_of_mut;
use core::sync::atomic::{AtomicBool, Ordering};

// Statics, so their size shows in the RAM report and the stack stays small.
static mut ARENA: Arena<{ crate::ARENA_LEN }> = Arena::new();
static mut INPUT: [f32; INPUT_LEN] = [0.0; INPUT_LEN];
static mut OUTPUT: [f32; OUTPUT_LEN] = [0.0; OUTPUT_LEN];
static mut STREAM: [f32; STREAM_LEN] = [0.0; STREAM_LEN];
static TAKEN: AtomicBool = AtomicBool::new(false);

/// The demo's memory: the arena, one input, one output and a series' stream buffer.
pub struct Buffers {
    /// Exactly `Model::arena_len` bytes, 16-byte aligned.
    pub arena: &'static mut [u8],
    /// One input, in sensor units.
    pub input: &'static mut [f32; INPUT_LEN],
    /// One reconstruction.
    pub output: &'static mut [f32; OUTPUT_LEN],
    /// A series' window and range of values seen (empty for other models).
    pub stream: &'static mut [f32; STREAM_LEN],
}

/// The static buffers, once: an error on every later call.
pub fn buffers() -> Result<Buffers, Error> {
    if TAKEN.swap(true, Ordering::AcqRel) {
        return Err(Error::Unsupported("the buffers are taken"));
    }
    // SAFETY: the flag above hands these statics out once, so no other reference exists.
    unsafe {
        Ok(Buffers {
            arena: (*addr_of_mut!(ARENA)).as_mut_slice(),
            input: &mut *addr_of_mut!(INPUT),
            output: &mut *addr_of_mut!(OUTPUT),
            stream: &mut *addr_of_mut!(STREAM),
        })
    }
}

/// Parses the embedded model and logs what it is.
pub fn open() -> Result<Model<'static>, Error> {
    let model = Model::parse(crate::MODEL)?;
    defmt::info!(
        "model {=str}: {=str}, input {=usize} values, arena {=usize} B, threshold {=f32}",
        MODEL_NAME,
        precision_name(&model),
        INPUT_LEN,
        model.arena_len(),
        model.threshold()
    );
    Ok(model)
}

/// What a demo runs on: whole inputs (an image or a vector each) or a series, streamed.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Takes {
    /// Whole inputs: the model must not be a series model.
    Inputs,
    /// A series: the model must be a series model.
    Series,
    /// Either (the `check` demo does what the model is for).
    Either,
}

/// A demo's start: the model parsed and announced, the buffers taken, the model checked
/// against what the demo `takes`, the timer started.
pub fn start(takes: Takes) -> Result<(Model<'static>, Buffers), Error> {
    let model = open()?;
    let buffers = buffers()?;
    match (takes, crate::SERIES) {
        (Takes::Inputs, true) => {
            return Err(Error::Unsupported(
                "a series model streams: run the stream demo",
            ))
        }
        (Takes::Series, false) => {
            return Err(Error::Unsupported(
                "stream takes a series model (exported from a CSV checkpoint)",
            ))
        }
        _ => {}
    }
    timer::init();
    Ok((model, buffers))
}

/// Learns a threshold from the embedded samples as a deployed device would from its own
/// sensor (the model's rule, the host's calibration arithmetic) and logs it, so the host can
/// check it against its own calibration of the same samples. Out of line, so its buffer is
/// not part of `main`'s frame (the stack figures are the inference's).
#[inline(never)]
pub fn learn(model: &Model, input: &mut [f32], arena: &mut [u8]) -> Result<(), Error> {
    let mut scores = [0.0f32; SAMPLE_COUNT];
    let mut learner = aedge_runtime::Learner::new(&mut scores);
    for i in 0..SAMPLE_COUNT {
        read_sample(i, input);
        learner.observe(model, input, arena)?;
    }
    match learner.threshold(model.threshold_rule()) {
        Ok((t, _)) => {
            defmt::info!("learned threshold {=f32}", t);
            // Kept through the storage traits (the last flash page on a board; RAM under
            // QEMU) and read back as after a reset.
            let mut storage = crate::storage::open();
            let at = crate::storage::OFFSET;
            aedge_runtime::learn::save(&mut storage, at, model, t)?;
            match aedge_runtime::learn::load(&mut storage, at, model)? {
                Some(kept) => defmt::info!("stored threshold {=f32}", kept),
                None => defmt::info!("stored threshold none"),
            }
        }
        // A hand-set threshold has no rule to learn by.
        Err(_) => defmt::info!("learned threshold none"),
    }
    Ok(())
}

/// Streams the embedded rows through `Stream` (its buffer is caller-owned: `buffer`)
/// and logs each scored window with the instructions of its push; a push that only shifts
/// the window is timed too, as the cost between scores.
pub fn stream(model: Model, arena: &mut [u8], buffer: &mut [f32]) -> Result<(), Error> {
    let mut s = Stream::new(model, buffer)?;
    let mut sample = [0.0f32; SAMPLE_LEN];
    let (mut shift_max, mut scored) = (0u32, 0usize);
    for r in 0..SAMPLE_COUNT {
        read_sample(r, &mut sample);
        let t = timer::now();
        let p = s.push(&sample, arena)?;
        let ticks = timer::elapsed(t);
        match p {
            Some(p) => {
                scored += 1;
                defmt::info!(
                    "point {=usize} error {=f32} score {=f32} anomalous {=bool} push {=u32} {=str}",
                    r,
                    p.error,
                    p.score,
                    p.anomalous,
                    ticks,
                    timer::UNIT
                );
            }
            None => shift_max = shift_max.max(ticks),
        }
    }
    defmt::info!(
        "stream rows {=usize} scored {=usize} unscored-push-max {=u32} {=str} arena {=usize} B buffer {=usize} B state {=usize} B",
        SAMPLE_COUNT,
        scored,
        shift_max,
        timer::UNIT,
        model.arena_len(),
        4 * STREAM_LEN,
        core::mem::size_of::<Stream>()
    );
    defmt::info!("stack high-water {=usize} B", stack::high_water());
    Ok(())
}

/// The bare inference (`Model::run` on a tensor already in the arena, no pre- or
/// post-processing), timed on its second run as the MLPerf Tiny figures are, with the stack it
/// needs below its caller.
pub fn bench(model: &Model, arena: &mut [u8]) -> Result<(), Error> {
    load_sample(model, 0, arena)?;
    model.run(arena)?;
    load_sample(model, 0, arena)?;
    let base = stack::depth();
    stack::paint();
    let t = timer::now();
    let out = model.run(arena)?;
    let ticks = timer::elapsed(t);
    let used = stack::high_water().saturating_sub(base);
    let fnv = aedge_runtime::fnv1a(out.iter().copied());
    defmt::info!(
        "bench run {=u32} {=str} stack {=usize} B arena {=usize} B state {=usize} B output-fnv {=u32:#010x}",
        ticks,
        timer::UNIT,
        used,
        model.arena_len(),
        core::mem::size_of::<Model>(),
        fnv
    );
    Ok(())
}

/// The bare inference again, layer by layer: the timer is read as each layer's output is
/// ready, and the log line is written after the reading, so it is not counted.
pub fn profile(model: &Model, arena: &mut [u8]) -> Result<(), Error> {
    load_sample(model, 0, arena)?;
    let mut last = timer::now();
    model.run_traced(arena, &mut |i, _| {
        let ticks = timer::now().wrapping_sub(last);
        defmt::info!("layer {=usize} {=u32} {=str}", i, ticks, timer::UNIT);
        last = timer::now();
    })?;
    Ok(())
}
