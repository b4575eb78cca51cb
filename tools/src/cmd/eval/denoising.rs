//! `aedge eval denoising`: the Keras blog's denoising benchmark. Gaussian noise of factor 0.5
//! clipped to [0, 1]; a denoising AE trained on noisy → clean pairs, then the mean PSNR of
//! its f32 and int8 outputs on aedge-runtime next to the noisy input and a 3×3 median filter.
//! Fashion-MNIST: train 60k, test 10k. MNIST: only the 10k test set is on hand, so train on
//! its first 8,000 and test on the last 2,000.

use super::protocol::{self, dataset_dir, idx_split, Chosen, Footprint, Progress, RecipeArgs};
use crate::baseline::{measure, noisy, Psnr, NOISE};
use crate::report::Table;
use crate::{Out, Result};
use aedge_runtime::precisions::{export_precisions, RANGE_METHODS};
use aedge_runtime::Metric;
use aedge_trainer::data::Dataset;
use aedge_trainer::export::to_graph;
use aedge_trainer::{device, train, Backend, RunOptions, TrainConfig};
use serde_json::json;
use std::path::PathBuf;

/// Arguments of `aedge eval denoising`.
#[derive(clap::Args)]
pub struct Args {
    /// Directory holding `fashion-mnist/` and `mnist/` with their IDX files (as
    /// `../shared/data`).
    #[arg(long)]
    data: PathBuf,
    /// Datasets to run.
    #[arg(long, value_delimiter = ',', default_value = "mnist,fashion-mnist")]
    datasets: Vec<String>,
    /// The denoiser (default: the `keras-denoise` preset, the Keras blog's model); the
    /// protocol's noise replaces any corruption the recipe sets.
    #[command(flatten)]
    recipe: RecipeArgs,
    /// Epochs (default: the recipe's; keras-denoise's 100 take about 20 min on MNIST's
    /// 8,000 and over 2 h on Fashion-MNIST's 60,000 on 2 cores).
    #[arg(long)]
    epochs: Option<usize>,
    /// Samples per training step (default: the recipe's).
    #[arg(long)]
    batch_size: Option<usize>,
    /// Use at most this many training images (default: the protocol's).
    #[arg(long)]
    train_limit: Option<usize>,
    /// Output directory for the report.
    #[arg(long, default_value = "runs/eval/denoising")]
    out: PathBuf,
}

/// Published mean PSNR (dB) on MNIST's full 10k test set, noise 0.5 clipped.
const PUBLISHED_MNIST: [(&str, f64); 3] = [
    ("noisy input", 9.38),
    ("median 3×3", 14.19),
    ("conv denoising AE (Keras blog recipe)", 20.2),
];

/// One dataset's result.
struct Row {
    name: String,
    split: String,
    psnr: Psnr,
    footprint: Footprint,
    seconds: f64,
}

/// The preset the protocol trains unless told otherwise.
const DEFAULT_PRESET: &str = "keras-denoise";

/// The recipe and its training settings with the command line's overrides and the
/// protocol's noise.
struct Setup {
    model: Chosen,
    cfg: TrainConfig,
}

impl Setup {
    fn new(a: &Args) -> Result<Setup> {
        let model = a.recipe.load(DEFAULT_PRESET)?;
        let mut cfg = model.recipe.train.clone();
        if let Some(e) = a.epochs {
            cfg.epochs = e.max(1);
        }
        if let Some(b) = a.batch_size {
            cfg.batch_size = b.max(1);
        }
        cfg.corruption = Some(NOISE);
        Ok(Setup { model, cfg })
    }

    /// The model, optimiser and loss in a sentence.
    fn describe(&self) -> String {
        let c = &self.cfg;
        format!(
            "{} ({}); {} loss, {:?}, batch {}, {} epochs",
            self.model.name,
            self.model.recipe.description,
            format!("{:?}", c.loss).to_uppercase(),
            c.optimizer,
            c.batch_size,
            c.epochs
        )
    }
}

/// Runs the protocol.
pub fn run(a: Args, out: Out) -> Result<()> {
    let setup = Setup::new(&a)?;
    // Every dataset is read before the first trains, so a missing file fails at once.
    let sets = a
        .datasets
        .iter()
        .map(|name| load(&a, name).map(|s| (name, s)))
        .collect::<Result<Vec<_>>>()?;
    let mut progress = Progress::new(a.datasets.len(), out);
    let mut rows = Vec::new();
    for (name, (train_set, test, split)) in sets {
        out.line(format!(
            "{name}: training {} on {} images for {} epochs",
            setup.model.flag,
            train_set.len(),
            setup.cfg.epochs
        ));
        let row = run_one(&a, &setup, name, &train_set, &test, split, out)?;
        progress.step(&format!(
            "{name}: PSNR noisy {:.2} dB, median {:.2}, f32 {:.2}, int8 {:.2}",
            row.psnr.noisy, row.psnr.median, row.psnr.f32, row.psnr.int8
        ));
        rows.push(row);
    }
    report(&a, &setup, out, &rows, progress.seconds())
}

/// (train, test, how they were split) for a dataset name.
fn load(a: &Args, name: &str) -> Result<(Dataset, Dataset, String)> {
    let dir = dataset_dir(&a.data, name)?;
    let limit = |d: Dataset| match a.train_limit {
        Some(n) if n < d.len() => d.select(&(0..n.max(1)).collect::<Vec<_>>()),
        _ => d,
    };
    match name {
        "fashion-mnist" => {
            let train_set = limit(idx_split(&dir, "train")?);
            let test = idx_split(&dir, "t10k")?;
            let split = format!("train {} / test {} (t10k)", train_set.len(), test.len());
            Ok((train_set, test, split))
        }
        "mnist" => {
            let all = idx_split(&dir, "t10k")?;
            if all.len() < 10_000 {
                return Err(format!(
                    "{}: MNIST's test set has {} images, the protocol needs 10,000",
                    dir.display(),
                    all.len()
                ));
            }
            let train_set = limit(all.select(&(0..8000).collect::<Vec<_>>()));
            let test = all.select(&(8000..10_000).collect::<Vec<_>>());
            let split = format!(
                "train the first {} of t10k / test its last {} (MNIST's training set is not on hand)",
                train_set.len(),
                test.len()
            );
            Ok((train_set, test, split))
        }
        other => Err(format!(
            "--datasets: unknown '{other}' (mnist, fashion-mnist)"
        )),
    }
}

fn run_one(
    a: &Args,
    setup: &Setup,
    name: &str,
    train_set: &Dataset,
    test: &Dataset,
    split: String,
    out: Out,
) -> Result<Row> {
    let t0 = std::time::Instant::now();
    let spec = setup.model.recipe.spec(train_set.shape);
    let cfg = &setup.cfg;
    let mut opts = RunOptions::new(device(Backend::Flex).map_err(|e| e.to_string())?);
    opts.progress = !out.quiet && !out.json;
    let t = train(&spec, cfg, train_set, None, &opts)?;
    let g = to_graph(name, &t.model, &spec, train_set, Metric::default())?;
    // int8 ranges come from noisy training images: what the model sees in use.
    let calib: Vec<Vec<f32>> = (0..train_set.len().min(200))
        .map(|i| {
            noisy(train_set.sample(i), 7 + i as u64)
                .iter()
                .map(|v| v * 255.0)
                .collect()
        })
        .collect();
    let files = export_precisions(&g, &calib, &calib, &RANGE_METHODS).map_err(|e| e.to_string())?;
    std::fs::create_dir_all(&a.out).map_err(|e| format!("{}: {e}", a.out.display()))?;
    let p = measure(
        &files.f32,
        &files.int8,
        test,
        test.len(),
        1_000_000,
        &a.out.join(format!("{name}.png")),
    )?;
    Ok(Row {
        name: name.into(),
        split,
        psnr: p,
        footprint: Footprint::of(&files.int8)?,
        seconds: t0.elapsed().as_secs_f64(),
    })
}

fn report(a: &Args, s: &Setup, out: Out, rows: &[Row], seconds: f64) -> Result<()> {
    let mut t = Table::new(&[
        "dataset",
        "split",
        "noisy",
        "median 3×3",
        "aedge f32",
        "aedge int8",
        "int8 − f32",
    ]);
    for r in rows {
        t.row(vec![
            r.name.clone(),
            r.split.clone(),
            format!("{:.2}", r.psnr.noisy),
            format!("{:.2}", r.psnr.median),
            format!("{:.2}", r.psnr.f32),
            format!("{:.2}", r.psnr.int8),
            format!("{:+.2}", r.psnr.int8 - r.psnr.f32),
        ]);
    }
    let mut p = Table::new(&[
        "method (MNIST, full 10k test set, computed elsewhere)",
        "PSNR dB",
    ]);
    for (m, v) in PUBLISHED_MNIST {
        p.row(vec![m.into(), format!("{v:.2}")]);
    }
    let command = format!(
        "aedge eval denoising --data {} --datasets {} {} --epochs {} --batch-size {}",
        a.data.display(),
        a.datasets.join(","),
        s.model.flag,
        s.cfg.epochs,
        s.cfg.batch_size,
    );
    let setup = format!(
        "Gaussian noise of factor 0.5 clipped to [0, 1] (the Keras blog's recipe), fresh noise \
         per training batch and per test image, seeded. Model: {}; run on aedge-runtime in f32 \
         and int8 (post-training quantization, ranges from noisy training images). {}. Mean \
         PSNR in dB (peak 1) over the whole test split. Total time {seconds:.0} s.",
        s.describe(),
        rows.first().map(|r| r.footprint.text()).unwrap_or_default()
    );
    let mut w = protocol::Writer::new(&a.out, "Denoising: gaussian noise 0.5, clipped")?;
    w.text(&setup);
    w.table("Mean PSNR (dB)", &command, &t);
    w.table("Published figures", "computed elsewhere", &p);
    for r in rows {
        w.figure(
            &format!("{}.png", r.name),
            &format!(
                "{}: clean, noisy, median 3×3, aedge f32, aedge int8 (rows), the first 10 test images",
                r.name
            ),
        )?;
    }
    let json = json!({
        "protocol": "denoising, gaussian 0.5 clipped",
        "epochs": s.cfg.epochs, "batch_size": s.cfg.batch_size, "recipe": s.model.flag,
        "results": rows.iter().map(|r| json!({
            "dataset": r.name, "split": r.split, "noisy_db": r.psnr.noisy, "median3_db": r.psnr.median,
            "f32_db": r.psnr.f32, "int8_db": r.psnr.int8, "seconds": r.seconds,
            "footprint": {"weights_bytes": r.footprint.weights, "arena_bytes": r.footprint.arena,
                          "macs": r.footprint.macs}})).collect::<Vec<_>>(),
        "published_mnist_full_test": PUBLISHED_MNIST.iter().map(|(m, v)| json!({"method": m, "psnr_db": v})).collect::<Vec<_>>(),
        "seconds": seconds,
    });
    w.publish(json, out, &[setup, t.text(), p.text()])
}
