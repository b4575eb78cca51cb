//! One module per subcommand.

pub mod bench;
pub mod denoise;
pub mod eval;
pub mod export;
pub mod generate;
pub mod import;
pub mod inspect;
pub mod new;
pub mod presets;
pub mod quickstart;
pub mod reconstruct;
pub mod score;
pub mod train;
pub mod validate;

use aedge_runtime::{AlignedBytes, Model, Score};
use std::path::{Path, PathBuf};

/// A model and the samples to score with it, optionally labelled: what `score` and `eval`
/// take.
#[derive(clap::Args)]
pub struct Scoring {
    /// The .aedge model.
    model: PathBuf,
    /// Samples in sensor units: IDX images, .npy/.npz, an image or a folder of images
    /// (sub-folders are classes), an MVTec AD category (its test images), .f32 or CSV rows;
    /// for a series model, the CSV series.
    inputs: PathBuf,
    /// Labels of the inputs (IDX, CSV or .npy; class folders give their own); with
    /// --normal, gives the AUROC.
    #[arg(long)]
    labels: Option<PathBuf>,
    /// Classes that count as normal, by number or folder name (e.g. 1, 0,6 or good; an
    /// MVTec AD test set's is good); all others are anomalies.
    #[arg(long, value_delimiter = ',')]
    normal: Vec<String>,
}

/// The samples a [`Scoring`] names, read for its model.
pub struct Inputs {
    /// One vector per sample, in sensor units.
    pub samples: Vec<Vec<f32>>,
    /// Which samples are anomalies, when labels and the normal classes are known.
    pub anomalous: Option<Vec<bool>>,
    /// Each sample's file, for folders.
    pub files: Vec<PathBuf>,
    /// Each sample's class name (or number), when labelled.
    pub classes: Option<Vec<String>>,
    /// What reading changed (resized images, …).
    pub notes: Vec<String>,
}

impl Scoring {
    /// The samples' path.
    pub fn inputs(&self) -> &Path {
        &self.inputs
    }

    /// The model file, aligned and checked (parse it with [`Model::parse`]).
    pub fn model(&self) -> crate::Result<AlignedBytes> {
        read_model(&self.model)
    }

    /// The samples for `m` with their labels, at most `limit` of them.
    pub fn read(&self, m: &Model, limit: Option<usize>) -> crate::Result<Inputs> {
        if m.series().is_some() {
            if self.labels.is_some() || !self.normal.is_empty() {
                return Err(
                    "a series model scores rows; --labels and --normal are for samples".into(),
                );
            }
            let s = crate::series::read_for(m, &self.inputs)?;
            let mut samples = crate::series::raw_windows(m, &s)?;
            if let Some(n) = limit {
                samples.truncate(n.max(1));
            }
            return Ok(Inputs {
                samples,
                anomalous: None,
                files: Vec::new(),
                classes: None,
                notes: Vec::new(),
            });
        }
        let shape = m.input_shape();
        let shape = [shape.h as usize, shape.w as usize, shape.c as usize];
        let mut s = crate::input::read(&self.inputs, &crate::input::Reading::for_model(shape))?;
        if let Some(p) = &self.labels {
            crate::input::attach_labels(&mut s, p)?;
        }
        let mut normal = self.normal.clone();
        if normal.is_empty() && s.classes.iter().any(|c| c == "good") {
            // The MVTec AD convention: test/good is normal, every other folder a defect.
            normal.push("good".into());
        }
        let anomalous = if normal.is_empty() {
            None
        } else {
            let keep = s.normal_classes(&normal, &self.inputs)?;
            s.labels
                .as_ref()
                .map(|l| l.iter().map(|c| !keep.contains(c)).collect::<Vec<bool>>())
        };
        let classes = s.labels.as_ref().map(|l| {
            l.iter()
                .map(|&c| {
                    s.classes
                        .get(c as usize)
                        .cloned()
                        .unwrap_or_else(|| c.to_string())
                })
                .collect::<Vec<String>>()
        });
        let n = limit.map_or(s.len(), |n| n.max(1).min(s.len()));
        let cut = |v: Vec<String>| v.into_iter().take(n).collect::<Vec<String>>();
        Ok(Inputs {
            samples: (0..n).map(|i| s.sample(i).to_vec()).collect(),
            anomalous: anomalous.map(|a| a.into_iter().take(n).collect()),
            files: s.files.into_iter().take(n).collect(),
            classes: classes.map(cut),
            notes: s.notes,
        })
    }
}

impl Inputs {
    /// The AUROC of `errors` (one per sample) when the samples' classes are known.
    pub fn auroc(&self, errors: &[f32]) -> crate::Result<Option<f64>> {
        match &self.anomalous {
            Some(a) => aedge_runtime::metrics::auroc(errors, &a[..errors.len().min(a.len())])
                .map(Some)
                .ok_or_else(|| "AUROC needs both normal and anomalous samples".into()),
            None => Ok(None),
        }
    }
}

/// Scores every sample; an error names the sample.
pub fn score_all(m: &Model, samples: &[Vec<f32>]) -> crate::Result<Vec<Score>> {
    let mut arena = AlignedBytes::zeroed(m.arena_len());
    samples
        .iter()
        .enumerate()
        .map(|(i, x)| {
            m.score(x, &mut arena)
                .map_err(|e| format!("sample {i}: {e}"))
        })
        .collect()
}

/// Reads a `.aedge` file into aligned memory (parse it with [`Model::parse`]).
pub fn read_model(path: &Path) -> crate::Result<AlignedBytes> {
    let bytes = aedge_runtime::fs::read(path).map_err(|e| e.to_string())?;
    Model::parse(&bytes).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(bytes)
}

/// The anomaly score, as `--metric` names it.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum MetricArg {
    /// Mean squared error in model units (unlike BCE it does not grow with an image's
    /// brightness).
    Mse,
    /// Mean absolute error in model units.
    Mae,
    /// Mean binary cross-entropy (inputs in [0, 1]).
    Bce,
    /// How far the code lies from the normal codes (Mahalanobis distance under a Gaussian
    /// fitted to them at export); runs the encoder only.
    Latent,
    /// MSE and the latent distance, each standardised on held-out normal samples, summed.
    #[value(name = "mse+latent")]
    MseLatent,
}

impl From<MetricArg> for aedge_runtime::Metric {
    fn from(m: MetricArg) -> Self {
        match m {
            MetricArg::Mse => aedge_runtime::Metric::Mse,
            MetricArg::Mae => aedge_runtime::Metric::Mae,
            MetricArg::Bce => aedge_runtime::Metric::Bce,
            MetricArg::Latent => aedge_runtime::Metric::Latent,
            MetricArg::MseLatent => aedge_runtime::Metric::MseLatent,
        }
    }
}

/// How the anomaly threshold follows from the errors of held-out normal samples.
#[derive(clap::Args, Clone, Copy)]
pub struct ThresholdArgs {
    /// The threshold is this percentile of the held-out normal errors.
    #[arg(long, default_value_t = 99.0, conflicts_with = "k_sigma")]
    percentile: f32,
    /// Instead: the threshold is their mean plus K standard deviations.
    #[arg(long, value_name = "K")]
    k_sigma: Option<f32>,
}

impl ThresholdArgs {
    /// The rule, checked.
    pub fn rule(&self) -> crate::Result<aedge_runtime::ThresholdRule> {
        match self.k_sigma {
            Some(k) if k.is_finite() => Ok(aedge_runtime::ThresholdRule::MeanPlusKStd(k)),
            Some(_) => Err("--k-sigma must be a finite number".into()),
            None if (0.0..=100.0).contains(&self.percentile) => {
                Ok(aedge_runtime::ThresholdRule::Percentile(self.percentile))
            }
            None => Err("--percentile must be in [0, 100]".into()),
        }
    }
}

/// The rule in words, for outputs and reports ("p99", "mean + 3σ").
pub fn rule_text(rule: aedge_runtime::ThresholdRule) -> String {
    match rule {
        aedge_runtime::ThresholdRule::Percentile(p) => format!("p{p}"),
        aedge_runtime::ThresholdRule::MeanPlusKStd(k) => format!("mean + {k}σ"),
        aedge_runtime::ThresholdRule::Manual => "set by hand".into(),
    }
}
