//! `aedge eval nab`: the Numenta Anomaly Benchmark. For each of its 58 series, a detector
//! built only from what it has seen (trained on the series' probationary first 15 %) scores
//! every row causally; the scores are written as NAB results files and scored with NAB's
//! three profiles, beside the published scoreboard. With `--results` it scores another
//! detector's results files instead (the check against NAB's own published figures).

use super::protocol::{Footprint, Progress, Writer};
use crate::data::DataArgs;
use crate::nab::{self, score};
use crate::report::Table;
use crate::series::{score_rows, spread, Definition};
use crate::{Out, Result};
use aedge_runtime::precisions::{calibrate_thresholds, export_precisions, RANGE_METHODS};
use aedge_runtime::{AlignedBytes, Metric, Model, ThresholdRule};
use aedge_trainer::data::Series;
use aedge_trainer::export::to_graph;
use aedge_trainer::presets::preset;
use aedge_trainer::{device, train, Backend, RunOptions};
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
    /// Output directory for the report (and, for our detector, its results files).
    #[arg(long, default_value = "runs/eval/nab")]
    out: PathBuf,
    /// Our detector: the preset trained on each series' probationary period.
    #[arg(long, default_value = "series-dense")]
    preset: String,
    /// Our detector: rows per window.
    #[arg(long, default_value_t = 16)]
    window: usize,
    /// Our detector: a window's error is that of its newest N rows.
    #[arg(long, default_value_t = 1)]
    tail: usize,
    /// Our detector: training epochs (default: the preset's).
    #[arg(long)]
    epochs: Option<usize>,
    /// Our detector: score with the f32 model instead of int8.
    #[arg(long)]
    f32: bool,
    /// Our detector: without the pattern memory (the reconstruction error, cycle and range
    /// check alone).
    #[arg(long)]
    no_patterns: bool,
    /// Our detector: quantization levels of the pattern memory (the score moves by about ±2
    /// points with this, in no order; scripts/nab-levels.sh runs several).
    #[arg(long, default_value_t = aedge_runtime::pattern::LEVELS,
          value_parser = crate::data::pattern_levels())]
    pattern_levels: u16,
    /// Only the first N series, in NAB's order (a quick look: the score is then not NAB's).
    #[arg(long)]
    limit: Option<usize>,
}

/// What our detector is and cost, for the report.
struct Detector {
    /// One line naming it.
    name: String,
    /// Footprint of the model of the first series (all share the architecture).
    footprint: Footprint,
    /// Parameters per model.
    params: usize,
    /// Seconds for the whole corpus (training included).
    seconds: f64,
    /// Host microseconds per streamed sample (scoring only), mean over the corpus.
    us_per_sample: f64,
    /// Series whose probationary rows showed a cycle (each row compared with a cycle
    /// earlier).
    cycles: usize,
    /// The largest stream buffer (window, range, cycle, pattern memory) of any series, bytes.
    stream_bytes: usize,
    /// Whether the streams kept a pattern memory.
    patterns: bool,
}

/// Trains, exports and streams one model per series; writes NAB results files under
/// `dir` and returns every row's score.
fn detect(
    files: &[nab::File],
    a: &Args,
    dir: &Path,
    out: Out,
) -> Result<(Vec<Vec<f64>>, Detector)> {
    let opts = RunOptions::new(device(Backend::Flex).map_err(|e| e.to_string())?);
    let rule = ThresholdRule::Percentile(99.0);
    let mut progress = Progress::new(files.len(), out);
    let mut all = Vec::with_capacity(files.len());
    let mut first = None;
    let (mut stream_s, mut samples, mut cycles, mut stream_bytes) = (0.0, 0usize, 0usize, 0usize);
    for f in files {
        let s = Series {
            columns: vec!["value".into()],
            values: f.values.clone(),
            time: Some(("timestamp".into(), f.times.clone())),
        };
        let args = DataArgs {
            window: Some(a.window),
            tail: a.tail,
            no_patterns: a.no_patterns,
            pattern_levels: a.pattern_levels,
            ..DataArgs::of(PathBuf::from(&f.name))
        };
        // Only the probationary rows, which NAB does not score, are seen before scoring.
        let def = Definition::with_normal_rows(&args, &s, 0.1, score::probation(s.rows()))?;
        cycles += (def.period > 0) as usize;
        let d = def.normal(&s)?;
        let (fit, held) = def.split(&d)?;
        let (spec, mut cfg) = preset(&a.preset, d.shape)?;
        if let Some(e) = a.epochs {
            cfg.epochs = e.max(1);
        }
        let t = train(&spec, &cfg, &fit, None, &opts).map_err(|e| format!("{}: {e}", f.name))?;
        let name = f.name.trim_end_matches(".csv").replace('/', "-");
        let mut g = to_graph(&name, &t.model, &spec, &d, Metric::Mse)?;
        g.series = Some(def.runtime()?);
        let calib: Vec<Vec<f32>> = spread(fit.len(), 200).iter().map(|&i| fit.raw(i)).collect();
        let mut exported =
            export_precisions(&g, &calib, &calib, &RANGE_METHODS).map_err(|e| e.to_string())?;
        calibrate_thresholds(&mut g, &mut exported, &calib, &calib, &held.raw_all(), rule)
            .map_err(|e| e.to_string())?;
        let bytes = if a.f32 { exported.f32 } else { exported.int8 };
        if first.is_none() {
            first = Some((
                Footprint::of(&bytes)?,
                g.layers
                    .iter()
                    .map(|l| l.weights.len() + l.bias.len())
                    .sum::<usize>(),
            ));
        }
        let model = AlignedBytes::from(bytes);
        let m = Model::parse(&model).map_err(|e| e.to_string())?;
        stream_bytes = stream_bytes.max(4 * aedge_runtime::Stream::buffer_len(&m));
        let t0 = std::time::Instant::now();
        let points = score_rows(&m, &s).map_err(|e| format!("{}: {e}", f.name))?;
        stream_s += t0.elapsed().as_secs_f64();
        samples += s.rows();
        let scores: Vec<f64> = points
            .iter()
            .map(|p| p.map_or(0.0, |p| p.score as f64))
            .collect();
        let errors: Vec<f64> = points
            .iter()
            .map(|p| p.map_or(0.0, |p| p.error as f64))
            .collect();
        write_results(&nab::results_path(dir, &f.name), f, &scores, &errors)?;
        let flagged = points
            .iter()
            .filter(|p| p.is_some_and(|p| p.anomalous))
            .count();
        progress.step(&format!("{}: {} rows, {flagged} flagged", f.name, s.rows()));
        all.push(scores);
    }
    let (footprint, params) = first.ok_or("no series to run")?;
    Ok((
        all,
        Detector {
            name: format!(
                "aedge {} ({}, window {}, error of the newest {}{}{})",
                a.preset,
                if a.f32 { "f32" } else { "int8" },
                a.window,
                a.tail,
                if a.no_patterns {
                    ", no pattern memory".to_string()
                } else {
                    format!(", pattern memory of {} levels", a.pattern_levels)
                },
                a.epochs
                    .map(|e| format!(", {e} epochs"))
                    .unwrap_or_default()
            ),
            footprint,
            params,
            seconds: progress.seconds(),
            us_per_sample: stream_s * 1e6 / samples.max(1) as f64,
            cycles,
            stream_bytes,
            patterns: !a.no_patterns,
        },
    ))
}

/// A NAB results file: `timestamp,value,anomaly_score,label,raw_score` (the raw score is the
/// window's reconstruction error, as NAB's own HTM detector writes its raw score).
fn write_results(path: &Path, f: &nab::File, scores: &[f64], errors: &[f64]) -> Result<()> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let err = |e: csv::Error| format!("{}: {e}", path.display());
    w.write_record(["timestamp", "value", "anomaly_score", "label", "raw_score"])
        .map_err(err)?;
    for (r, (score, error)) in scores.iter().zip(errors).enumerate() {
        let label = f.windows.iter().any(|&(a, b)| (a..=b).contains(&r));
        w.write_record([
            f.times[r].clone(),
            f.values[r].to_string(),
            score.to_string(),
            (label as u8).to_string(),
            error.to_string(),
        ])
        .map_err(err)?;
    }
    let bytes = w.into_inner().map_err(|e| e.to_string())?;
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
    }
    aedge_runtime::fs::write_atomic(path, &bytes).map_err(|e| format!("{}: {e}", path.display()))
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
    let mut files = nab::corpus(&root)?;
    if let Some(n) = a.limit {
        files.truncate(n.max(1));
    }
    let (detector, scores, ours) = match &a.results {
        Some(dir) => {
            let scores = files
                .iter()
                .map(|f| nab::read_scores(&nab::results_path(dir, &f.name), f.values.len()))
                .collect::<Result<Vec<_>>>()?;
            (dir.display().to_string(), scores, None)
        }
        None => {
            let (scores, d) = detect(&files, &a, &a.out.join("results"), out)?;
            (d.name.clone(), scores, Some(d))
        }
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
    // Where the standard score comes from: each series at the standard threshold.
    let standard = &results[0];
    let per_series: Vec<(&str, usize, score::SeriesResult)> = files
        .iter()
        .zip(&scored)
        .map(|(f, s)| {
            (
                f.name.as_str(),
                f.values.len(),
                score::series(s, standard.profile, standard.threshold),
            )
        })
        .collect();
    report(
        &a.out,
        &detector,
        &results,
        &per_series,
        ours.as_ref(),
        files.len(),
        out,
    )
}

/// A normalised score to four decimals; "n/a" when the series that were run hold no anomaly
/// window (NAB's normalisation divides by perfect − null, which is then 0).
fn score_text(v: f64) -> String {
    if v.is_finite() {
        format!("{v:.4}")
    } else {
        "n/a".into()
    }
}

/// The report: our three scores beside the scoreboard, then each series' part of the
/// standard score.
fn report(
    dir: &Path,
    detector: &str,
    results: &[score::Result],
    per_series: &[(&str, usize, score::SeriesResult)],
    ours: Option<&Detector>,
    series: usize,
    out: Out,
) -> Result<()> {
    let mut w = Writer::new(dir, "NAB: Numenta Anomaly Benchmark")?;
    if series != 58 {
        w.text(&format!(
            "Only {series} of the 58 series were run (--limit): these scores are not NAB's and do not compare with the scoreboard."
        ));
    }
    if let Some(d) = ours {
        w.text(&format!(
            "Our detector: one model per series, trained only on that series' probationary rows (the first 15 %, at most 750, which NAB does not score), standardised on them, its threshold's error statistics from the last 10 % of their windows; every row then scored causally through aedge-runtime's Stream (the device code), also against the row a cycle earlier in the {} series whose probationary rows show a cycle{}. Model: {} parameters; {}; stream state at most {} B. Whole corpus in {:.0} s (training included); scoring {:.1} µs per sample on this host ({}).",
            d.cycles,
            if d.patterns {
                ", and every downsampled window's shape against a memory of the shapes seen (pattern memory)"
            } else {
                ""
            },
            d.params,
            d.footprint.text(),
            d.stream_bytes,
            d.seconds,
            d.us_per_sample,
            aedge::bench::cpu_name()
        ));
    }
    let mut t = Table::new(&["detector", "standard", "reward low FP", "reward low FN"]);
    t.row(
        std::iter::once(detector.to_string())
            .chain(results.iter().map(|r| score_text(r.normalized)))
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
    let mut ps = Table::new(&[
        "series",
        "rows",
        "windows found",
        "false positives",
        "raw (standard)",
    ]);
    for (name, rows, r) in per_series {
        ps.row(vec![
            name.to_string(),
            rows.to_string(),
            format!("{} of {}", r.detected, r.windows),
            r.false_positives.to_string(),
            format!("{:.4}", r.raw),
        ]);
    }
    w.table(
        "Each series at the standard profile's threshold (its raw parts add up to the corpus's)",
        "aedge eval nab",
        &ps,
    );
    let json = json!({
        "detector": detector,
        "series": series,
        "model": ours.map(|d| json!({
            "params": d.params,
            "int8_weight_bytes": d.footprint.weights,
            "file_bytes": d.footprint.file,
            "arena_bytes": d.footprint.arena,
            "macs_per_window": d.footprint.macs,
            "seconds": d.seconds,
            "host_us_per_sample": d.us_per_sample,
            "series_with_a_cycle": d.cycles,
            "stream_bytes_max": d.stream_bytes,
        })),
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
        "per_series_standard": per_series.iter().map(|(name, rows, r)| json!({
            "series": name,
            "rows": rows,
            "raw": r.raw,
            "windows_detected": r.detected,
            "windows": r.windows,
            "false_positives": r.false_positives,
        })).collect::<Vec<_>>(),
    });
    let lines: Vec<String> = results
        .iter()
        .map(|r| {
            format!(
                "{:<20} {:>8}  (raw {:.4}, threshold {:.6}, {} of {} windows, {} false positives)",
                r.profile.name,
                score_text(r.normalized),
                r.raw,
                r.threshold,
                r.detected,
                r.windows,
                r.false_positives
            )
        })
        .collect();
    w.publish(json, out, &lines)
}
