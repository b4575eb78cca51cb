//! Training data for `train` and `export`: IDX images (optionally restricted to some labels,
//! for one-class anomaly models) or a CSV series cut into standardised windows of its normal
//! stretch (see [`crate::series`]).

use crate::series::Definition;
use aedge_trainer::data::{read_labels, Dataset, Images, Series};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Where training data comes from.
#[derive(clap::Args, Clone)]
pub struct DataArgs {
    /// IDX images (pixels 0–255) or a CSV series (numeric columns).
    #[arg(long)]
    pub data: PathBuf,
    /// IDX labels for the images; with --normal, keep only those classes.
    #[arg(long)]
    pub labels: Option<PathBuf>,
    /// Classes to keep (one-class anomaly training), e.g. 1 or 0,6.
    #[arg(long, value_delimiter = ',', requires = "labels")]
    pub normal: Vec<u8>,
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
    /// CSV series: rows between two scored windows (1 scores every row).
    #[arg(long, default_value_t = 1)]
    pub stride: usize,
    /// CSV series: a window's error is that of its newest N rows, the rest of the window
    /// their context (1: each row's score is about that row; the window length: about the
    /// whole window).
    #[arg(long, default_value_t = 1)]
    pub tail: usize,
}

impl DataArgs {
    /// Arguments for `data` alone, with every default.
    pub fn of(data: PathBuf) -> DataArgs {
        DataArgs {
            data,
            labels: None,
            normal: Vec::new(),
            window: None,
            columns: Vec::new(),
            normal_part: 0.15,
            stride: 1,
            tail: 1,
        }
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

/// Loads the dataset the arguments describe.
pub fn load(a: &DataArgs) -> crate::Result<Dataset> {
    let d = if let Some(s) = a.series()? {
        Definition::new(a, &s, 0.0)?.normal(&s)?
    } else {
        let im = Images::read(&a.data).map_err(|e| e.to_string())?;
        let labels = match &a.labels {
            Some(p) => {
                let l = read_labels(p).map_err(|e| e.to_string())?;
                if l.len() != im.count {
                    return Err(format!(
                        "{}: {} labels for {} images",
                        p.display(),
                        l.len(),
                        im.count
                    ));
                }
                Some(l)
            }
            None => None,
        };
        let d = Dataset::from_images(&im, labels);
        if a.normal.is_empty() {
            d
        } else {
            d.with_labels(&a.normal)
        }
    };
    if d.is_empty() {
        return Err(format!("{}: no samples to train on", a.data.display()));
    }
    Ok(d)
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
