//! What the benchmark protocols share: the dataset directory, progress with an ETA, the
//! published figures, ROC points and the report (markdown, JSON, HTML) they write.

use crate::report::{Figure, Report, Table};
use crate::{Out, Result};
use aedge_runtime::{AlignedBytes, Model};
use aedge_trainer::data::{read_labels, Dataset, Images};
use aedge_trainer::presets;
use aedge_trainer::recipe::Recipe;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Finds `stem` (e.g. `train-images-idx3-ubyte`) in `dir`, gzipped or not.
fn find(dir: &Path, stem: &str) -> Result<PathBuf> {
    for name in [format!("{stem}.gz"), stem.to_string()] {
        let p = dir.join(&name);
        if p.is_file() {
            return Ok(p);
        }
    }
    Err(format!(
        "{}: no {stem}[.gz] (expected the IDX files of the dataset, as in ../shared/data)",
        dir.display()
    ))
}

/// The directory of dataset `name` under `root`: `root/name`, or `root` itself when it holds
/// the files directly.
pub fn dataset_dir(root: &Path, name: &str) -> Result<PathBuf> {
    let sub = root.join(name);
    if sub.is_dir() {
        return Ok(sub);
    }
    if root.is_dir() {
        return Ok(root.to_path_buf());
    }
    Err(format!(
        "{}: no such directory (give the folder holding {name}/, as ../shared/data)",
        root.display()
    ))
}

/// Reads `<prefix>-images-idx3-ubyte` and `<prefix>-labels-idx1-ubyte` from `dir`: pixels
/// scaled to [0, 1], labels attached.
pub fn idx_split(dir: &Path, prefix: &str) -> Result<Dataset> {
    let ip = find(dir, &format!("{prefix}-images-idx3-ubyte"))?;
    let lp = find(dir, &format!("{prefix}-labels-idx1-ubyte"))?;
    let images = Images::read(&ip).map_err(|e| format!("{}: {e}", ip.display()))?;
    let labels = read_labels(&lp).map_err(|e| format!("{}: {e}", lp.display()))?;
    if labels.len() != images.count {
        return Err(format!(
            "{}: {} labels for {} images",
            lp.display(),
            labels.len(),
            images.count
        ));
    }
    Ok(Dataset::from_images(&images, Some(labels)))
}

/// Steps done out of a known total, printed with the elapsed time and an ETA.
pub struct Progress {
    total: usize,
    done: usize,
    start: Instant,
    out: Out,
}

fn clock(s: f64) -> String {
    let s = s.max(0.0).round() as u64;
    format!("{}:{:02}", s / 60, s % 60)
}

impl Progress {
    /// Starts the clock for `total` steps.
    pub fn new(total: usize, out: Out) -> Self {
        Progress {
            total,
            done: 0,
            start: Instant::now(),
            out,
        }
    }

    /// Marks one step done with a line saying what it gave.
    pub fn step(&mut self, what: &str) {
        self.done += 1;
        let t = self.start.elapsed().as_secs_f64();
        let eta = t / self.done as f64 * (self.total - self.done.min(self.total)) as f64;
        self.out.line(format!(
            "[{}/{}] {what}  ({} elapsed, ETA {})",
            self.done,
            self.total,
            clock(t),
            clock(eta)
        ));
    }

    /// Seconds since the start.
    pub fn seconds(&self) -> f64 {
        self.start.elapsed().as_secs_f64()
    }
}

/// Mean and (sample) standard deviation.
pub fn mean_std(v: &[f64]) -> (f64, f64) {
    let n = v.len() as f64;
    if v.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    let m = v.iter().sum::<f64>() / n;
    let var = if v.len() > 1 {
        v.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (n - 1.0)
    } else {
        0.0
    };
    (m, var.sqrt())
}

/// `mean ± std` of percentages, or the single value.
pub fn pm(v: &[f64], scale: f64) -> String {
    let (m, s) = mean_std(v);
    if v.len() > 1 {
        format!("{:.1} ± {:.1}", m * scale, s * scale)
    } else {
        format!("{:.1}", m * scale)
    }
}

/// The ROC curve of `scores` (higher = more anomalous): `(false positive rate, true positive
/// rate)` at every distinct threshold, from (0, 0) to (1, 1).
pub fn roc_points(scores: &[f32], anomalous: &[bool]) -> Vec<(f64, f64)> {
    let mut idx: Vec<usize> = (0..scores.len()).collect();
    idx.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let pos = anomalous.iter().filter(|&&a| a).count().max(1) as f64;
    let neg = anomalous.iter().filter(|&&a| !a).count().max(1) as f64;
    let (mut tp, mut fp) = (0.0, 0.0);
    let mut pts = vec![(0.0, 0.0)];
    for (k, &i) in idx.iter().enumerate() {
        if anomalous[i] {
            tp += 1.0;
        } else {
            fp += 1.0;
        }
        let last = k + 1 == idx.len() || scores[idx[k + 1]] != scores[i];
        if last {
            pts.push((fp / neg, tp / pos));
        }
    }
    pts
}

/// A histogram of `values` over `bins` equal bins of `[lo, hi]`, as the share of values per
/// bin at each bin's centre.
pub fn histogram(values: &[f32], lo: f64, hi: f64, bins: usize) -> Vec<(f64, f64)> {
    let mut counts = vec![0usize; bins];
    let width = (hi - lo) / bins as f64;
    for &v in values {
        let b = ((v as f64 - lo) / width).floor();
        if b.is_finite() {
            counts[(b.max(0.0) as usize).min(bins - 1)] += 1;
        }
    }
    let n = values.len().max(1) as f64;
    counts
        .iter()
        .enumerate()
        .map(|(i, &c)| (lo + (i as f64 + 0.5) * width, c as f64 / n))
        .collect()
}

/// Sizes of a model as a microcontroller sees them.
pub struct Footprint {
    /// Weight bytes (the int8 weights alone: what "a model of N KB" counts).
    pub weights: usize,
    /// The weights section: weights, biases and requantization parameters, and the latent
    /// record's arrays (flash).
    pub section: usize,
    /// Bytes of the latent record's arrays (0 without one).
    pub latent: usize,
    /// Whole `.aedge` file bytes.
    pub file: usize,
    /// Arena bytes (RAM).
    pub arena: usize,
    /// Multiply-accumulates per inference.
    pub macs: u64,
}

impl Footprint {
    /// The footprint of a model file.
    pub fn of(bytes: &[u8]) -> Result<Footprint> {
        let b = AlignedBytes::from(bytes.to_vec());
        let m = Model::parse(&b).map_err(|e| e.to_string())?;
        Ok(Footprint {
            weights: m.layers().map(|l| l.desc.weights.len as usize).sum(),
            section: m.weights_len(),
            latent: m.latent_fit().map_or(0, |l| l.bytes()),
            file: m.file_len(),
            arena: m.arena_len(),
            macs: m.macs(),
        })
    }

    /// One line for reports.
    pub fn text(&self) -> String {
        // Small models (a series detector of a few KB) keep their digits.
        let kb = |b: usize| {
            if b < 10 * 1024 {
                format!("{b} B")
            } else {
                format!("{:.1} KB", b as f64 / 1024.0)
            }
        };
        let macs = if self.macs < 1_000_000 {
            format!("{:.1} K", self.macs as f64 / 1e3)
        } else {
            format!("{:.2} M", self.macs as f64 / 1e6)
        };
        let latent = if self.latent > 0 {
            format!(" and {} of latent Gaussian", kb(self.latent))
        } else {
            String::new()
        };
        format!(
            "int8 weights {} ({} with biases and requantization{latent}), file {}, arena {}, {macs} MACs per inference",
            kb(self.weights),
            kb(self.section),
            kb(self.file),
            kb(self.arena),
        )
    }
}

/// A protocol's report: the same sections as markdown (`report.md`), HTML (`report.html`)
/// and the figures as PNG files beside them; the JSON (`report.json`) carries the numbers.
pub struct Writer {
    dir: PathBuf,
    html: Report,
    md: String,
}

impl Writer {
    /// A report titled `title` in `dir` (created).
    pub fn new(dir: &Path, title: &str) -> Result<Writer> {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        Ok(Writer {
            dir: dir.to_path_buf(),
            html: Report::new(title),
            md: format!("# {title}\n\n"),
        })
    }

    /// Where a figure named `name` goes.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// A paragraph.
    pub fn text(&mut self, t: &str) {
        self.html.text(t);
        self.md.push_str(&format!("{t}\n\n"));
    }

    /// A titled table with the command that produced it.
    pub fn table(&mut self, title: &str, command: &str, t: &Table) {
        self.html.section(title, command, t);
        self.md.push_str(&format!(
            "## {title}\n\n{}\n\nProduced by `{command}`.\n\n",
            t.text()
        ));
    }

    /// A PNG written at [`Writer::path`]`(name)`.
    pub fn figure(&mut self, name: &str, caption: &str) -> Result<()> {
        self.html.figure(&Figure {
            path: self.path(name),
            caption: caption.into(),
        })?;
        self.md.push_str(&format!("![{caption}]({name})\n\n"));
        Ok(())
    }

    /// Writes the report files, then prints `json` (with `--json`) or the `lines` and where
    /// the report is.
    pub fn publish(self, json: serde_json::Value, out: Out, lines: &[String]) -> Result<()> {
        let dir = self.finish(&json)?;
        out.json(json);
        out.line(String::new());
        for l in lines {
            out.line(l);
        }
        out.line(format!("report in {}", dir.join("report.html").display()));
        Ok(())
    }

    /// Writes `report.md`, `report.html` and `report.json` (`json`); returns the directory.
    fn finish(self, json: &serde_json::Value) -> Result<PathBuf> {
        let w = |name: &str, bytes: &[u8]| {
            let p = self.dir.join(name);
            aedge_runtime::fs::write_atomic(&p, bytes).map_err(|e| format!("{}: {e}", p.display()))
        };
        w("report.md", self.md.as_bytes())?;
        let pretty = serde_json::to_vec_pretty(json).map_err(|e| e.to_string())?;
        w("report.json", &pretty)?;
        w("report.html", self.html.finish().as_bytes())?;
        Ok(self.dir)
    }
}

/// The model a protocol trains: a preset, or a recipe file of one's own.
#[derive(clap::Args)]
pub struct RecipeArgs {
    /// Model recipe by preset name (`aedge presets`; default: the protocol's).
    #[arg(long)]
    pub preset: Option<String>,
    /// Model recipe file (TOML, as `aedge train --config`) instead of a preset.
    #[arg(long, conflicts_with = "preset")]
    pub config: Option<PathBuf>,
}

/// The recipe a protocol trains, and how to name it.
pub struct Chosen {
    /// The recipe.
    pub recipe: Recipe,
    /// The preset's name or the file's path, for the report's text.
    pub name: String,
    /// `--preset NAME` or `--config FILE`, for the report's command line.
    pub flag: String,
}

impl RecipeArgs {
    /// The recipe; `default` names the preset when neither flag is given.
    pub fn load(&self, default: &str) -> Result<Chosen> {
        match (&self.config, &self.preset) {
            (Some(path), _) => Ok(Chosen {
                recipe: Recipe::read(path)?,
                name: path.display().to_string(),
                flag: format!("--config {}", path.display()),
            }),
            (None, p) => {
                let name = p.as_deref().unwrap_or(default);
                Ok(Chosen {
                    recipe: presets::recipe(name)?,
                    name: name.to_string(),
                    flag: format!("--preset {name}"),
                })
            }
        }
    }
}

/// The training loss, as `--loss` names it.
#[derive(Clone, Copy, clap::ValueEnum)]
pub enum LossArg {
    /// Mean squared error.
    Mse,
    /// Binary cross-entropy.
    Bce,
}

impl From<LossArg> for aedge_trainer::loss::Loss {
    fn from(l: LossArg) -> Self {
        match l {
            LossArg::Mse => aedge_trainer::loss::Loss::Mse,
            LossArg::Bce => aedge_trainer::loss::Loss::Bce,
        }
    }
}
