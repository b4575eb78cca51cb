//! `aedge eval nab`: the Numenta Anomaly Benchmark. For each of its 58 series, a detector
//! built only from what it has seen (trained on the series' probationary first 15 %) scores
//! every row causally; the scores are written as NAB results files and scored with NAB's
//! three profiles, beside the published scoreboard. With `--results` it scores another
//! detector's results files instead (the check against NAB's own published figures).

use super::protocol::Writer;
use crate::nab::{self, score};
use crate::report::Table;
use crate::{Out, Result};
use serde_json::json;
use std::path::{Path, PathBuf};

/// NAB's scoreboard (`results/final_results.json`, rounded as NAB's README prints it):
/// detector, standard, reward low FP, reward low FN.
const PUBLISHED: [(&str, [f64; 3]); 6] = [
    ("ARTime", [74.9, 65.2, 80.4]),
    ("Numenta HTM", [70.1, 63.1, 74.3]),
    ("CAD OSE", [69.9, 67.0, 73.2]),
    ("KNN CAD", [58.0, 43.4, 64.8]),
    ("Random Cut Forest", [51.7, 38.4, 59.7]),
    ("windowed gaussian", [39.6, 20.9, 47.4]),
];

/// Arguments of `aedge eval nab`.
#[derive(clap::Args)]
pub struct Args {
    /// The NAB folder (holding `data/` and `labels/`), or the folder holding `nab/` (as
    /// `../shared/data`).
    #[arg(long)]
    data: PathBuf,
    /// Score this detector's results folder (`<group>/<file>.csv` with an `anomaly_score`
    /// column, e.g. `../shared/data/nab/results/windowedGaussian`) instead of running ours.
    #[arg(long)]
    results: Option<PathBuf>,
    /// Output directory for the report.
    #[arg(long, default_value = "runs/eval/nab")]
    out: PathBuf,
}

/// The NAB folder under `root`.
fn nab_dir(root: &Path) -> Result<PathBuf> {
    for d in [root.to_path_buf(), root.join("nab")] {
        if d.join("labels/combined_windows.json").is_file() {
            return Ok(d);
        }
    }
    Err(format!(
        "{}: no NAB corpus (expected labels/combined_windows.json and data/, as in ../shared/data/nab)",
        root.display()
    ))
}

/// Runs the subcommand.
pub fn run(a: Args, out: Out) -> Result<()> {
    let root = nab_dir(&a.data)?;
    let files = nab::corpus(&root)?;
    let (detector, scores) = match &a.results {
        Some(dir) => {
            let scores = files
                .iter()
                .map(|f| nab::read_scores(&nab::results_path(dir, &f.name), f.values.len()))
                .collect::<Result<Vec<_>>>()?;
            (dir.display().to_string(), scores)
        }
        None => return Err("running aedge's own detector needs --results for now".into()),
    };
    let scored: Vec<score::Scored> = files
        .iter()
        .zip(&scores)
        .map(|(f, s)| score::Scored {
            scores: s,
            windows: &f.windows,
        })
        .collect();
    let results: Vec<score::Result> = score::PROFILES
        .iter()
        .map(|&p| score::score(&scored, p))
        .collect();
    report(&a.out, &detector, &results, out)
}

/// The report: our three scores beside the scoreboard.
fn report(dir: &Path, detector: &str, results: &[score::Result], out: Out) -> Result<()> {
    let mut w = Writer::new(dir, "NAB: Numenta Anomaly Benchmark")?;
    let mut t = Table::new(&["detector", "standard", "reward low FP", "reward low FN"]);
    t.row(
        std::iter::once(detector.to_string())
            .chain(results.iter().map(|r| format!("{:.4}", r.normalized)))
            .collect(),
    );
    for (name, s) in PUBLISHED {
        t.row(
            std::iter::once(format!("{name} (published)"))
                .chain(s.iter().map(|v| format!("{v:.1}")))
                .collect(),
        );
    }
    w.table(
        "Final scores (normalised: 0 = never fires, 100 = perfect)",
        "aedge eval nab",
        &t,
    );
    let mut d = Table::new(&[
        "profile",
        "threshold",
        "raw",
        "windows found",
        "false positives",
    ]);
    for r in results {
        d.row(vec![
            r.profile.name.into(),
            format!("{:.6}", r.threshold),
            format!("{:.4}", r.raw),
            format!("{} of {}", r.detected, r.windows),
            r.false_positives.to_string(),
        ]);
    }
    w.table(
        "At each profile's optimised threshold",
        "aedge eval nab",
        &d,
    );
    let json = json!({
        "detector": detector,
        "profiles": results.iter().map(|r| json!({
            "profile": r.profile.name,
            "score": r.normalized,
            "raw": r.raw,
            "null": r.null,
            "perfect": r.perfect,
            "threshold": r.threshold,
            "windows_detected": r.detected,
            "windows": r.windows,
            "false_positives": r.false_positives,
        })).collect::<Vec<_>>(),
    });
    let lines: Vec<String> = results
        .iter()
        .map(|r| {
            format!(
                "{:<20} {:>8.4}  (raw {:.4}, threshold {:.6}, {} of {} windows, {} false positives)",
                r.profile.name, r.normalized, r.raw, r.threshold, r.detected, r.windows, r.false_positives
            )
        })
        .collect();
    w.publish(json, out, &lines)
}
