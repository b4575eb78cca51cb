//! `aedge validate`'s device side: for each embedded input, the bare inference timed
//! (instructions under QEMU, cycles on a board) with the stack it needs, the same inference
//! again with every layer's output logged in full for the host to compare with its own, and
//! the anomaly score and verdict.
#![no_std]
#![no_main]

use aedge_firmware::demo::{self, Buffers};
use aedge_firmware::{
    as_bytes, finish, load_sample, precision_name, read_sample, stack, timer, MODEL, MODEL_NAME,
    SAMPLE_COUNT, SERIES,
};
use aedge_runtime::{Activations, Error, Model};
use cortex_m_rt::entry;

fn run() -> Result<(), Error> {
    let model = Model::parse(MODEL)?;
    if SERIES {
        return Err(Error::Unsupported(
            "validate runs whole inputs; a series model is checked by streaming (the check demo)",
        ));
    }
    let Buffers { arena, input, .. } = demo::buffers()?;
    defmt::info!(
        "validate {=str} {=str} inputs {=usize} arena {=usize} B",
        MODEL_NAME,
        precision_name(&model),
        SAMPLE_COUNT,
        model.arena_len()
    );
    timer::init();
    let mut stack_used = 0;
    for i in 0..SAMPLE_COUNT {
        load_sample(&model, i, arena)?;
        let base = stack::depth();
        stack::paint();
        let t = timer::now();
        model.run(arena)?;
        let ticks = timer::elapsed(t);
        stack_used = stack_used.max(stack::high_water().saturating_sub(base));
        // The same preprocessing as the host's `Model::trace`, by the same code.
        read_sample(i, input);
        model.trace(input, arena, &mut |layer, out| {
            let bytes = match out {
                Activations::F32(v) => as_bytes(v),
                // SAFETY: i8 and u8 have the same size and alignment.
                Activations::Int8(v, _) => unsafe {
                    core::slice::from_raw_parts(v.as_ptr().cast(), v.len())
                },
            };
            defmt::info!("output {=usize} {=usize} {=[u8]}", i, layer, bytes);
        })?;
        let s = model.score(input, arena)?;
        defmt::info!(
            "input {=usize} run {=u32} {=str} error {=f32} anomalous {=bool}",
            i,
            ticks,
            timer::UNIT,
            s.error,
            s.anomalous
        );
    }
    defmt::info!("validate stack {=usize} B", stack_used);
    Ok(())
}

#[entry]
fn main() -> ! {
    stack::paint();
    finish(run())
}
