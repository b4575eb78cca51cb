//! `aedge eval one-class`: the one-class protocol of Ruff et al. (2018) on Fashion-MNIST.
//! For each class, train on that class's training images only, score all 10,000 test images
//! (that class normal, the nine others anomalies) with the f32 and the int8 model on
//! aedge-runtime, and report the AUROC per class and its mean over seeds, beside the
//! published figures.

use super::protocol::{
    self, dataset_dir, histogram, idx_split, pm, roc_points, Chosen, Footprint, LossArg, Progress,
    RecipeArgs,
};
use crate::cmd::MetricArg;
use crate::report::Table;
use crate::{Out, Result};
use aedge_runtime::metrics::auroc;
use aedge_runtime::precisions::{calibrate_thresholds, export_precisions, RANGE_METHODS};
use aedge_runtime::{AlignedBytes, Metric, Model, ThresholdRule};
use aedge_trainer::data::Dataset;
use aedge_trainer::export::to_graph;
use aedge_trainer::{device, train, Backend, RunOptions};
use serde_json::json;
use std::path::PathBuf;

/// Fashion-MNIST class names, by label.
const CLASSES: [&str; 10] = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
];

/// Published per-class AUROC (%) on Fashion-MNIST, one-class protocol: (method, figures,
/// the mean the paper prints, from unrounded figures).
const PUBLISHED: [(&str, [f64; 10], f64); 2] = [
    (
        "GEOM (Golan & El-Yaniv 2018)",
        [99.4, 97.6, 91.1, 89.9, 92.1, 93.4, 83.3, 98.9, 90.8, 99.2],
        93.5,
    ),
    (
        "ARNet (Ye et al. 2020)",
        [92.7, 99.3, 89.1, 93.6, 90.8, 93.1, 85.0, 98.4, 97.8, 98.4],
        93.9,
    ),
];

/// Arguments of `aedge eval one-class`.
#[derive(clap::Args)]
pub struct Args {
    /// Directory with Fashion-MNIST's IDX files (train- and t10k- images and labels), or the
    /// folder holding `fashion-mnist/` (as `../shared/data`).
    #[arg(long)]
    data: PathBuf,
    /// Classes to run (default all ten).
    #[arg(long, value_delimiter = ',', default_values_t = 0..10u8)]
    classes: Vec<u8>,
    /// Seeds per class.
    #[arg(long, default_value_t = 3)]
    seeds: u64,
    /// The model (default: the `keras-conv` preset).
    #[command(flatten)]
    recipe: RecipeArgs,
    /// Epochs.
    #[arg(long, default_value_t = EPOCHS)]
    epochs: usize,
    /// Training loss (default: the recipe's).
    #[arg(long, value_enum)]
    loss: Option<LossArg>,
    /// The anomaly score (default: the recipe's `[score] metric`, else mse).
    #[arg(long, value_enum)]
    metric: Option<MetricArg>,
    /// Output directory for the report.
    #[arg(long, default_value = "runs/eval/one-class")]
    out: PathBuf,
}

/// One class and seed.
struct Run {
    class: u8,
    seed: u64,
    auroc_f32: f64,
    auroc_int8: f64,
    /// Share of normal test images above the int8 threshold.
    fpr: f64,
    /// Share of anomalous test images above it.
    tpr: f64,
    threshold: f32,
    seconds: f64,
}

/// What the first seed of each class leaves for the figures.
struct Kept {
    class: u8,
    errors: Vec<f32>,
    threshold: f32,
}

/// Epochs per model: 10 keeps the 30 runs of the table near 25 minutes on 2 cores.
const EPOCHS: usize = 10;

/// Codes the latent Gaussian is fitted to, spread over the class's training images.
const LATENT_FIT: usize = 2000;

/// Held out of each class's training images for the threshold (the training never sees them).
const HOLDOUT: f32 = 0.1;

/// Runs the protocol.
pub fn run(a: Args, out: Out) -> Result<()> {
    if let Some(&c) = a.classes.iter().find(|&&c| c > 9) {
        return Err(format!("--classes: {c} is not a Fashion-MNIST class (0–9)"));
    }
    if a.seeds == 0 {
        return Err("--seeds must be at least 1".into());
    }
    let dir = dataset_dir(&a.data, "fashion-mnist")?;
    let train_all = idx_split(&dir, "train")?;
    let test = idx_split(&dir, "t10k")?;
    let test_raw = test.raw_all();
    let test_labels = test.labels.clone().unwrap_or_default();
    let model = a.recipe.load("keras-conv")?;
    let (spec, mut cfg) = (
        model.recipe.spec(train_all.shape),
        model.recipe.train.clone(),
    );
    cfg.epochs = a.epochs.max(1);
    if let Some(l) = a.loss {
        cfg.loss = l.into();
    }
    let metric = chosen_metric(&a, &model);
    let opts = RunOptions::new(device(Backend::Flex).map_err(|e| e.to_string())?);
    let rule = ThresholdRule::Percentile(99.0);
    let mut progress = Progress::new(a.classes.len() * a.seeds as usize, out);
    out.line(format!(
        "one-class Fashion-MNIST: {} classes × {} seeds, {} for {} epochs, {} test images each",
        a.classes.len(),
        a.seeds,
        model.name,
        cfg.epochs,
        test.len()
    ));
    let mut runs = Vec::new();
    let mut kept = Vec::new();
    let mut footprint = None;
    for &class in &a.classes {
        let normal = train_all.with_labels(&[class]);
        let (fit, held_out) = normal.split(HOLDOUT, 1);
        let anomalous: Vec<bool> = test_labels.iter().map(|&l| l != class).collect();
        let (fit_raw, held_raw) = (fit.raw_all(), held_out.raw_all());
        let calib = &fit_raw[..fit_raw.len().min(200)];
        let normal_fit = &fit_raw[..fit_raw.len().min(LATENT_FIT)];
        for seed in 0..a.seeds {
            let t0 = std::time::Instant::now();
            let mut c = cfg.clone();
            c.seed = 42 + seed;
            let t = train(&spec, &c, &fit, None, &opts)?;
            let mut g = to_graph(
                &format!("fmnist-{class}"),
                &t.model,
                &spec,
                &train_all,
                metric,
            )?;
            let mut files =
                export_precisions(&g, calib, calib, &RANGE_METHODS).map_err(|e| e.to_string())?;
            calibrate_thresholds(&mut g, &mut files, calib, normal_fit, &held_raw, rule)
                .map_err(|e| e.to_string())?;
            let (f32_errors, _) = errors(&files.f32, &test_raw)?;
            let (int8_errors, threshold) = errors(&files.int8, &test_raw)?;
            let au = |e: &[f32]| auroc(e, &anomalous).ok_or("AUROC needs both kinds of sample");
            let share = |want: bool| {
                let n = anomalous.iter().filter(|&&x| x == want).count().max(1);
                int8_errors
                    .iter()
                    .zip(&anomalous)
                    .filter(|&(&e, &x)| x == want && e > threshold)
                    .count() as f64
                    / n as f64
            };
            let r = Run {
                class,
                seed,
                auroc_f32: au(&f32_errors)?,
                auroc_int8: au(&int8_errors)?,
                fpr: share(false),
                tpr: share(true),
                threshold,
                seconds: t0.elapsed().as_secs_f64(),
            };
            progress.step(&format!(
                "class {class} ({}) seed {seed}: AUROC f32 {:.4}, int8 {:.4}",
                CLASSES[class as usize], r.auroc_f32, r.auroc_int8
            ));
            if footprint.is_none() {
                footprint = Some(Footprint::of(&files.int8)?);
            }
            if seed == 0 {
                kept.push(Kept {
                    class,
                    errors: int8_errors,
                    threshold,
                });
            }
            runs.push(r);
        }
    }
    let footprint = footprint.ok_or("no runs")?;
    report(
        &a,
        out,
        &model,
        &cfg,
        &runs,
        &kept,
        &footprint,
        &test,
        progress.seconds(),
    )
}

/// The model's errors on every sample, and its threshold.
fn errors(bytes: &[u8], samples: &[Vec<f32>]) -> Result<(Vec<f32>, f32)> {
    let b = AlignedBytes::from(bytes.to_vec());
    let m = Model::parse(&b).map_err(|e| e.to_string())?;
    let e = crate::cmd::score_all(&m, samples)?
        .iter()
        .map(|s| s.error)
        .collect();
    Ok((e, m.threshold()))
}

/// `--metric`, else the recipe's, else MSE.
fn chosen_metric(a: &Args, model: &Chosen) -> Metric {
    match (a.metric, model.recipe.score.metric) {
        (Some(m), _) => m.into(),
        (None, Some(m)) => m.into(),
        (None, None) => Metric::Mse,
    }
}

/// The score, as the report says it.
fn metric_text(m: Metric) -> &'static str {
    match m {
        Metric::Latent => {
            "the latent distance (Mahalanobis distance of the code under a Gaussian fitted to \
             the class's training codes, 32 principal directions)"
        }
        Metric::MseLatent => "MSE and the latent distance, standardised and summed",
        Metric::Mse => "MSE",
        Metric::Mae => "MAE",
        Metric::Bce => "BCE",
    }
}

/// The per-class table, the figures and the report files.
#[allow(clippy::too_many_arguments)]
fn report(
    a: &Args,
    out: Out,
    model: &Chosen,
    cfg: &aedge_trainer::TrainConfig,
    runs: &[Run],
    kept: &[Kept],
    footprint: &Footprint,
    test: &Dataset,
    seconds: f64,
) -> Result<()> {
    let metric = chosen_metric(a, model);
    let of = |class: u8, f: fn(&Run) -> f64| -> Vec<f64> {
        runs.iter().filter(|r| r.class == class).map(f).collect()
    };
    let mut head = vec!["class", "aedge f32", "aedge int8", "int8 − f32"];
    head.extend(PUBLISHED.iter().map(|p| p.0));
    let mut t = Table::new(&head);
    let (mut mean_f32, mut mean_int8) = (Vec::new(), Vec::new());
    for &c in &a.classes {
        let (f, q) = (of(c, |r| r.auroc_f32), of(c, |r| r.auroc_int8));
        let diff: Vec<f64> = f.iter().zip(&q).map(|(f, q)| q - f).collect();
        let mut row = vec![
            format!("{c} {}", CLASSES[c as usize]),
            pm(&f, 100.0),
            pm(&q, 100.0),
            format!("{:+.2}", protocol::mean_std(&diff).0 * 100.0),
        ];
        row.extend(PUBLISHED.iter().map(|p| format!("{:.1}", p.1[c as usize])));
        t.row(row);
        mean_f32.push(f);
        mean_int8.push(q);
    }
    // The mean over classes, per seed, so its ± is the spread between seeds.
    let per_seed = |per_class: &[Vec<f64>]| -> Vec<f64> {
        (0..a.seeds as usize)
            .map(|s| per_class.iter().map(|v| v[s]).sum::<f64>() / per_class.len() as f64)
            .collect()
    };
    let (sf, sq) = (per_seed(&mean_f32), per_seed(&mean_int8));
    let mut row = vec![
        "mean".to_string(),
        pm(&sf, 100.0),
        pm(&sq, 100.0),
        format!(
            "{:+.2}",
            (protocol::mean_std(&sq).0 - protocol::mean_std(&sf).0) * 100.0
        ),
    ];
    row.extend(PUBLISHED.iter().map(|p| {
        if a.classes.len() == 10 {
            format!("{:.1}", p.2)
        } else {
            let v: Vec<f64> = a.classes.iter().map(|&c| p.1[c as usize]).collect();
            format!("{:.1}", v.iter().sum::<f64>() / v.len() as f64)
        }
    }));
    t.row(row);
    let command = format!(
        "aedge eval one-class --data {} --classes {} --seeds {} {} --epochs {} --loss {} --metric {}",
        a.data.display(),
        a.classes
            .iter()
            .map(u8::to_string)
            .collect::<Vec<_>>()
            .join(","),
        a.seeds,
        model.flag,
        cfg.epochs,
        format!("{:?}", cfg.loss).to_lowercase(),
        metric
    );
    let setup = format!(
        "Protocol of Ruff et al. (2018): per class, train on that class's training images only \
         ({:.0} % of them held out to calibrate the threshold, never trained on), score all {} \
         test images, AUROC with the nine other classes as anomalies. Model: {} trained {} \
         epochs with {} loss, batch {}; scored by {} on aedge-runtime in f32 and int8 \
         (post-training quantization). {}. Threshold: p99 of the held-out normal errors, per \
         precision. AUROC in %, mean ± std over {} seed(s). Total time {:.0} s.",
        HOLDOUT * 100.0,
        test.len(),
        model.name,
        cfg.epochs,
        format!("{:?}", cfg.loss).to_uppercase(),
        cfg.batch_size,
        metric_text(metric),
        footprint.text(),
        a.seeds,
        seconds
    );
    let mut w = protocol::Writer::new(&a.out, "One-class anomaly detection on Fashion-MNIST")?;
    w.text(&setup);
    w.table("AUROC per class", &command, &t);
    let mut at = Table::new(&[
        "class",
        "threshold (int8)",
        "normal flagged",
        "anomalies flagged",
    ]);
    for r in runs.iter().filter(|r| r.seed == 0) {
        at.row(vec![
            format!("{} {}", r.class, CLASSES[r.class as usize]),
            format!("{:.5}", r.threshold),
            format!("{:.1} %", r.fpr * 100.0),
            format!("{:.1} %", r.tpr * 100.0),
        ]);
    }
    w.table("At the calibrated threshold (seed 0, int8)", &command, &at);
    figures(&mut w, kept, test)?;
    let json = json!({
        "protocol": "fashion-mnist one-class",
        "model": model.flag, "epochs": cfg.epochs, "seeds": a.seeds, "metric": metric.to_string(),
        "footprint": {"weights_bytes": footprint.weights, "weights_section_bytes": footprint.section,
                      "latent_bytes": footprint.latent,
                      "file_bytes": footprint.file,
                      "arena_bytes": footprint.arena, "macs": footprint.macs},
        "mean_auroc": {"f32": protocol::mean_std(&sf).0, "int8": protocol::mean_std(&sq).0,
                       "f32_std": protocol::mean_std(&sf).1, "int8_std": protocol::mean_std(&sq).1},
        "runs": runs.iter().map(|r| json!({
            "class": r.class, "seed": r.seed, "auroc_f32": r.auroc_f32, "auroc_int8": r.auroc_int8,
            "threshold": r.threshold, "normal_flagged": r.fpr, "anomalies_flagged": r.tpr,
            "seconds": r.seconds})).collect::<Vec<_>>(),
        "published": PUBLISHED.iter().map(|p| json!({"method": p.0, "auroc": p.1, "mean": p.2})).collect::<Vec<_>>(),
        "seconds": seconds,
    });
    w.publish(json, out, &[setup, t.text()])
}

/// ROC curves (int8, seed 0), the error histogram of the first class with its threshold, and
/// its most and least anomalous test images.
fn figures(w: &mut protocol::Writer, kept: &[Kept], test: &Dataset) -> Result<()> {
    let labels = test.labels.clone().unwrap_or_default();
    let names: Vec<String> = kept
        .iter()
        .map(|k| format!("{} {}", k.class, CLASSES[k.class as usize]))
        .collect();
    let curves: Vec<aedge::chart::Series> = kept
        .iter()
        .zip(&names)
        .map(|(k, n)| {
            let anomalous: Vec<bool> = labels.iter().map(|&l| l != k.class).collect();
            (n.as_str(), roc_points(&k.errors, &anomalous))
        })
        .collect();
    aedge::chart::line_chart(
        &w.path("roc.png"),
        "ROC per normal class (int8, seed 0)",
        "false positive rate",
        "true positive rate",
        &curves,
    )?;
    w.figure("roc.png", "ROC curves, int8 model on aedge-runtime, seed 0")?;
    let Some(k) = kept.first() else {
        return Ok(());
    };
    let (normal, anomalous): (Vec<f32>, Vec<f32>) = {
        let (mut n, mut a) = (Vec::new(), Vec::new());
        for (&e, &l) in k.errors.iter().zip(&labels) {
            if l == k.class {
                n.push(e)
            } else {
                a.push(e)
            }
        }
        (n, a)
    };
    let mut sorted = k.errors.clone();
    sorted.sort_by(f32::total_cmp);
    let hi = aedge_runtime::metrics::percentile(&sorted, 99.5).unwrap_or(1.0) as f64;
    let hn = histogram(&normal, 0.0, hi, 50);
    let ha = histogram(&anomalous, 0.0, hi, 50);
    let top = hn.iter().chain(&ha).map(|p| p.1).fold(0.0, f64::max);
    let t = k.threshold as f64;
    aedge::chart::line_chart(
        &w.path("errors.png"),
        &format!("Errors, normal class {}", names[0]),
        "MSE (model units)",
        "share of images",
        &[
            ("normal", hn),
            ("anomalous", ha),
            ("threshold", vec![(t, 0.0), (t, top)]),
        ],
    )?;
    w.figure(
        "errors.png",
        &format!(
            "Error histograms of normal and anomalous test images with the calibrated threshold (class {}, int8)",
            names[0]
        ),
    )?;
    let mut order: Vec<usize> = (0..k.errors.len()).collect();
    order.sort_by(|&a, &b| k.errors[b].total_cmp(&k.errors[a]));
    let shape = test.shape;
    let pick = |idx: &[usize]| -> Vec<Vec<f32>> { idx.iter().map(|&i| test.raw(i)).collect() };
    let most = pick(&order[..10]);
    let least = pick(&order[order.len() - 10..]);
    let rows = vec![
        most.iter().map(Vec::as_slice).collect(),
        least.iter().map(Vec::as_slice).collect(),
    ];
    crate::output::png_grid(&w.path("extremes.png"), &rows, shape[0], shape[1], shape[2])?;
    w.figure(
        "extremes.png",
        &format!(
            "Top row: the 10 most anomalous test images for normal class {}; bottom row: the 10 least",
            names[0]
        ),
    )?;
    Ok(())
}
