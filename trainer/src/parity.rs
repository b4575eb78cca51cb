//! Parity at every export hop, printed and written as JSON: runtime f32 against burn, and
//! runtime f16 / int8 against runtime f32 (reconstruction PSNR, agreement of the anomaly
//! verdicts, AUROC change where labels exist). Also picks the int8 activation ranges (min/max
//! or percentile) that reproduce f32 best for each model.

use crate::data::Dataset;
use crate::model::AutoEncoder;
use aedge_runtime::calibrate::{ranges, RangeMethod};
use aedge_runtime::ir::Graph;
use aedge_runtime::{AlignedBytes, Model, Precision};
use burn::module::Module;
use burn::tensor::{Device, Tensor, TensorData};
use serde::Serialize;

/// The percentile the percentile range method keeps (both tails).
pub const RANGE_PERCENTILE: f32 = 99.99;

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

/// PSNR of `b` against `a` with the given peak, in dB (capped at 200 for identical data).
pub fn psnr(a: &[f32], b: &[f32], peak: f32) -> f64 {
    let mse = a
        .iter()
        .zip(b)
        .map(|(x, y)| ((x - y) as f64).powi(2))
        .sum::<f64>()
        / a.len().max(1) as f64;
    if mse == 0.0 {
        200.0
    } else {
        (10.0 * ((peak as f64).powi(2) / mse).log10()).min(200.0)
    }
}

/// Area under the ROC curve of `scores` (higher = more anomalous) for `labels` (true =
/// anomalous), by the rank-sum formula with ties counted half. `None` without both classes.
pub fn auroc(scores: &[f32], labels: &[bool]) -> Option<f64> {
    let mut v: Vec<(f32, bool)> = scores.iter().copied().zip(labels.iter().copied()).collect();
    v.sort_by(|a, b| a.0.total_cmp(&b.0));
    let pos = v.iter().filter(|x| x.1).count();
    let neg = v.len() - pos;
    if pos == 0 || neg == 0 {
        return None;
    }
    // Average ranks over ties.
    let mut rank_sum = 0.0f64;
    let mut i = 0;
    while i < v.len() {
        let mut j = i;
        while j + 1 < v.len() && v[j + 1].0 == v[i].0 {
            j += 1;
        }
        let avg = (i + j) as f64 / 2.0 + 1.0;
        rank_sum += avg * v[i..=j].iter().filter(|x| x.1).count() as f64;
        i = j + 1;
    }
    Some((rank_sum - (pos * (pos + 1)) as f64 / 2.0) / (pos * neg) as f64)
}

/// Runs a model file over samples: reconstructions and scores.
struct Run {
    recon: Vec<Vec<f32>>,
    errors: Vec<f32>,
    verdicts: Vec<bool>,
}

fn run(bytes: &[u8], samples: &[Vec<f32>]) -> Result<Run, String> {
    let file = AlignedBytes::from(bytes.to_vec());
    let m = Model::parse(&file).map_err(|e| e.to_string())?;
    let mut arena = AlignedBytes::zeroed(m.arena_len());
    let mut r = Run {
        recon: Vec::new(),
        errors: Vec::new(),
        verdicts: Vec::new(),
    };
    for x in samples {
        let mut y = vec![0.0; m.output_shape().len()];
        m.reconstruct(x, &mut y, &mut arena)
            .map_err(|e| e.to_string())?;
        let s = m.score(x, &mut arena).map_err(|e| e.to_string())?;
        r.recon.push(y);
        r.errors.push(s.error);
        r.verdicts.push(s.anomalous);
    }
    Ok(r)
}

/// The three `.aedge` files of a graph and the int8 range method chosen.
pub struct Exported {
    /// f32 file.
    pub f32: Vec<u8>,
    /// f16-weight file.
    pub f16: Vec<u8>,
    /// int8 file (with the better range method).
    pub int8: Vec<u8>,
    /// The range method used for `int8`.
    pub int8_ranges: RangeMethod,
    /// Mean int8-vs-f32 PSNR of every method tried on the selection samples.
    pub candidates: Vec<(RangeMethod, f64)>,
}

fn method_name(m: RangeMethod) -> String {
    match m {
        RangeMethod::MinMax => "minmax".into(),
        RangeMethod::Percentile(p) => format!("percentile({p})"),
    }
}

fn peak_of(recon: &[Vec<f32>]) -> f32 {
    let (lo, hi) = recon
        .iter()
        .flatten()
        .fold((f32::INFINITY, f32::NEG_INFINITY), |(l, h), &v| {
            (l.min(v), h.max(v))
        });
    (hi - lo).max(1e-6)
}

/// Writes the graph in f32, f16 and int8. int8 is calibrated on `calib` (raw units) with
/// min/max and with percentile ranges; the method whose int8 reconstructions of `select`
/// are closer to f32 (higher mean PSNR) is kept.
pub fn export_precisions(
    graph: &Graph,
    calib: &[Vec<f32>],
    select: &[Vec<f32>],
) -> Result<Exported, String> {
    let f32b = graph.to_aedge(Precision::F32).map_err(|e| e.to_string())?;
    let f16b = graph.to_aedge(Precision::F16).map_err(|e| e.to_string())?;
    let reference = run(&f32b, select)?;
    let peak = peak_of(&reference.recon);
    let mut best: Option<(Vec<u8>, RangeMethod, f64)> = None;
    let mut candidates = Vec::new();
    for method in [
        RangeMethod::MinMax,
        RangeMethod::Percentile(RANGE_PERCENTILE),
    ] {
        let r =
            ranges(graph, calib.iter().map(|v| v.as_slice()), method).map_err(|e| e.to_string())?;
        let bytes = graph.to_aedge_int8(&r).map_err(|e| e.to_string())?;
        let q = run(&bytes, select)?;
        let mean = q
            .recon
            .iter()
            .zip(&reference.recon)
            .map(|(a, b)| psnr(b, a, peak))
            .sum::<f64>()
            / select.len().max(1) as f64;
        candidates.push((method, mean));
        if best.as_ref().is_none_or(|b| mean > b.2) {
            best = Some((bytes, method, mean));
        }
    }
    let (int8, method, _) = best.ok_or("no range method")?;
    Ok(Exported {
        f32: f32b,
        f16: f16b,
        int8,
        int8_ranges: method,
        candidates,
    })
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
    let f32_all = run(&files.f32, &all)?;
    let f32_recon = &f32_all.recon[..samples.len()];
    let f32_vs_burn = f32_recon
        .iter()
        .zip(burn)
        .flat_map(|(a, b)| a.iter().zip(b).map(|(x, y)| (x - y).abs()))
        .fold(0.0f32, f32::max);
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
        let q = run(bytes, &all)?;
        let n = samples.len();
        let psnrs: Vec<f64> = q.recon[..n]
            .iter()
            .zip(f32_recon)
            .map(|(a, b)| psnr(b, a, peak))
            .collect();
        let max_abs = q.recon[..n]
            .iter()
            .zip(f32_recon)
            .flat_map(|(a, b)| a.iter().zip(b).map(|(x, y)| (x - y).abs()))
            .fold(0.0f32, f32::max);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auroc_of_known_rankings() {
        let l = [false, false, true, true];
        assert_eq!(auroc(&[0.1, 0.2, 0.3, 0.4], &l), Some(1.0));
        assert_eq!(auroc(&[0.4, 0.3, 0.2, 0.1], &l), Some(0.0));
        assert_eq!(auroc(&[0.5, 0.5, 0.5, 0.5], &l), Some(0.5));
        // One of four positive/negative pairs misordered.
        assert_eq!(auroc(&[0.1, 0.35, 0.3, 0.4], &l), Some(0.75));
        assert_eq!(auroc(&[0.1, 0.2], &[false, false]), None);
    }

    #[test]
    fn psnr_of_known_errors() {
        // MSE 0.01 with peak 1: 20 dB.
        assert!((psnr(&[0.0, 0.0], &[0.1, -0.1], 1.0) - 20.0).abs() < 1e-5);
        assert_eq!(psnr(&[0.3], &[0.3], 1.0), 200.0);
    }
}
