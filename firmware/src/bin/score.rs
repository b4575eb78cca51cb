//! Anomaly scores on the device: each embedded sample scored against the model's calibrated
//! threshold (verdict, score, time), then a threshold learned from the samples by the model's
//! rule, as a deployed device learns what normal is on site, kept through storage.
#![no_std]
#![no_main]

use aedge_firmware::demo::{self, Buffers, Takes};
use aedge_firmware::{finish, read_sample, stack, timer, SAMPLE_COUNT};
use aedge_runtime::Error;
use cortex_m_rt::entry;

fn run() -> Result<(), Error> {
    let (model, Buffers { arena, input, .. }) = demo::start(Takes::Inputs)?;
    for i in 0..SAMPLE_COUNT {
        read_sample(i, input);
        let t = timer::now();
        let s = model.score(input, arena)?;
        let ticks = timer::elapsed(t);
        defmt::info!(
            "sample {=usize}: score {=f32} threshold {=f32} anomalous {=bool} ({=u32} {=str})",
            i,
            s.error,
            s.threshold,
            s.anomalous,
            ticks,
            timer::UNIT
        );
    }
    demo::learn(&model, input, arena)?;
    defmt::info!("stack high-water {=usize} B", stack::high_water());
    Ok(())
}

#[entry]
fn main() -> ! {
    stack::paint();
    finish(run())
}
