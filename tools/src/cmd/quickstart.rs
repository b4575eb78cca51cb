//! `aedge quickstart`: the main job on the bundled MNIST sample, no download. Trains a
//! denoising conv AE and a one-class anomaly AE, exports ONNX and int8 `.aedge`, evaluates
//! them (denoising PSNR against a median filter, AUROC f32 vs int8, sizes, host latency), and
//! writes `runs/quickstart/` with the models, figures and a self-contained `report.html`.

use crate::baseline::{measure, Psnr, NOISE};
use crate::report::{Figure, Report, Table};
use crate::{Out, Result};
use aedge_convert::onnx::{to_onnx, Part};
use aedge_runtime::metrics::auroc;
use aedge_runtime::precisions::{calibrate_thresholds, export_precisions, RANGE_METHODS};
use aedge_runtime::{AlignedBytes, Metric, Model, Precision, ThresholdRule};
use aedge_trainer::corrupt::Corruption;
use aedge_trainer::data::{read_labels, Dataset, Images};
use aedge_trainer::export::to_graph;
use aedge_trainer::model::{Act, Architecture, ModelSpec, Upsampling};
use aedge_trainer::{device, loss::Loss, train, Backend, RunOptions, TrainConfig};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Arguments of `aedge quickstart`.
#[derive(clap::Args)]
pub struct Args {
    /// IDX images to use instead of the bundled MNIST sample.
    #[arg(long)]
    images: Option<PathBuf>,
    /// IDX labels for --images.
    #[arg(long)]
    labels: Option<PathBuf>,
    /// The digit that counts as normal for the anomaly model.
    #[arg(long, default_value_t = 1)]
    normal_digit: u8,
    /// Output directory.
    #[arg(long, default_value = "runs/quickstart")]
    out: PathBuf,
    /// Epochs of the denoiser (the anomaly model gets twice as many over its smaller set);
    /// fewer is faster and worse.
    #[arg(long, default_value_t = 30)]
    epochs: usize,
}

/// The bundled sample (1,000 MNIST test digits, 157 KB), compiled into the binary so an
/// installed `aedge` needs no checkout.
const SAMPLE_IMAGES: &[u8] = include_bytes!("../../../data/mnist-sample/t1k-images-idx3-ubyte.gz");
const SAMPLE_LABELS: &[u8] = include_bytes!("../../../data/mnist-sample/t1k-labels-idx1-ubyte.gz");
const SAMPLE_NAME: &str = "the bundled MNIST sample";

fn sample_images() -> Result<Images> {
    Images::from_bytes(SAMPLE_IMAGES, Path::new(SAMPLE_NAME)).map_err(|e| e.to_string())
}

fn parse(bytes: &[u8]) -> Result<(AlignedBytes, usize)> {
    let a = AlignedBytes::from(bytes.to_vec());
    let n = Model::parse(&a).map_err(|e| e.to_string())?.arena_len();
    Ok((a, n))
}

/// Median microseconds of `f` over `n` runs, timed as the bench times.
fn median_us(n: usize, mut f: impl FnMut()) -> f64 {
    let budget = aedge::bench::timing::Budget {
        time: std::time::Duration::ZERO,
        min_runs: n,
        max_runs: n,
    };
    aedge::bench::timing::measure(budget, || {
        f();
        Ok(())
    })
    .map_or(f64::NAN, |l| l.median_us)
}

/// The bundled MNIST sample (1,000 test digits) as a dataset, pixels scaled to [0, 1].
pub fn bundled_mnist() -> Result<aedge_trainer::data::Dataset> {
    Ok(aedge_trainer::data::Dataset::from_images(
        &sample_images()?,
        None,
    ))
}

fn write(path: &Path, bytes: &[u8]) -> Result<()> {
    aedge_runtime::fs::write_atomic(path, bytes).map_err(|e| format!("{}: {e}", path.display()))
}

/// The quickstart's data: the whole set, its training and held-out parts.
struct Data {
    all: Dataset,
    train: Dataset,
    test: Dataset,
    /// The held-out samples in sensor units.
    test_raw: Vec<Vec<f32>>,
}

/// A trained model's graph, its files in every precision and its loss per epoch.
struct Trained {
    graph: aedge_runtime::ir::Graph,
    files: aedge_runtime::precisions::Exported,
    epochs: usize,
    history: Vec<aedge_trainer::train::EpochMetrics>,
}

impl Trained {
    fn new(
        graph: aedge_runtime::ir::Graph,
        files: aedge_runtime::precisions::Exported,
        cfg: &TrainConfig,
        run: aedge_trainer::train::Trained,
    ) -> Trained {
        Trained {
            graph,
            files,
            epochs: cfg.epochs,
            history: run.history,
        }
    }
}

/// One anomaly model precision on the held-out digits.
struct AnomalyScore {
    precision: &'static str,
    auroc: Option<f64>,
    flagged: usize,
    score_us: f64,
}

/// Runs the subcommand.
pub fn run(a: Args, out: Out) -> Result<()> {
    let start = Instant::now();
    let data = load(&a)?;
    std::fs::create_dir_all(&a.out).map_err(|e| format!("{}: {e}", a.out.display()))?;
    let dev = device(Backend::Flex).map_err(|e| e.to_string())?;
    let mut opts = RunOptions::new(dev);
    opts.progress = !out.quiet && !out.json;

    out.line(format!(
        "1/4 training a denoising conv AE on {} digits",
        data.train.len()
    ));
    let den = train_denoiser(&a, &data, &opts)?;
    let normal_train = data.train.with_labels(&[a.normal_digit]);
    if normal_train.len() < 10 {
        return Err(format!(
            "only {} training images of digit {}",
            normal_train.len(),
            a.normal_digit
        ));
    }
    out.line(format!(
        "2/4 training a one-class anomaly AE on {} images of digit {}",
        normal_train.len(),
        a.normal_digit
    ));
    let an = train_anomaly(&a, &data, &normal_train, &opts)?;

    out.line("3/4 exporting ONNX and .aedge files");
    let sizes = export(&a.out, &den, &an)?;

    out.line("4/4 evaluating");
    let (psnr, den_lat) = evaluate_denoiser(&a.out, &data.test, &den.files)?;
    let anomaly = evaluate_anomaly(&data, &an.files, a.normal_digit)?;

    let tables = tables(&psnr, &den_lat, &anomaly, data.test.len());
    let summary = format!(
        "Bundled MNIST sample ({} images: {} train, {} held out), seeded; {} epochs for the denoiser, {} for the anomaly model (normal digit {}). Total time {:.0} s.",
        data.all.len(),
        data.train.len(),
        data.test.len(),
        den.epochs,
        an.epochs,
        a.normal_digit,
        start.elapsed().as_secs_f64()
    );
    write_report(&a, &summary, &tables, &sizes, [&den, &an])?;

    out.json(json!({
        "out": a.out.display().to_string(),
        "denoising_psnr_db": {"noisy": psnr.noisy, "median3": psnr.median, "ae_f32": psnr.f32, "ae_int8": psnr.int8},
        "anomaly_auroc": anomaly.iter().map(|s| json!({"precision": s.precision, "auroc": s.auroc})).collect::<Vec<_>>(),
        "seconds": start.elapsed().as_secs_f64(),
    }));
    out.line(String::new());
    for t in &tables {
        out.line(t.text());
    }
    out.line(format!(
        "models, figures and report.html in {} ({:.0} s)",
        a.out.display(),
        start.elapsed().as_secs_f64()
    ));
    Ok(())
}

/// Reads the images and labels (bundled unless given) and splits off a fifth, seeded.
fn load(a: &Args) -> Result<Data> {
    let images = match &a.images {
        Some(p) => Images::read(p).map_err(|e| e.to_string())?,
        None => sample_images()?,
    };
    let labels = match &a.labels {
        Some(p) => read_labels(p),
        None => aedge_trainer::data::labels_from_bytes(SAMPLE_LABELS, Path::new(SAMPLE_NAME)),
    }
    .map_err(|e| e.to_string())?;
    if labels.len() != images.count {
        return Err(format!(
            "{} labels for {} images",
            labels.len(),
            images.count
        ));
    }
    if a.normal_digit > 9 {
        return Err("--normal-digit must be 0–9".into());
    }
    let all = Dataset::from_images(&images, Some(labels));
    let (train, test) = all.split(0.2, 42);
    let test_raw = test.raw_all();
    Ok(Data {
        all,
        train,
        test,
        test_raw,
    })
}

fn config(epochs: usize, corruption: Option<Corruption>) -> TrainConfig {
    TrainConfig {
        epochs,
        batch_size: 32,
        loss: Loss::Bce,
        corruption,
        ..TrainConfig::default()
    }
}

/// Step 1: a denoising conv AE (Keras-blog style, gaussian noise 0.5, clipped), calibrated
/// on 200 training digits.
fn train_denoiser(a: &Args, data: &Data, opts: &RunOptions) -> Result<Trained> {
    let spec = ModelSpec {
        input: data.all.shape,
        arch: Architecture::Conv {
            channels: vec![16, 8],
            upsampling: Upsampling::Nearest,
        },
        out_act: Act::Sigmoid,
    };
    let cfg = config(a.epochs.max(1), Some(NOISE));
    let run = train(&spec, &cfg, &data.train, Some(&data.test), opts).map_err(|e| e.to_string())?;
    let graph = to_graph("denoiser", &run.model, &spec, &data.all, Metric::default())?;
    let calib: Vec<Vec<f32>> = data.train.raw_first(200);
    let test_raw = &data.test_raw;
    let files = export_precisions(
        &graph,
        &calib,
        &test_raw[..test_raw.len().min(100)],
        &RANGE_METHODS,
    )
    .map_err(|e| e.to_string())?;
    Ok(Trained::new(graph, files, &cfg, run))
}

/// Step 2: a one-class anomaly AE trained on the normal digit only (a fifth of those digits
/// held out), scored by MSE (a dense code: the latent distance does not help it), its
/// threshold in each precision the 99th percentile of that precision's errors on the
/// held-out normal digits.
fn train_anomaly(a: &Args, data: &Data, normal: &Dataset, opts: &RunOptions) -> Result<Trained> {
    let spec = ModelSpec {
        input: data.all.shape,
        arch: Architecture::Dense {
            hidden: vec![128],
            code: 32,
            code_act: Act::Relu,
        },
        out_act: Act::Sigmoid,
    };
    let cfg = config(a.epochs.max(1) * 2, None);
    let (fit, held_out) = normal.split(0.2, 7);
    let run = train(&spec, &cfg, &fit, None, opts).map_err(|e| e.to_string())?;
    let mut graph = to_graph("anomaly", &run.model, &spec, &data.all, Metric::Mse)?;
    let (fit_raw, held_raw) = (fit.raw_all(), held_out.raw_all());
    let mut files =
        export_precisions(&graph, &fit_raw, &fit_raw, &RANGE_METHODS).map_err(|e| e.to_string())?;
    calibrate_thresholds(
        &mut graph,
        &mut files,
        &fit_raw,
        &fit_raw,
        &held_raw,
        ThresholdRule::Percentile(99.0),
    )
    .map_err(|e| e.to_string())?;
    Ok(Trained::new(graph, files, &cfg, run))
}

/// Step 3: ONNX (whole, encoder, decoder) and `.aedge` in f32 and int8, with their sizes.
fn export(dir: &Path, den: &Trained, an: &Trained) -> Result<Table> {
    let mut sizes = Table::new(&["model", "file", "bytes", "arena B"]);
    for (name, t) in [("denoiser", den), ("anomaly", an)] {
        for (part, suffix) in [
            (Part::Whole, ""),
            (Part::Encoder, "-encoder"),
            (Part::Decoder, "-decoder"),
        ] {
            let file = format!("{name}{suffix}.onnx");
            let bytes = to_onnx(&t.graph, part)?;
            write(&dir.join(&file), &bytes)?;
            sizes.row(vec![name.into(), file, bytes.len().to_string(), "–".into()]);
        }
        for (p, bytes) in [
            (Precision::F32, &t.files.f32),
            (Precision::Int8, &t.files.int8),
        ] {
            let file = format!("{name}-{p}.aedge");
            write(&dir.join(&file), bytes)?;
            let (_, arena) = parse(bytes)?;
            sizes.row(vec![
                name.into(),
                file,
                bytes.len().to_string(),
                arena.to_string(),
            ]);
        }
    }
    Ok(sizes)
}

/// Step 4a: PSNR of the noisy input, a 3×3 median filter and the AE in f32 and int8 on the
/// first 100 held-out digits (figure of the first 10 in `denoising.png`), and the AE's
/// latency on this host.
fn evaluate_denoiser(
    dir: &Path,
    test: &Dataset,
    files: &aedge_runtime::precisions::Exported,
) -> Result<(Psnr, [(&'static str, f64); 2])> {
    let scores = measure(
        &files.f32,
        &files.int8,
        test,
        100,
        1000,
        &dir.join("denoising.png"),
    )?;
    let (d32, a32) = parse(&files.f32)?;
    let (d8, a8) = parse(&files.int8)?;
    let (m32, m8) = (
        Model::parse(&d32).map_err(|e| e.to_string())?,
        Model::parse(&d8).map_err(|e| e.to_string())?,
    );
    let mut arena = AlignedBytes::zeroed(a32.max(a8));
    let x0 = test.raw(0);
    let mut y = vec![0.0; x0.len()];
    let latency = [
        (
            "f32",
            median_us(50, || {
                let _ = m32.denoise(&x0, &mut y, &mut arena);
            }),
        ),
        (
            "int8",
            median_us(50, || {
                let _ = m8.denoise(&x0, &mut y, &mut arena);
            }),
        ),
    ];
    Ok((scores, latency))
}

/// Step 4b: AUROC of the anomaly model (normal digit vs all others) on every held-out digit,
/// how many it flags above its threshold, and its latency on this host.
fn evaluate_anomaly(
    data: &Data,
    files: &aedge_runtime::precisions::Exported,
    normal_digit: u8,
) -> Result<Vec<AnomalyScore>> {
    let test_raw = &data.test_raw;
    let labels = data.test.labels.clone().unwrap_or_default();
    let anomalous: Vec<bool> = labels.iter().map(|&l| l != normal_digit).collect();
    let mut scores = Vec::new();
    for (precision, bytes) in [("f32", &files.f32), ("int8", &files.int8)] {
        let (f, n) = parse(bytes)?;
        let m = Model::parse(&f).map_err(|e| e.to_string())?;
        let mut ar = AlignedBytes::zeroed(n);
        let errs = test_raw
            .iter()
            .map(|x| m.score(x, &mut ar).map(|s| s.error))
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| e.to_string())?;
        let flagged = errs.iter().filter(|&&e| e > m.threshold()).count();
        let x0 = &test_raw[0];
        let score_us = median_us(200, || {
            let _ = m.score(x0, &mut ar);
        });
        scores.push(AnomalyScore {
            precision,
            auroc: auroc(&errs, &anomalous),
            flagged,
            score_us,
        });
    }
    Ok(scores)
}

/// The PSNR, AUROC and latency tables.
fn tables(
    psnr: &Psnr,
    den_lat: &[(&'static str, f64)],
    anomaly: &[AnomalyScore],
    held_out: usize,
) -> [Table; 3] {
    let mut psnr_t = Table::new(&["method", "PSNR vs clean (dB)"]);
    for (m, v) in [
        ("noisy input (gaussian σ=0.5, clipped)", psnr.noisy),
        ("3×3 median filter", psnr.median),
        ("denoising AE, f32", psnr.f32),
        ("denoising AE, int8", psnr.int8),
    ] {
        psnr_t.row(vec![m.into(), format!("{v:.2}")]);
    }
    let mut au_t = Table::new(&["precision", "AUROC", "flagged of held-out"]);
    for s in anomaly {
        au_t.row(vec![
            s.precision.to_string(),
            s.auroc.map(|v| format!("{v:.4}")).unwrap_or("–".into()),
            format!("{} / {held_out}", s.flagged),
        ]);
    }
    let mut lat_t = Table::new(&["model", "precision", "median µs (this host)"]);
    for (p, us) in den_lat {
        lat_t.row(vec![
            "denoiser (denoise)".into(),
            p.to_string(),
            format!("{us:.1}"),
        ]);
    }
    for s in anomaly {
        lat_t.row(vec![
            "anomaly (score)".into(),
            s.precision.to_string(),
            format!("{:.1}", s.score_us),
        ]);
    }
    [psnr_t, au_t, lat_t]
}

/// `report.html` (with `loss.png` beside it) under the output directory.
fn write_report(
    a: &Args,
    summary: &str,
    [psnr_t, au_t, lat_t]: &[Table; 3],
    sizes: &Table,
    [den, an]: [&Trained; 2],
) -> Result<()> {
    // The command exactly as run (the README's is `cargo run --release -p aedge -- quickstart`).
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let cmd = if argv == ["quickstart"] {
        "cargo run --release -p aedge -- quickstart".to_string()
    } else {
        format!("aedge {}", argv.join(" "))
    };
    let cmd = cmd.as_str();
    let mut report = Report::new("aedge quickstart");
    report.text(summary);
    report.section("Denoising", cmd, psnr_t);
    report.figure(&Figure {
        path: a.out.join("denoising.png"),
        caption: "Rows: clean, noisy, 3×3 median, AE f32, AE int8 (first 10 held-out digits)"
            .into(),
    })?;
    let curve = |t: &Trained, name: &'static str| {
        let points = t.history.iter();
        (
            name,
            points
                .map(|m| (m.epoch as f64, m.train_loss))
                .collect::<Vec<_>>(),
        )
    };
    let loss_svg = aedge::chart::line_chart(
        &a.out.join("loss.png"),
        "training loss (BCE) per epoch",
        "epoch",
        "loss",
        &[curve(den, "denoiser"), curve(an, "anomaly")],
    )?;
    report.svg(&loss_svg, "Training loss per epoch of both models");
    report.section(
        &format!("Anomaly detection (normal = digit {})", a.normal_digit),
        cmd,
        au_t,
    );
    report.section("Sizes", cmd, sizes);
    report.section("Host latency", cmd, lat_t);
    write(&a.out.join("report.html"), report.finish().as_bytes())
}
