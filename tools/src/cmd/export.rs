//! `aedge export`: a training checkpoint becomes ONNX (whole, encoder or decoder) or a
//! `.aedge` file in f32, f16 or int8, with the anomaly threshold calibrated on the data.

use super::{rule_text, MetricArg, ThresholdArgs};
use crate::data::{self, DataArgs, Holdout, ScoreRecord};
use crate::series::{spread, Definition};
use crate::{Out, Result};
use aedge_convert::onnx::{to_onnx, Part};
use aedge_runtime::precisions::{calibrate_thresholds, export_precisions, RANGE_METHODS};
use aedge_runtime::Metric;
use aedge_trainer::checkpoint::load_model;
use aedge_trainer::device::{resolve, DeviceChoice};
use aedge_trainer::export::to_graph;
use aedge_trainer::parity::{self, Labelled};
use serde_json::json;
use std::path::PathBuf;

#[derive(Clone, Copy, clap::ValueEnum)]
enum Format {
    Onnx,
    Aedge,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum PartArg {
    Whole,
    Encoder,
    Decoder,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum PrecisionArg {
    F32,
    F16,
    Int8,
}

/// Arguments of `aedge export`.
#[derive(clap::Args)]
pub struct Args {
    /// The checkpoint directory written by `aedge train`.
    #[arg(long)]
    checkpoint: PathBuf,
    /// The training data: preprocessing and int8 ranges come from it, the threshold from the
    /// part `aedge train` held out.
    #[command(flatten)]
    data: DataArgs,
    /// Output format.
    #[arg(long, value_enum, default_value = "aedge")]
    format: Format,
    /// Number format of a .aedge file.
    #[arg(long, value_enum, default_value = "int8")]
    precision: PrecisionArg,
    /// Part of the autoencoder for ONNX.
    #[arg(long, value_enum, default_value = "whole")]
    part: PartArg,
    /// The anomaly score the model file records [default: the recipe's `[score] metric`, else
    /// mse].
    #[arg(long, value_enum)]
    metric: Option<MetricArg>,
    #[command(flatten)]
    threshold: ThresholdArgs,
    /// Principal directions of the latent Gaussian (latent metrics): each costs 4 B per code
    /// value of flash; the rest of the code shares one variance.
    #[arg(long, default_value_t = aedge_runtime::latent_fit::DEFAULT_COMPONENTS, value_name = "N")]
    latent_components: usize,
    /// Output file.
    #[arg(short, long)]
    output: PathBuf,
    /// Where to load the checkpoint: cpu, gpu, wgpu:N or auto (the exported model runs on
    /// aedge-runtime either way).
    #[arg(long, default_value = "cpu", value_parser = clap::value_parser!(DeviceChoice))]
    device: DeviceChoice,
    /// Also write the parity report (f32 vs burn, f16/int8 vs f32) as JSON here.
    #[arg(long)]
    parity: Option<PathBuf>,
}

/// Runs the subcommand.
pub fn run(a: Args, out: Out) -> Result<()> {
    let (dev, _) = resolve(a.device)?;
    let (model, state) = load_model(&a.checkpoint, &dev)?;
    let series = Definition::load(&a.checkpoint)?;
    let (d, series_split) = match &series {
        Some(def) => {
            if a.data.window.is_some_and(|w| w != def.window) {
                return Err(format!(
                    "--window {} differs from the checkpoint's window of {} rows; leave it out",
                    a.data.window_len(),
                    def.window
                ));
            }
            let s = def.read(&a.data.data)?;
            def.check(&s, &a.data.data)?;
            let d = def.normal(&s)?;
            let split = def.split(&d)?;
            (d, Some(split))
        }
        None => (
            data::load_noted(&a.data, data::folder_for(state.spec.input))?.0,
            None,
        ),
    };
    if d.shape != state.spec.input {
        return Err(format!(
            "the data's samples are {:?}, the checkpoint's model takes {:?}",
            d.shape, state.spec.input
        ));
    }
    let name = a
        .output
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "model".into());
    let rule = a.threshold.rule()?;
    let metric = match (a.metric, ScoreRecord::load(&a.checkpoint)?) {
        (Some(m), _) => Metric::from(m),
        (None, Some(r)) => r.metric.into(),
        (None, None) => Metric::Mse,
    };
    if series.is_some() && metric.uses_latent() {
        return Err(format!(
            "--metric {metric}: series models score by reconstruction error (mse, mae or bce)"
        ));
    }
    if a.latent_components == 0 {
        return Err("--latent-components must be at least 1".into());
    }
    let mut g = to_graph(&name, &model, &state.spec, &d, metric)?;
    g.latent_components = a.latent_components;
    let (split, source) = match (series_split, &series) {
        (Some(split), Some(def)) => {
            g.series = Some(def.runtime()?);
            let source = if split.1.is_empty() {
                "training windows (trained with --val 0, nothing was held out)"
            } else {
                "held-out windows at the end of the normal stretch"
            };
            let split = if split.1.is_empty() {
                None
            } else {
                Some(split)
            };
            (split, source)
        }
        _ => threshold_samples(&a, &d)?,
    };
    let (fit, held_out) = split.as_ref().map_or((&d, &d), |(f, h)| (f, h));
    // Spread over the data: stride-1 windows of a series overlap, and the first 200 would
    // cover only a short stretch of it.
    let calib_idx = spread(fit.len(), 200);
    let calib: Vec<Vec<f32>> = calib_idx.iter().map(|&i| fit.raw(i)).collect();
    let held_raw = held_out.raw_all();
    let mut files =
        export_precisions(&g, &calib, &calib, &RANGE_METHODS).map_err(|e| e.to_string())?;
    // The latent Gaussian wants more samples than the int8 ranges: 2,000 spread over the fit.
    let normal: Vec<Vec<f32>> = spread(fit.len(), 2000)
        .iter()
        .map(|&i| fit.raw(i))
        .collect();
    calibrate_thresholds(&mut g, &mut files, &calib, &normal, &held_raw, rule)
        .map_err(|e| e.to_string())?;
    let threshold =
        aedge_runtime::Model::parse(&aedge_runtime::AlignedBytes::from(files.int8.clone()))
            .map(|m| m.threshold())
            .map_err(|e| e.to_string())?;
    let bytes = match a.format {
        Format::Onnx => to_onnx(
            &g,
            match a.part {
                PartArg::Whole => Part::Whole,
                PartArg::Encoder => Part::Encoder,
                PartArg::Decoder => Part::Decoder,
            },
        )?,
        Format::Aedge => match a.precision {
            PrecisionArg::F32 => files.f32.clone(),
            PrecisionArg::F16 => files.f16.clone(),
            PrecisionArg::Int8 => files.int8.clone(),
        },
    };
    aedge_runtime::fs::write_atomic(&a.output, &bytes)
        .map_err(|e| format!("{}: {e}", a.output.display()))?;
    let report = if let Some(p) = &a.parity {
        let burn = parity::burn_reconstructions(&model, fit, &calib_idx, &dev);
        let r = parity::report(&name, &files, &calib, &burn, None::<Labelled<'_>>)?;
        let json = serde_json::to_vec_pretty(&r).map_err(|e| e.to_string())?;
        aedge_runtime::fs::write_atomic(p, &json).map_err(|e| format!("{}: {e}", p.display()))?;
        out.line(r.summary());
        Some(r)
    } else {
        None
    };
    out.json(json!({
        "output": a.output.display().to_string(),
        "bytes": bytes.len(),
        "metric": g.metric.to_string(),
        "threshold": {"f32": g.threshold, "int8": threshold, "rule": rule_text(rule),
                      "samples": held_raw.len(), "from": source},
        "int8_ranges": format!("{:?}", files.int8_ranges),
        "parity": report.map(|r| serde_json::to_value(r).unwrap_or_default()),
    }));
    let shown = match (a.format, a.precision) {
        (Format::Aedge, PrecisionArg::Int8) => threshold,
        _ => g.threshold,
    };
    out.line(format!(
        "wrote {} ({} B); {} score, threshold {shown} ({} of the errors of {} {source})",
        a.output.display(),
        bytes.len(),
        g.metric,
        rule_text(rule),
        held_raw.len(),
    ));
    if g.metric.uses_latent() {
        match a.format {
            Format::Aedge => {
                let file = aedge_runtime::AlignedBytes::from(bytes.clone());
                let m = aedge_runtime::Model::parse(&file).map_err(|e| e.to_string())?;
                if let Some(l) = m.latent_fit() {
                    out.line(format!(
                        "the latent Gaussian takes {} B of it ({} principal directions of the {}-value code; --latent-components N for less flash)",
                        l.bytes(),
                        l.components(),
                        m.latent_shape().len()
                    ));
                }
            }
            Format::Onnx => out.line(
                "note: the ONNX file holds the network only; the latent score is aedge-runtime's, from .aedge files",
            ),
        }
    }
    if held_raw.len() < 100 {
        out.line(format!(
            "note: {} calibration samples make a rough {}; hold out more with --val",
            held_raw.len(),
            rule_text(rule)
        ));
    }
    Ok(())
}

/// The (training, held-out) parts `train` recorded when they apply to `d`, else `None`
/// (range fitting and the threshold then both use all of `d`), with where the threshold's
/// samples come from in words.
type Split = Option<(aedge_trainer::data::Dataset, aedge_trainer::data::Dataset)>;

fn threshold_samples(a: &Args, d: &aedge_trainer::data::Dataset) -> Result<(Split, &'static str)> {
    Ok(match Holdout::load(&a.checkpoint)? {
        Some(h) if h.matches(d) && h.fraction > 0.0 => {
            (Some(h.split(d)), "held-out samples the training never saw")
        }
        Some(h) if h.matches(d) => (
            None,
            "training samples (trained with --val 0, nothing was held out)",
        ),
        Some(_) => (
            None,
            "samples of --data, which is not the data the checkpoint was trained on",
        ),
        None => (
            None,
            "samples of --data (the checkpoint records no held-out split)",
        ),
    })
}
