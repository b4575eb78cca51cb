//! Denoising on the device: each embedded sample through the autoencoder, back in sensor
//! units and clamped to the trained range, with a checksum of the result and the time it
//! took.
#![no_std]
#![no_main]

use aedge_firmware::demo::{self, Buffers, Takes};
use aedge_firmware::{checksum, finish, read_sample, stack, timer, SAMPLE_COUNT};
use aedge_runtime::Error;
use cortex_m_rt::entry;

fn run() -> Result<(), Error> {
    let (
        model,
        Buffers {
            arena,
            input,
            output,
            ..
        },
    ) = demo::start(Takes::Inputs)?;
    for i in 0..SAMPLE_COUNT {
        read_sample(i, input);
        let t = timer::now();
        model.denoise(input, output, arena)?;
        let ticks = timer::elapsed(t);
        defmt::info!(
            "sample {=usize}: denoised-fnv {=u32:#010x} ({=u32} {=str})",
            i,
            checksum(output),
            ticks,
            timer::UNIT
        );
    }
    defmt::info!("stack high-water {=usize} B", stack::high_water());
    Ok(())
}

#[entry]
fn main() -> ! {
    stack::paint();
    finish(run())
}
