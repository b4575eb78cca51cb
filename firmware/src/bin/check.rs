//! The host's end-to-end check of aedge on a Cortex-M4F (what `aedge bench --targets mcu` and
//! the firmware tests run): for each embedded sample, `score`, `denoise` and `reconstruct`
//! with their results, checksums, the full reconstruction bytes and the timing; the stack
//! high-water mark; a threshold learned from the samples and kept through storage; the timed
//! bare inference and its per-layer profile. A series model instead streams the embedded rows
//! one sample at a time. The inference path returns errors instead of panicking.
#![no_std]
#![no_main]

use aedge_firmware::demo::{self, Buffers, Takes};
use aedge_firmware::{as_bytes, checksum, finish, read_sample, stack, timer, SAMPLE_COUNT, SERIES};
use aedge_runtime::Error;
use cortex_m_rt::entry;

fn run() -> Result<(), Error> {
    let (
        model,
        Buffers {
            arena,
            input,
            output,
            stream,
        },
    ) = demo::start(Takes::Either)?;
    if SERIES {
        return demo::stream(model, arena, stream);
    }
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
    demo::learn(&model, input, arena)?;
    demo::bench(&model, arena)?;
    demo::profile(&model, arena)
}

#[entry]
fn main() -> ! {
    stack::paint();
    finish(run())
}
