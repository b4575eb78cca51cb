//! Cortex-M4 cycles of an executed instruction stream, from the Technical Reference Manual
//! (ARM DDI 0439, section 3.3: table 3-1 and "Load/store timings"), at zero wait states.
//!
//! Three figures are kept: the estimate and a lower and an upper bound, because the manual
//! gives ranges where the timing depends on what an instruction-set simulator does not see:
//! - a pipeline refill after a taken branch, P, is 1 to 3 cycles "depending on the alignment
//!   and width of the target instruction, and whether the processor manages to speculate the
//!   address early". The estimate takes 1, plus 1 when the target is a 32-bit instruction
//!   that straddles a word (two fetches), plus 1 when the target comes from a register or
//!   memory (`BX`, `POP {pc}`, `LDR pc`: nothing to speculate); the bounds take 1 and 3.
//! - `SDIV`/`UDIV` take 2 to 12 cycles by the operands' magnitudes, which QEMU's plugin API
//!   (version 1) cannot read: the estimate takes the upper bound, 12.
//! - `IT` may be folded into the instruction before it: the estimate counts 1, the lower
//!   bound 0.
//!
//! Pipelining (the same section): a single load costs 2 cycles, but 1 when it directly follows
//! a single load without writeback whose destination does not form its address; a single
//! store costs 1 (the write buffer takes the data phase), and nothing pipelines after it;
//! `LDRD`/`STRD` cost 3 and never pipeline; a load or store whose address register was
//! written by the data-processing instruction just before stalls 1 cycle (no forwarding).
//!
//! Flash wait states are not in the cycles themselves: the tracker counts what a wait-state
//! model needs, the flash lines (64 bits, STM32L4's flash read width) the stream reads —
//! as data (the model's weights and constants live in flash) and as instructions — counting
//! a line again only when another line was read in between (a one-line buffer). The host
//! charges the board's wait states per line (`aedge::mcu::cycles`).
//!
//! Not modelled: what the ART accelerator's caches and prefetch buffer of real parts hide
//! (the host's estimate takes instruction fetches as hidden and data lines as not), bus
//! contention with DMA, unaligned accesses that split, exceptions, and an `IT` block's skipped
//! loads (counted as executed).

use crate::thumb::{Class, Insn};

/// Cycles: the estimate and its bounds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Cycles {
    /// The model's estimate.
    pub estimate: u64,
    /// Every range at its lower end.
    pub low: u64,
    /// Every range at its upper end.
    pub high: u64,
}

impl Cycles {
    fn add(&mut self, estimate: u64, low: u64, high: u64) {
        self.estimate += estimate;
        self.low += low;
        self.high += high;
    }
}

/// Bytes of one flash line: a read of any byte of it fetches all of it.
pub const FLASH_LINE: u64 = 8;

/// Reads of flash lines, each counted when it differs from the line read before it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FlashLines {
    /// Lines read by loads.
    pub data: u64,
    /// Lines fetched for instructions.
    pub code: u64,
    last_data: Option<u64>,
    last_code: Option<u64>,
}

/// Follows an executed instruction stream and adds up its cycles.
#[derive(Clone, Debug)]
pub struct Tracker {
    /// Cycles so far.
    pub cycles: Cycles,
    /// Instructions so far.
    pub instructions: u64,
    /// Instructions of an encoding the decoder does not know (counted as 1 cycle).
    pub unknown: u64,
    /// Flash lines read so far.
    pub flash: FlashLines,
    /// The flash's addresses, `start..end` (the code and the model are in flash).
    pub flash_range: (u64, u64),
    last: Option<(u64, Insn)>,
}

impl Default for Tracker {
    fn default() -> Tracker {
        Tracker::new()
    }
}

impl Tracker {
    /// A tracker at zero.
    pub const fn new() -> Tracker {
        Tracker {
            cycles: Cycles {
                estimate: 0,
                low: 0,
                high: 0,
            },
            instructions: 0,
            unknown: 0,
            flash: FlashLines {
                data: 0,
                code: 0,
                last_data: None,
                last_code: None,
            },
            flash_range: (0, 0),
            last: None,
        }
    }

    fn in_flash(&self, addr: u64) -> bool {
        (self.flash_range.0..self.flash_range.1).contains(&addr)
    }

    /// Accounts for a data read of `size` bytes at `addr` by the instruction being executed.
    pub fn read(&mut self, addr: u64, size: u64) {
        if !self.in_flash(addr) {
            return;
        }
        for line in addr / FLASH_LINE..=(addr + size.max(1) - 1) / FLASH_LINE {
            if self.flash.last_data != Some(line) {
                self.flash.data += 1;
                self.flash.last_data = Some(line);
            }
        }
    }

    /// Accounts for `insn` at address `pc`, about to execute.
    pub fn step(&mut self, pc: u64, insn: &Insn) {
        if let Some((last_pc, last)) = self.last {
            // Under `-icount` QEMU stops a block at an I/O access (the timer read) and runs
            // that instruction again in a block of its own: the same address twice in a row
            // is that replay, not a new instruction (the firmware has no branch-to-self in
            // what it times).
            if pc == last_pc {
                return;
            }
            // Was the instruction before a taken branch (anything that did not fall through)?
            if pc != last_pc + last.size as u64 {
                let straddles = insn.size == 4 && pc % 4 == 2;
                let p = 1 + straddles as u64 + last.indirect as u64;
                self.cycles.add(p, 1, 3);
            }
        }
        if self.in_flash(pc) {
            for line in pc / FLASH_LINE..=(pc + insn.size as u64 - 1) / FLASH_LINE {
                if self.flash.last_code != Some(line) {
                    self.flash.code += 1;
                    self.flash.last_code = Some(line);
                }
            }
        }
        let prev = self.last.map(|(_, i)| i);
        let (e, lo, hi) = base(insn, prev.as_ref());
        self.cycles.add(e, lo, hi);
        self.instructions += 1;
        self.unknown += (insn.class == Class::Unknown) as u64;
        self.last = Some((pc, *insn));
    }
}

/// The cycles of `insn` after `prev`, before any refill: (estimate, low, high).
fn base(insn: &Insn, prev: Option<&Insn>) -> (u64, u64, u64) {
    let memory = matches!(
        insn.class,
        Class::Load
            | Class::Store
            | Class::Dual
            | Class::Multiple(_)
            | Class::Table
            | Class::FpLoadStore
            | Class::FpMultiple(_)
    );
    // An address register just written by data processing: one stall cycle.
    let stall = match prev {
        Some(p) if memory && matches!(p.class, Class::Alu | Class::Mul | Class::Div) => {
            (p.writes & insn.address != 0) as u64
        }
        _ => 0,
    };
    let pipelined = match prev {
        Some(p) => {
            p.class == Class::Load && !p.writeback && p.writes & insn.address == 0 && !p.indirect
        }
        None => false,
    };
    let fixed = |c: u64| (c + stall, c + stall, c + stall);
    match insn.class {
        Class::Alu | Class::Mul | Class::Fp | Class::Branch | Class::Unknown => fixed(1),
        Class::It => (1, 0, 1),
        Class::Div => (12 + stall, 2, 12),
        Class::Load if pipelined => fixed(1),
        Class::Load => fixed(2),
        Class::Store => fixed(1),
        Class::Dual => fixed(3),
        Class::Multiple(n) => fixed(1 + n as u64),
        Class::Table => fixed(3),
        Class::FpMove2 | Class::FpLoadStore => fixed(2),
        Class::FpMac => fixed(3),
        Class::FpLong => fixed(14),
        Class::FpMultiple(n) => fixed(1 + n as u64),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::thumb::decode;

    /// Runs straight-line code at 0x1000 (each instruction's bytes) and returns its cycles.
    fn run(code: &[&[u8]]) -> Cycles {
        let mut t = Tracker::new();
        let mut pc = 0x1000;
        for bytes in code {
            let i = decode(bytes);
            t.step(pc, &i);
            pc += i.size as u64;
        }
        t.cycles
    }

    const NOP: &[u8] = &[0x00, 0xbf];
    const LDR_R1_R0: &[u8] = &[0x01, 0x68]; // ldr r1, [r0]
    const LDR_R2_R0_4: &[u8] = &[0x42, 0x68]; // ldr r2, [r0, #4]
    const LDR_R2_R1: &[u8] = &[0x0a, 0x68]; // ldr r2, [r1]
    const STR_R1_R3: &[u8] = &[0x19, 0x60]; // str r1, [r3]
    const ADDS_R1_R0_4: &[u8] = &[0x01, 0x1d]; // adds r1, r0, #4

    #[test]
    fn loads_pipeline_as_the_manual_says() {
        // "LDR R0,[R1]; LDR R1,[R2] - normally three cycles total".
        assert_eq!(run(&[LDR_R1_R0, LDR_R2_R0_4]).estimate, 3);
        // "LDR R0,[R1,R5]; LDR R1,[R2]; LDR R2,[R3,#4] - normally four cycles total".
        assert_eq!(run(&[LDR_R1_R0, LDR_R2_R0_4, LDR_R1_R0]).estimate, 4);
        // "LDR R0,[R1,R2]; STR R0,[R3,#20] - normally three cycles total".
        assert_eq!(run(&[LDR_R1_R0, STR_R1_R3]).estimate, 3);
        // The second load's address is the first's result: no pipelining.
        assert_eq!(run(&[LDR_R1_R0, LDR_R2_R1]).estimate, 4);
        // Nothing pipelines after a store.
        assert_eq!(run(&[STR_R1_R3, LDR_R1_R0]).estimate, 3);
    }

    #[test]
    fn an_address_from_the_instruction_before_stalls() {
        assert_eq!(run(&[ADDS_R1_R0_4, LDR_R2_R1]).estimate, 4);
        assert_eq!(run(&[ADDS_R1_R0_4, NOP, LDR_R2_R1]).estimate, 4);
    }

    #[test]
    fn taken_branches_pay_a_refill() {
        // subs r0, #1; bne back to subs: three times round, then fall through.
        let subs = decode(&[0x01, 0x38]);
        let bne = decode(&[0xfd, 0xd1]);
        let mut t = Tracker::new();
        for _ in 0..3 {
            t.step(0x1000, &subs);
            t.step(0x1002, &bne);
        }
        t.step(0x1004, &decode(NOP));
        // 3 subs + 3 bne + 2 refills (direct, 16-bit target: P = 1) + nop.
        assert_eq!(t.cycles.estimate, 3 + 3 + 2 + 1);
        assert_eq!(t.cycles.low, 3 + 3 + 2 + 1);
        assert_eq!(t.cycles.high, 3 + 3 + 2 * 3 + 1);
    }

    #[test]
    fn flash_lines_are_counted_once_per_change_of_line() {
        let mut t = Tracker::new();
        t.flash_range = (0, 0x1_0000);
        // Two 16-bit instructions in one line, then one in the next: two code lines.
        for pc in [0x1000, 0x1002, 0x1008] {
            t.step(pc, &decode(NOP));
        }
        assert_eq!(t.flash.code, 2);
        // Loads: 4 bytes twice in one line, then an 8-byte read straddling two lines (the
        // first of them the same line again: one new), then RAM (not flash).
        t.read(0x2000, 4);
        t.read(0x2004, 4);
        t.read(0x2004, 8);
        t.read(0x2000_0000, 4);
        assert_eq!(t.flash.data, 2);
        // Back to an earlier line after another: read again (a one-line buffer).
        t.read(0x2000, 4);
        assert_eq!(t.flash.data, 3);
        // A 32-bit instruction straddling two lines fetches both (the first is the line
        // just fetched: one new); code in RAM fetches none.
        t.step(0x100e, &decode(&[0x91, 0xfb, 0xf2, 0xf0]));
        assert_eq!(t.flash.code, 3);
        t.step(0x2000_1000, &decode(NOP));
        assert_eq!(t.flash.code, 3);
    }

    #[test]
    fn ranges_for_divides() {
        let c = run(&[&[0x91, 0xfb, 0xf2, 0xf0]]); // sdiv r0, r1, r2
        assert_eq!((c.estimate, c.low, c.high), (12, 2, 12));
    }
}
