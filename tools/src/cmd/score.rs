//! `aedge score`: reconstruction error and verdict per sample, AUROC when labels say which
//! samples are anomalies.

use crate::{input, Out, Result};
use aedge_runtime::{AlignedBytes, Model};
use serde_json::json;
use std::path::PathBuf;

/// Arguments of `aedge score`.
#[derive(clap::Args)]
pub struct Args {
    /// The .aedge model.
    model: PathBuf,
    /// Samples: IDX images, a PNG, raw f32 (.f32) or CSV rows, in sensor units.
    inputs: PathBuf,
    /// IDX label file for the inputs; with --normal, gives the AUROC.
    #[arg(long, requires = "normal")]
    labels: Option<PathBuf>,
    /// Labels that count as normal (e.g. 1 or 0,6); all others are anomalies.
    #[arg(long, value_delimiter = ',', requires = "labels")]
    normal: Vec<u8>,
    /// Score only the first N samples.
    #[arg(long)]
    limit: Option<usize>,
}

/// Runs the subcommand.
pub fn run(a: Args, out: Out) -> Result<()> {
    let bytes = super::read_model(&a.model)?;
    let m = Model::parse(&bytes).map_err(|e| e.to_string())?;
    let mut samples = input::load(&a.inputs, m.input_shape().len())?;
    if let Some(n) = a.limit {
        samples.truncate(n.max(1));
    }
    let mut arena = AlignedBytes::zeroed(m.arena_len());
    let mut errors = Vec::with_capacity(samples.len());
    let mut verdicts = Vec::with_capacity(samples.len());
    for (i, x) in samples.iter().enumerate() {
        let s = m
            .score(x, &mut arena)
            .map_err(|e| format!("sample {i}: {e}"))?;
        errors.push(s.error);
        verdicts.push(s.anomalous);
    }
    let au = match &a.labels {
        Some(path) => Some(super::auroc_from_labels(path, &a.normal, &errors)?),
        None => None,
    };
    let flagged = verdicts.iter().filter(|&&v| v).count();
    out.json(json!({
        "model": m.name(),
        "threshold": m.threshold(),
        "samples": errors.iter().zip(&verdicts).map(|(e, v)| json!({"error": e, "anomalous": v})).collect::<Vec<_>>(),
        "anomalous": flagged,
        "auroc": au,
    }));
    if samples.len() <= 20 {
        for (i, (e, v)) in errors.iter().zip(&verdicts).enumerate() {
            out.line(format!(
                "{i:>5}  error {e:.6}  {}",
                if *v { "ANOMALY" } else { "normal" }
            ));
        }
    }
    out.line(format!(
        "{} samples, {flagged} above the threshold {} ({} metric){}",
        samples.len(),
        m.threshold(),
        m.metric(),
        au.map(|v| format!(", AUROC {v:.4}")).unwrap_or_default()
    ));
    Ok(())
}
