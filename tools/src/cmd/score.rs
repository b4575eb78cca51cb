//! `aedge score`: reconstruction error and verdict per sample, AUROC when labels say which
//! samples are anomalies; for a series model, a score per row of the series (CSV and PNG).

use crate::series;
use crate::{Out, Result};
use aedge_runtime::Model;
use serde_json::json;
use std::path::PathBuf;

/// Arguments of `aedge score`.
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    scoring: super::Scoring,
    /// Score only the first N samples.
    #[arg(long)]
    limit: Option<usize>,
    /// Write the scores to this CSV: one row per sample (index, file, class, error, verdict),
    /// or for a series model one row per input row (timestamp, values, error, score,
    /// verdict) and the series with its scores as a PNG beside it.
    #[arg(short, long)]
    output: Option<PathBuf>,
}

/// Runs the subcommand.
pub fn run(a: Args, out: Out) -> Result<()> {
    let bytes = a.scoring.model()?;
    let m = Model::parse(&bytes).map_err(|e| e.to_string())?;
    if m.series().is_some() {
        return score_series(&a, &m, out);
    }
    let inputs = a.scoring.read(&m, a.limit)?;
    for n in &inputs.notes {
        out.line(n);
    }
    let samples = &inputs.samples;
    let scores = super::score_all(&m, samples)?;
    let errors: Vec<f32> = scores.iter().map(|s| s.error).collect();
    let verdicts: Vec<bool> = scores.iter().map(|s| s.anomalous).collect();
    let au = inputs.auroc(&errors)?;
    if let Some(p) = &a.output {
        write_sample_scores(p, &inputs, &errors, &verdicts)?;
    }
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
        "{} samples, {flagged} above the threshold {} ({} metric){}{}",
        samples.len(),
        m.threshold(),
        m.metric(),
        au.map(|v| format!(", AUROC {v:.4}")).unwrap_or_default(),
        a.output
            .as_ref()
            .map(|p| format!("; wrote {}", p.display()))
            .unwrap_or_default()
    ));
    Ok(())
}

/// One CSV row per sample: index, file, class, error, verdict.
fn write_sample_scores(
    path: &std::path::Path,
    inputs: &super::Inputs,
    errors: &[f32],
    verdicts: &[bool],
) -> Result<()> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let e = |e: csv::Error| e.to_string();
    w.write_record(["sample", "file", "class", "error", "anomalous"])
        .map_err(e)?;
    for (i, (err, v)) in errors.iter().zip(verdicts).enumerate() {
        let file = inputs
            .files
            .get(i)
            .map(|f| f.display().to_string())
            .unwrap_or_default();
        let class = inputs
            .classes
            .as_ref()
            .and_then(|c| c.get(i).cloned())
            .unwrap_or_default();
        w.write_record([
            i.to_string(),
            file,
            class,
            err.to_string(),
            (*v as u8).to_string(),
        ])
        .map_err(e)?;
    }
    let bytes = w.into_inner().map_err(|e| e.to_string())?;
    aedge_runtime::fs::write_atomic(path, &bytes).map_err(|e| format!("{}: {e}", path.display()))
}

/// Per-row scores of a series, through the same streaming code the device runs.
fn score_series(a: &Args, m: &Model, out: Out) -> Result<()> {
    let desc = *m.series().ok_or("not a series model")?;
    let mut s = series::read_for(m, a.scoring.inputs())?;
    if let Some(n) = a.limit {
        let keep = n.max(1).min(s.rows());
        s.values.truncate(keep * s.channels());
        if let Some((_, t)) = &mut s.time {
            t.truncate(keep);
        }
    }
    let points = series::score_rows(m, &s)?;
    let flagged: Vec<usize> = (0..points.len())
        .filter(|&r| points[r].is_some_and(|p| p.anomalous))
        .collect();
    let ranges = spans(&flagged);
    let png = a.output.as_ref().map(|p| p.with_extension("png"));
    if let (Some(csv), Some(png)) = (&a.output, &png) {
        // The plot first: if it fails, no scores file claims a run that did not finish.
        aedge::chart::series_scores(
            png,
            &format!("{}: anomaly level per row", m.name()),
            // The level, not the held score: the plot shows how unusual each row is, the
            // CSV's score column when an event was reported.
            &aedge::chart::ScoredSeries {
                columns: &s.columns,
                values: &s.values,
                scores: &points
                    .iter()
                    .map(|p| p.map(|p| p.level))
                    .collect::<Vec<_>>(),
                alarm: desc.likelihood.alarm,
            },
        )?;
        series::write_scores(csv, &s, &points)?;
    }
    let row_label = |r: usize| match &s.time {
        Some((_, t)) => format!("row {} ({})", r + 1, t[r]),
        None => format!("row {}", r + 1),
    };
    out.json(json!({
        "model": m.name(),
        "rows": s.rows(),
        "window": m.input_shape().h,
        "stride": desc.stride,
        "alarm": desc.likelihood.alarm,
        "flagged_rows": flagged.len(),
        "flagged": ranges.iter().map(|&(a, b)| json!({"first": a + 1, "last": b + 1})).collect::<Vec<_>>(),
        "max_score": points.iter().flatten().map(|p| p.score).fold(0.0f32, f32::max),
        "output": a.output.as_ref().map(|p| p.display().to_string()),
        "plot": png.as_ref().map(|p| p.display().to_string()),
    }));
    for &(first, last) in ranges.iter().take(20) {
        out.line(format!(
            "flagged {} to {}",
            row_label(first),
            row_label(last)
        ));
    }
    if ranges.len() > 20 {
        out.line(format!(
            "… and {} more flagged stretches",
            ranges.len() - 20
        ));
    }
    out.line(format!(
        "{} rows, windows of {} scored every {} row(s); {} rows flagged (score ≥ {}) in {} stretch(es){}",
        s.rows(),
        m.input_shape().h,
        desc.stride,
        flagged.len(),
        desc.likelihood.alarm,
        ranges.len(),
        match (&a.output, &png) {
            (Some(c), Some(p)) => format!("; wrote {} and {}", c.display(), p.display()),
            _ => String::new(),
        }
    ));
    Ok(())
}

/// Consecutive runs of `rows` (sorted) as (first, last).
fn spans(rows: &[usize]) -> Vec<(usize, usize)> {
    let mut out: Vec<(usize, usize)> = Vec::new();
    for &r in rows {
        match out.last_mut() {
            Some(last) if last.1 + 1 == r => last.1 = r,
            _ => out.push((r, r)),
        }
    }
    out
}
