//! A series model on the device: the embedded rows pushed one sample at a time through
//! `Stream` (window and range of values seen in a caller-owned buffer), every scored window logged with its score
//! in [0, 1], verdict and the cost of its push.
#![no_std]
#![no_main]

use aedge_firmware::demo::{self, Buffers, Takes};
use aedge_firmware::{finish, stack};
use aedge_runtime::Error;
use cortex_m_rt::entry;

fn run() -> Result<(), Error> {
    let (model, Buffers { arena, stream, .. }) = demo::start(Takes::Series)?;
    demo::stream(model, arena, stream)
}

#[entry]
fn main() -> ! {
    stack::paint();
    finish(run())
}
