//! Estimated Cortex-M4 cycles of what the firmware times in QEMU, from the `aedge-cycles`
//! plugin (`tools/cycles`: a decoder of the executed Thumb instructions and the timing model
//! of Arm's Technical Reference Manual, at zero wait states, with the flash lines read for a
//! wait-state model, [`Cycles::with_wait_states`]). The plugin writes a line each
//! time the firmware's `aedge_timer_now` starts; every measurement the firmware logs is the
//! difference of two consecutive reads, so it is paired with the two lines whose instruction
//! counts differ by what the firmware measured.

use serde::Serialize;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The firmware's timer read, where every timed region starts and ends.
pub const MARKER: &str = "aedge_timer_now";

/// Clocks the reports convert cycles to milliseconds at (MHz), common Cortex-M4 parts'
/// (STM32L4 at 80 and 120, STM32F4 at 168).
pub const CLOCKS_MHZ: [u32; 3] = [80, 120, 168];

/// Flash wait states of those parts at those clocks: STM32L4 at 80 MHz 4 (RM0351, range 1),
/// STM32L4R5 at 120 MHz 5 (RM0432, range 1 boost), STM32F4 at 168 MHz 5 (RM0090, 2.7–3.6 V).
pub const WAIT_STATES: [u32; 3] = [4, 5, 5];

/// Cycles of one measured region: the estimate and the bounds of the manual's ranges.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Cycles {
    /// The model's estimate (zero wait states).
    pub estimate: u64,
    /// Every range at its lower end.
    pub low: u64,
    /// Every range at its upper end.
    pub high: u64,
    /// Flash lines (64 bits) read as data (weights, constants), each a new line.
    pub flash_data_lines: u64,
    /// Flash lines fetched for instructions.
    pub flash_code_lines: u64,
}

impl Cycles {
    /// Milliseconds of the estimate at `mhz`.
    pub fn ms(&self, mhz: u32) -> f64 {
        self.estimate as f64 / (mhz as f64 * 1e3)
    }

    /// The estimate and upper bound with `ws` flash wait states: every flash line read as
    /// data costs `ws` more cycles (reading weights that stream from flash, a data cache
    /// holds nothing they need again); instruction fetches are taken as hidden by the
    /// prefetch buffer and instruction cache (ART) in the estimate and charged in full, `ws`
    /// a line, in the bound (no accelerator). The lower bound stays at zero wait states.
    pub fn with_wait_states(&self, ws: u32) -> (u64, u64) {
        let ws = ws as u64;
        (
            self.estimate + ws * self.flash_data_lines,
            self.high + ws * (self.flash_data_lines + self.flash_code_lines),
        )
    }

    /// [`Cycles::ms_with_wait_states`] for a report line: `"4.930 ms at 80 MHz, 4 WS (up to
    /// 5.310), …"`.
    pub fn ms_with_wait_states_text(&self) -> String {
        self.ms_with_wait_states()
            .iter()
            .zip(CLOCKS_MHZ.iter().zip(WAIT_STATES))
            .map(|((e, h), (f, ws))| format!("{e:.3} ms at {f} MHz, {ws} WS (up to {h:.3})"))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Milliseconds at each clock of [`CLOCKS_MHZ`] with its [`WAIT_STATES`]: (estimate,
    /// upper bound).
    pub fn ms_with_wait_states(&self) -> [(f64, f64); 3] {
        core::array::from_fn(|i| {
            let (e, h) = self.with_wait_states(WAIT_STATES[i]);
            let khz = CLOCKS_MHZ[i] as f64 * 1e3;
            (e as f64 / khz, h as f64 / khz)
        })
    }

    /// The estimate's milliseconds at every clock of [`CLOCKS_MHZ`], for a report line:
    /// `"53.242 ms at 80 MHz, 35.495 ms at 120 MHz, 25.353 ms at 168 MHz"`.
    pub fn ms_at_clocks(&self) -> String {
        CLOCKS_MHZ
            .iter()
            .map(|&f| format!("{:.3} ms at {f} MHz", self.ms(f)))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// One line of the plugin's output: the running counts at the start of a timer read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Read {
    instructions: u64,
    cycles: Cycles,
}

/// The plugin's reads, in order, handed out as measurements are paired with them.
#[derive(Clone, Debug, Default)]
pub struct Reads {
    reads: Vec<Read>,
    next: usize,
    /// Instructions of encodings the plugin's decoder does not know (counted as 1 cycle).
    pub unknown: u64,
}

impl Reads {
    /// Parses the plugin's output file.
    pub fn parse(text: &str) -> Result<Reads, String> {
        let mut out = Reads::default();
        let mut ended = false;
        for (n, l) in text.lines().enumerate() {
            let bad = || format!("cycle plugin output line {}: '{l}'", n + 1);
            let (end, rest) = match l.strip_prefix("end ") {
                Some(r) => (true, r),
                None => (false, l),
            };
            let v: Vec<u64> = rest
                .split_whitespace()
                .map(|w| w.parse().map_err(|_| bad()))
                .collect::<Result<_, _>>()?;
            if v.len() != 6 + end as usize {
                return Err(bad());
            }
            if end {
                out.unknown = v[6];
                ended = true;
                continue;
            }
            out.reads.push(Read {
                instructions: v[0],
                cycles: Cycles {
                    estimate: v[1],
                    low: v[2],
                    high: v[3],
                    flash_data_lines: v[4],
                    flash_code_lines: v[5],
                },
            });
        }
        if !ended {
            return Err(
                "the cycle plugin's output has no end line (QEMU did not exit cleanly)".into(),
            );
        }
        Ok(out)
    }

    /// The cycles of the next measurement of `instructions` (as the firmware counted them
    /// from its timer): the first pair of consecutive reads from where the last one ended
    /// whose instructions differ by that (±1: the timer counts in 1.6-instruction steps).
    pub fn take(&mut self, instructions: u64) -> Result<Cycles, String> {
        for k in self.next..self.reads.len().saturating_sub(1) {
            let (a, b) = (self.reads[k], self.reads[k + 1]);
            if (b.instructions - a.instructions).abs_diff(instructions) <= 1 {
                self.next = k + 1;
                return Ok(Cycles {
                    estimate: b.cycles.estimate - a.cycles.estimate,
                    low: b.cycles.low - a.cycles.low,
                    high: b.cycles.high - a.cycles.high,
                    flash_data_lines: b.cycles.flash_data_lines - a.cycles.flash_data_lines,
                    flash_code_lines: b.cycles.flash_code_lines - a.cycles.flash_code_lines,
                });
            }
        }
        Err(format!(
            "no pair of timer reads in the cycle plugin's output spans {instructions} instructions"
        ))
    }
}

/// The address of [`MARKER`] in a firmware ELF.
pub fn marker(elf: &Path) -> Result<u64, String> {
    use object::{Object, ObjectSymbol};
    let bytes = std::fs::read(elf).map_err(|e| format!("{}: {e}", elf.display()))?;
    let file = object::File::parse(&*bytes).map_err(|e| e.to_string())?;
    file.symbols()
        .find(|s| s.name() == Ok(MARKER))
        .map(|s| s.address())
        .ok_or_else(|| {
            format!(
                "{}: no `{MARKER}` symbol (an older firmware?)",
                elf.display()
            )
        })
}

/// The plugin API version to build for: 1 for QEMU before 9.0, 2 from 9.0 on (QEMU 9.0 stopped
/// loading version 1).
fn api_version() -> Result<u32, String> {
    let out = std::process::Command::new("qemu-system-arm")
        .arg("--version")
        .output()
        .map_err(|e| format!("cannot run qemu-system-arm (run scripts/install-qemu.sh): {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    let major: u32 = text
        .split_whitespace()
        .skip_while(|w| *w != "version")
        .nth(1)
        .and_then(|v| v.split('.').next())
        .and_then(|m| m.parse().ok())
        .ok_or_else(|| format!("cannot read QEMU's version from '{}'", text.trim()))?;
    Ok(if major >= 9 { 2 } else { 1 })
}

/// Builds the plugin for the installed QEMU's plugin API (once per change, in its own target
/// directory) and returns its path. Once per process: a bench runs QEMU for every model and
/// precision, and the answer does not change between them.
pub fn plugin() -> Result<PathBuf, String> {
    static PLUGIN: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    PLUGIN.get_or_init(build_plugin).clone()
}

fn build_plugin() -> Result<PathBuf, String> {
    let api = api_version()?;
    let root = super::firmware_dir().join("..");
    // One directory per checkout: two clones sharing a CARGO_TARGET_DIR would otherwise
    // overwrite each other's plugin, and cargo, finding its own build fresh, would not put
    // its copy back.
    let checkout = {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        root.canonicalize()
            .unwrap_or_else(|_| root.clone())
            .hash(&mut h);
        h.finish() as u32
    };
    let target = super::target_dir().join(format!("../cycles-api-v{api}-{checkout:08x}"));
    let out = super::cargo(&root)
        .args(["build", "--release", "--quiet", "-p", "aedge-cycles"])
        .args([
            "--no-default-features",
            "--features",
            &format!("api-v{api}"),
        ])
        .arg("--target-dir")
        .arg(&target)
        .output()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "building the cycle plugin (tools/cycles) failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let so = target.join("release").join(format!(
        "{}aedge_cycles{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_SUFFIX
    ));
    if !so.is_file() {
        return Err(format!(
            "the cycle plugin was built but {} is missing",
            so.display()
        ));
    }
    Ok(so)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_measurements_with_consecutive_reads() {
        let text = "100 150 140 170 10 20\n400 600 500 700 40 60\n410 615 505 720 41 62\n1010 1515 1205 1720 90 130\nend 2000 3000 2500 3500 100 140 0\n";
        let mut r = Reads::parse(text).unwrap();
        // 300 instructions: reads 0 and 1.
        let c = r.take(300).unwrap();
        assert_eq!(
            c,
            Cycles {
                estimate: 450,
                low: 360,
                high: 530,
                flash_data_lines: 30,
                flash_code_lines: 40,
            }
        );
        // 5 wait states: 5 a data line on the estimate, 5 a data or code line on the bound.
        assert_eq!(c.with_wait_states(5), (450 + 150, 530 + 350));
        assert_eq!(c.with_wait_states(0), (450, 530));
        // 600 (±1) instructions: not 1-2 (10), but 2-3.
        assert_eq!(r.take(601).unwrap().estimate, 900);
        assert!(r.take(5).is_err());
        assert!(Reads::parse("1 2 3 4 5 6\n").is_err());
        assert!(Reads::parse("1 2 x 4 5 6\nend 1 2 3 4 5 6 0\n").is_err());
        // The plugin's older four-number lines are refused, not misread.
        assert!(Reads::parse("1 2 3 4\nend 1 2 3 4 0\n").is_err());
    }
}
