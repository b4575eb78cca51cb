//! `aedge train`: trains a preset or a recipe file on your data with progress bars,
//! per-epoch metrics (metrics.csv, loss.png) and a resumable checkpoint; `aedge export` turns
//! the checkpoint into files.

use crate::data::{self, DataArgs, Holdout, ScoreRecord};
use crate::series::Definition;
use crate::{Out, Result};
use aedge_trainer::device::{resolve, resolve_all, DeviceChoice};
use aedge_trainer::optim::LrSchedule;
use aedge_trainer::recipe::Recipe;
use aedge_trainer::{presets, train, RunOptions};
use serde_json::json;
use std::path::PathBuf;

/// Arguments of `aedge train`.
#[derive(clap::Args)]
#[command(group(clap::ArgGroup::new("model").required(true).args(["preset", "config"])))]
pub struct Args {
    /// A built-in recipe (`aedge presets` lists them).
    #[arg(long)]
    preset: Option<String>,
    /// A recipe file (TOML: [model], [train], [data]); `aedge presets show NAME` prints one
    /// to start from.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(flatten)]
    data: DataArgs,
    /// Epochs (default: the recipe's).
    #[arg(long)]
    epochs: Option<usize>,
    /// Samples per step (default: the recipe's; smaller takes more steps per epoch on small
    /// data).
    #[arg(long)]
    batch_size: Option<usize>,
    /// Learning rate (default: the recipe's).
    #[arg(long)]
    lr: Option<f64>,
    /// How the learning rate moves: constant, or cosine (annealed to zero over the run;
    /// default: the recipe's).
    #[arg(long, value_parser = clap::value_parser!(LrSchedule))]
    lr_schedule: Option<LrSchedule>,
    /// Seed of the weights, the shuffling and the noise (default: the recipe's).
    #[arg(long)]
    seed: Option<u64>,
    /// Where to train: cpu, gpu (the best GPU adapter), wgpu:N, or auto (a GPU when there
    /// is one).
    #[arg(long, default_value = "cpu", value_parser = clap::value_parser!(DeviceChoice))]
    device: DeviceChoice,
    /// Train data-parallel on several devices, e.g. wgpu:0,wgpu:1 (instead of --device):
    /// every batch of --batch-size samples is split across them and the gradients are summed
    /// on the first, which keeps the model and the optimiser.
    #[arg(long, value_delimiter = ',', value_parser = clap::value_parser!(DeviceChoice), conflicts_with = "device")]
    devices: Vec<DeviceChoice>,
    /// Output directory: checkpoint/, metrics.csv.
    #[arg(long, default_value = "runs/train")]
    out: PathBuf,
    /// Continue from the checkpoint in the output directory.
    #[arg(long)]
    resume: bool,
    /// Fraction of the data held out for validation; `aedge export` calibrates the anomaly
    /// threshold on these samples (default: the recipe's, 0.1).
    #[arg(long)]
    val: Option<f32>,
}

/// The recipe the arguments name, with the flags' overrides applied.
fn recipe(a: &Args) -> Result<(String, Recipe)> {
    let (name, mut r) = match (&a.preset, &a.config) {
        (Some(p), _) => (p.clone(), presets::recipe(p)?),
        (None, Some(f)) => (
            f.file_stem()
                .map_or("model".into(), |s| s.to_string_lossy().into_owned()),
            Recipe::read(f)?,
        ),
        (None, None) => return Err("give --preset NAME or --config FILE".into()),
    };
    if let Some(e) = a.epochs {
        r.train.epochs = e;
    }
    if let Some(b) = a.batch_size {
        r.train.batch_size = b;
    }
    if let Some(lr) = a.lr {
        r.train.optimizer.set_lr(lr);
    }
    if let Some(s) = a.lr_schedule {
        r.train.lr_schedule = s;
    }
    if let Some(s) = a.seed {
        r.train.seed = s;
    }
    if let Some(v) = a.val {
        r.data.validation = v;
    }
    r.check().map_err(|e| {
        // Name the flag when a flag set the value.
        e.replace("[train] epochs", "--epochs")
            .replace("[train] batch-size", "--batch-size")
            .replace("[train] optimizer lr", "--lr")
            .replace("[data] validation", "--val")
    })?;
    Ok((name, r))
}

/// Runs the subcommand.
pub fn run(a: Args, out: Out) -> Result<()> {
    let (name, recipe) = recipe(&a)?;
    let val_share = recipe.data.validation;
    // A series is cut by a definition kept with the checkpoint, so export, score and the
    // device cut it the same way; images are split at random.
    let (d, split, series) = match a.data.series()? {
        Some(s) => {
            let def = Definition::new(&a.data, &s, val_share)?;
            let d = def.normal(&s)?;
            let split = def.split(&d)?;
            (d, split, Some(def))
        }
        None => {
            let (d, notes) = data::load_noted(&a.data, a.data.folder(&recipe.data))?;
            for n in notes {
                out.line(n);
            }
            let split = Holdout::new(&d, val_share).split(&d);
            (d, split, None)
        }
    };
    let spec = recipe.spec(d.shape);
    let cfg = recipe.train.clone();
    let (train_set, val) = split;
    let devices = if a.devices.is_empty() {
        vec![resolve(a.device)?]
    } else {
        resolve_all(&a.devices)?
    };
    let (dev, where_) = devices[0].clone();
    // A model that does not fit the data (a layer list's sizes) fails before anything is
    // written.
    spec.build(&dev)?;
    match devices.len() {
        1 => out.line(format!("device: {where_}")),
        n => out.line(format!(
            "devices: {} (data parallel: each batch split {n} ways, gradients summed on the first)",
            devices
                .iter()
                .map(|(_, w)| w.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
    let mut opts = RunOptions::new(dev);
    opts.replicas = devices[1..].iter().map(|(d, _)| d.clone()).collect();
    opts.progress = !out.quiet && !out.json;
    opts.metrics = Some(a.out.join("metrics.csv"));
    opts.checkpoint_dir = Some(a.out.join("checkpoint"));
    opts.resume = a.resume;
    std::fs::create_dir_all(a.out.join("checkpoint"))
        .map_err(|e| format!("{}: {e}", a.out.display()))?;
    let ckpt = a.out.join("checkpoint");
    match &series {
        Some(def) => {
            def.save(&ckpt)?;
            out.line(format!(
                "series: column(s) {}, windows of {} rows; the normal stretch is rows 1-{} (--normal-part {}), standardised on it; the last {} of its {} windows held out; {}",
                def.columns.join(","),
                def.window,
                def.normal_rows,
                a.data.normal_part,
                val.len(),
                d.len(),
                match (def.period, a.data.period) {
                    (0, Some(_)) => "no cycle comparison (--period 0)".to_string(),
                    (0, None) => "no cycle found in the normal stretch (--period sets one)".to_string(),
                    (p, Some(_)) => format!("each row also compared with the row {p} earlier (--period)"),
                    (p, None) => format!("a {p}-row cycle found in the normal stretch: each row also compared with the row {p} earlier"),
                }
            ));
        }
        None => Holdout::new(&d, val_share).save(&ckpt)?,
    }
    ScoreRecord::keep(&ckpt, recipe.score.metric)?;
    // A record of the other kind from an earlier run in this directory would mislead export.
    let stale = if series.is_some() {
        Holdout::FILE
    } else {
        Definition::FILE
    };
    match std::fs::remove_file(ckpt.join(stale)) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            return Err(format!("{}: {e}", ckpt.join(stale).display()))
        }
        _ => {}
    }
    let steps = train_set.len().div_ceil(cfg.batch_size);
    out.line(format!(
        "training {name} on {} samples ({} validation) for {} epochs of {steps} steps (batch {})",
        train_set.len(),
        val.len(),
        cfg.epochs,
        cfg.batch_size
    ));
    if steps * cfg.epochs < 500 {
        out.line(format!(
            "note: {} optimiser steps in all is little; more --epochs or a smaller --batch-size train further",
            steps * cfg.epochs
        ));
    }
    let val_ref = (!val.is_empty()).then_some(&val);
    let t = train(&spec, &cfg, &train_set, val_ref, &opts)?;
    let last = t.history.last().ok_or("no epochs ran")?;
    aedge::chart::loss_curves(
        &a.out.join("loss.png"),
        &format!("{name}: loss per epoch"),
        &t.history,
    )?;
    let stopped_early = t.history.len() < cfg.epochs;
    if stopped_early {
        out.line(format!(
            "early stopping after epoch {}: the validation loss stopped improving",
            t.history.len()
        ));
    }
    if devices.len() > 1 {
        for ((_, w), work) in devices.iter().zip(&t.work) {
            out.line(format!(
                "  {w}: {} steps, {} samples, {:.1} s",
                work.steps, work.samples, work.seconds
            ));
        }
    }
    let work: Vec<_> = devices
        .iter()
        .zip(&t.work)
        .map(|((_, w), work)| {
            json!({"device": w, "steps": work.steps, "samples": work.samples, "seconds": work.seconds})
        })
        .collect();
    out.json(json!({
        "recipe": name,
        "device": where_,
        "devices": work,
        "epochs": t.history.len(),
        "stopped_early": stopped_early,
        "train_loss": last.train_loss,
        "val_loss": last.val_loss,
        "checkpoint": a.out.join("checkpoint").display().to_string(),
    }));
    out.line(format!(
        "train loss {:.4}, val loss {}; checkpoint in {}",
        last.train_loss,
        last.val_loss.map_or("–".into(), |v| format!("{v:.4}")),
        a.out.join("checkpoint").display()
    ));
    out.line(format!(
        "next: aedge export --checkpoint {} --data {}{} --format aedge --precision int8 -o model.aedge",
        a.out.join("checkpoint").display(),
        a.data.data.display(),
        a.data.selection_flags()
    ));
    if series.is_some() {
        out.line(format!(
            "then: aedge score model.aedge {} -o scores.csv",
            a.data.data.display()
        ));
    }
    Ok(())
}
