//! The GPU path: burn-wgpu trains the same model as the CPU backend, and its losses agree
//! within a tolerance. Machines without a GPU run it on Mesa's lavapipe (Vulkan on the CPU;
//! scripts/install-lavapipe.sh). Built only with `--features wgpu`.
#![cfg(feature = "wgpu")]

mod common;

use aedge_trainer::device::{resolve_all, DeviceChoice};
use aedge_trainer::loss::Loss;
use aedge_trainer::model::{Act, Architecture, ModelSpec};
use aedge_trainer::{device, train, Backend, RunOptions, TrainConfig};
use common::mnist;
use std::sync::Mutex;

/// Each device seeds its initial weights from one generator: runs on other test threads
/// would draw from it between a run's seeding and its initialisation.
static SEEDED: Mutex<()> = Mutex::new(());

#[test]
fn wgpu_trains_like_the_cpu_backend() {
    let data = mnist(256);
    let spec = ModelSpec {
        input: [28, 28, 1],
        arch: Architecture::Dense {
            hidden: vec![],
            code: 32,
            code_act: Act::Relu,
        },
        out_act: Act::Sigmoid,
    };
    let cfg = TrainConfig {
        epochs: 3,
        batch_size: 32,
        loss: Loss::Bce,
        ..TrainConfig::default()
    };
    let _one_at_a_time = SEEDED.lock().unwrap_or_else(|e| e.into_inner());
    let run = |b| {
        let opts = RunOptions::new(device(b).unwrap());
        train(&spec, &cfg, &data, None, &opts).unwrap().history
    };
    let cpu = run(Backend::Flex);
    let gpu = run(Backend::Wgpu);
    for (c, g) in cpu.iter().zip(&gpu) {
        println!(
            "epoch {}: cpu {:.5}, wgpu {:.5}",
            c.epoch, c.train_loss, g.train_loss
        );
        // Initial weights come from each backend's own generator, so the curves are close,
        // not equal.
        let rel = (c.train_loss - g.train_loss).abs() / c.train_loss;
        assert!(
            rel < 0.05,
            "epoch {}: wgpu loss {} vs cpu {}",
            c.epoch,
            g.train_loss,
            c.train_loss
        );
    }
    assert!(
        gpu.last().unwrap().train_loss < gpu[0].train_loss,
        "wgpu loss did not go down"
    );
}

/// Data parallelism on two wgpu devices (adapter 0 twice: a second device of its own on
/// lavapipe): the loss curve follows the one-device run with the same global batch, and
/// both devices computed every step.
#[test]
fn two_wgpu_devices_follow_one() {
    let _one_at_a_time = SEEDED.lock().unwrap_or_else(|e| e.into_inner());
    let data = mnist(250);
    let spec = ModelSpec {
        input: [28, 28, 1],
        arch: Architecture::Dense {
            hidden: vec![64],
            code: 16,
            code_act: Act::Relu,
        },
        out_act: Act::Sigmoid,
    };
    let cfg = TrainConfig {
        epochs: 4,
        batch_size: 32,
        loss: Loss::Bce,
        ..TrainConfig::default()
    };
    let devices = resolve_all(&[DeviceChoice::Wgpu(Some(0)), DeviceChoice::Wgpu(Some(0))]).unwrap();
    for (_, name) in &devices {
        println!("device: {name}");
    }
    let one = train(
        &spec,
        &cfg,
        &data,
        None,
        &RunOptions::new(devices[0].0.clone()),
    )
    .unwrap();
    let mut opts = RunOptions::new(devices[0].0.clone());
    opts.replicas = vec![devices[1].0.clone()];
    let two = train(&spec, &cfg, &data, None, &opts).unwrap();
    for (a, b) in one.history.iter().zip(&two.history) {
        let rel = (a.train_loss - b.train_loss).abs() / a.train_loss;
        println!(
            "epoch {}: one device {:.6}, two {:.6} (rel {rel:.1e}); {:.0} vs {:.0} samples/s",
            a.epoch, a.train_loss, b.train_loss, a.samples_per_sec, b.samples_per_sec
        );
        // Only the order of float additions differs (seen: about 3e-8).
        assert!(
            rel < 1e-5,
            "epoch {}: {} vs {}",
            a.epoch,
            b.train_loss,
            a.train_loss
        );
    }
    assert!(two.history[3].train_loss < two.history[0].train_loss);
    // 250 samples: 7 full batches and one of 26, split 16 + 16 (13 + 13); 4 epochs.
    for w in &two.work {
        println!("{w:?}");
        assert_eq!((w.steps, w.samples), (32, 500));
    }
}
