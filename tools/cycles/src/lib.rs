//! `aedge-cycles`: a QEMU TCG plugin that estimates the Cortex-M4 cycles of what the firmware
//! times. QEMU executes instructions, not cycles; this plugin decodes every instruction QEMU
//! translates ([`thumb`]), follows the executed stream through a timing model of the
//! Cortex-M4 from Arm's Technical Reference Manual ([`timing`]), and each time a marker
//! function starts — the firmware's `aedge_timer_now`, which every timed region begins and
//! ends with — it writes the running instruction count and cycle estimate to a file. The host
//! pairs the reads the firmware reported a measurement between (`aedge::mcu::cycles`).
//!
//! ```text
//! qemu-system-arm … -plugin libaedge_cycles.so,mark=<address of aedge_timer_now>,out=reads.txt
//! ```
//!
//! (`flash_end=<bytes>` sets the end of the flash region, from address 0; 4 MiB by default,
//! QEMU's mps2-an386.) Output: one line per start of the marker, `<instructions> <estimate>
//! <low> <high> <flash data lines> <flash code lines>` (see [`timing::FlashLines`]), and a last
//! line `end` + the same + `<unknown encodings>`, written when the guest exits.

pub mod thumb;
pub mod timing;

// The QEMU side: its symbols resolve only inside QEMU, so unit tests (an executable) leave
// it out.
#[cfg(not(test))]
mod plugin;
