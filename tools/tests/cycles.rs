//! The cycle-estimate plugin (`tools/cycles`) on micro-benchmarks whose Cortex-M4 cycles Arm's
//! Technical Reference Manual fixes (`firmware/src/bin/cycles.rs`), run in QEMU: each
//! sequence's instructions and estimated cycles (with the bounds of the manual's ranges),
//! less the empty sequence's, must be what the manual gives. Needs qemu-system-arm
//! (scripts/test.sh installs it).

mod common;

use aedge::mcu::{self, cycles::Cycles};
use common::repo;

/// (sequence, instructions, estimate, low, high), from table 3-1 and "Load/store timings" of
/// the Cortex-M4 TRM at zero wait states.
const EXPECTED: &[(&str, u64, u64, u64, u64)] = &[
    // 64 × ADDS: 1 each.
    ("alu", 64, 64, 64, 64),
    // 64 × LDR from the same base: 2 for the first, then 1 each, pipelined ("LDR R0,[R1];
    // LDR R1,[R2]: normally three cycles total").
    ("ldr-pipelined", 64, 65, 65, 65),
    // 32 × (LDR; STR of the loaded value): "normally three cycles total" each, and nothing
    // pipelines after a store, so the next LDR costs 2 again.
    ("ldr-str", 64, 96, 96, 96),
    // 32 × (LDR; ADDS on its result): 2 + 1.
    ("ldr-use", 64, 96, 96, 96),
    // 32 × (ADDS r5; LDR [r5]): the address comes from the instruction before, 1 stall
    // cycle ("no forwarding path"): 1 + 2 + 1.
    ("address-stall", 64, 128, 128, 128),
    // 16 × LDM of 4 registers: 1 + N.
    ("ldm", 16, 80, 80, 80),
    // 16 × (PUSH 4; POP 4): 1 + N each.
    ("push-pop", 32, 160, 160, 160),
    // 16 × LDRD: 3 (1 + 2), not pipelined.
    ("ldrd", 16, 48, 48, 48),
    // 64 × SMLAD, 32 × SMULL: 1 each on the M4.
    ("smlad", 64, 64, 64, 64),
    ("smull", 32, 32, 32, 32),
    // 8 × SDIV: 2 to 12 by the operands; the estimate takes 12.
    ("sdiv", 8, 96, 16, 96),
    // 16 × VMLA.F32: 3; 16 × VADD.F32: 1; 4 × VDIV.F32: 14; 8 × VLDR: 2.
    ("vmla", 16, 48, 48, 48),
    ("vadd", 16, 16, 16, 16),
    ("vdiv", 4, 56, 56, 56),
    ("vldr", 8, 16, 16, 16),
    // MOVS; 16 × (SUBS; BNE), 15 taken to a 16-bit target fetched early: 1 + 16 + 16 +
    // 15·P with P = 1 (estimate and low) or 3 (high).
    ("loop", 33, 48, 48, 78),
    // BL (1 + P, direct), BX LR (1 + P, from a register: the estimate takes P = 2), B
    // (1 + P, direct).
    ("call-return", 3, 7, 6, 12),
];

#[test]
fn the_plugin_counts_the_manuals_cycles_on_micro_benchmarks() {
    let work = repo().join("target/cycles-test");
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work).unwrap();
    let elf = work.join("cycles.elf");
    mcu::build_micro(mcu::CYCLES, &mcu::target_dir(), &elf).unwrap();
    let (raw, mut reads) = mcu::run_qemu_cycles(&elf, 120).unwrap();
    assert_eq!(reads.unknown, 0, "instructions the plugin could not decode");
    let lines = mcu::decode(&elf, &raw).unwrap();
    assert!(lines.iter().any(|l| l == "micro done"), "{lines:?}");
    let mut measured = Vec::new();
    for l in lines
        .iter()
        .filter(|l| l.starts_with("micro ") && *l != "micro done")
    {
        let w: Vec<&str> = l.split_whitespace().collect();
        let insns = mcu::instructions(w[2].parse().unwrap());
        measured.push((w[1].to_string(), insns, reads.take(insns).unwrap()));
    }
    let (name, empty_insns, empty) = measured[0].clone();
    assert_eq!(name, "empty");
    let names: Vec<&str> = measured[1..].iter().map(|m| m.0.as_str()).collect();
    let want: Vec<&str> = EXPECTED.iter().map(|e| e.0).collect();
    assert_eq!(names, want);
    for ((name, insns, c), &(_, n, e, lo, hi)) in measured[1..].iter().zip(EXPECTED) {
        let got = Cycles {
            estimate: c.estimate - empty.estimate,
            low: c.low - empty.low,
            high: c.high - empty.high,
            ..Cycles::default()
        };
        println!(
            "{name}: {} instructions, {} cycles ({}–{})",
            insns - empty_insns,
            got.estimate,
            got.low,
            got.high
        );
        // The timer counts in steps of 1.6 instructions: the firmware's own count is exact
        // to ±1, so a difference of two to ±2.
        assert!(
            (insns - empty_insns).abs_diff(n) <= 2,
            "{name}: {insns} instructions"
        );
        assert_eq!(
            got,
            Cycles {
                estimate: e,
                low: lo,
                high: hi,
                ..Cycles::default()
            },
            "{name}"
        );
    }
}
