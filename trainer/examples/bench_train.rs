//! Training throughput of the `seed-dense` and `keras-conv` presets on burn-flex, with
//! aedge's host passes (loss and optimiser, the default) and with burn's tensor ops, in
//! samples per second, on Fashion-MNIST when `../shared/data/fashion-mnist` (or the directory
//! given) is there, else on the bundled MNIST sample.
//!
//! `cargo run --release -p aedge-trainer --example bench_train -- [DATA_DIR] [EPOCHS] [PRESET[:PATH]...]`
//! (both presets both ways when none is named; PATH is `host`, `ops` or a backend such as
//! `wgpu`; e.g. `seed-dense:host` for one run).

use aedge_trainer::data::{Dataset, Images};
use aedge_trainer::presets::preset;
use aedge_trainer::{device, train, Backend, RunOptions};
use std::path::PathBuf;

// Training allocates and frees a tensor per operation; glibc serves blocks this large with
// mmap/munmap, and the page faults and TLB shootdowns cost about a quarter of a dense AE's
// training time. mimalloc keeps them (about a third more samples/s on seed-dense).
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let args: Vec<String> = std::env::args().skip(1).collect();
    let fashion = args
        .first()
        .map(PathBuf::from)
        .unwrap_or_else(|| repo.join("../shared/data/fashion-mnist"));
    let epochs: usize = args.get(1).map(|s| s.parse()).transpose()?.unwrap_or(2);
    // (preset, backend, host passes)
    let mut runs = Vec::new();
    let both = |runs: &mut Vec<_>, p: &str| {
        runs.push((p.to_string(), Backend::Flex, true));
        runs.push((p.to_string(), Backend::Flex, false));
    };
    for name in args.get(2..).unwrap_or_default() {
        match name.split_once(':') {
            Some((p, "host")) => runs.push((p.to_string(), Backend::Flex, true)),
            Some((p, "ops")) => runs.push((p.to_string(), Backend::Flex, false)),
            Some((p, b)) => runs.push((p.to_string(), b.parse::<Backend>()?, true)),
            None => both(&mut runs, name),
        }
    }
    if runs.is_empty() {
        for p in ["seed-dense", "keras-conv"] {
            both(&mut runs, p);
        }
    }
    let file = fashion.join("train-images-idx3-ubyte.gz");
    let (name, images) = if file.exists() {
        let mut im = Images::read(&file)?;
        im.truncate(20_000);
        ("Fashion-MNIST train (first 20,000)", im)
    } else {
        eprintln!(
            "{} not found; using the bundled MNIST sample",
            file.display()
        );
        (
            "bundled MNIST sample (1,000)",
            Images::read(repo.join("data/mnist-sample/t1k-images-idx3-ubyte.gz"))?,
        )
    };
    let data = Dataset::from_images(&images, None);
    println!(
        "training throughput on {name}, {epochs} epochs, {} threads available",
        std::thread::available_parallelism()?.get()
    );
    println!("| preset | backend | loss and optimiser | batch | samples/s (best epoch) | median | mean | final loss |");
    println!("|---|---|---|---:|---:|---:|---:|---:|");
    for (p, backend, host_passes) in runs {
        let (spec, mut cfg) = preset(&p, [28, 28, 1])?;
        cfg.epochs = epochs;
        let opts = RunOptions {
            host_passes,
            ..RunOptions::new(device(backend)?)
        };
        let t = train(&spec, &cfg, &data, None, &opts)?;
        let path = if host_passes && backend == Backend::Flex {
            "host passes"
        } else {
            "burn tensor ops"
        };
        let mut rates: Vec<f64> = t.history.iter().map(|m| m.samples_per_sec).collect();
        let mean = rates.iter().sum::<f64>() / rates.len() as f64;
        eprintln!("{p} on {backend} ({path}): samples/s per epoch {rates:.0?}");
        rates.sort_by(f64::total_cmp);
        let best = rates.last().copied().unwrap_or(f64::NAN);
        let median = rates[rates.len() / 2];
        let last = t.history.last().map_or(f64::NAN, |m| m.train_loss);
        println!(
            "| {p} | {backend} | {path} | {} | {best:.0} | {median:.0} | {mean:.0} | {last:.4} |",
            cfg.batch_size
        );
    }
    Ok(())
}
