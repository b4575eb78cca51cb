//! `aedge generate`: the C sources and library run in the C example firmware
//! (`firmware/c`, built with arm-none-eabi-gcc) on QEMU's Cortex-M4F and give the host's
//! scores and outputs bit for bit; the Rust module is the one the firmware embeds; bad
//! arguments write nothing. Needs arm-none-eabi-gcc and qemu-system-arm (scripts/test.sh
//! installs both).

mod common;

use aedge_runtime::{fnv1a, AlignedBytes, Model};
use common::{aedge, fails, repo, stdout};
use std::path::{Path, PathBuf};
use std::process::Command;

fn work(name: &str) -> PathBuf {
    let d = repo().join("target/generate-test").join(name);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn write_f32(path: &Path, inputs: &[Vec<f32>]) {
    let bytes: Vec<u8> = inputs
        .iter()
        .flatten()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    std::fs::write(path, bytes).unwrap();
}

fn mnist(n: usize) -> Vec<Vec<f32>> {
    let images = aedge_trainer::data::Images::read(
        repo().join("data/mnist-sample/t1k-images-idx3-ubyte.gz"),
    )
    .unwrap();
    images
        .pixels
        .chunks(784)
        .take(n)
        .map(<[f32]>::to_vec)
        .collect()
}

fn fnv(v: &[f32]) -> u32 {
    fnv1a(v.iter().flat_map(|x| x.to_le_bytes()))
}

/// What the C example prints for each input, computed on this host.
fn expected(model: &[u8], inputs: &[Vec<f32>]) -> Vec<String> {
    let file = AlignedBytes::from(model.to_vec());
    let m = Model::parse(&file).unwrap();
    let mut arena = AlignedBytes::zeroed(m.arena_len());
    let mut y = vec![0.0; m.output_shape().len()];
    let mut code = vec![0.0; m.latent_shape().len()];
    inputs
        .iter()
        .enumerate()
        .map(|(i, x)| {
            let s = m.score(x, &mut arena).unwrap();
            m.reconstruct(x, &mut y, &mut arena).unwrap();
            let recon = fnv(&y);
            m.denoise(x, &mut y, &mut arena).unwrap();
            let denoised = fnv(&y);
            m.encode(x, &mut code, &mut arena).unwrap();
            format!(
                "input {i} error {:#010x} anomalous {} recon {recon:#010x} denoised {denoised:#010x} code {:#010x}",
                s.error.to_bits(),
                s.anomalous as u8,
                fnv(&code)
            )
        })
        .collect()
}

/// `aedge generate c`, then the C example built by its Makefile and run on QEMU; returns its
/// output lines.
fn run_c_example(model: &Path, inputs: &Path, dir: &Path) -> Vec<String> {
    let gen = dir.join("gen");
    stdout(
        aedge()
            .args(["generate", "c"])
            .arg(model)
            .arg("-o")
            .arg(&gen)
            .arg("--inputs")
            .arg(inputs)
            .args(["--count", "3"]),
    );
    for f in [
        "include/aedge.h",
        "include/model.h",
        "include/inputs.h",
        "model.c",
        "inputs.c",
        "lib/libaedge.a",
    ] {
        assert!(gen.join(f).is_file(), "{f} missing");
    }
    let run = Command::new("make")
        .arg("-C")
        .arg(repo().join("firmware/c"))
        .arg(format!("GEN={}", gen.display()))
        .arg(format!("BUILD={}", dir.join("build").display()))
        .arg("run")
        .output()
        .expect("make (and arm-none-eabi-gcc: scripts/install-arm-gcc.sh)");
    // QEMU writes the semihosting console (the example's lines) to stderr.
    let text =
        String::from_utf8_lossy(&run.stdout).to_string() + &String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "{text}");
    text.lines().map(str::to_string).collect()
}

fn check_c_example(name: &str, model_bytes: &[u8], inputs: Vec<Vec<f32>>) {
    let dir = work(name);
    let model = dir.join("model.aedge");
    std::fs::write(&model, model_bytes).unwrap();
    let samples = dir.join("inputs.f32");
    write_f32(&samples, &inputs);
    let lines = run_c_example(&model, &samples, &dir);
    let device: Vec<&String> = lines.iter().filter(|l| l.starts_with("input ")).collect();
    let host = expected(model_bytes, &inputs);
    assert_eq!(device.len(), host.len(), "{lines:#?}");
    for (d, h) in device.iter().zip(&host) {
        assert_eq!(*d, h, "{name}: the C firmware differs from the host");
    }
    // Misuse gives status codes: a short arena, a NULL input, a truncated model.
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("errors 9 1 4: the arena is smaller")),
        "{lines:#?}"
    );
    assert!(lines.iter().any(|l| l.starts_with("stack ")), "{lines:#?}");
    assert_eq!(lines.last().map(String::as_str), Some("done"));
}

#[test]
fn generated_c_runs_on_qemu_bit_exact_with_the_host() {
    // The bundled int8 dense scorer (scored by MSE and the latent distance) on MNIST digits.
    let scorer = std::fs::read(repo().join("firmware/models/dense-scorer-int8.aedge")).unwrap();
    check_c_example("dense-scorer", &scorer, mnist(3));
    // An int8 TFLite conv autoencoder (depthwise, pooling, transposed conv, tables).
    let tflite = std::fs::read(repo().join("data/tflite/conv_ae_int8.tflite")).unwrap();
    let conv = aedge_convert::tflite::import(&tflite, "conv-ae").unwrap();
    let scaled: Vec<Vec<f32>> = mnist(3)
        .into_iter()
        .map(|x| x.iter().map(|v| v / 255.0).collect())
        .collect();
    check_c_example("conv-ae-tflite", &conv.graph.to_aedge().unwrap(), scaled);
}

#[test]
fn the_generated_rust_module_is_what_the_firmware_embeds() {
    let dir = work("rust");
    let model = repo().join("firmware/models/dense-scorer-int8.aedge");
    stdout(
        aedge()
            .args(["generate", "rust"])
            .arg(&model)
            .arg("-o")
            .arg(&dir),
    );
    let bytes = std::fs::read(&model).unwrap();
    assert_eq!(std::fs::read(dir.join("model.aedge")).unwrap(), bytes);
    let file = AlignedBytes::from(bytes);
    let m = Model::parse(&file).unwrap();
    let module = std::fs::read_to_string(dir.join("model.rs")).unwrap();
    // The firmware's build.rs embeds its model through the same function, so every firmware
    // test runs this module's code on QEMU.
    assert_eq!(
        module,
        aedge_runtime::codegen::rust_module(&m, "model.aedge")
    );
    assert!(module.contains(&format!("pub const ARENA_LEN: usize = {};", m.arena_len())));
}

#[test]
fn bad_generate_arguments_write_nothing() {
    let dir = work("bad");
    let out = dir.join("out");
    let model = repo().join("firmware/models/dense-scorer-int8.aedge");
    let e = fails(
        aedge()
            .args(["generate", "c"])
            .arg(&model)
            .arg("-o")
            .arg(&out)
            .args(["--target", "riscv32imc-unknown-none-elf"]),
    );
    assert!(
        e.contains("unknown target") && e.contains("thumbv6m-none-eabi"),
        "{e}"
    );
    let e = fails(
        aedge()
            .args(["generate", "c"])
            .arg(&model)
            .arg("-o")
            .arg(&out)
            .arg("--inputs")
            .arg(repo().join("data/tflite/conv_ae_ref.bin")),
    );
    assert!(e.contains("conv_ae_ref.bin"), "{e}");
    let e = fails(
        aedge()
            .args(["generate", "rust"])
            .arg(repo().join("data/tflite/conv_ae_ref.bin"))
            .arg("-o")
            .arg(&out),
    );
    assert!(e.contains("conv_ae_ref.bin"), "{e}");
    assert!(!out.exists(), "a failed generate wrote {}", out.display());
}
