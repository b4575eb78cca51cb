//! The Numenta Anomaly Benchmark: its corpus (58 series with labelled anomaly windows) and
//! its scoring, implemented from NAB's own description (`../shared/data/nab/SCORING.md`).

pub mod score;

use aedge_trainer::data::Series;
use std::path::{Path, PathBuf};

/// One series of the corpus with its label windows as row indices.
pub struct File {
    /// Path under `data/`, e.g. `realKnownCause/nyc_taxi.csv` (NAB's key).
    pub name: String,
    /// The timestamps, as written.
    pub times: Vec<String>,
    /// The `value` column.
    pub values: Vec<f32>,
    /// Anomaly windows, first and last row inclusive, in order.
    pub windows: Vec<(usize, usize)>,
}

/// Seconds since 1970 of a NAB timestamp (`2014-04-10 07:15:00[.000000]`).
fn seconds(text: &str) -> Option<i64> {
    chrono::NaiveDateTime::parse_from_str(text.trim(), "%Y-%m-%d %H:%M:%S%.f")
        .ok()
        .map(|t| t.and_utc().timestamp())
}

/// The corpus under `root` (the folder holding `data/` and `labels/`), every file the label
/// file names, in NAB's order.
pub fn corpus(root: &Path) -> crate::Result<Vec<File>> {
    let labels = root.join("labels/combined_windows.json");
    let text = std::fs::read_to_string(&labels).map_err(|e| {
        format!(
            "{}: {e} (give the NAB folder holding data/ and labels/, as ../shared/data/nab)",
            labels.display()
        )
    })?;
    let windows: std::collections::BTreeMap<String, Vec<[String; 2]>> =
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", labels.display()))?;
    windows
        .iter()
        .map(|(name, w)| file(&root.join("data").join(name), name, w))
        .collect()
}

fn file(path: &Path, name: &str, windows: &[[String; 2]]) -> crate::Result<File> {
    let s = Series::read(path, &["value"]).map_err(|e| e.to_string())?;
    let times = s
        .time
        .map(|(_, t)| t)
        .ok_or_else(|| format!("{}: no timestamp column", path.display()))?;
    let secs: Vec<i64> = times
        .iter()
        .enumerate()
        .map(|(i, t)| {
            seconds(t)
                .ok_or_else(|| format!("{}: row {}: bad timestamp '{t}'", path.display(), i + 1))
        })
        .collect::<crate::Result<_>>()?;
    let rows = windows
        .iter()
        .map(|[a, b]| {
            let bad = |t: &str| format!("{name}: bad window timestamp '{t}'");
            let (a, b) = (
                seconds(a).ok_or_else(|| bad(a))?,
                seconds(b).ok_or_else(|| bad(b))?,
            );
            let first = secs.partition_point(|&t| t < a);
            let last = secs.partition_point(|&t| t <= b);
            if last <= first {
                return Err(format!("{name}: a label window holds no rows"));
            }
            Ok((first, last - 1))
        })
        .collect::<crate::Result<_>>()?;
    Ok(File {
        name: name.to_string(),
        times,
        values: s.values,
        windows: rows,
    })
}

/// Reads a NAB results file (`timestamp,anomaly_score,…`): the score column in full
/// precision (ties and order decide the threshold sweep), one per data row, in [0, 1].
pub fn read_scores(path: &Path, rows: usize) -> crate::Result<Vec<f64>> {
    let err = |e: csv::Error| format!("{}: {e}", path.display());
    let mut rdr = csv::Reader::from_path(path).map_err(err)?;
    let col = rdr
        .headers()
        .map_err(err)?
        .iter()
        .position(|h| h.trim() == "anomaly_score")
        .ok_or_else(|| format!("{}: no anomaly_score column", path.display()))?;
    let mut scores = Vec::with_capacity(rows);
    for (i, rec) in rdr.records().enumerate() {
        let rec = rec.map_err(err)?;
        let text = rec.get(col).unwrap_or("").trim();
        match text.parse::<f64>() {
            Ok(v) if (0.0..=1.0).contains(&v) => scores.push(v),
            _ => {
                return Err(format!(
                    "{}: row {}: '{text}' is not a score in [0, 1]",
                    path.display(),
                    i + 1
                ))
            }
        }
    }
    if scores.len() != rows {
        return Err(format!(
            "{}: {} scores for {rows} data rows",
            path.display(),
            scores.len()
        ));
    }
    Ok(scores)
}

/// Where the results file of series `name` is under a detector's results folder `dir`
/// (`<dir>/<group>/<file>.csv`, as in `../shared/data/nab/results/windowedGaussian`).
pub fn results_path(dir: &Path, name: &str) -> PathBuf {
    dir.join(name)
}
