//! Parity at every export hop, printed and written as JSON: runtime f32 against burn, and
//! runtime f16 / int8 against runtime f32 (reconstruction PSNR, agreement of the anomaly
//! verdicts, AUROC change where labels exist), for the files
//! [`aedge_runtime::precisions::export_precisions`] writes.

use crate::data::Dataset;
use crate::model::AutoEncoder;
use aedge_runtime::calibrate::RangeMethod;
use aedge_runtime::metrics::{auroc, max_abs_diff, psnr};
use aedge_runtime::precisions::{peak_of, run_samples, Exported};
use aedge_runtime::{AlignedBytes, Model};
use burn::module::Module;
use burn::tensor::{Device, Tensor, TensorData};
use serde::Serialize;

/// How one reduced precision compares with the runtime's f32.
#[derive(Clone, Debug, Serialize)]
pub struct PrecisionParity {
    /// "f16" or "int8".
    pub precision: String,
    /// Worst reconstruction PSNR against f32 over the samples, in dB.
    pub psnr_db_min: f64,
    /// Mean reconstruction PSNR against f32, in dB.
    pub psnr_db_mean: f64,
    /// Largest absolute difference from f32 over all values.
    pub max_abs_diff: f32,
    /// Fraction of samples (normal and, when labelled, anomalous) given the same verdict as
    /// f32 against the model's threshold.
    pub verdict_agreement: f64,
    /// AUROC of the reconstruction error as an anomaly score, when labels exist.
    pub auroc: Option<f64>,
    /// This AUROC minus f32's.
    pub auroc_delta: Option<f64>,
}

/// PSNR of one int8 range method.
#[derive(Clone, Debug, Serialize)]
pub struct RangeCandidate {
    /// "minmax" or "percentile(99.99)".
    pub method: String,
    /// Mean int8-vs-f32 PSNR in dB.
    pub psnr_db_mean: f64,
}

/// Parity of one exported model.
#[derive(Clone, Debug, Serialize)]
pub struct ParityReport {
    /// Model name.
    pub model: String,
    /// Samples compared.
    pub samples: usize,
    /// Largest |runtime f32 − burn| over all reconstructed values.
    pub f32_vs_burn_max_abs: f32,
    /// Whether that is within 1e-5.
    pub f32_vs_burn_ok: bool,
    /// PSNR peak: the value range of the f32 reconstructions.
    pub psnr_peak: f32,
    /// The model's anomaly threshold.
    pub threshold: f32,
    /// Where the anomaly labels come from, if any.
    pub labels: Option<String>,
    /// AUROC of the f32 model, when labels exist.
    pub f32_auroc: Option<f64>,
    /// f16 weights against f32.
    pub f16: PrecisionParity,
    /// int8 against f32.
    pub int8: PrecisionParity,
    /// The int8 activation range method chosen (the higher mean PSNR).
    pub int8_ranges: String,
    /// Every range method tried.
    pub int8_candidates: Vec<RangeCandidate>,
}

impl ParityReport {
    /// A few lines for a terminal.
    pub fn summary(&self) -> String {
        let line = |p: &PrecisionParity| {
            format!(
                "  {:<4} vs f32: PSNR min {:.1} dB, mean {:.1} dB; verdicts agree {:.1}%{}",
                p.precision,
                p.psnr_db_min,
                p.psnr_db_mean,
                100.0 * p.verdict_agreement,
                p.auroc_delta
                    .map(|d| format!("; AUROC {:.4} ({d:+.4})", p.auroc.unwrap_or(f64::NAN)))
                    .unwrap_or_default()
            )
        };
        format!(
            "parity of {} on {} samples:\n  f32  vs burn: max |diff| {:.2e} ({}){}\n{}\n{}\n  int8 ranges: {} (candidates: {})",
            self.model,
            self.samples,
            self.f32_vs_burn_max_abs,
            if self.f32_vs_burn_ok { "ok, <= 1e-5" } else { "ABOVE 1e-5" },
            self.f32_auroc
                .map(|a| format!("; AUROC {a:.4} ({})", self.labels.as_deref().unwrap_or("")))
                .unwrap_or_default(),
            line(&self.f16),
            line(&self.int8),
            self.int8_ranges,
            self.int8_candidates
                .iter()
                .map(|c| format!("{} {:.1} dB", c.method, c.psnr_db_mean))
                .collect::<Vec<_>>()
                .join(", ")
        )
    }
}

/// burn's reconstructions (model units) of the samples `idx` of `data`, in inference mode.
pub fn burn_reconstructions(
    model: &AutoEncoder,
    data: &Dataset,
    idx: &[usize],
    device: &Device,
) -> Vec<Vec<f32>> {
    let plain = device.clone().without_autodiff();
    let m = model.valid();
    let d = data.dim();
    let mut out = Vec::with_capacity(idx.len());
    for chunk in idx.chunks(64) {
        let flat: Vec<f32> = chunk
            .iter()
            .flat_map(|&i| data.sample(i).to_vec())
            .collect();
        let x = Tensor::<2>::from_data(TensorData::new(flat, [chunk.len(), d]), &plain);
        let y: Vec<f32> = m
            .reconstruct(x)
            .into_data()
            .convert::<f32>()
            .try_to_vec()
            .unwrap_or_default();
        out.extend(y.chunks(d).map(<[f32]>::to_vec));
    }
    out
}

/// The largest difference between paired reconstructions.
fn largest_diff(a: &[Vec<f32>], b: &[Vec<f32>]) -> f32 {
    a.iter()
        .zip(b)
        .map(|(x, y)| max_abs_diff(x, y))
        .fold(0.0, f32::max)
}

fn method_name(m: RangeMethod) -> String {
    match m {
        RangeMethod::MinMax => "minmax".into(),
        RangeMethod::Percentile(p) => format!("percentile({p})"),
    }
}

/// Samples with anomaly labels.
#[derive(Clone, Copy, Debug)]
pub struct Labelled<'a> {
    /// Raw samples.
    pub samples: &'a [Vec<f32>],
    /// `true` for anomalies.
    pub anomalous: &'a [bool],
    /// Where the labels come from, for the report.
    pub source: &'a str,
}

/// Compares the exported files on `samples` (raw units; normal data) and, when given,
/// `labelled` samples with anomaly labels (`labels` says where they come from). `burn` holds
/// burn's reconstructions of `samples`, in model units.
pub fn report(
    name: &str,
    files: &Exported,
    samples: &[Vec<f32>],
    burn: &[Vec<f32>],
    labelled: Option<Labelled<'_>>,
) -> Result<ParityReport, String> {
    // One f32 pass over normal and labelled samples; the first `samples.len()` are normal.
    let all: Vec<Vec<f32>> = samples
        .iter()
        .cloned()
        .chain(labelled.iter().flat_map(|l| l.samples.iter().cloned()))
        .collect();
    let f32_all = run_samples(&files.f32, &all).map_err(|e| e.to_string())?;
    let f32_recon = &f32_all.recon[..samples.len()];
    let f32_vs_burn = largest_diff(f32_recon, burn);
    let peak = peak_of(f32_recon);
    let threshold = {
        let m = AlignedBytes::from(files.f32.clone());
        Model::parse(&m).map_err(|e| e.to_string())?.threshold()
    };
    // Verdicts over normal and labelled samples together; AUROC over the labelled ones.
    let f32_auroc = labelled.and_then(|l| {
        let errs = &f32_all.errors[samples.len()..samples.len() + l.samples.len()];
        auroc(errs, l.anomalous)
    });
    let compare = |p: &str, bytes: &[u8]| -> Result<PrecisionParity, String> {
        let q = run_samples(bytes, &all).map_err(|e| e.to_string())?;
        let n = samples.len();
        let psnrs: Vec<f64> = q.recon[..n]
            .iter()
            .zip(f32_recon)
            .map(|(a, b)| psnr(b, a, peak))
            .collect();
        let max_abs = largest_diff(&q.recon[..n], f32_recon);
        let agree = q
            .verdicts
            .iter()
            .zip(&f32_all.verdicts)
            .filter(|(a, b)| a == b)
            .count() as f64
            / all.len().max(1) as f64;
        let au = labelled.and_then(|l| auroc(&q.errors[n..n + l.samples.len()], l.anomalous));
        Ok(PrecisionParity {
            precision: p.into(),
            psnr_db_min: psnrs.iter().copied().fold(f64::INFINITY, f64::min),
            psnr_db_mean: psnrs.iter().sum::<f64>() / n.max(1) as f64,
            max_abs_diff: max_abs,
            verdict_agreement: agree,
            auroc: au,
            auroc_delta: au.zip(f32_auroc).map(|(a, b)| a - b),
        })
    };
    Ok(ParityReport {
        model: name.into(),
        samples: samples.len(),
        f32_vs_burn_max_abs: f32_vs_burn,
        f32_vs_burn_ok: f32_vs_burn <= 1e-5,
        psnr_peak: peak,
        threshold,
        labels: labelled.map(|l| l.source.to_string()),
        f32_auroc,
        f16: compare("f16", &files.f16)?,
        int8: compare("int8", &files.int8)?,
        int8_ranges: method_name(files.int8_ranges),
        int8_candidates: files
            .candidates
            .iter()
            .map(|&(m, p)| RangeCandidate {
                method: method_name(m),
                psnr_db_mean: p,
            })
            .collect(),
    })
}
