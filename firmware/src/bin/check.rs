//! The host's end-to-end check of aedge on a Cortex-M4F: parses the embedded `.aedge` model, then for each embedded sample
//! runs `score` (anomaly verdict against the calibrated threshold), `denoise` and
//! `reconstruct`, and logs the results, an output checksum, the full reconstruction bytes
//! (for the host's bit-exact check) and the timing over defmt. Ends with the stack
//! high-water mark. A series model instead streams the embedded rows one sample at a time
//! through `Stream` and logs every scored window with the cost of its push. The inference
//! path returns errors instead of panicking.
#![no_std]
#![no_main]

use aedge_firmware::{
    as_bytes, checksum, finish, load_sample, precision_name, read_sample, stack, timer, ARENA_LEN,
    INPUT_LEN, MODEL, MODEL_NAME, OUTPUT_LEN, SAMPLE_COUNT, SAMPLE_LEN, SERIES,
};
use aedge_runtime::{Arena, Error, Model, Stream};
use core::ptr::addr_of_mut;
use cortex_m_rt::entry;

// Statics, so their size shows in the RAM report and the stack stays small.
static mut ARENA: Arena<ARENA_LEN> = Arena::new();
static mut INPUT: [f32; INPUT_LEN] = [0.0; INPUT_LEN];
static mut OUTPUT: [f32; OUTPUT_LEN] = [0.0; OUTPUT_LEN];

fn run() -> Result<(), Error> {
    let model = Model::parse(MODEL)?;
    defmt::info!(
        "model {=str}: {=str}, input {=usize} values, arena {=usize} B, threshold {=f32}",
        MODEL_NAME,
        precision_name(&model),
        INPUT_LEN,
        model.arena_len(),
        model.threshold()
    );
    if SERIES {
        // SAFETY: main runs once and is the only user of these statics; INPUT is the window.
        let (arena, window) = unsafe {
            (
                (*addr_of_mut!(ARENA)).as_mut_slice(),
                &mut *addr_of_mut!(INPUT),
            )
        };
        timer::init();
        return stream(model, arena, window);
    }
    // SAFETY: main runs once and is the only user of these statics.
    let (arena, input, output) = unsafe {
        (
            (*addr_of_mut!(ARENA)).as_mut_slice(),
            &mut *addr_of_mut!(INPUT),
            &mut *addr_of_mut!(OUTPUT),
        )
    };
    timer::init();
    for i in 0..SAMPLE_COUNT {
        read_sample(i, input);
        let t = timer::now();
        let s = model.score(input, arena)?;
        let score_time = timer::elapsed(t);
        let t = timer::now();
        model.denoise(input, output, arena)?;
        let denoise_time = timer::elapsed(t);
        let denoised = checksum(output);
        model.reconstruct(input, output, arena)?;
        defmt::info!(
            "sample {=usize}: error {=f32} anomalous {=bool} score {=u32} {=str} denoise {=u32} {=str} denoised-fnv {=u32:#010x} recon-fnv {=u32:#010x}",
            i,
            s.error,
            s.anomalous,
            score_time,
            timer::UNIT,
            denoise_time,
            timer::UNIT,
            denoised,
            checksum(output)
        );
        defmt::info!("recon {=usize} {=[u8]}", i, as_bytes(output));
    }
    defmt::info!("stack high-water {=usize} B", stack::high_water());
    learn(&model, input, arena)?;
    bench(&model, arena)?;
    profile(&model, arena)
}

/// Learns a threshold from the embedded samples as a deployed device would from its own
/// sensor (the model's rule, the host's calibration arithmetic) and logs it, so the host can
/// check it against its own calibration of the same samples. Out of line, so its buffer is
/// not part of `main`'s frame (the stack figures are the inference's).
#[inline(never)]
fn learn(model: &Model, input: &mut [f32], arena: &mut [u8]) -> Result<(), Error> {
    let mut scores = [0.0f32; SAMPLE_COUNT];
    let mut learner = aedge_runtime::Learner::new(&mut scores);
    for i in 0..SAMPLE_COUNT {
        read_sample(i, input);
        learner.observe(model, input, arena)?;
    }
    match learner.threshold(model.threshold_rule()) {
        Ok((t, _)) => {
            defmt::info!("learned threshold {=f32}", t);
            // Kept through the storage traits (a flash page on a board; RAM here) and read
            // back as after a reset.
            let mut storage = aedge_runtime::learn::RamStorage::<64>::new();
            aedge_runtime::learn::save(&mut storage, 16, model, t)?;
            match aedge_runtime::learn::load(&mut storage, 16, model)? {
                Some(kept) => defmt::info!("stored threshold {=f32}", kept),
                None => defmt::info!("stored threshold none"),
            }
        }
        // A hand-set threshold has no rule to learn by.
        Err(_) => defmt::info!("learned threshold none"),
    }
    Ok(())
}

/// Streams the embedded rows through `Stream` (the window buffer is caller-owned: `window`)
/// and logs each scored window with the instructions of its push; a push that only shifts
/// the window is timed too, as the cost between scores.
fn stream(model: Model, arena: &mut [u8], window: &mut [f32]) -> Result<(), Error> {
    let mut s = Stream::new(model, window)?;
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
        "stream rows {=usize} scored {=usize} unscored-push-max {=u32} {=str} arena {=usize} B window {=usize} B state {=usize} B",
        SAMPLE_COUNT,
        scored,
        shift_max,
        timer::UNIT,
        model.arena_len(),
        4 * INPUT_LEN,
        core::mem::size_of::<Stream>()
    );
    defmt::info!("stack high-water {=usize} B", stack::high_water());
    Ok(())
}

/// The bare inference (`Model::run` on a tensor already in the arena, no pre- or
/// post-processing), timed on its second run as the MLPerf Tiny figures are, with the stack it
/// needs below its caller.
fn bench(model: &Model, arena: &mut [u8]) -> Result<(), Error> {
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
fn profile(model: &Model, arena: &mut [u8]) -> Result<(), Error> {
    load_sample(model, 0, arena)?;
    let mut last = timer::now();
    model.run_traced(arena, &mut |i, _| {
        let ticks = timer::now().wrapping_sub(last);
        defmt::info!("layer {=usize} {=u32} {=str}", i, ticks, timer::UNIT);
        last = timer::now();
    })?;
    Ok(())
}

#[entry]
fn main() -> ! {
    stack::paint();
    finish(run())
}
