//! `aedge train --device wgpu` from the command line: the run says which adapter it used
//! (Mesa's lavapipe on machines without a GPU), trains as the CPU does within a tolerance,
//! and its checkpoint exports on the CPU. Built only with the `wgpu` feature (scripts/test.sh
//! runs it in its GPU step).
#![cfg(feature = "wgpu")]

mod common;

use common::{aedge, repo, stdout};

fn train(device: &[&str], out: &std::path::Path) -> serde_json::Value {
    let data = repo().join("data/mnist-sample");
    let json = stdout(
        aedge()
            .args([
                "train",
                "--json",
                "--preset",
                "seed-dense",
                "--epochs",
                "20",
            ])
            .args(["--batch-size", "16", "--normal", "1"])
            .args(device)
            .arg("--data")
            .arg(data.join("t1k-images-idx3-ubyte.gz"))
            .arg("--labels")
            .arg(data.join("t1k-labels-idx1-ubyte.gz"))
            .arg("--out")
            .arg(out),
    );
    serde_json::from_str(&json).unwrap()
}

#[test]
fn train_on_wgpu_from_the_command_line() {
    let dir = std::env::temp_dir().join(format!("aedge-cli-gpu-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let gpu = train(&["--device", "wgpu"], &dir.join("gpu"));
    let cpu = train(&["--device", "cpu"], &dir.join("cpu"));
    let name = gpu["device"].as_str().unwrap();
    println!("wgpu run on {name}");
    assert!(name.starts_with("wgpu:0 ("), "{name}");
    assert_eq!(gpu["epochs"], 20);
    let (g, c) = (
        gpu["train_loss"].as_f64().unwrap(),
        cpu["train_loss"].as_f64().unwrap(),
    );
    println!("final train loss: wgpu {g:.5}, cpu {c:.5}");
    // It trained (BCE starts near ln 2 = 0.69; 160 steps bring the CPU run to about 0.1),
    // and like the CPU: initial weights come from each backend's own generator, so close,
    // not equal (two CPU seeds differ by about 4 %).
    assert!(g < 0.2, "the wgpu run's loss is {g}");
    assert!((g - c).abs() / c < 0.1, "wgpu {g} vs cpu {c}");
    let model = dir.join("gpu.aedge");
    stdout(
        aedge()
            .args(["export", "--normal", "1", "--checkpoint"])
            .arg(dir.join("gpu/checkpoint"))
            .arg("--data")
            .arg(repo().join("data/mnist-sample/t1k-images-idx3-ubyte.gz"))
            .arg("--labels")
            .arg(repo().join("data/mnist-sample/t1k-labels-idx1-ubyte.gz"))
            .arg("-o")
            .arg(&model),
    );
    assert!(model.exists());
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `--devices`: data parallel on two devices (on a machine with one adapter, the adapter
/// listed twice opens a second device on it), following the one-device run.
#[test]
fn train_data_parallel_from_the_command_line() {
    let dir = std::env::temp_dir().join(format!("aedge-cli-ddp-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let one = train(&["--device", "wgpu:0"], &dir.join("one"));
    let two = train(&["--devices", "wgpu:0,wgpu:0"], &dir.join("two"));
    let devices = two["devices"].as_array().unwrap();
    assert_eq!(devices.len(), 2, "{two}");
    for d in devices {
        println!("{d}");
    }
    // 126 ones in the sample, 113 after the validation split: 7 steps of 16 and one of 1 an
    // epoch, for 20 epochs. Both devices ran the full steps (8 + 8 samples); the first alone
    // ran the one-sample step.
    let work = |i: usize, key: &str| devices[i][key].as_u64().unwrap();
    assert_eq!((work(0, "steps"), work(0, "samples")), (160, 20 * (56 + 1)));
    assert_eq!((work(1, "steps"), work(1, "samples")), (140, 20 * 56));
    assert!(devices[1]["device"]
        .as_str()
        .unwrap()
        .contains("another device"));
    let (a, b) = (
        one["train_loss"].as_f64().unwrap(),
        two["train_loss"].as_f64().unwrap(),
    );
    println!("final train loss: one device {a:.6}, two {b:.6}");
    assert!((a - b).abs() / a < 1e-3, "two devices {b} vs one {a}");
    std::fs::remove_dir_all(&dir).unwrap();
}
