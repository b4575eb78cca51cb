//! The GPU path: burn-wgpu trains the same model as the CPU backend, and its losses agree
//! within a tolerance. Machines without a GPU run it on Mesa's lavapipe (Vulkan on the CPU;
//! scripts/install-lavapipe.sh). Built only with `--features wgpu`.
#![cfg(feature = "wgpu")]

mod common;

use aedge_trainer::loss::Loss;
use aedge_trainer::model::{Act, Architecture, ModelSpec};
use aedge_trainer::{device, train, Backend, RunOptions, TrainConfig};
use common::mnist;

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
