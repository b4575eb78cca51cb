//! `aedge new firmware`: a Cortex-M project of your own, started from the firmware template
//! (`firmware/template/` and the board glue in `firmware/src/`) with your model in it.

use crate::{input, Out, Result};
use aedge_runtime::fs::write_atomic;
use aedge_runtime::{codegen, Model};
use std::path::{Path, PathBuf};

/// Arguments of `aedge new`.
#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    what: What,
}

#[derive(clap::Subcommand)]
enum What {
    /// A cortex-m-rt + defmt project (knurling app-template shape) that scores readings with
    /// your model: runs on QEMU or a board, builds for both boards.
    Firmware(FirmwareArgs),
}

/// Arguments of `aedge new firmware`.
#[derive(clap::Args)]
struct FirmwareArgs {
    /// The folder to create (must not exist); its name becomes the crate's.
    dir: PathBuf,
    /// The .aedge model to embed.
    #[arg(long)]
    model: PathBuf,
    /// Sample inputs the firmware replays until you plug in your sensor (IDX, .npy/.npz,
    /// images, .f32 or CSV rows).
    #[arg(long)]
    inputs: PathBuf,
    /// How many of them to embed.
    #[arg(long, default_value_t = 4)]
    count: usize,
    /// The default board: qemu (mps2-an386), nrf52840-dk or nucleo-l4r5zi.
    #[arg(long, default_value = "qemu")]
    board: String,
}

/// Runs the subcommand.
pub fn run(a: Args, out: Out) -> Result<()> {
    match a.what {
        What::Firmware(f) => firmware(f, out),
    }
}

/// (board feature, `cargo run` runner, what it runs on).
const RUNNERS: &[(&str, &str, &str)] = &[
    ("qemu", "./run-qemu.sh", "QEMU mps2-an386"),
    (
        "nrf52840-dk",
        "probe-rs run --chip nRF52840_xxAA",
        "an nRF52840-DK (probe-rs)",
    ),
    (
        "nucleo-l4r5zi",
        "probe-rs run --chip STM32L4R5ZITx",
        "a Nucleo-L4R5ZI (probe-rs)",
    ),
];

fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))
}

fn firmware(a: FirmwareArgs, out: Out) -> Result<()> {
    let &(board, runner, runs_on) = RUNNERS.iter().find(|r| r.0 == a.board).ok_or_else(|| {
        let names: Vec<&str> = RUNNERS.iter().map(|r| r.0).collect();
        format!("unknown board '{}': use {}", a.board, names.join(", "))
    })?;
    if a.dir.exists() {
        return Err(format!("{} exists: name a new folder", a.dir.display()));
    }
    let name: String = a
        .dir
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    if name.is_empty() || !name.starts_with(|c: char| c.is_ascii_alphabetic()) {
        return Err(format!(
            "{}: the folder's name becomes the crate's and must start with a letter",
            a.dir.display()
        ));
    }
    if a.count == 0 {
        return Err("--count must be at least 1".into());
    }
    let bytes = super::read_model(&a.model)?;
    let m = Model::parse(&bytes).map_err(|e| e.to_string())?;
    if m.series().is_some() {
        return Err("the template scores whole inputs; a series model streams (see firmware/src/bin/check.rs for Stream)".into());
    }
    let s = m.input_shape();
    let samples = input::read(
        &a.inputs,
        &input::Reading::for_model([s.h as usize, s.w as usize, s.c as usize]),
    )?;
    let n = samples.len().min(a.count);
    let values = &samples.raw[..n * samples.dim()];

    let fw = aedge::mcu::check_firmware_dir()?;
    let template = fw.join("template");
    let runtime = std::path::absolute(fw.join("../runtime"))
        .map_err(|e| e.to_string())?
        .display()
        .to_string();
    let fill = |text: String| {
        text.replace("@NAME@", &name)
            .replace("@BOARD@", board)
            .replace("@RUNTIME@", &runtime.replace('\\', "/"))
            .replace("@RUNNER@", runner)
            .replace("@RUNNER_NAME@", runs_on)
    };
    // Everything is read before anything is written.
    let mut files: Vec<(PathBuf, Vec<u8>)> = vec![
        (
            "Cargo.toml".into(),
            fill(read(&template.join("Cargo.toml.in"))?).into_bytes(),
        ),
        (
            ".cargo/config.toml".into(),
            fill(read(&template.join(".cargo/config.toml.in"))?).into_bytes(),
        ),
        (
            "build.rs".into(),
            read(&template.join("build.rs"))?.into_bytes(),
        ),
        (
            "src/main.rs".into(),
            read(&template.join("src/main.rs"))?.into_bytes(),
        ),
        ("src/model.aedge".into(), bytes.to_vec()),
        (
            "src/model.rs".into(),
            codegen::rust_module(&m, "model.aedge").into_bytes(),
        ),
        (
            "src/inputs.rs".into(),
            codegen::rust_inputs(values, s.len()).into_bytes(),
        ),
        (
            "Cargo.lock".into(),
            read(&fw.join("Cargo.lock"))?.into_bytes(),
        ),
        (
            "run-qemu.sh".into(),
            read(&fw.join("run-qemu.sh"))?.into_bytes(),
        ),
        (".gitignore".into(), b"/target\n".to_vec()),
    ];
    // The board glue is the firmware's own.
    for f in ["board.rs", "fault.rs", "stack.rs", "timer.rs"] {
        files.push((
            format!("src/{f}").into(),
            read(&fw.join("src").join(f))?.into_bytes(),
        ));
    }
    for b in ["mps2-an386", "nrf52840-dk", "nucleo-l4r5zi"] {
        let p = format!("boards/{b}/memory.x");
        files.push((p.clone().into(), read(&fw.join(&p))?.into_bytes()));
    }
    for (rel, content) in &files {
        let path = a.dir.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
        }
        write_atomic(&path, content).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let script = a.dir.join("run-qemu.sh");
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755))
            .map_err(|e| format!("{}: {e}", script.display()))?;
    }
    out.json(serde_json::json!({
        "dir": a.dir.display().to_string(),
        "board": board,
        "files": files.iter().map(|f| f.0.display().to_string()).collect::<Vec<_>>(),
    }));
    out.line(format!(
        "created {} ({} files): {} scoring {n} embedded reading(s); `cd {} && cargo run --release` runs it on {runs_on}",
        a.dir.display(),
        files.len(),
        m.name(),
        a.dir.display()
    ));
    out.line("other boards: cargo run-qemu | cargo run-nrf52840dk | cargo run-nucleo-l4r5zi; put your sensor driver in read_sensor (src/main.rs)");
    Ok(())
}
