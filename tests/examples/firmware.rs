//! Trains the two reference firmware models (dense int8 anomaly scorer, conv int8 denoiser)
//! on the bundled MNIST sample, builds `firmware/` for each in int8 and f32, runs it in QEMU
//! (mps2-an386, Cortex-M4F), checks the device against aedge-runtime on this host, and prints
//! the size and instruction-count report.
//!
//! `cargo run --release -p aedge-tests --example firmware [-- --write-defaults]`
//!
//! `--write-defaults` also stores the int8 scorer and its samples as the firmware's bundled
//! default model (`firmware/models/`).
//!
//! `... --example firmware -- --decode ELF FRAMES` only decodes the raw defmt frames a QEMU run
//! wrote (what `firmware/run-qemu.sh` leaves in `<elf>.defmt` without defmt-print).

use aedge_runtime::{AlignedBytes, Model};
use aedge_tests::firmware::{self, FirmwareModel};
use aedge_tests::repo_root;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let [flag, elf, frames] = &args[..] {
        if flag == "--decode" {
            let raw = std::fs::read(frames)?;
            for line in firmware::decode(elf.as_ref(), &raw)? {
                println!("{line}");
            }
            return Ok(());
        }
    }
    let write_defaults = std::env::args().any(|a| a == "--write-defaults");
    let mut models = firmware::train_models()?;
    models.push(firmware::mlperf_tflite_model()?);
    let work = repo_root().join("runs/firmware");
    std::fs::create_dir_all(&work)?;
    if write_defaults {
        let m: &FirmwareModel = &models[0];
        let dir = firmware::firmware_dir().join("models");
        aedge_runtime::fs::write_atomic(dir.join("dense-scorer-int8.aedge"), &m.files[0].1)?;
        aedge_runtime::fs::write_atomic(
            dir.join("mnist4.f32"),
            &firmware::samples_bytes(&m.samples),
        )?;
    }
    let target = firmware::target_dir();
    println!("| model | precision | flash B | static RAM B | arena B | stack B | score insns | denoise insns | run insns | run stack B | bit-exact vs host |");
    println!("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|");
    for m in &models {
        for (p, bytes) in &m.files {
            let report = firmware::check(m, *p, bytes, &work, &target)?;
            let host = Model::parse(&AlignedBytes::from(bytes.clone()))?.arena_len();
            println!(
                "| {} | {p} | {} | {} | {host} | {} | {} | {} | {} | {} | {} |",
                m.name,
                report.sizes.flash,
                report.sizes.ram,
                report.stack,
                report.score_insns,
                report.denoise_insns,
                report.run_insns,
                report.run_stack,
                report.agreement
            );
        }
    }
    Ok(())
}
