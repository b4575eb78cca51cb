//! What the Cortex-M4 timing model needs to know of one Thumb instruction: its class, the
//! registers it writes and the registers a load or store forms its address from. Decoded
//! from the raw halfwords (ARMv7-M Architecture Reference Manual, chapter A5), not from a
//! disassembler's text, so the result does not depend on QEMU's disassembler version.

/// How an instruction is timed (Cortex-M4 TRM, table 3-1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Class {
    /// Data processing, moves, shifts, extends, bit fields, saturation, SIMD adds, IT,
    /// hints: 1 cycle.
    Alu,
    /// Every multiply and multiply-accumulate, 32- and 64-bit results, DSP included: 1 cycle
    /// on the M4.
    Mul,
    /// `SDIV`/`UDIV`: 2 to 12 cycles by the operands' magnitudes.
    Div,
    /// A single load (`LDR`, `LDRB`, `LDRH`, `LDRSB`, `LDRSH`, exclusive): 2 cycles, 1 when
    /// pipelined after another single load.
    Load,
    /// A single store: 1 cycle (the write buffer takes the data phase).
    Store,
    /// `LDRD`/`STRD`: 3 cycles, never pipelined.
    Dual,
    /// `LDM`, `STM`, `PUSH`, `POP` of `n` registers: 1 + n.
    Multiple(u8),
    /// `TBB`/`TBH`: 2 for the load, 1 for the add, then the refill.
    Table,
    /// A branch (`B`, `BL`, `BX`, `BLX`, `CBZ`, `CBNZ`): 1, plus the refill when taken.
    Branch,
    /// `IT`: 1, or 0 when folded into the instruction before it.
    It,
    /// FPU single-cycle operations (`VADD`, `VSUB`, `VMUL`, `VABS`, `VNEG`, `VCVT`,
    /// `VCMP`, `VMOV`, `VMRS`): 1.
    Fp,
    /// `VMOV` of two core registers: 2.
    FpMove2,
    /// `VMLA`, `VMLS`, `VNMLA`, `VNMLS`, `VFMA`, `VFMS`, `VFNMA`, `VFNMS`: 3.
    FpMac,
    /// `VDIV`, `VSQRT`: 14.
    FpLong,
    /// `VLDR`/`VSTR`: 2.
    FpLoadStore,
    /// `VLDM`, `VSTM`, `VPUSH`, `VPOP` of `n` words: 1 + n.
    FpMultiple(u8),
    /// An encoding this decoder does not know: counted as 1 cycle and reported.
    Unknown,
}

/// One decoded instruction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Insn {
    /// Its timing class.
    pub class: Class,
    /// 2 or 4 bytes.
    pub size: u8,
    /// Core registers it writes (bit r for register r).
    pub writes: u16,
    /// Registers a load or store forms its address from.
    pub address: u16,
    /// A load or store that updates its base register.
    pub writeback: bool,
    /// A branch whose target comes from a register or memory (`BX`, `BLX` register, `POP`
    /// or `LDR` into PC, `MOV`/`ADD` to PC), which the core cannot fetch early.
    pub indirect: bool,
}

const PC: u16 = 1 << 15;
const SP: u16 = 1 << 13;
const LR: u16 = 1 << 14;

fn r(n: u16) -> u16 {
    1 << (n & 15)
}

impl Insn {
    fn new(class: Class, size: u8) -> Insn {
        Insn {
            class,
            size,
            writes: 0,
            address: 0,
            writeback: false,
            indirect: false,
        }
    }

    fn writing(mut self, regs: u16) -> Insn {
        self.writes |= regs;
        self
    }

    fn addressed(mut self, regs: u16) -> Insn {
        self.address |= regs;
        self
    }
}

/// Whether a first halfword starts a 32-bit instruction.
pub fn is_wide(hw1: u16) -> bool {
    matches!(hw1 >> 11, 0b11101..=0b11111)
}

/// Decodes one instruction from its bytes (little-endian halfwords, as in memory).
pub fn decode(bytes: &[u8]) -> Insn {
    let half = |i: usize| u16::from_le_bytes([bytes[i], bytes[i + 1]]);
    if bytes.len() >= 4 && is_wide(half(0)) {
        wide(half(0), half(2))
    } else if bytes.len() >= 2 {
        narrow(half(0))
    } else {
        Insn::new(Class::Unknown, bytes.len() as u8)
    }
}

/// 16-bit Thumb (A5.2).
fn narrow(h: u16) -> Insn {
    let alu = |rd: u16| Insn::new(Class::Alu, 2).writing(r(rd));
    let low3 = |shift: u16| (h >> shift) & 7;
    match h >> 10 {
        // Shift (immediate), add, subtract, move, compare.
        0b000000..=0b001111 => {
            let op = (h >> 11) & 0b111;
            match op {
                // MOV/CMP/ADD/SUB with an 8-bit immediate: Rdn in bits 10:8, CMP writes none.
                0b101 => Insn::new(Class::Alu, 2),
                0b100 | 0b110 | 0b111 => alu(low3(8)),
                _ => alu(low3(0)),
            }
        }
        // Data processing on low registers; MUL is op 1101; TST, CMP, CMN write none.
        0b010000 => match (h >> 6) & 0xf {
            0b1101 => Insn::new(Class::Mul, 2).writing(r(low3(0))),
            0b1000 | 0b1010 | 0b1011 => Insn::new(Class::Alu, 2),
            _ => alu(low3(0)),
        },
        // Special data processing and branch/exchange.
        0b010001 => {
            let op = (h >> 8) & 3;
            let rd = ((h >> 4) & 8) | (h & 7);
            match op {
                0b11 => {
                    let mut i = Insn::new(Class::Branch, 2);
                    i.indirect = true;
                    if h & 0x80 != 0 {
                        i.writes = LR;
                    }
                    i
                }
                0b01 => Insn::new(Class::Alu, 2), // CMP high registers
                _ if rd == 15 => {
                    let mut i = Insn::new(Class::Branch, 2);
                    i.indirect = true;
                    i
                }
                _ => alu(rd),
            }
        }
        // LDR (literal).
        0b010010 | 0b010011 => Insn::new(Class::Load, 2).writing(r(low3(8))),
        _ => match h >> 12 {
            // Load/store, register offset: STR, STRH, STRB | LDRSB, LDR, LDRH, LDRB, LDRSH.
            0b0101 => {
                let op = (h >> 9) & 7;
                let a = r(low3(3)) | r(low3(6));
                if op < 3 {
                    Insn::new(Class::Store, 2).addressed(a)
                } else {
                    Insn::new(Class::Load, 2).addressed(a).writing(r(low3(0)))
                }
            }
            // Load/store word or byte, halfword (immediate): bit 11 is L.
            0b0110..=0b1000 => {
                let a = r(low3(3));
                if h & 0x800 == 0 {
                    Insn::new(Class::Store, 2).addressed(a)
                } else {
                    Insn::new(Class::Load, 2).addressed(a).writing(r(low3(0)))
                }
            }
            // Load/store SP-relative.
            0b1001 => {
                if h & 0x800 == 0 {
                    Insn::new(Class::Store, 2).addressed(SP)
                } else {
                    Insn::new(Class::Load, 2).addressed(SP).writing(r(low3(8)))
                }
            }
            // ADR, ADD (SP plus immediate).
            0b1010 => alu(low3(8)),
            0b1011 => misc(h),
            // STM, LDM.
            0b1100 => {
                let n = (h & 0xff).count_ones() as u8;
                let rn = low3(8);
                let mut i = Insn::new(Class::Multiple(n), 2).addressed(r(rn));
                if h & 0x800 != 0 {
                    i.writes = h & 0xff;
                    // Writeback unless the base is in the list.
                    i.writeback = h & r(rn) == 0;
                } else {
                    i.writeback = true;
                }
                if i.writeback {
                    i.writes |= r(rn);
                }
                i
            }
            // Conditional branch, UDF, SVC.
            0b1101 => match (h >> 8) & 0xf {
                0b1110 | 0b1111 => Insn::new(Class::Alu, 2),
                _ => Insn::new(Class::Branch, 2),
            },
            // B (unconditional).
            0b1110 => Insn::new(Class::Branch, 2),
            _ => Insn::new(Class::Unknown, 2),
        },
    }
}

/// 16-bit miscellaneous instructions (A5.2.5).
fn misc(h: u16) -> Insn {
    let alu = |rd: u16| Insn::new(Class::Alu, 2).writing(r(rd));
    match (h >> 5) & 0x7f {
        // ADD/SUB SP, SP, #imm.
        0b0000000..=0b0000111 => alu(13),
        // CBZ/CBNZ.
        x if x & 0b0101000 == 0b0001000 => Insn::new(Class::Branch, 2),
        // SXTH, SXTB, UXTH, UXTB.
        0b0010000..=0b0010111 => alu(h & 7),
        // PUSH: the list plus LR (bit 8).
        0b0100000..=0b0101111 => {
            let n = ((h & 0xff).count_ones() + ((h >> 8) & 1) as u32) as u8;
            let mut i = Insn::new(Class::Multiple(n), 2).addressed(SP).writing(SP);
            i.writeback = true;
            i
        }
        // REV, REV16, REVSH.
        0b1010000..=0b1010111 => alu(h & 7),
        // POP: the list plus PC (bit 8).
        0b1100000..=0b1101111 => {
            let n = ((h & 0xff).count_ones() + ((h >> 8) & 1) as u32) as u8;
            let mut i = Insn::new(Class::Multiple(n), 2)
                .addressed(SP)
                .writing(SP | (h & 0xff));
            i.writeback = true;
            if h & 0x100 != 0 {
                i.writes |= PC;
                i.indirect = true;
            }
            i
        }
        // IT (a non-zero mask); CPS, BKPT and hints (NOP, YIELD, WFE, WFI, SEV).
        _ if h >> 8 == 0xbf && h & 0xf != 0 => Insn::new(Class::It, 2),
        _ => Insn::new(Class::Alu, 2),
    }
}

/// 32-bit Thumb-2 (A5.3).
fn wide(h1: u16, h2: u16) -> Insn {
    let op1 = (h1 >> 11) & 3;
    let op2 = (h1 >> 4) & 0x7f;
    let rn = h1 & 0xf;
    let rd = (h2 >> 8) & 0xf;
    let rt = (h2 >> 12) & 0xf;
    let alu = |rd: u16| {
        let i = Insn::new(Class::Alu, 4);
        // Rd = 15 in a data-processing encoding is TST/TEQ/CMP/CMN: no result.
        if rd == 15 {
            i
        } else {
            i.writing(r(rd))
        }
    };
    match op1 {
        0b01 if op2 & 0b1100100 == 0b0000000 => {
            // Load/store multiple: LDM/STM/PUSH/POP (.W).
            let list = h2;
            let load = h1 & 0x10 != 0;
            let mut i = Insn::new(Class::Multiple(list.count_ones() as u8), 4).addressed(r(rn));
            i.writeback = h1 & 0x20 != 0;
            if i.writeback {
                i.writes |= r(rn);
            }
            if load {
                i.writes |= list;
                i.indirect = list & PC != 0;
            }
            i
        }
        0b01 if op2 & 0b1100100 == 0b0000100 => {
            // Load/store dual or exclusive, table branch.
            let sel1 = (h1 >> 7) & 3;
            let sel2 = (h1 >> 4) & 3;
            let load = h1 & 0x10 != 0;
            if sel1 == 0b01 && sel2 == 0b01 && (h2 >> 4) & 0xf <= 1 {
                let mut i = Insn::new(Class::Table, 4).addressed(r(rn) | r(h2 & 0xf));
                i.indirect = true;
                return i;
            }
            if sel1 < 2 && sel2 < 2 {
                // LDREX/STREX (and byte, halfword): timed as single loads and stores.
                return if load {
                    Insn::new(Class::Load, 4).addressed(r(rn)).writing(r(rt))
                } else {
                    Insn::new(Class::Load, 4)
                        .addressed(r(rn))
                        .writing(r(h2 & 0xf))
                };
            }
            let mut i = Insn::new(Class::Dual, 4).addressed(r(rn));
            i.writeback = h1 & 0x20 != 0;
            if i.writeback {
                i.writes |= r(rn);
            }
            if load {
                i.writes |= r(rt) | r(rd);
            }
            i
        }
        0b01 if op2 & 0b1100000 == 0b0100000 => alu(rd),
        0b01 | 0b11 if op2 & 0b1000000 != 0 => coprocessor(h1, h2),
        0b10 if h2 & 0x8000 == 0 => alu(rd),
        0b10 => {
            // Branches and miscellaneous control.
            let op = (h2 >> 12) & 0b101;
            if op == 0b000 {
                // Conditional branch, or MSR/MRS/hints/barriers when the condition is 111x.
                if (h1 >> 7) & 0b111 == 0b111 {
                    // MRS writes Rd (bits 11:8 of the second halfword).
                    return if h1 & 0x7e0 == 0x3e0 {
                        alu(rd)
                    } else {
                        Insn::new(Class::Alu, 4)
                    };
                }
                return Insn::new(Class::Branch, 4);
            }
            let mut i = Insn::new(Class::Branch, 4);
            if h2 & 0x4000 != 0 {
                i.writes = LR; // BL
            }
            i
        }
        _ => {
            // op1 = 11.
            match op2 {
                // Store single data item.
                x if x & 0b1110001 == 0b0000000 => {
                    let (a, wb) = single_address(h1, h2);
                    let mut i = Insn::new(Class::Store, 4).addressed(a);
                    i.writeback = wb;
                    if wb {
                        i.writes |= r(rn);
                    }
                    i
                }
                // Loads: byte, halfword, word.
                x if x & 0b1100111 == 0b0000001
                    || x & 0b1100111 == 0b0000011
                    || x & 0b1100111 == 0b0000101 =>
                {
                    if rt == 15 && x & 0b110 != 0b100 {
                        // PLD, PLI and memory hints.
                        return Insn::new(Class::Alu, 4);
                    }
                    let (a, wb) = single_address(h1, h2);
                    let mut i = Insn::new(Class::Load, 4).addressed(a).writing(r(rt));
                    i.writeback = wb;
                    if wb {
                        i.writes |= r(rn);
                    }
                    i.indirect = rt == 15;
                    i
                }
                // Data processing (register), parallel add/subtract, misc.
                x if x & 0b1110000 == 0b0100000 => alu(rd),
                // Multiply, multiply-accumulate, absolute difference.
                x if x & 0b1111000 == 0b0110000 => Insn::new(Class::Mul, 4).writing(r(rd)),
                // Long multiply, long multiply-accumulate, divide.
                x if x & 0b1111000 == 0b0111000 => match x & 0b111 {
                    0b001 | 0b011 => Insn::new(Class::Div, 4).writing(r(rd)),
                    _ => Insn::new(Class::Mul, 4).writing(r(rd) | r(rt)),
                },
                _ => Insn::new(Class::Unknown, 4),
            }
        }
    }
}

/// The address registers of a 32-bit single load or store and whether it writes back
/// (A5.3.7-A5.3.10): register offset `[Rn, Rm, LSL #n]`, or an 8-bit immediate with P/U/W.
fn single_address(h1: u16, h2: u16) -> (u16, bool) {
    let rn = h1 & 0xf;
    if rn == 15 {
        return (0, false); // literal
    }
    if h1 & 0x80 == 0 && (h2 >> 6) & 0x3f == 0 {
        return (r(rn) | r(h2 & 0xf), false);
    }
    let indexed = h1 & 0x80 == 0 && h2 & 0x800 != 0;
    (r(rn), indexed && h2 & 0x100 != 0)
}

/// FPU (coprocessors 10 and 11) and other coprocessor encodings (A5.3.18, A6).
fn coprocessor(h1: u16, h2: u16) -> Insn {
    if (h2 >> 9) & 7 != 0b101 {
        return Insn::new(Class::Unknown, 4);
    }
    let rn = h1 & 0xf;
    match (h1 >> 8) & 0xf {
        // Extension register load/store, and 64-bit transfers with core registers.
        0b1100 | 0b1101 => {
            let opcode = (h1 >> 4) & 0x1f;
            if opcode & 0b11110 == 0b00100 {
                // VMOV two core registers <-> two singles or a double.
                let i = Insn::new(Class::FpMove2, 4);
                return if h1 & 0x10 != 0 {
                    i.writing(r(h2 >> 12) | r(h1))
                } else {
                    i
                };
            }
            if opcode & 0b10010 == 0b10000 {
                // VSTR / VLDR.
                return Insn::new(Class::FpLoadStore, 4).addressed(r(rn));
            }
            let words = (h2 & 0xff) as u8;
            let mut i = Insn::new(Class::FpMultiple(words), 4).addressed(r(rn));
            i.writeback = h1 & 0x20 != 0;
            if i.writeback {
                i.writes |= r(rn);
            }
            i
        }
        0b1110 if h2 & 0x10 == 0 => {
            // Floating-point data processing: opc1 = bits 23:20 with bit 22 (D) masked.
            let opc1 = (h1 >> 4) & 0b1011;
            match opc1 {
                0b0000 | 0b0001 | 0b1001 | 0b1010 => Insn::new(Class::FpMac, 4),
                0b1000 => Insn::new(Class::FpLong, 4),
                0b1011 => {
                    // VSQRT: opc2 = 0001, opc3 = 11.
                    let opc2 = h1 & 0xf;
                    if opc2 == 0b0001 && (h2 >> 6) & 3 == 0b11 {
                        Insn::new(Class::FpLong, 4)
                    } else {
                        Insn::new(Class::Fp, 4)
                    }
                }
                _ => Insn::new(Class::Fp, 4),
            }
        }
        0b1110 => {
            // 8-, 16- and 32-bit transfers between core and extension registers (VMOV,
            // VMRS, VMSR): a transfer to a core register writes Rt.
            let i = Insn::new(Class::Fp, 4);
            if h1 & 0x10 != 0 && (h2 >> 12) != 15 {
                i.writing(r(h2 >> 12))
            } else {
                i
            }
        }
        _ => Insn::new(Class::Unknown, 4),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t16(h: u16) -> Insn {
        decode(&h.to_le_bytes())
    }

    fn t32(h1: u16, h2: u16) -> Insn {
        let mut b = h1.to_le_bytes().to_vec();
        b.extend(h2.to_le_bytes());
        decode(&b)
    }

    // Encodings from arm-none-eabi-as (`.syntax unified`, `.thumb`), checked with objdump.
    #[test]
    fn sixteen_bit() {
        assert_eq!(t16(0x3001).class, Class::Alu); // adds r0, #1
        assert_eq!(t16(0x3001).writes, 1);
        assert_eq!(t16(0x6801).class, Class::Load); // ldr r1, [r0]
        assert_eq!(t16(0x6801).address, 1);
        assert_eq!(t16(0x6801).writes, 2);
        assert_eq!(t16(0x6001).class, Class::Store); // str r1, [r0]
        assert_eq!(t16(0x5851).class, Class::Load); // ldr r1, [r2, r1]
        assert_eq!(t16(0x5851).address, 0b110);
        assert_eq!(t16(0xc81e).class, Class::Multiple(4)); // ldm r0!, {r1-r4}
        assert_eq!(t16(0xb510).class, Class::Multiple(2)); // push {r4, lr}
        let pop = t16(0xbd10); // pop {r4, pc}
        assert_eq!(pop.class, Class::Multiple(2));
        assert!(pop.indirect);
        assert_eq!(t16(0xd1fd).class, Class::Branch); // bne.n
        assert_eq!(t16(0xe7fe).class, Class::Branch); // b.n
        assert_eq!(t16(0x4770).class, Class::Branch); // bx lr
        assert!(t16(0x4770).indirect);
        assert_eq!(t16(0xb108).class, Class::Branch); // cbz r0, …
        assert_eq!(t16(0x4348).class, Class::Mul); // muls r0, r1
        assert_eq!(t16(0xbf00).class, Class::Alu); // nop
        assert_eq!(t16(0xbf18).class, Class::It); // it ne
        assert_eq!(t16(0x4a01).class, Class::Load); // ldr r2, [pc, #4]
    }

    #[test]
    fn thirty_two_bit() {
        assert_eq!(t32(0xfb22, 0x1103).class, Class::Mul); // smlad r1, r2, r3, r1
        assert_eq!(t32(0xfb22, 0x1103).writes, 2);
        assert_eq!(t32(0xe9d0, 0x1200).class, Class::Dual); // ldrd r1, r2, [r0]
        assert_eq!(t32(0xfb91, 0xf0f2).class, Class::Div); // sdiv r0, r1, r2
        assert_eq!(t32(0xfbb1, 0xf0f2).class, Class::Div); // udiv r0, r1, r2
        assert_eq!(t32(0xfb81, 0x0102).class, Class::Mul); // smull r0, r1, r1, r2
        assert_eq!(t32(0xf8d0, 0x1004).class, Class::Load); // ldr.w r1, [r0, #4]
        assert_eq!(t32(0xf850, 0x1b04).class, Class::Load); // ldr.w r1, [r0], #4
        assert!(t32(0xf850, 0x1b04).writeback);
        assert_eq!(t32(0xf8c0, 0x1004).class, Class::Store); // str.w r1, [r0, #4]
        assert_eq!(t32(0xe890, 0x00fe).class, Class::Multiple(7)); // ldm.w r0, {r1-r7}
        assert_eq!(t32(0xf101, 0x0004).class, Class::Alu); // add.w r0, r1, #4
        assert_eq!(t32(0xf101, 0x0004).writes, 1);
        assert_eq!(t32(0xf000, 0xf800).class, Class::Branch); // bl
        assert_eq!(t32(0xe8d0, 0xf001).class, Class::Table); // tbb [r0, r1]
        assert_eq!(t32(0xe8d0, 0xf011).class, Class::Table); // tbh [r0, r1, lsl #1]
        assert_eq!(t32(0xec51, 0x0b10).class, Class::FpMove2); // vmov r0, r1, d0
        assert_eq!(t32(0xec51, 0x0b10).writes, 0b11);
        assert_eq!(t32(0xed2d, 0x8a04).class, Class::FpMultiple(4)); // vpush {s16-s19}
        assert_eq!(t32(0xeea0, 0x0a81).class, Class::FpMac); // vfma.f32 s0, s1, s2
        assert_eq!(t32(0xee10, 0x0a90).writes, 1); // vmov r0, s1
        assert_eq!(t32(0xf811, 0x3002).address, 0b110); // ldrb.w r3, [r1, r2]
        assert_eq!(t32(0xfb01, 0x3002).class, Class::Mul); // mla r0, r1, r2, r3
        assert_eq!(t32(0xfbe2, 0x0103).writes, 0b11); // umlal r0, r1, r2, r3
        assert_eq!(t32(0xee00, 0x0a81).class, Class::FpMac); // vmla.f32 s0, s1, s2
        assert_eq!(t32(0xee30, 0x0a81).class, Class::Fp); // vadd.f32 s0, s1, s2
        assert_eq!(t32(0xee20, 0x0a81).class, Class::Fp); // vmul.f32 s0, s1, s2
        assert_eq!(t32(0xee80, 0x0a81).class, Class::FpLong); // vdiv.f32 s0, s1, s2
        assert_eq!(t32(0xeeb1, 0x0ac0).class, Class::FpLong); // vsqrt.f32 s0, s0
        assert_eq!(t32(0xed90, 0x0a00).class, Class::FpLoadStore); // vldr s0, [r0]
        assert_eq!(t32(0xecb0, 0x0a04).class, Class::FpMultiple(4)); // vldmia r0!, {s0-s3}
        assert_eq!(t32(0xfa2f, 0xf181).class, Class::Alu); // sxtb16 r1, r1
    }
}
