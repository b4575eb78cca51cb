//! `aedge train`: trains a preset on your data with progress bars, per-epoch metrics
//! (metrics.csv, loss.png) and a resumable checkpoint; `aedge export` turns the checkpoint into files.

use crate::data::{self, DataArgs, Holdout};
use crate::series::Definition;
use crate::{Out, Result};
use aedge_trainer::presets::preset;
use aedge_trainer::{device, train, Backend, RunOptions};
use serde_json::json;
use std::path::PathBuf;

/// Arguments of `aedge train`.
#[derive(clap::Args)]
pub struct Args {
    /// Preset: seed-dense, keras-simple, keras-sparse, keras-deep, keras-conv, conv-transpose,
    /// keras-denoise, keras-vae, pytorch-vae, mlperf-ad; for series: series-dense, keras-lstm.
    #[arg(long)]
    preset: String,
    #[command(flatten)]
    data: DataArgs,
    /// Epochs (default: the preset's).
    #[arg(long)]
    epochs: Option<usize>,
    /// Samples per step (default: the preset's; smaller takes more steps per epoch on small
    /// data).
    #[arg(long)]
    batch_size: Option<usize>,
    /// Output directory: checkpoint/, metrics.csv.
    #[arg(long, default_value = "runs/train")]
    out: PathBuf,
    /// Continue from the checkpoint in the output directory.
    #[arg(long)]
    resume: bool,
    /// Fraction of the data held out for validation; `aedge export` calibrates the anomaly
    /// threshold on these samples.
    #[arg(long, default_value_t = 0.1)]
    val: f32,
}

/// Runs the subcommand.
pub fn run(a: Args, out: Out) -> Result<()> {
    if !(0.0..1.0).contains(&a.val) {
        return Err("--val must be in [0, 1)".into());
    }
    // A series is cut by a definition kept with the checkpoint, so export, score and the
    // device cut it the same way; images are split at random.
    let (d, split, series) = match a.data.series()? {
        Some(s) => {
            let def = Definition::new(&a.data, &s, a.val)?;
            let d = def.normal(&s)?;
            let split = def.split(&d)?;
            (d, split, Some(def))
        }
        None => {
            let d = data::load(&a.data)?;
            let split = Holdout::new(&d, a.val).split(&d);
            (d, split, None)
        }
    };
    let (spec, mut cfg) = preset(&a.preset, d.shape)?;
    if let Some(e) = a.epochs {
        cfg.epochs = e;
    }
    if let Some(b) = a.batch_size {
        if b == 0 {
            return Err("--batch-size must be at least 1".into());
        }
        cfg.batch_size = b;
    }
    let (train_set, val) = split;
    let mut opts = RunOptions::new(device(Backend::Flex).map_err(|e| e.to_string())?);
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
                "series: column(s) {}, windows of {} rows; the normal stretch is rows 1-{} (--normal-part {}), standardised on it; the last {} of its {} windows held out",
                def.columns.join(","),
                def.window,
                def.normal_rows,
                a.data.normal_part,
                val.len(),
                d.len()
            ));
        }
        None => Holdout::new(&d, a.val).save(&ckpt)?,
    }
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
        "training {} on {} samples ({} validation) for {} epochs of {steps} steps (batch {})",
        a.preset,
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
        &format!("{}: loss per epoch", a.preset),
        &t.history,
    )?;
    out.json(json!({
        "preset": a.preset,
        "epochs": t.history.len(),
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
        "next: aedge export --checkpoint {} --data {} --format aedge --precision int8 -o model.aedge",
        a.out.join("checkpoint").display(),
        a.data.data.display()
    ));
    if series.is_some() {
        out.line(format!(
            "then: aedge score model.aedge {} -o scores.csv",
            a.data.data.display()
        ));
    }
    Ok(())
}
