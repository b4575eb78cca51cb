//! One graph written in every precision: f32, f16 weights and int8, with the int8 range
//! method chosen by how close its reconstructions come to f32's.

use crate::calibrate::{ranges, threshold, RangeMethod};
use crate::error::Error;
use crate::ir::Graph;
use crate::latent_fit;
use crate::metrics::psnr;
use crate::{AlignedBytes, Metric, Model, Precision, ScoreParts, ThresholdRule};
use alloc::vec;
use alloc::vec::Vec;

/// The percentile the percentile range method keeps (both tails).
pub const RANGE_PERCENTILE: f32 = 99.99;

/// The range methods [`export_precisions`] tries by default: min/max and percentile.
pub const RANGE_METHODS: [RangeMethod; 2] = [
    RangeMethod::MinMax,
    RangeMethod::Percentile(RANGE_PERCENTILE),
];

/// What a model file makes of a list of samples.
pub struct Outputs {
    /// Reconstructions.
    pub recon: Vec<Vec<f32>>,
    /// Reconstruction errors (the model's metric).
    pub errors: Vec<f32>,
    /// Whether each error is above the model's threshold.
    pub verdicts: Vec<bool>,
}

/// Runs the model file `bytes` over `samples` (raw units).
pub fn run_samples<S: AsRef<[f32]>>(bytes: &[u8], samples: &[S]) -> Result<Outputs, Error> {
    let mut r = Outputs {
        recon: Vec::with_capacity(samples.len()),
        errors: Vec::with_capacity(samples.len()),
        verdicts: Vec::with_capacity(samples.len()),
    };
    for_each_sample(bytes, samples, |m, x, arena| {
        let mut y = vec![0.0; m.output_shape().len()];
        m.reconstruct(x, &mut y, arena)?;
        let s = m.score(x, arena)?;
        r.recon.push(y);
        r.errors.push(s.error);
        r.verdicts.push(s.anomalous);
        Ok(())
    })?;
    Ok(r)
}

/// Parses the model file `bytes` once and calls `f` with it, each sample and one arena.
fn for_each_sample<S: AsRef<[f32]>>(
    bytes: &[u8],
    samples: &[S],
    mut f: impl FnMut(&Model, &[f32], &mut [u8]) -> Result<(), Error>,
) -> Result<(), Error> {
    let file = AlignedBytes::from(bytes.to_vec());
    let m = Model::parse(&file)?;
    let mut arena = AlignedBytes::zeroed(m.arena_len());
    samples
        .iter()
        .try_for_each(|x| f(&m, x.as_ref(), &mut arena))
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

impl Exported {
    /// The files with their precisions, f32 first.
    pub fn files(&self) -> [(Precision, &[u8]); 3] {
        [
            (Precision::F32, &self.f32),
            (Precision::F16, &self.f16),
            (Precision::Int8, &self.int8),
        ]
    }

    fn bytes_mut(&mut self, p: Precision) -> &mut Vec<u8> {
        match p {
            Precision::F32 => &mut self.f32,
            Precision::F16 => &mut self.f16,
            Precision::Int8 => &mut self.int8,
        }
    }
}

/// The value range of reconstructions: the peak their PSNR is measured against.
pub fn peak_of(recon: &[Vec<f32>]) -> f32 {
    let (lo, hi) = recon
        .iter()
        .flatten()
        .fold((f32::INFINITY, f32::NEG_INFINITY), |(l, h), &v| {
            (l.min(v), h.max(v))
        });
    (hi - lo).max(1e-6)
}

/// Writes the graph in f32, f16 and int8. int8 is calibrated on `calib` (raw units) with
/// each of `methods`; the one whose int8 reconstructions of `select` are closest to f32
/// (highest mean PSNR) is kept — with one method, that one.
pub fn export_precisions<S: AsRef<[f32]>, T: AsRef<[f32]>>(
    graph: &Graph,
    calib: &[S],
    select: &[T],
    methods: &[RangeMethod],
) -> Result<Exported, Error> {
    let f32b = graph.to_aedge(Precision::F32)?;
    let f16b = graph.to_aedge(Precision::F16)?;
    let mut best: Option<(Vec<u8>, RangeMethod, f64)> = None;
    let mut candidates = Vec::new();
    if let [method] = methods {
        let r = ranges(graph, calib.iter().map(|v| v.as_ref()), *method)?;
        best = Some((graph.to_aedge_int8(&r)?, *method, f64::NAN));
    } else {
        let reference = run_samples(&f32b, select)?;
        let peak = peak_of(&reference.recon);
        for &method in methods {
            let r = ranges(graph, calib.iter().map(|v| v.as_ref()), method)?;
            let bytes = graph.to_aedge_int8(&r)?;
            let q = run_samples(&bytes, select)?;
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
    }
    let (int8, method, _) = best.ok_or(Error::Unsupported("no int8 range method given"))?;
    Ok(Exported {
        f32: f32b,
        f16: f16b,
        int8,
        int8_ranges: method,
        candidates,
    })
}

/// Gives each of `files` a threshold from its own errors on `held_out` normal samples (raw
/// units) under `rule`: an int8 model's errors differ from f32's, so one threshold copied
/// across precisions would flag a different share of normal data on each. For a latent
/// metric each file first gets its own Gaussian of the codes of `normal` samples (those the
/// model was trained on will do) and, for
/// [`crate::Metric::MseLatent`], the standardisation of its two parts on
/// `held_out`. `graph` and `calib` must be those the files were written from (int8 is
/// requantized with the same range method, so its weights and ranges do not change).
/// `graph` keeps the f32 threshold and Gaussian.
pub fn calibrate_thresholds<S: AsRef<[f32]>, N: AsRef<[f32]>, T: AsRef<[f32]>>(
    graph: &mut Graph,
    files: &mut Exported,
    calib: &[S],
    normal: &[N],
    held_out: &[T],
    rule: ThresholdRule,
) -> Result<(), Error> {
    let int8_ranges = ranges(graph, calib.iter().map(|v| v.as_ref()), files.int8_ranges)?;
    let write = |graph: &Graph, precision| match precision {
        Precision::Int8 => graph.to_aedge_int8(&int8_ranges),
        p => graph.to_aedge(p),
    };
    for precision in [Precision::Int8, Precision::F16, Precision::F32] {
        if graph.metric.uses_latent() {
            graph.latent = None;
            let codes = encode_samples(&write(graph, precision)?, normal)?;
            graph.latent = Some(latent_fit::fit(&codes, graph.latent_components)?);
            if graph.metric == Metric::MseLatent {
                let parts = score_parts(&write(graph, precision)?, held_out)?;
                let (rm, rs) = mean_std(parts.iter().map(|p| p.reconstruction.unwrap_or(0.0)));
                let (lm, ls) = mean_std(parts.iter().map(|p| p.latent.unwrap_or(0.0)));
                if let Some(l) = graph.latent.as_mut() {
                    l.mix = [rm, 1.0 / rs, lm, 1.0 / ls];
                }
            }
        }
        let errors = run_samples(&write(graph, precision)?, held_out)?.errors;
        (graph.threshold, graph.errors) = threshold(&errors, rule)?;
        graph.threshold_rule = rule;
        *files.bytes_mut(precision) = write(graph, precision)?;
    }
    Ok(())
}

/// The codes a model file gives `samples` (raw units).
fn encode_samples<S: AsRef<[f32]>>(bytes: &[u8], samples: &[S]) -> Result<Vec<Vec<f32>>, Error> {
    let mut codes = Vec::with_capacity(samples.len());
    for_each_sample(bytes, samples, |m, x, arena| {
        let mut c = vec![0.0; m.latent_shape().len()];
        m.encode(x, &mut c, arena)?;
        codes.push(c);
        Ok(())
    })?;
    Ok(codes)
}

/// The score parts a model file gives `samples` (raw units).
fn score_parts<S: AsRef<[f32]>>(bytes: &[u8], samples: &[S]) -> Result<Vec<ScoreParts>, Error> {
    let mut parts = Vec::with_capacity(samples.len());
    for_each_sample(bytes, samples, |m, x, arena| {
        parts.push(m.score_parts(x, arena)?);
        Ok(())
    })?;
    Ok(parts)
}

/// Mean and standard deviation (at least 10⁻⁶ of the mean's size, so 1/std is finite).
fn mean_std(v: impl Iterator<Item = f32> + Clone) -> (f32, f32) {
    let n = v.clone().count().max(1) as f64;
    let mean = v.clone().map(|x| x as f64).sum::<f64>() / n;
    let var = v
        .map(|x| (x as f64 - mean) * (x as f64 - mean))
        .sum::<f64>()
        / n;
    let std = libm::sqrt(var).max(1e-6 * mean.abs()).max(1e-12);
    (mean as f32, std as f32)
}
