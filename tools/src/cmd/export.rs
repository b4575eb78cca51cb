//! `aedge export`: a training checkpoint becomes ONNX (whole, encoder or decoder) or a
//! `.aedge` file in f32, f16 or int8, with the anomaly threshold calibrated on the data.

use crate::data::{self, DataArgs};
use crate::{Out, Result};
use aedge_convert::onnx::{to_onnx, Part};
use aedge_runtime::precisions::{export_precisions, RANGE_METHODS};
use aedge_runtime::ThresholdRule;
use aedge_trainer::checkpoint::load_model;
use aedge_trainer::export::to_graph;
use aedge_trainer::parity::{self, Labelled};
use aedge_trainer::{device, Backend};
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
    /// The training data (preprocessing, calibration and the threshold come from it).
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
    /// Percentile of the data's reconstruction errors used as the anomaly threshold.
    #[arg(long, default_value_t = 99.0)]
    percentile: f32,
    /// Output file.
    #[arg(short, long)]
    output: PathBuf,
    /// Also write the parity report (f32 vs burn, f16/int8 vs f32) as JSON here.
    #[arg(long)]
    parity: Option<PathBuf>,
}

/// Runs the subcommand.
pub fn run(a: Args, out: Out) -> Result<()> {
    let dev = device(Backend::Flex).map_err(|e| e.to_string())?;
    let (model, state) = load_model(&a.checkpoint, &dev)?;
    let d = data::load(&a.data)?;
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
    let mut g = to_graph(&name, &model, &state.spec, &d, state.config.loss)?;
    let raw: Vec<Vec<f32>> = (0..d.len()).map(|i| d.raw(i)).collect();
    let rule = ThresholdRule::Percentile(a.percentile.clamp(0.0, 100.0));
    g.calibrate_threshold(raw.iter().map(Vec::as_slice), rule)
        .map_err(|e| e.to_string())?;
    let calib: Vec<Vec<f32>> = raw.iter().take(200).cloned().collect();
    let files = export_precisions(&g, &calib, &calib, &RANGE_METHODS).map_err(|e| e.to_string())?;
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
        let n = raw.len().min(200);
        let idx: Vec<usize> = (0..n).collect();
        let burn = parity::burn_reconstructions(&model, &d, &idx, &dev);
        let r = parity::report(&name, &files, &raw[..n], &burn, None::<Labelled<'_>>)?;
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
        "threshold": g.threshold,
        "int8_ranges": format!("{:?}", files.int8_ranges),
        "parity": report.map(|r| serde_json::to_value(r).unwrap_or_default()),
    }));
    out.line(format!(
        "wrote {} ({} B); threshold {} (p{} of {} samples)",
        a.output.display(),
        bytes.len(),
        g.threshold,
        a.percentile,
        raw.len()
    ));
    Ok(())
}
