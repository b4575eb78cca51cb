//! Data parallelism: every batch split across devices, the model forked onto each, the
//! gradients brought to the main device and summed there with burn's own
//! `GradientsParams::to_device` and `GradientsAccumulator`, then one optimiser step on the
//! main device. This is burn-train's multi-device strategy (`ExecutionStrategy::multi` with
//! the optimiser on the main device), run inside aedge's loop so that its losses, optimisers,
//! seeded noise and exact resume stay as they are. burn's DDP (`ExecutionStrategy::ddp`)
//! all-reduces through the device runtime instead, which in burn 0.22 / cubecl 0.11 only
//! CUDA has (NCCL); wgpu and burn-flex refuse it ("no transport between its devices").

use crate::model::AutoEncoder;
use crate::train::{loss_path, objective, Batch, HostBatch, Noise, Purpose, TrainConfig};
use burn::module::{Module, ModuleVisitor, Param};
use burn::optim::{GradientsAccumulator, GradientsParams};
use burn::tensor::{Device, Tensor};
use std::ops::Range;
use std::time::{Duration, Instant};

/// The work one device did in a run.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DeviceWork {
    /// Steps it computed gradients in.
    pub steps: usize,
    /// Samples it ran forward and backward.
    pub samples: usize,
    /// Wall time of its forward and backward passes and of bringing its gradients to the
    /// main device (on GPUs, work still queued when the gradients are read is counted there).
    pub seconds: f64,
}

/// The rows of a batch of `rows` samples each of `n` devices takes, in order: as equal as
/// possible, the first devices one more. A device whose share is empty sits the step out.
pub fn shares(rows: usize, n: usize) -> Vec<Range<usize>> {
    let n = n.max(1);
    let (base, extra) = (rows / n, rows % n);
    let mut start = 0;
    (0..n)
        .map(|k| {
            let len = base + usize::from(k < extra);
            let r = start..start + len;
            start += len;
            r
        })
        .collect()
}

/// One step on `devices` (the first holds `model`): the gradients of the batch's mean
/// objective, on the main device, and that objective's value. On one device this is the
/// plain step; on several, device k's objective is weighted by its share of the batch, so the
/// sum of the gradients is the whole batch's gradient (up to the order of float additions).
pub(crate) fn step(
    model: &AutoEncoder,
    cfg: &TrainConfig,
    batch: HostBatch,
    noise_seed: u64,
    devices: &[Device],
    host_passes: bool,
    work: &mut [DeviceWork],
) -> Result<(GradientsParams, f64), String> {
    let main = &devices[0];
    let rows = batch.rows();
    if devices.len() == 1 {
        let t0 = Instant::now();
        let b = batch.into_device(main);
        let (grads, total) = pass(
            model,
            cfg,
            b,
            Noise::whole(noise_seed),
            main,
            host_passes,
            None,
        )?;
        note(&mut work[0], rows, t0.elapsed());
        return Ok((grads, total));
    }
    let parts = shares(rows, devices.len());
    let batch = &batch;
    let run = |k: usize, m: AutoEncoder| -> Result<Shard, String> {
        let t0 = Instant::now();
        let dev = &devices[k];
        let r = parts[k].clone();
        let m = if k == 0 { m } else { m.fork(dev) };
        let b = batch.slice(r.clone(), dev);
        let noise = Noise {
            seed: noise_seed,
            row0: r.start,
        };
        let weight = r.len() as f32 / rows as f32;
        let (grads, total) = pass(&m, cfg, b, noise, dev, host_passes, Some(weight))?;
        Ok(Shard {
            grads,
            total,
            rows: r.len(),
            time: t0.elapsed(),
        })
    };
    let active: Vec<usize> = (0..devices.len())
        .filter(|&k| !parts[k].is_empty())
        .collect();
    // burn initialises parameters on first use, drawing from the device's generator. Until
    // that has happened, the main device's part runs alone first, so the parameters are drawn
    // in the order, and to the values, of a one-device run; a fork would race it.
    let first = (!initialised(model)).then(|| run(active[0], model.clone()));
    let shards: Vec<(usize, Result<Shard, String>)> = std::thread::scope(|s| {
        let others: Vec<_> = active[1..]
            .iter()
            .map(|&k| {
                let m = model.clone();
                let run = &run;
                (k, s.spawn(move || run(k, m)))
            })
            .collect();
        let first = first.unwrap_or_else(|| run(active[0], model.clone()));
        let mut out = vec![(active[0], first)];
        for (k, h) in others {
            let r = h
                .join()
                .unwrap_or_else(|_| Err(format!("device {k} failed during the step")));
            out.push((k, r));
        }
        out
    });
    // Summed in device order, so a run repeats bit for bit.
    let mut sum = GradientsAccumulator::<AutoEncoder>::new();
    let mut total = 0.0;
    for (k, shard) in shards {
        let shard = shard?;
        // Brought over here, by the thread that goes on to use them: a tensor written on the
        // main device by another thread was, on wgpu, not always complete when read.
        let grads = if k == 0 {
            shard.grads
        } else {
            shard.grads.to_device(main, model)
        };
        sum.accumulate(model, grads);
        total += shard.total;
        note(&mut work[k], shard.rows, shard.time);
    }
    Ok((sum.grads(), total))
}

/// Whether every parameter of `model` has its value (none waits for its first use).
fn initialised(model: &AutoEncoder) -> bool {
    struct Lazy(bool);
    impl ModuleVisitor for Lazy {
        fn visit_float<const D: usize>(&mut self, p: &Param<Tensor<D>>) {
            self.0 |= !p.is_initialized();
        }
    }
    let mut v = Lazy(false);
    model.visit(&mut v);
    !v.0
}

/// Forward and backward of one batch (or one device's share of it) on `dev`: the gradients
/// of its mean objective, times `weight` when given, and that weighted objective.
fn pass(
    model: &AutoEncoder,
    cfg: &TrainConfig,
    batch: Batch,
    noise: Noise,
    dev: &Device,
    host_passes: bool,
    weight: Option<f32>,
) -> Result<(GradientsParams, f64), String> {
    let o = objective(
        model,
        cfg,
        batch,
        noise,
        loss_path(host_passes, dev),
        Purpose::Train,
    );
    let root = o.root.ok_or(NO_GRADIENT)?;
    let (root, total) = match weight {
        Some(w) => (root * w, o.total * w as f64),
        None => (root, o.total),
    };
    Ok((GradientsParams::from_grads(root.backward(), model), total))
}

/// One device's part of a step.
struct Shard {
    grads: GradientsParams,
    total: f64,
    rows: usize,
    time: Duration,
}

fn note(w: &mut DeviceWork, rows: usize, time: Duration) {
    w.steps += 1;
    w.samples += rows;
    w.seconds += time.as_secs_f64();
}

const NO_GRADIENT: &str = "internal error: the objective returned no gradient";

#[cfg(test)]
mod tests {
    use super::shares;

    #[test]
    fn a_batch_is_cut_into_equal_consecutive_shares() {
        assert_eq!(shares(10, 2), vec![0..5, 5..10]);
        assert_eq!(shares(7, 3), vec![0..3, 3..5, 5..7]);
        assert_eq!(shares(1, 2), vec![0..1, 1..1]);
        assert_eq!(shares(5, 1), vec![0..5]);
    }
}
