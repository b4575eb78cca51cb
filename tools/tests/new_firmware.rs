//! `aedge new firmware`: the project it writes builds for QEMU and both boards, and on QEMU
//! scores its embedded readings as the host does. Needs qemu-system-arm (scripts/test.sh
//! installs it) and the thumbv7em-none-eabihf target.

mod common;

use aedge_runtime::{AlignedBytes, Model};
use common::{aedge, fails, repo, stdout};
use std::path::Path;

/// `cargo build --release` of the generated project with the given board feature; returns
/// the ELF. Builds share a target directory kept beside the firmware's (warm in CI).
fn build(dir: &Path, board: &str) -> std::path::PathBuf {
    let target = aedge::mcu::target_dir().with_file_name("new-firmware");
    let mut cmd = aedge::mcu::cargo(dir);
    cmd.args([
        "build",
        "--release",
        "--no-default-features",
        "--features",
        board,
    ])
    .arg("--target-dir")
    .arg(&target);
    let elf = dir.join(format!("{board}.elf"));
    let name = dir.file_name().unwrap().to_string_lossy().to_string();
    let built = target.join("thumbv7em-none-eabihf/release").join(&name);
    aedge::mcu::build_and_copy(cmd, &target, &built, &elf, "the new firmware's build")
        .unwrap_or_else(|e| panic!("{board}: {e}"));
    elf
}

#[test]
fn a_new_firmware_builds_for_every_board_and_scores_as_the_host_on_qemu() {
    let root = repo().join("target/new-firmware-test");
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).unwrap();
    let dir = root.join("my-sensor");
    let model = repo().join("firmware/models/dense-scorer-int8.aedge");
    let inputs = repo().join("data/mnist-sample/t1k-images-idx3-ubyte.gz");
    let text = stdout(
        aedge()
            .args(["new", "firmware"])
            .arg(&dir)
            .arg("--model")
            .arg(&model)
            .arg("--inputs")
            .arg(&inputs)
            .args(["--count", "3"]),
    );
    assert!(text.contains("cargo run --release"), "{text}");
    for f in [
        "Cargo.toml",
        ".cargo/config.toml",
        "src/main.rs",
        "src/model.rs",
        "src/inputs.rs",
        "boards/nrf52840-dk/memory.x",
    ] {
        assert!(dir.join(f).is_file(), "{f} missing");
    }

    for board in ["nrf52840-dk", "nucleo-l4r5zi"] {
        assert!(build(&dir, board).is_file());
    }
    let elf = build(&dir, "qemu");
    let raw = aedge::mcu::run_qemu(&elf, 120).unwrap();
    let lines = aedge::mcu::decode(&elf, &raw).unwrap();

    // The host's scores of the same readings.
    let file = AlignedBytes::from(std::fs::read(&model).unwrap());
    let m = Model::parse(&file).unwrap();
    let images = aedge_trainer::data::Images::read(&inputs).unwrap();
    let mut arena = AlignedBytes::zeroed(m.arena_len());
    for (i, x) in images.pixels.chunks(784).take(3).enumerate() {
        let s = m.score(x, &mut arena).unwrap();
        let line = lines
            .iter()
            .find(|l| l.starts_with(&format!("reading {i}: ")))
            .unwrap_or_else(|| panic!("no reading {i} in {lines:#?}"));
        let score: f32 = line.split_whitespace().nth(3).unwrap().parse().unwrap();
        assert_eq!(score.to_bits(), s.error.to_bits(), "{line}");
        assert!(
            line.contains(&format!("anomalous {}", s.anomalous)),
            "{line}"
        );
    }
    assert!(
        lines.iter().any(|l| l.starts_with("stack high-water ")),
        "{lines:#?}"
    );
}

#[test]
fn bad_new_firmware_arguments_write_nothing() {
    let root = repo().join("target/new-firmware-test-bad");
    let _ = std::fs::remove_dir_all(&root);
    let model = repo().join("firmware/models/dense-scorer-int8.aedge");
    let inputs = repo().join("data/mnist-sample/t1k-images-idx3-ubyte.gz");
    let run = |dir: &Path, extra: &[&str]| {
        fails(
            aedge()
                .args(["new", "firmware"])
                .arg(dir)
                .arg("--model")
                .arg(&model)
                .arg("--inputs")
                .arg(&inputs)
                .args(extra),
        )
    };
    let e = run(&root.join("x"), &["--board", "esp32"]);
    assert!(e.contains("unknown board 'esp32'"), "{e}");
    let e = run(&root.join("9lives"), &[]);
    assert!(e.contains("must start with a letter"), "{e}");
    assert!(!root.exists());
    // An existing folder is never written into.
    std::fs::create_dir_all(root.join("taken")).unwrap();
    let e = run(&root.join("taken"), &[]);
    assert!(e.contains("exists"), "{e}");
    assert_eq!(std::fs::read_dir(root.join("taken")).unwrap().count(), 0);
}
