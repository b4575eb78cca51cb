//! The Cortex-M side of aedge from the host: builds `firmware/` with a model embedded, runs it
//! in QEMU (mps2-an386, Cortex-M4F, `-icount shift=6`) or on a board through probe-rs, decodes
//! its defmt log and reads the ELF's section sizes. Used by `aedge bench` and the end-to-end
//! firmware tests.

pub mod cycles;
pub mod log;

pub use log::{parse_bench, parse_layers, parse_validate, BenchRun, ValidateRun};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The firmware sources: `$AEDGE_FIRMWARE_DIR` when set, else the `firmware/` of the
/// checkout this binary was built from (an installed `aedge` whose checkout moved sets the
/// variable; [`check_firmware_dir`] says so).
pub fn firmware_dir() -> PathBuf {
    std::env::var_os("AEDGE_FIRMWARE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../firmware"))
}

/// The firmware sources, or what to do when they are not where [`firmware_dir`] looks.
pub fn check_firmware_dir() -> Result<PathBuf, String> {
    let dir = firmware_dir();
    if dir.join("Cargo.toml").is_file() && dir.join("src").is_dir() {
        return Ok(dir);
    }
    Err(format!(
        "the firmware sources are not in {}; the MCU target builds them: set AEDGE_FIRMWARE_DIR to the firmware/ folder of an aedge checkout",
        dir.display()
    ))
}

/// Where firmware builds go: `$CARGO_TARGET_DIR/firmware` (so CI caches them with the host
/// build), else `target/firmware` beside the firmware sources' checkout.
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| firmware_dir().join("../target"))
        .join("firmware")
}

/// Sample inputs as the firmware embeds them (`AEDGE_SAMPLES`): little-endian f32, back to
/// back.
pub fn samples_bytes(samples: &[Vec<f32>]) -> Vec<u8> {
    samples
        .iter()
        .flatten()
        .flat_map(|v| v.to_le_bytes())
        .collect()
}

/// A cargo command run in `dir` that inherits nothing of an outer cargo's target or flags
/// (`aedge` may itself run under `cargo run` or `cargo test`).
pub fn cargo(dir: &Path) -> Command {
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.current_dir(dir);
    for var in [
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET",
        "RUSTFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "CARGO_MAKEFLAGS",
    ] {
        cmd.env_remove(var);
    }
    cmd
}

/// The firmware demo the bench and the end-to-end tests run (`firmware/src/bin/check.rs`):
/// score, denoise, learn a threshold, the bare inference and its layers.
pub const CHECK: &str = "check";
/// The firmware demo behind `aedge validate` (`firmware/src/bin/validate.rs`): every layer's
/// output of every input.
pub const VALIDATE: &str = "validate";
/// The pattern memory's worst case, a match against a full memory
/// (`firmware/src/bin/patterns.rs`).
pub const PATTERNS: &str = "patterns";
/// Micro-benchmarks with cycle counts fixed by the Cortex-M4 manual
/// (`firmware/src/bin/cycles.rs`), the cycle plugin's check.
pub const CYCLES: &str = "cycles";

/// `cargo build --release --bin <bin>` of the firmware with `model` and `samples`
/// (little-endian f32 inputs) embedded and the given board feature (`None`: QEMU), and a copy
/// of the ELF at `elf`. Builds that share `target_dir` take turns through a lock file in it
/// (another process's build would overwrite the ELF before it is copied).
pub fn build(
    bin: &str,
    model: &Path,
    samples: &Path,
    board: Option<&str>,
    target_dir: &Path,
    elf: &Path,
) -> Result<(), String> {
    let dir = check_firmware_dir()?;
    let mut cmd = cargo(&dir);
    cmd.args(["build", "--release", "--bin", bin, "--target-dir"])
        .arg(target_dir)
        .env("AEDGE_MODEL", model)
        .env("AEDGE_SAMPLES", samples);
    if let Some(b) = board {
        cmd.args(["--no-default-features", "--features", b]);
    }
    let built = target_dir.join("thumbv7em-none-eabihf/release").join(bin);
    build_and_copy(cmd, target_dir, &built, elf, "firmware build")
}

/// [`build`] of a micro-benchmark (`bin`: [`CYCLES`], [`PATTERNS`]) that uses no model: the
/// firmware's build still embeds one, its default (`firmware/models/`).
pub fn build_micro(bin: &str, target_dir: &Path, elf: &Path) -> Result<(), String> {
    let models = check_firmware_dir()?.join("models");
    build(
        bin,
        &models.join("dense-scorer-int8.aedge"),
        &models.join("mnist4.f32"),
        None,
        target_dir,
        elf,
    )
}

/// Runs a nested cargo build into `target_dir` and copies its product `built` to `to`, with
/// the other builds that share `target_dir` (other processes too) waiting on a lock file in
/// it: another build would overwrite the product before it is copied.
pub fn build_and_copy(
    mut cmd: Command,
    target_dir: &Path,
    built: &Path,
    to: &Path,
    what: &str,
) -> Result<(), String> {
    std::fs::create_dir_all(target_dir).map_err(|e| format!("{}: {e}", target_dir.display()))?;
    let lock_path = target_dir.join(".aedge-build.lock");
    let lock =
        std::fs::File::create(&lock_path).map_err(|e| format!("{}: {e}", lock_path.display()))?;
    lock.lock()
        .map_err(|e| format!("{}: {e}", lock_path.display()))?;
    let out = cmd.output().map_err(|e| format!("cannot run cargo: {e}"))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        if err.contains("linker `flip-link` not found") {
            return Err(
                "the firmware links with flip-link, which is not installed: cargo install flip-link"
                    .into(),
            );
        }
        return Err(format!("{what} failed:\n{err}"));
    }
    std::fs::copy(built, to).map_err(|e| format!("{}: {e}", to.display()))?;
    // Dropping the file releases the lock.
    drop(lock);
    Ok(())
}

/// Runs the ELF on QEMU's mps2-an386 with `-icount shift=6` under a timeout; returns the raw
/// defmt bytes written to semihosting stdout. Fails unless the firmware exits with 0.
pub fn run_qemu(elf: &Path, timeout_s: u32) -> Result<Vec<u8>, String> {
    qemu(elf, timeout_s, None)
}

/// [`run_qemu`] with the cycle-estimate plugin: also the plugin's timer reads, which
/// [`cycles::Reads::take`] pairs with the firmware's measurements.
pub fn run_qemu_cycles(elf: &Path, timeout_s: u32) -> Result<(Vec<u8>, cycles::Reads), String> {
    let plugin = cycles::plugin()?;
    let marker = cycles::marker(elf)?;
    let out = elf.with_extension("cycles");
    let arg = format!("{},mark={marker},out={}", plugin.display(), out.display());
    let raw = qemu(elf, timeout_s, Some(&arg))?;
    let text = std::fs::read_to_string(&out).map_err(|e| format!("{}: {e}", out.display()))?;
    Ok((raw, cycles::Reads::parse(&text)?))
}

/// [`run_qemu_cycles`] when the plugin can be built and loaded, else [`run_qemu`] with a note on
/// stderr (instructions are still exact; only the cycle estimate is missing).
pub fn run_qemu_maybe_cycles(
    elf: &Path,
    timeout_s: u32,
) -> Result<(Vec<u8>, Option<cycles::Reads>), String> {
    match run_qemu_cycles(elf, timeout_s) {
        Ok((raw, reads)) => Ok((raw, Some(reads))),
        Err(e) => {
            eprintln!("note: no Cortex-M4 cycle estimate ({e}); instructions only");
            Ok((run_qemu(elf, timeout_s)?, None))
        }
    }
}

fn qemu(elf: &Path, timeout_s: u32, plugin: Option<&str>) -> Result<Vec<u8>, String> {
    let mut cmd = Command::new("timeout");
    cmd.arg(timeout_s.to_string()).args([
        "qemu-system-arm",
        "-cpu",
        "cortex-m4",
        "-machine",
        "mps2-an386",
        "-nographic",
        "-semihosting-config",
        "enable=on,target=native",
        "-icount",
        "shift=6",
    ]);
    if let Some(p) = plugin {
        cmd.args(["-plugin", p]);
    }
    let out =
        cmd.arg("-kernel").arg(elf).output().map_err(|e| {
            format!("cannot start qemu-system-arm (run scripts/install-qemu.sh): {e}")
        })?;
    match out.status.code() {
        Some(0) => Ok(out.stdout),
        Some(124) => Err(format!("QEMU timed out after {timeout_s} s")),
        Some(127) => Err("qemu-system-arm not found (run scripts/install-qemu.sh)".into()),
        code => Err(format!(
            "firmware exited with {code:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        )),
    }
}

/// Decodes defmt frames with the ELF's table into log lines.
pub fn decode(elf: &Path, raw: &[u8]) -> Result<Vec<String>, String> {
    let bytes = std::fs::read(elf).map_err(|e| e.to_string())?;
    let table = defmt_decoder::Table::parse(&bytes)
        .map_err(|e| e.to_string())?
        .ok_or("the ELF has no defmt table")?;
    let mut stream = table.new_stream_decoder();
    stream.received(raw);
    let mut lines = Vec::new();
    loop {
        match stream.decode() {
            Ok(frame) => lines.push(frame.display_message().to_string()),
            Err(defmt_decoder::DecodeError::UnexpectedEof) => break,
            Err(defmt_decoder::DecodeError::Malformed) => {
                return Err("malformed defmt frame".into());
            }
        }
    }
    Ok(lines)
}

/// Flash and static RAM of a firmware ELF.
#[derive(Clone, Copy, Debug, serde::Serialize)]
pub struct Sizes {
    /// Code and read-only data in flash (.vector_table, .text, .rodata, and .data's
    /// initial values).
    pub flash: u64,
    /// Statically allocated RAM (.data, .bss, .uninit).
    pub ram: u64,
}

/// Section sizes of a firmware ELF.
pub fn sizes(elf: &Path) -> Result<Sizes, String> {
    use object::{Object, ObjectSection};
    let bytes = std::fs::read(elf).map_err(|e| e.to_string())?;
    let file = object::File::parse(&*bytes).map_err(|e| e.to_string())?;
    let size = |name: &str| file.section_by_name(name).map_or(0, |s| s.size());
    let data = size(".data");
    Ok(Sizes {
        flash: size(".vector_table") + size(".text") + size(".rodata") + data,
        ram: data + size(".bss") + size(".uninit"),
    })
}

/// Guest instructions from timer ticks under `-icount shift=6` (25 MHz timer, 64 ns per
/// instruction): `ticks = 1.6 × instructions`.
pub fn instructions(ticks: u32) -> u64 {
    (ticks as u64 * 5).div_ceil(8)
}

/// Boards with a probe-rs runner in `firmware/.cargo/config.toml`: (feature, probe-rs chip).
pub const BOARDS: &[(&str, &str)] = &[
    ("nrf52840-dk", "nRF52840_xxAA"),
    ("nucleo-l4r5zi", "STM32L4R5ZITx"),
];

/// Debug probes probe-rs sees, one description per line; empty when none is attached or
/// probe-rs is not installed (then `Err` says so).
pub fn probes() -> Result<Vec<String>, String> {
    let out = Command::new("probe-rs")
        .arg("list")
        .output()
        .map_err(|_| "probe-rs is not installed (cargo install probe-rs-tools)".to_string())?;
    let text = String::from_utf8_lossy(&out.stdout);
    Ok(text
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with('['))
        .map(String::from)
        .collect())
}

/// Flashes the ELF to the attached board with probe-rs and returns the decoded log lines
/// (probe-rs decodes defmt itself); the run counts as finished when a line starts with
/// `done` (the demo's last line).
pub fn run_board(
    elf: &Path,
    chip: &str,
    timeout_s: u32,
    done: &str,
) -> Result<Vec<String>, String> {
    let out = Command::new("timeout")
        .arg(timeout_s.to_string())
        .args(["probe-rs", "run", "--chip", chip, "--log-format", "{s}"])
        .arg(elf)
        .output()
        .map_err(|e| format!("cannot start probe-rs: {e}"))?;
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    let lines: Vec<String> = text.lines().map(|l| l.trim().to_string()).collect();
    if lines.iter().any(|l| l.starts_with(done)) {
        Ok(lines)
    } else {
        Err(format!("the board's run did not finish:\n{text}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bench_lines_parse_and_bad_ones_are_errors() {
        let lines = vec![
            "model x: int8".to_string(),
            "bench run 12345 qemu-ticks stack 612 B arena 768 B state 96 B output-fnv 0x0badcafe"
                .to_string(),
        ];
        let b = parse_bench(&lines).unwrap();
        assert_eq!(
            b,
            BenchRun {
                ticks: 12345,
                unit: "qemu-ticks",
                stack: 612,
                arena: 768,
                state: 96,
                output_fnv: 0x0bad_cafe
            }
        );
        assert_eq!(instructions(16), 10);
        for bad in [
            "bench run x qemu-ticks stack 1 B arena 1 B output-fnv 0x0",
            "bench run 1 furlongs stack 1 B arena 1 B output-fnv 0x0",
            "bench run 1 cycles stack B arena 1 B output-fnv 0x0",
        ] {
            assert!(parse_bench(&[bad.to_string()]).is_err(), "{bad}");
        }
        assert!(parse_bench(&[]).is_err());
    }

    #[test]
    fn layer_lines_parse_in_order_and_bad_ones_are_errors() {
        let lines: Vec<String> = [
            "bench run 1 qemu-ticks",
            "layer 0 160 qemu-ticks",
            "x",
            "layer 1 8 qemu-ticks",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(parse_layers(&lines).unwrap(), [160, 8]);
        assert_eq!(parse_layers(&[]).unwrap(), Vec::<u32>::new());
        for bad in [
            "layer 1 5 qemu-ticks",
            "layer 0 x qemu-ticks",
            "layer 0 5 parsecs",
            "layer 0",
        ] {
            assert!(parse_layers(&[bad.to_string()]).is_err(), "{bad}");
        }
    }

    #[test]
    fn validate_lines_parse_in_order_and_bad_ones_are_errors() {
        let log = |extra: &[&str]| -> Vec<String> {
            let mut l = vec![
                "validate m int8 inputs 1 arena 64 B",
                "output 0 0 [1, 255]",
                "output 0 1 []",
                "input 0 run 160 qemu-ticks error 0.5 anomalous false",
            ];
            l.extend_from_slice(extra);
            l.iter().map(|s| s.to_string()).collect()
        };
        let r = parse_validate(&log(&["validate stack 300 B"])).unwrap();
        assert_eq!((r.arena, r.stack), (64, 300));
        assert_eq!(r.inputs[0].outputs, vec![vec![1u8, 255], vec![]]);
        assert_eq!((r.inputs[0].ticks, r.inputs[0].error), (160, 0.5));
        // Unfinished, failed, out of order or malformed runs are errors.
        assert!(parse_validate(&log(&[])).is_err());
        assert!(parse_validate(&log(&["inference failed: x", "validate stack 1 B"])).is_err());
        for bad in [
            "output 1 0 [1]",
            "output 0 5 [1]",
            "output 0 0 [300]",
            "input 3 run 1 qemu-ticks error 0 anomalous false",
        ] {
            let mut l = log(&["validate stack 1 B"]);
            l.insert(3, bad.to_string());
            assert!(parse_validate(&l).is_err(), "{bad}");
        }
    }
}
