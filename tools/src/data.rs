//! Training data for `train` and `export`: any sample file [`crate::input`] reads (IDX,
//! NumPy, image folders, MVTec AD), optionally restricted to some classes for one-class
//! anomaly models, or a CSV series cut into standardised windows of its normal stretch (see
//! [`crate::series`]).

use crate::input::{self, Reading, Samples};
use crate::series::Definition;
use aedge_trainer::data::{Color, Dataset, FolderOptions, Series};
use aedge_trainer::recipe::{DataConfig, Resize, ScoreMetric};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Where training data comes from.
#[derive(clap::Args, Clone)]
pub struct DataArgs {
    /// The samples: IDX images, .npy/.npz, a folder of images (sub-folders are classes), an
    /// MVTec AD category (trains on train/good), or a CSV series (numeric columns).
    #[arg(long)]
    pub data: PathBuf,
    /// Labels of the samples (IDX, CSV or .npy; class folders give their own); with
    /// --normal, keep only those classes.
    #[arg(long)]
    pub labels: Option<PathBuf>,
    /// Classes to keep (one-class anomaly training), by number or folder name, e.g. 1 or
    /// 0,6 or good.
    #[arg(long, value_delimiter = ',')]
    pub normal: Vec<String>,
    /// Image folders: the sample size HxW every image is made (default: the first image's,
    /// or the recipe's image-size).
    #[arg(long, value_name = "HxW", value_parser = parse_size)]
    pub image_size: Option<(u32, u32)>,
    /// Image folders: gray or rgb (default: the recipe's, else as the first image).
    #[arg(long, value_enum)]
    pub color: Option<ColorArg>,
    /// Image folders: stretch images of another size to it (bilinear), or refuse them
    /// (default: the recipe's, else stretch).
    #[arg(long, value_enum)]
    pub resize: Option<ResizeArg>,
    /// CSV series: rows per window (default 24; a series checkpoint keeps its own).
    #[arg(long)]
    pub window: Option<usize>,
    /// CSV series: the sensor columns, e.g. temp,current (default: every numeric column).
    #[arg(long, value_delimiter = ',')]
    pub columns: Vec<String>,
    /// CSV series: the share of rows at the start taken as normal (training, standardisation,
    /// threshold), as NAB's probationary period; 1 trains on a whole file of normal data.
    #[arg(long, default_value_t = 0.15)]
    pub normal_part: f32,
    /// CSV series: rows in the series' cycle (288 for a day of 5-minute samples); each
    /// sample is also compared with the one a cycle earlier. 0: no comparison (default: found
    /// from the normal stretch's autocorrelation, when it has a clear cycle longer than the
    /// window).
    #[arg(long)]
    pub period: Option<usize>,
    /// CSV series: rows between two scored windows (1 scores every row).
    #[arg(long, default_value_t = 1)]
    pub stride: usize,
    /// CSV series: a window's error is that of its newest N rows, the rest of the window
    /// their context (1: each row's score is about that row; the window length: about the
    /// whole window).
    #[arg(long, default_value_t = 1)]
    pub tail: usize,
    /// CSV series: no pattern memory (by default a one-column series also reports windows of
    /// its downsampled values whose shape matches nothing seen before).
    #[arg(long)]
    pub no_patterns: bool,
    /// CSV series: quantization levels of the pattern memory's value range (finer levels
    /// tell more shapes apart).
    #[arg(long, default_value_t = aedge_runtime::pattern::LEVELS, value_parser = pattern_levels())]
    pub pattern_levels: u16,
}

/// `--pattern-levels`' parser (`train`, `eval nab`): 2 to the most levels the categories'
/// bytes tell apart.
pub fn pattern_levels() -> clap::builder::RangedI64ValueParser<u16> {
    clap::value_parser!(u16).range(2..=aedge_runtime::pattern::MAX_LEVELS as i64)
}

impl DataArgs {
    /// Arguments for `data` alone, with every default.
    pub fn of(data: PathBuf) -> DataArgs {
        DataArgs {
            data,
            labels: None,
            normal: Vec::new(),
            image_size: None,
            color: None,
            resize: None,
            window: None,
            columns: Vec::new(),
            normal_part: 0.15,
            period: None,
            stride: 1,
            tail: 1,
            no_patterns: false,
            pattern_levels: aedge_runtime::pattern::LEVELS,
        }
    }

    /// The flags after `--data` that choose and shape the samples (labels, normal classes,
    /// image size, colour, resizing), as a user would type them: a printed next command
    /// must select the same samples (the same split, and one class's codes for the latent
    /// fit). A series' definition travels with its checkpoint instead.
    pub fn selection_flags(&self) -> String {
        use clap::ValueEnum;
        let mut s = String::new();
        if let Some(l) = &self.labels {
            s += &format!(" --labels {}", l.display());
        }
        if !self.normal.is_empty() {
            s += &format!(" --normal {}", self.normal.join(","));
        }
        if let Some((h, w)) = self.image_size {
            s += &format!(" --image-size {h}x{w}");
        }
        let name = |v: Option<clap::builder::PossibleValue>| {
            v.map(|v| v.get_name().to_string()).unwrap_or_default()
        };
        if let Some(c) = self.color {
            s += &format!(" --color {}", name(c.to_possible_value()));
        }
        if let Some(r) = self.resize {
            s += &format!(" --resize {}", name(r.to_possible_value()));
        }
        s
    }

    /// The window length asked for.
    pub fn window_len(&self) -> usize {
        self.window.unwrap_or(24)
    }

    /// The series of a CSV `--data` (its `--columns`), or `None` for images.
    pub fn series(&self) -> crate::Result<Option<Series>> {
        if !is_csv(&self.data) {
            return Ok(None);
        }
        let cols: Vec<&str> = self.columns.iter().map(String::as_str).collect();
        Series::read(&self.data, &cols)
            .map(Some)
            .map_err(|e| e.to_string())
    }
}

fn is_csv(p: &Path) -> bool {
    p.extension().is_some_and(|e| e.eq_ignore_ascii_case("csv"))
}

/// `--color`.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum ColorArg {
    /// One channel.
    Gray,
    /// Three channels.
    Rgb,
}

/// `--resize`.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum ResizeArg {
    /// Resize (bilinear, aspect ratio not kept).
    Stretch,
    /// Refuse, naming the file.
    Error,
}

fn parse_size(s: &str) -> Result<(u32, u32), String> {
    let bad = || format!("'{s}' is not HxW (e.g. 28x28)");
    let (h, w) = s.split_once(['x', 'X']).ok_or_else(bad)?;
    let (h, w): (u32, u32) = (
        h.trim().parse().map_err(|_| bad())?,
        w.trim().parse().map_err(|_| bad())?,
    );
    if h == 0 || w == 0 || h > 4096 || w > 4096 {
        return Err(format!("{s}: each side must be 1 to 4096"));
    }
    Ok((h, w))
}

impl DataArgs {
    /// How image folders are read: these flags over the recipe's `[data]`.
    pub fn folder(&self, recipe: &DataConfig) -> FolderOptions {
        FolderOptions {
            size: self.image_size.or(recipe.image_size.map(|[h, w]| (h, w))),
            color: match self.color {
                Some(ColorArg::Gray) => Some(Color::Gray),
                Some(ColorArg::Rgb) => Some(Color::Rgb),
                None => recipe.color,
            },
            strict_size: match self.resize {
                Some(r) => matches!(r, ResizeArg::Error),
                None => recipe.resize == Resize::Error,
            },
        }
    }
}

/// How sample values become model units, decided from the training data and recorded in the
/// model as its preprocessing.
fn scaling(s: &Samples) -> (f32, f32, String) {
    if s.pixels {
        return (1.0 / 255.0, 0.0, "pixels / 255".into());
    }
    let (lo, hi) = s
        .raw
        .iter()
        .fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), &v| {
            (a.min(v), b.max(v))
        });
    if lo >= 0.0 && hi <= 1.0 {
        (
            1.0,
            0.0,
            "values already in [0, 1], used as they are".into(),
        )
    } else if hi > lo {
        let scale = 1.0 / (hi - lo);
        (
            scale,
            -lo * scale,
            format!("values {lo}..{hi} mapped to [0, 1]"),
        )
    } else {
        (1.0, -lo, format!("every value is {lo}; shifted to 0"))
    }
}

/// The samples the arguments describe (images and arrays; not a series), with their labels,
/// restricted to the `--normal` classes.
fn samples(a: &DataArgs, folder: FolderOptions) -> crate::Result<Samples> {
    let how = Reading {
        folder,
        model: None,
        test: false,
    };
    let mut s = input::read(&a.data, &how)?;
    if let Some(p) = &a.labels {
        input::attach_labels(&mut s, p)?;
    }
    if !a.normal.is_empty() {
        let keep = s.normal_classes(&a.normal, &a.data)?;
        s = s.select(&keep)?;
    }
    Ok(s)
}

/// Loads the dataset the arguments describe; `folder` says how image folders are read.
/// Returns it with notes for the user (how values were scaled, images resized).
pub fn load_noted(a: &DataArgs, folder: FolderOptions) -> crate::Result<(Dataset, Vec<String>)> {
    let (d, notes) = if let Some(s) = a.series()? {
        (Definition::new(a, &s, 0.0)?.normal(&s)?, Vec::new())
    } else {
        let mut s = samples(a, folder)?;
        let (scale, offset, how) = scaling(&s);
        let mut notes = std::mem::take(&mut s.notes);
        notes.push(format!("scaling: {how}"));
        let d = Dataset {
            shape: s.shape,
            // Pixels divide exactly as the trainer's IDX reader does: the same bits.
            x: if s.pixels {
                s.raw.iter().map(|v| v / 255.0).collect()
            } else {
                s.raw.iter().map(|v| v * scale + offset).collect()
            },
            labels: s.labels,
            scale: vec![scale],
            offset: vec![offset],
        };
        (d, notes)
    };
    if d.is_empty() {
        return Err(format!("{}: no samples to train on", a.data.display()));
    }
    Ok((d, notes))
}

/// How `export` and `bench` read a checkpoint's image folders: at the model's size and
/// colour, as training made them.
pub fn folder_for(shape: [usize; 3]) -> FolderOptions {
    Reading::for_model(shape).folder
}

/// The samples `aedge train` held out for validation, recorded beside the checkpoint so
/// `aedge export` calibrates the anomaly threshold on normal samples the training never saw.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq)]
pub struct Holdout {
    /// Share of the samples held out.
    pub fraction: f32,
    /// Seed of the split.
    pub seed: u64,
    /// Samples in the whole set.
    pub samples: usize,
    /// FNV-1a of the whole set's values: the split applies to this data only.
    pub fingerprint: u32,
}

impl Holdout {
    /// The file name inside the checkpoint directory.
    pub const FILE: &'static str = "holdout.json";

    /// The split of `d` that `train` makes.
    pub fn new(d: &Dataset, fraction: f32) -> Holdout {
        Holdout {
            fraction,
            seed: 1,
            samples: d.len(),
            fingerprint: fingerprint(d),
        }
    }

    /// (training, held-out) parts of `d`.
    pub fn split(&self, d: &Dataset) -> (Dataset, Dataset) {
        d.split(self.fraction, self.seed)
    }

    /// Whether `d` is the data this split was made of.
    pub fn matches(&self, d: &Dataset) -> bool {
        self.samples == d.len() && self.fingerprint == fingerprint(d)
    }

    /// Writes the record into the checkpoint directory `dir`.
    pub fn save(&self, dir: &Path) -> crate::Result<()> {
        save_record(dir, Self::FILE, self)
    }

    /// The record in the checkpoint directory `dir`, if `train` wrote one.
    pub fn load(dir: &Path) -> crate::Result<Option<Holdout>> {
        load_record(dir, Self::FILE)
    }
}

/// The recipe's `[score]` metric, kept beside the checkpoint so `export` records it by
/// default.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScoreRecord {
    /// The anomaly score the recipe asks for.
    pub metric: ScoreMetric,
}

impl ScoreRecord {
    /// The file name inside the checkpoint directory.
    pub const FILE: &'static str = "score.json";

    /// Writes the record into `dir`, or removes an earlier run's when the recipe names none.
    pub fn keep(dir: &Path, metric: Option<ScoreMetric>) -> crate::Result<()> {
        match metric {
            Some(metric) => save_record(dir, Self::FILE, &ScoreRecord { metric }),
            None => match std::fs::remove_file(dir.join(Self::FILE)) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    Err(format!("{}: {e}", dir.join(Self::FILE).display()))
                }
                _ => Ok(()),
            },
        }
    }

    /// The record in the checkpoint directory `dir`, if `train` wrote one.
    pub fn load(dir: &Path) -> crate::Result<Option<ScoreRecord>> {
        load_record(dir, Self::FILE)
    }
}

/// Writes `record` as JSON to `dir/file` (a record `train` keeps beside its checkpoint).
pub fn save_record<T: Serialize>(dir: &Path, file: &str, record: &T) -> crate::Result<()> {
    let json = serde_json::to_vec_pretty(record).map_err(|e| e.to_string())?;
    let p = dir.join(file);
    aedge_runtime::fs::write_atomic(&p, &json).map_err(|e| format!("{}: {e}", p.display()))
}

/// The JSON record `dir/file`, or `None` when there is none.
pub fn load_record<T: serde::de::DeserializeOwned>(
    dir: &Path,
    file: &str,
) -> crate::Result<Option<T>> {
    let p = dir.join(file);
    match std::fs::read(&p) {
        Ok(b) => serde_json::from_slice(&b)
            .map(Some)
            .map_err(|e| format!("{}: {e}", p.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("{}: {e}", p.display())),
    }
}

/// FNV-1a of the values' bit patterns: which data a record was made of.
pub fn fingerprint_values(v: &[f32]) -> u32 {
    aedge_runtime::fnv1a(v.iter().flat_map(|x| x.to_bits().to_le_bytes()))
}

fn fingerprint(d: &Dataset) -> u32 {
    fingerprint_values(&d.x)
}
