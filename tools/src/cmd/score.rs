//! `aedge score`: reconstruction error and verdict per sample, AUROC when labels say which
//! samples are anomalies.

use crate::{Out, Result};
use aedge_runtime::Model;
use serde_json::json;

/// Arguments of `aedge score`.
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    scoring: super::Scoring,
    /// Score only the first N samples.
    #[arg(long)]
    limit: Option<usize>,
}

/// Runs the subcommand.
pub fn run(a: Args, out: Out) -> Result<()> {
    let bytes = a.scoring.model()?;
    let m = Model::parse(&bytes).map_err(|e| e.to_string())?;
    let samples = a.scoring.samples(&m, a.limit)?;
    let scores = super::score_all(&m, &samples)?;
    let errors: Vec<f32> = scores.iter().map(|s| s.error).collect();
    let verdicts: Vec<bool> = scores.iter().map(|s| s.anomalous).collect();
    let au = a.scoring.auroc(&errors)?;
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
