//! The bare inference on the device, timed as MLPerf Tiny times it (the second run, input
//! already in the arena) with the stack it needs, then the same inference layer by layer.
#![no_std]
#![no_main]

use aedge_firmware::demo::{self, Buffers, Takes};
use aedge_firmware::{finish, stack};
use aedge_runtime::Error;
use cortex_m_rt::entry;

fn run() -> Result<(), Error> {
    let (model, Buffers { arena, .. }) = demo::start(Takes::Inputs)?;
    demo::bench(&model, arena)?;
    demo::profile(&model, arena)
}

#[entry]
fn main() -> ! {
    stack::paint();
    finish(run())
}
