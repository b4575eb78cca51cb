//! Every autoencoder kind trains on real data (the bundled MNIST and NAB samples) and its loss
//! goes down; runs are reproducible and resume exactly.

mod common;

use aedge_trainer::data::{Dataset, Series};
use aedge_trainer::model::{Act, Architecture, ModelSpec, Upsampling};
use aedge_trainer::optim::{LrSchedule, OptimizerSpec};
use aedge_trainer::{corrupt::Corruption, loss::Loss};
use aedge_trainer::{device, train, Backend, RunOptions, TrainConfig};
use common::{mnist, repo};

fn opts() -> RunOptions {
    RunOptions::new(device(Backend::Flex).unwrap())
}

fn cfg(epochs: usize, batch: usize, loss: Loss) -> TrainConfig {
    TrainConfig {
        epochs,
        batch_size: batch,
        loss,
        optimizer: OptimizerSpec::Adam { lr: 2e-3 },
        seed: 7,
        ..TrainConfig::default()
    }
}

/// Trains and checks that the training and validation losses fall.
fn trains(spec: ModelSpec, cfg: TrainConfig, data: &Dataset) -> Vec<f64> {
    let (tr, val) = data.split(0.2, 1);
    let t = train(&spec, &cfg, &tr, Some(&val), &opts()).unwrap();
    let h = &t.history;
    assert_eq!(h.len(), cfg.epochs);
    let (first, last) = (&h[0], &h[h.len() - 1]);
    assert!(
        last.train_loss < first.train_loss * 0.95,
        "{:?}: train loss {} -> {}",
        spec.arch,
        first.train_loss,
        last.train_loss
    );
    assert!(
        last.val_loss.unwrap() < first.val_loss.unwrap(),
        "{:?}: val loss {:?} -> {:?}",
        spec.arch,
        first.val_loss,
        last.val_loss
    );
    assert!(h
        .iter()
        .all(|m| m.samples_per_sec > 0.0 && m.train_loss.is_finite()));
    h.iter().map(|m| m.train_loss).collect()
}

fn dense(hidden: &[usize], code: usize) -> ModelSpec {
    ModelSpec {
        input: [28, 28, 1],
        arch: Architecture::Dense {
            hidden: hidden.to_vec(),
            code,
            code_act: Act::Relu,
        },
        out_act: Act::Sigmoid,
    }
}

#[test]
fn dense_sparse_and_deep() {
    let d = mnist(400);
    trains(dense(&[], 32), cfg(4, 32, Loss::Bce), &d);
    trains(
        dense(&[], 32),
        TrainConfig {
            l1_code: 1e-4,
            ..cfg(4, 32, Loss::Bce)
        },
        &d,
    );
    trains(dense(&[128, 64], 32), cfg(4, 32, Loss::Mse), &d);
}

#[test]
fn convolutional_both_decoders_and_denoising() {
    let d = mnist(300);
    let conv = |up| ModelSpec {
        input: [28, 28, 1],
        arch: Architecture::Conv {
            channels: vec![8, 4],
            upsampling: up,
        },
        out_act: Act::Sigmoid,
    };
    trains(conv(Upsampling::Nearest), cfg(3, 32, Loss::Bce), &d);
    trains(conv(Upsampling::Transpose), cfg(3, 32, Loss::Bce), &d);
    let noisy = TrainConfig {
        corruption: Some(Corruption::Gaussian {
            factor: 0.5,
            clip: true,
        }),
        ..cfg(3, 32, Loss::Bce)
    };
    trains(conv(Upsampling::Nearest), noisy, &d);
}

#[test]
fn variational() {
    let d = mnist(400);
    let spec = ModelSpec {
        input: [28, 28, 1],
        arch: Architecture::Vae {
            hidden: vec![64],
            latent: 2,
        },
        out_act: Act::Sigmoid,
    };
    trains(spec, cfg(4, 32, Loss::Bce), &d);
}

#[test]
fn lstm_on_a_nab_series() {
    let s = Series::read(repo().join("data/nab-sample/art_daily_jumpsup.csv"), &[]).unwrap();
    let (mean, std) = s.stats(2000);
    let w = s.windows(24, 12, &mean, &std).unwrap();
    assert_eq!(w.shape, [24, 1, 1]);
    let spec = ModelSpec {
        input: [24, 1, 1],
        arch: Architecture::Lstm { code: 16 },
        out_act: Act::Identity,
    };
    trains(
        spec,
        TrainConfig {
            optimizer: OptimizerSpec::Adam { lr: 1e-2 },
            ..cfg(4, 16, Loss::Mse)
        },
        &w,
    );
}

#[test]
fn optimisers_all_train() {
    let d = mnist(300);
    // Adadelta starts slowly (its first steps are about sqrt(epsilon) in size), so it gets
    // more steps.
    trains(
        dense(&[], 32),
        TrainConfig {
            optimizer: OptimizerSpec::Adadelta { lr: 1.0, rho: 0.95 },
            ..cfg(6, 8, Loss::Bce)
        },
        &d,
    );
    trains(
        dense(&[], 32),
        TrainConfig {
            optimizer: OptimizerSpec::rmsprop(1e-3),
            ..cfg(3, 32, Loss::Bce)
        },
        &d,
    );
}

#[test]
fn same_seed_same_result_and_exact_resume() {
    let d = mnist(200);
    let spec = dense(&[], 16);
    let c = TrainConfig {
        corruption: Some(Corruption::SaltPepper { amount: 0.1 }),
        // The rate depends on the step, so a resumed run must pick up the schedule too.
        lr_schedule: LrSchedule::Cosine,
        ..cfg(3, 32, Loss::Bce)
    };
    let a = train(&spec, &c, &d, Some(&d), &opts()).unwrap().history;
    let b = train(&spec, &c, &d, Some(&d), &opts()).unwrap().history;
    let losses = |h: &[aedge_trainer::train::EpochMetrics]| {
        h.iter()
            .map(|m| (m.train_loss, m.val_loss))
            .collect::<Vec<_>>()
    };
    assert_eq!(losses(&a), losses(&b), "a fixed seed gives the same run");

    // Kill after 2 epochs, then resume: the same losses as the uninterrupted run.
    let dir = std::env::temp_dir().join(format!("aedge-ckpt-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut o = opts();
    o.checkpoint_dir = Some(dir.clone());
    o.metrics = Some(dir.join("metrics.csv"));
    o.stop_after = Some(2);
    let part = train(&spec, &c, &d, Some(&d), &o).unwrap().history;
    assert_eq!(part.len(), 2);
    o.stop_after = None;
    o.resume = true;
    let resumed = train(&spec, &c, &d, Some(&d), &o).unwrap().history;
    assert_eq!(losses(&resumed), losses(&a), "resume continues exactly");
    let csv = std::fs::read_to_string(dir.join("metrics.csv")).unwrap();
    assert_eq!(csv.lines().count(), 4, "header and three epochs:\n{csv}");
    assert!(csv.starts_with("epoch,train_loss,val_loss"));
    // A different configuration refuses the checkpoint.
    let other = TrainConfig {
        seed: 8,
        ..c.clone()
    };
    assert!(train(&spec, &other, &d, None, &o)
        .err()
        .unwrap()
        .contains("different model or configuration"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bad_requests_are_errors() {
    let d = mnist(10);
    let wrong = ModelSpec {
        input: [8, 8, 1],
        ..dense(&[], 4)
    };
    assert!(train(&wrong, &cfg(1, 4, Loss::Bce), &d, None, &opts())
        .err()
        .unwrap()
        .contains("expects 64"));
    let mut o = opts();
    o.resume = true;
    o.checkpoint_dir = Some(std::env::temp_dir().join("aedge-no-such-checkpoint"));
    assert!(train(&dense(&[], 4), &cfg(1, 4, Loss::Bce), &d, None, &o)
        .err()
        .unwrap()
        .contains("no checkpoint"));
    let conv = ModelSpec {
        input: [27, 27, 1],
        arch: Architecture::Conv {
            channels: vec![4],
            upsampling: Upsampling::Nearest,
        },
        out_act: Act::Sigmoid,
    };
    assert!(conv
        .build(&opts().device)
        .err()
        .unwrap()
        .contains("transpose decoder"));
}

/// On burn-flex the reconstruction loss, its gradient and the optimiser updates are computed
/// on the host (`aedge_trainer::host_loss`, `aedge_trainer::optim`); `host_passes: false`
/// keeps burn's tensor ops. Both runs draw the same initial weights, so the two paths must
/// train to the same losses, for every loss, with the L1 and KL terms, and with a conv
/// decoder.
#[test]
fn host_loss_trains_like_burns_tensor_ops() {
    let d = mnist(200);
    let (tr, val) = d.split(0.25, 3);
    let vae = ModelSpec {
        input: [28, 28, 1],
        arch: Architecture::Vae {
            hidden: vec![32],
            latent: 2,
        },
        out_act: Act::Sigmoid,
    };
    let conv = ModelSpec {
        input: [28, 28, 1],
        arch: Architecture::Conv {
            channels: vec![4],
            upsampling: Upsampling::Nearest,
        },
        out_act: Act::Sigmoid,
    };
    let sparse = TrainConfig {
        l1_code: 1e-3,
        ..cfg(2, 32, Loss::Bce)
    };
    let cases = [
        (dense(&[], 16), cfg(2, 32, Loss::Bce)),
        (dense(&[], 16), sparse),
        (dense(&[], 16), cfg(2, 32, Loss::Mse)),
        (dense(&[], 16), cfg(2, 32, Loss::Mae)),
        (vae, cfg(2, 32, Loss::Bce)),
        (conv, cfg(2, 32, Loss::Bce)),
    ];
    let tensor_ops = RunOptions {
        host_passes: false,
        ..opts()
    };
    for (spec, c) in cases {
        let host = train(&spec, &c, &tr, Some(&val), &opts()).unwrap().history;
        let tensor = train(&spec, &c, &tr, Some(&val), &tensor_ops)
            .unwrap()
            .history;
        for (h, t) in host.iter().zip(&tensor) {
            let pairs = [
                (h.train_loss, t.train_loss),
                (h.val_loss.unwrap(), t.val_loss.unwrap()),
                (h.val_recon.unwrap(), t.val_recon.unwrap()),
            ];
            for (a, b) in pairs {
                assert!(
                    (a - b).abs() <= 2e-5 * b.abs(),
                    "{:?} {:?}: host {a} vs tensor ops {b}",
                    spec.arch,
                    c.loss
                );
            }
        }
    }
}
