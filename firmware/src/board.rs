//! What differs between QEMU and real boards: the defmt transport and how a run ends.

#[cfg(feature = "qemu")]
use defmt_semihosting as _;

#[cfg(not(feature = "qemu"))]
use defmt_rtt as _;

/// Ends the run with an exit code: a semihosting exit under QEMU (the host sees the code);
/// on a board, a breakpoint that probe-rs reports, then a parked core.
pub fn exit(code: i32) -> ! {
    #[cfg(feature = "qemu")]
    semihosting::process::exit(code);
    #[cfg(not(feature = "qemu"))]
    {
        let _ = code;
        cortex_m::asm::bkpt();
        loop {
            cortex_m::asm::wfi();
        }
    }
}
