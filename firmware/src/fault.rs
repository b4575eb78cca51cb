//! How a run ends: [`finish`] exits with 0, or logs the runtime's error and exits with 2; the
//! panic and HardFault handlers log over defmt and exit too (101, 102), so QEMU never hangs
//! and a board stops at a breakpoint. `aedge new firmware` copies this file into new projects.

use crate::board;
use cortex_m_rt::{exception, ExceptionFrame};

/// Ends the run: exit code 0 on success, 2 with the error logged otherwise.
pub fn finish(r: Result<(), aedge_runtime::Error>) -> ! {
    match r {
        Ok(()) => board::exit(0),
        Err(e) => {
            defmt::error!("inference failed: {}", e);
            board::exit(2)
        }
    }
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    defmt::error!("panic: {}", defmt::Display2Format(info));
    board::exit(101)
}

#[exception]
unsafe fn HardFault(frame: &ExceptionFrame) -> ! {
    // Without this, QEMU spins forever in the default handler.
    defmt::error!("HardFault at pc {=u32:#010x}", frame.pc());
    board::exit(102)
}
