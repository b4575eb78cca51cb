//! `aedge eval recipes`: the seed's dense AE and the Keras blog's autoencoders trained side
//! by side on Fashion-MNIST (train 60k, validation on the 10k test set, as the blog does),
//! with their published settings; the final validation loss of each, beside the blog's MNIST
//! figures.

use super::protocol::{self, dataset_dir, idx_split, Footprint, Progress};
use crate::report::Table;
use crate::{Out, Result};
use aedge_runtime::precisions::{export_precisions, RANGE_METHODS};
use aedge_runtime::Metric;
use aedge_trainer::export::to_graph;
use aedge_trainer::presets::preset;
use aedge_trainer::{device, train, Backend, RunOptions};
use serde_json::json;
use std::path::PathBuf;

/// The recipes and the Keras blog's MNIST validation loss for each (mean BCE), where given.
const RECIPES: [(&str, &str); 4] = [
    ("seed-dense", "–"),
    ("keras-simple", "≈ 0.09–0.11"),
    ("keras-deep", "≈ 0.08–0.097"),
    ("keras-conv", "≈ 0.094"),
];

/// Arguments of `aedge eval recipes`.
#[derive(clap::Args)]
pub struct Args {
    /// Directory with Fashion-MNIST's IDX files, or the folder holding `fashion-mnist/`.
    #[arg(long)]
    data: PathBuf,
    /// Recipes to run.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "seed-dense,keras-simple,keras-deep,keras-conv"
    )]
    recipes: Vec<String>,
    /// Cap every recipe's epochs at N (default: each recipe's published count); the table
    /// says how many ran.
    #[arg(long)]
    max_epochs: Option<usize>,
    /// Train every recipe with this batch instead of its published one (for small data or
    /// memory; the table says which ran).
    #[arg(long)]
    batch_size: Option<usize>,
    /// Output directory for the report.
    #[arg(long, default_value = "runs/eval/recipes")]
    out: PathBuf,
}

struct Row {
    recipe: String,
    epochs: usize,
    published_epochs: usize,
    batch: usize,
    published_batch: usize,
    val_loss: f64,
    train_loss: f64,
    params: usize,
    footprint: Footprint,
    seconds: f64,
    history: Vec<(f64, f64)>,
}

/// Runs the protocol.
pub fn run(a: Args, out: Out) -> Result<()> {
    let dir = dataset_dir(&a.data, "fashion-mnist")?;
    let train_set = idx_split(&dir, "train")?;
    let val = idx_split(&dir, "t10k")?;
    let mut opts = RunOptions::new(device(Backend::Flex).map_err(|e| e.to_string())?);
    opts.progress = !out.quiet && !out.json;
    let floor = bce_floor(&val);
    let mut progress = Progress::new(a.recipes.len(), out);
    let mut rows = Vec::new();
    for name in &a.recipes {
        let (spec, mut cfg) = preset(name, train_set.shape)?;
        let published_epochs = cfg.epochs;
        if let Some(n) = a.max_epochs {
            cfg.epochs = cfg.epochs.min(n.max(1));
        }
        let published_batch = cfg.batch_size;
        if let Some(b) = a.batch_size {
            cfg.batch_size = b.max(1);
        }
        out.line(format!(
            "{name}: {} epochs on {} images, validation on {}",
            cfg.epochs,
            train_set.len(),
            val.len()
        ));
        let t0 = std::time::Instant::now();
        let t = train(&spec, &cfg, &train_set, Some(&val), &opts)?;
        let last = t.history.last().ok_or("no epochs ran")?;
        let g = to_graph(name, &t.model, &spec, &train_set, Metric::default())?;
        let calib: Vec<Vec<f32>> = (0..200.min(train_set.len()))
            .map(|i| train_set.raw(i))
            .collect();
        let files =
            export_precisions(&g, &calib, &calib, &RANGE_METHODS).map_err(|e| e.to_string())?;
        let row = Row {
            recipe: name.clone(),
            epochs: cfg.epochs,
            published_epochs,
            batch: cfg.batch_size,
            published_batch,
            val_loss: last.val_recon.or(last.val_loss).unwrap_or(f64::NAN),
            train_loss: last.train_loss,
            params: g
                .layers
                .iter()
                .map(|l| l.weights.len() + l.bias.len())
                .sum(),
            footprint: Footprint::of(&files.int8)?,
            seconds: t0.elapsed().as_secs_f64(),
            history: t
                .history
                .iter()
                .filter_map(|m| m.val_recon.or(m.val_loss).map(|v| (m.epoch as f64, v)))
                .collect(),
        };
        progress.step(&format!(
            "{name}: validation BCE {:.4} after {} epochs",
            row.val_loss, row.epochs
        ));
        rows.push(row);
    }
    report(&a, out, &rows, floor, progress.seconds())
}

/// The lowest validation BCE any model can reach: each image against itself (grey pixels
/// have entropy, so on Fashion-MNIST this is far from zero; MNIST's near-binary digits sit
/// much lower).
fn bce_floor(d: &aedge_trainer::data::Dataset) -> f64 {
    let h = |x: f64| {
        let term = |p: f64| if p > 0.0 { -p * p.ln() } else { 0.0 };
        term(x) + term(1.0 - x)
    };
    d.x.iter().map(|&x| h(x as f64)).sum::<f64>() / d.x.len().max(1) as f64
}

fn report(a: &Args, out: Out, rows: &[Row], floor: f64, seconds: f64) -> Result<()> {
    let mut t = Table::new(&[
        "recipe",
        "epochs (published)",
        "batch (published)",
        "params",
        "int8 weights KB",
        "train loss",
        "validation BCE",
        "above the floor",
        "Keras blog, MNIST",
    ]);
    for r in rows {
        let blog = RECIPES
            .iter()
            .find(|x| x.0 == r.recipe)
            .map_or("–", |x| x.1);
        t.row(vec![
            r.recipe.clone(),
            format!("{} ({})", r.epochs, r.published_epochs),
            format!("{} ({})", r.batch, r.published_batch),
            r.params.to_string(),
            format!("{:.1}", r.footprint.weights as f64 / 1024.0),
            format!("{:.4}", r.train_loss),
            format!("{:.4}", r.val_loss),
            format!("{:.4}", r.val_loss - floor),
            blog.into(),
        ]);
    }
    let command = format!(
        "aedge eval recipes --data {} --recipes {}{}{}",
        a.data.display(),
        a.recipes.join(","),
        a.max_epochs
            .map(|n| format!(" --max-epochs {n}"))
            .unwrap_or_default(),
        a.batch_size
            .map(|n| format!(" --batch-size {n}"))
            .unwrap_or_default()
    );
    let setup = format!(
        "Fashion-MNIST, train on the 60,000 training images, validation on the 10,000 test \
         images (as the Keras blog does with MNIST). Each recipe with its published layers, \
         loss (BCE), batch and epochs (capped where the table says so), Adam 1e-3 (see \
         aedge_trainer::presets on Adadelta). Validation BCE is the mean per pixel, the \
         figure Keras prints. Fashion-MNIST images are harder than MNIST digits and their grey \
         pixels put a floor under BCE: the images against themselves score {floor:.4}, so \
         the blog's MNIST figures are a reference, not a target; \"above the floor\" \
         compares recipes. Total time {seconds:.0} s."
    );
    let mut w = protocol::Writer::new(&a.out, "Seed and Keras-blog recipes on Fashion-MNIST")?;
    w.text(&setup);
    w.table("Final validation loss", &command, &t);
    let series: Vec<aedge::chart::Series> = rows
        .iter()
        .map(|r| (r.recipe.as_str(), r.history.clone()))
        .collect();
    aedge::chart::line_chart(
        &w.path("validation.png"),
        "Validation BCE per epoch",
        "epoch",
        "validation BCE",
        &series,
    )?;
    w.figure("validation.png", "Validation BCE per epoch, every recipe")?;
    let json = json!({
        "protocol": "recipes on fashion-mnist",
        "bce_floor": floor,
        "results": rows.iter().map(|r| json!({
            "recipe": r.recipe, "epochs": r.epochs, "published_epochs": r.published_epochs,
            "batch": r.batch, "published_batch": r.published_batch, "params": r.params, "train_loss": r.train_loss,
            "validation_bce": r.val_loss, "seconds": r.seconds,
            "int8_weights_bytes": r.footprint.weights})).collect::<Vec<_>>(),
        "seconds": seconds,
    });
    w.publish(json, out, &[setup, t.text()])
}
