//! One module per subcommand.

pub mod bench;
pub mod denoise;
pub mod eval;
pub mod export;
pub mod import;
pub mod inspect;
pub mod quickstart;
pub mod score;
pub mod train;

use aedge_runtime::{AlignedBytes, Model, Score};
use std::path::{Path, PathBuf};

/// A model and the samples to score with it, optionally labelled: what `score` and `eval`
/// take.
#[derive(clap::Args)]
pub struct Scoring {
    /// The .aedge model.
    model: PathBuf,
    /// Samples: IDX images, a PNG, raw f32 (.f32) or CSV rows, in sensor units.
    inputs: PathBuf,
    /// IDX labels of the inputs; with --normal, gives the AUROC.
    #[arg(long, requires = "normal")]
    labels: Option<PathBuf>,
    /// Labels that count as normal (e.g. 1 or 0,6); all others are anomalies.
    #[arg(long, value_delimiter = ',', requires = "labels")]
    normal: Vec<u8>,
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

    /// The samples for `m`, at most `limit` of them: for a series model the windows of the
    /// CSV series it scores, else one sample per image, file or row.
    pub fn samples(&self, m: &Model, limit: Option<usize>) -> crate::Result<Vec<Vec<f32>>> {
        let mut samples = if m.series().is_some() {
            let s = crate::series::read_for(m, &self.inputs)?;
            crate::series::raw_windows(m, &s)?
        } else {
            crate::input::load(&self.inputs, m.input_shape().len())?
        };
        if let Some(n) = limit {
            samples.truncate(n.max(1));
        }
        Ok(samples)
    }

    /// The AUROC of `errors` when labels were given.
    pub fn auroc(&self, errors: &[f32]) -> crate::Result<Option<f64>> {
        match &self.labels {
            Some(path) => auroc_from_labels(path, &self.normal, errors).map(Some),
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

/// AUROC of `errors` (one per sample, in order) against the IDX `labels` file: labels in
/// `normal` are normal, all others anomalies.
pub fn auroc_from_labels(labels: &Path, normal: &[u8], errors: &[f32]) -> crate::Result<f64> {
    let l = aedge_trainer::data::read_labels(labels).map_err(|e| e.to_string())?;
    if l.len() < errors.len() {
        return Err(format!(
            "{}: {} labels for {} samples",
            labels.display(),
            l.len(),
            errors.len()
        ));
    }
    let anomalous: Vec<bool> = l[..errors.len()]
        .iter()
        .map(|x| !normal.contains(x))
        .collect();
    aedge_runtime::metrics::auroc(errors, &anomalous)
        .ok_or_else(|| "AUROC needs both normal and anomalous samples".into())
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
    /// Mean squared error in model units (the default: unlike BCE it does not grow with an
    /// image's brightness).
    Mse,
    /// Mean absolute error in model units.
    Mae,
    /// Mean binary cross-entropy (inputs in [0, 1]).
    Bce,
}

impl From<MetricArg> for aedge_runtime::Metric {
    fn from(m: MetricArg) -> Self {
        match m {
            MetricArg::Mse => aedge_runtime::Metric::Mse,
            MetricArg::Mae => aedge_runtime::Metric::Mae,
            MetricArg::Bce => aedge_runtime::Metric::Bce,
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
