//! Data-parallel training splits each batch across devices and sums the gradients on the
//! first: with every share weighted by its size, the run follows the single-device run with
//! the same global batch. Here the "devices" are burn-flex twice or three times (the same
//! device, so only the splitting maths is under test; tests/gpu.rs runs two wgpu devices).

mod common;

use aedge_trainer::corrupt::Corruption;
use aedge_trainer::loss::Loss;
use aedge_trainer::model::{Act, Architecture, ModelSpec};
use aedge_trainer::{device, train, Backend, RunOptions, TrainConfig};
use common::mnist;
use std::sync::Mutex;

/// burn-flex seeds its initial weights from one generator per device: runs of tests on
/// other threads would draw from it between a run's seeding and its initialisation.
static FLEX: Mutex<()> = Mutex::new(());

/// Training losses of `spec` under `cfg` with `n` devices, and the samples each device ran.
fn losses(spec: &ModelSpec, cfg: &TrainConfig, n: usize, batches: usize) -> (Vec<f64>, Vec<usize>) {
    let _one_at_a_time = FLEX.lock().unwrap_or_else(|e| e.into_inner());
    let data = mnist(batches * cfg.batch_size - 3);
    let dev = device(Backend::Flex).unwrap();
    let mut opts = RunOptions::new(dev.clone());
    opts.replicas = vec![dev; n - 1];
    let t = train(spec, cfg, &data, None, &opts).unwrap();
    (
        t.history.iter().map(|m| m.train_loss).collect(),
        t.work.iter().map(|w| w.samples).collect(),
    )
}

fn dense() -> ModelSpec {
    ModelSpec {
        input: [28, 28, 1],
        arch: Architecture::Dense {
            hidden: vec![],
            code: 16,
            code_act: Act::Relu,
        },
        out_act: Act::Sigmoid,
    }
}

fn same_curve(one: &[f64], many: &[f64]) {
    for (e, (a, b)) in one.iter().zip(many).enumerate() {
        let rel = (a - b).abs() / a.abs();
        println!(
            "epoch {}: 1 device {a:.6}, split {b:.6} (rel {rel:.1e})",
            e + 1
        );
        assert!(rel < 1e-6, "epoch {}: {b} vs {a}", e + 1);
    }
}

#[test]
fn a_denoising_run_split_three_ways_follows_the_one_device_run() {
    let cfg = TrainConfig {
        epochs: 3,
        batch_size: 32,
        loss: Loss::Bce,
        corruption: Some(Corruption::Gaussian {
            factor: 0.5,
            clip: true,
        }),
        ..TrainConfig::default()
    };
    let (one, _) = losses(&dense(), &cfg, 1, 6);
    let (three, work) = losses(&dense(), &cfg, 3, 6);
    same_curve(&one, &three);
    // 189 samples a epoch: five batches of 32 (11 + 11 + 10) and one of 29 (10 + 10 + 9).
    assert_eq!(work, vec![3 * 65, 3 * 65, 3 * 59]);
    // The curve is a training curve, not a constant.
    assert!(one[2] < one[0]);
}

#[test]
fn a_variational_run_split_two_ways_draws_the_same_noise() {
    let spec = ModelSpec {
        input: [28, 28, 1],
        arch: Architecture::Vae {
            hidden: vec![32],
            latent: 2,
        },
        out_act: Act::Sigmoid,
    };
    let cfg = TrainConfig {
        epochs: 2,
        batch_size: 16,
        loss: Loss::Bce,
        ..TrainConfig::default()
    };
    let (one, _) = losses(&spec, &cfg, 1, 8);
    let (two, _) = losses(&spec, &cfg, 2, 8);
    same_curve(&one, &two);
}

#[test]
fn mse_with_an_l1_code_penalty_splits_too() {
    let cfg = TrainConfig {
        epochs: 2,
        batch_size: 24,
        loss: Loss::Mse,
        l1_code: 1e-3,
        ..TrainConfig::default()
    };
    let (one, _) = losses(&dense(), &cfg, 1, 5);
    let (two, _) = losses(&dense(), &cfg, 2, 5);
    same_curve(&one, &two);
}

#[test]
fn a_split_run_resumes_exactly() {
    let _one_at_a_time = FLEX.lock().unwrap_or_else(|e| e.into_inner());
    let data = mnist(100);
    let cfg = TrainConfig {
        epochs: 3,
        batch_size: 16,
        corruption: Some(Corruption::SaltPepper { amount: 0.1 }),
        ..TrainConfig::default()
    };
    let dev = device(Backend::Flex).unwrap();
    let dir = std::env::temp_dir().join(format!("aedge-split-ckpt-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut o = RunOptions::new(dev.clone());
    o.replicas = vec![dev];
    let whole = train(&dense(), &cfg, &data, None, &o).unwrap().history;
    o.checkpoint_dir = Some(dir.clone());
    o.stop_after = Some(1);
    let part = train(&dense(), &cfg, &data, None, &o).unwrap();
    assert_eq!(part.history.len(), 1);
    o.stop_after = None;
    o.resume = true;
    let resumed = train(&dense(), &cfg, &data, None, &o).unwrap();
    let losses = |h: &[aedge_trainer::train::EpochMetrics]| {
        h.iter().map(|m| m.train_loss).collect::<Vec<_>>()
    };
    assert_eq!(losses(&resumed.history), losses(&whole));
    // The work counts are this call's: two epochs of 7 steps on each device.
    assert!(
        resumed.work.iter().all(|w| w.steps == 14),
        "{:?}",
        resumed.work
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
