//! Micro-benchmarks whose Cortex-M4 cycle counts Arm's Technical Reference Manual fixes (table
//! 3-1 and its load/store timings), for checking the host's cycle-estimate plugin
//! (`tools/cycles`, `tools/tests/cycles.rs`): each sequence runs between two timer reads with
//! the same code around it, so its cost is its measurement minus the empty sequence's. On a
//! board the same binary gives DWT cycles, a check of the manual itself.
#![no_std]
#![no_main]

use aedge_firmware::{finish, timer};
use aedge_runtime::Error;
use core::arch::asm;
use cortex_m_rt::entry;

/// What the loads and stores read and write.
static mut BUF: [u32; 16] = [0; 16];

/// Times one instruction sequence. The registers are set inside the assembly, the same for
/// every sequence, so the code between the two timer reads differs by the sequence alone; a
/// `nop` on either side keeps its first and last instructions from pairing with the set-up.
macro_rules! time {
    ($name:literal, $($body:tt)*) => {{
        let t = timer::now();
        // SAFETY: the sequences read and write BUF (64 bytes at r2 and r3) and the
        // clobbered registers only; the stack is balanced.
        unsafe {
            asm!(
                "movw r2, :lower16:{buf}",
                "movt r2, :upper16:{buf}",
                "add r3, r2, #32",
                "movs r0, #1",
                "movs r1, #16",
                "nop",
                $($body)*
                "nop",
                buf = sym BUF,
                out("r0") _,
                out("r1") _,
                out("r2") _,
                out("r3") _,
                out("r4") _,
                out("r5") _,
                out("r8") _,
                out("r10") _,
                out("r12") _,
                out("lr") _,
                out("s0") _,
                out("s1") _,
                out("s2") _,
            )
        };
        let ticks = timer::elapsed(t);
        defmt::info!("micro {=str} {=u32} {=str}", $name, ticks, timer::UNIT);
    }};
}

fn run() -> Result<(), Error> {
    timer::init();
    time!("empty",);
    time!("alu", ".rept 64", "adds r0, r0, #1", ".endr",);
    time!("ldr-pipelined", ".rept 64", "ldr r4, [r2]", ".endr",);
    time!(
        "ldr-str",
        ".rept 32",
        "ldr r4, [r2]",
        "str r4, [r3]",
        ".endr",
    );
    time!(
        "ldr-use",
        ".rept 32",
        "ldr r4, [r2]",
        "adds r4, r4, #1",
        ".endr",
    );
    time!(
        "address-stall",
        ".rept 32",
        "adds r5, r2, #4",
        "ldr r4, [r5]",
        ".endr",
    );
    time!("ldm", ".rept 16", "ldm.w r2, {{r4, r5, r8, r10}}", ".endr",);
    time!(
        "push-pop",
        ".rept 16",
        "push {{r4, r5, r8, r10}}",
        "pop {{r4, r5, r8, r10}}",
        ".endr",
    );
    time!("ldrd", ".rept 16", "ldrd r4, r5, [r2]", ".endr",);
    time!("smlad", ".rept 64", "smlad r4, r0, r1, r4", ".endr",);
    time!("smull", ".rept 32", "smull r4, r5, r0, r1", ".endr",);
    time!("sdiv", ".rept 8", "sdiv r4, r1, r0", ".endr",);
    time!("vmla", ".rept 16", "vmla.f32 s0, s1, s2", ".endr",);
    time!("vadd", ".rept 16", "vadd.f32 s0, s1, s2", ".endr",);
    time!("vdiv", ".rept 4", "vdiv.f32 s0, s1, s2", ".endr",);
    time!("vldr", ".rept 8", "vldr s0, [r2]", ".endr",);
    time!("loop", "movs r4, #16", "2:", "subs r4, r4, #1", "bne 2b",);
    time!("call-return", "bl 3f", "b 4f", "3:", "bx lr", "4:",);
    defmt::info!("micro done");
    Ok(())
}

#[entry]
fn main() -> ! {
    finish(run())
}
