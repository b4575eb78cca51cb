//! `aedge eval`: how a model does on a dataset: the distribution of its reconstruction
//! errors, how many samples it flags, the AUROC when labels say which are anomalies, and with
//! `--noise` the denoising PSNR against the clean samples. Its subcommands run published
//! benchmark protocols end to end (train, export, run on aedge-runtime, score, report).

mod denoising;
mod nab;
mod one_class;
mod protocol;
mod recipes;

use crate::{Out, Result};
use aedge_runtime::metrics::psnr;
use aedge_runtime::{AlignedBytes, Model};
use aedge_trainer::corrupt::Corruption;
use serde_json::json;

/// The `p`-th percentile of the sorted errors, as the threshold calibration computes it.
fn percentile(sorted: &[f32], p: f32) -> f32 {
    aedge_runtime::metrics::percentile(sorted, p).unwrap_or(f32::NAN)
}

/// Arguments of `aedge eval`: a model and samples, or a protocol.
#[derive(clap::Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct Args {
    #[command(subcommand)]
    protocol: Option<Protocol>,
    #[command(flatten)]
    scoring: Option<super::Scoring>,
    /// Also measure denoising: add gaussian noise of this σ (in model units, clipped to
    /// [0, 1]) and compare the model's output with the clean sample.
    #[arg(long)]
    noise: Option<f32>,
}

/// The benchmark protocols.
#[derive(clap::Subcommand)]
enum Protocol {
    /// Fashion-MNIST one-class anomaly detection (Ruff et al. 2018): AUROC per class, f32
    /// and int8, beside the published figures.
    OneClass(one_class::Args),
    /// Denoising (gaussian noise 0.5, clipped) on Fashion-MNIST and MNIST: PSNR of f32 and
    /// int8 beside the noisy input, a 3×3 median filter and the published figures.
    Denoising(denoising::Args),
    /// The Numenta Anomaly Benchmark: 58 series, each scored causally by a model trained on
    /// its first 15 %, with NAB's three scoring profiles beside the scoreboard.
    Nab(nab::Args),
    /// The seed and Keras-blog recipes trained side by side: validation loss per model.
    Recipes(recipes::Args),
}

/// Runs the subcommand.
pub fn run(a: Args, out: Out) -> Result<()> {
    match (a.protocol, a.scoring) {
        (Some(Protocol::OneClass(p)), _) => one_class::run(p, out),
        (Some(Protocol::Denoising(p)), _) => denoising::run(p, out),
        (Some(Protocol::Recipes(p)), _) => recipes::run(p, out),
        (Some(Protocol::Nab(p)), _) => nab::run(p, out),
        (None, Some(s)) => evaluate(&s, a.noise, out),
        (None, None) => Err("give a model and samples, or a protocol (aedge eval --help)".into()),
    }
}

/// A model on samples.
fn evaluate(scoring: &super::Scoring, noise: Option<f32>, out: Out) -> Result<()> {
    let bytes = scoring.model()?;
    let m = Model::parse(&bytes).map_err(|e| e.to_string())?;
    let inputs = scoring.read(&m, None)?;
    for n in &inputs.notes {
        out.line(n);
    }
    let samples = &inputs.samples;
    let errors: Vec<f32> = super::score_all(&m, samples)?
        .iter()
        .map(|s| s.error)
        .collect();
    let flagged = errors.iter().filter(|&&e| e > m.threshold()).count();
    let mut sorted = errors.clone();
    sorted.sort_by(f32::total_cmp);
    let au = inputs.auroc(&errors)?;
    let mut arena = AlignedBytes::zeroed(m.arena_len());
    let denoise = match noise {
        Some(sigma) if !(sigma.is_finite() && sigma >= 0.0) => {
            return Err("--noise must be a non-negative number".into())
        }
        Some(sigma) => {
            // Model units are raw × scale + offset; compare there, with peak 1.
            let scaling = m.scaling();
            let (mut p_noisy, mut p_model) = (0.0, 0.0);
            let mut rng = aedge_runtime::rng::SplitMix(17);
            let noise = Corruption::Gaussian {
                factor: sigma,
                clip: true,
            };
            for (k, x) in samples.iter().enumerate() {
                let mut clean = vec![0.0; x.len()];
                scaling.apply(x, &mut clean);
                let mut noisy = clean.clone();
                noise.apply(&mut noisy, &mut rng);
                let raw: Vec<f32> = noisy
                    .iter()
                    .enumerate()
                    .map(|(i, &v)| scaling.to_raw(i, v))
                    .collect();
                let mut y = vec![0.0; m.output_shape().len()];
                m.reconstruct(&raw, &mut y, &mut arena)
                    .map_err(|e| format!("sample {k}: {e}"))?;
                p_noisy += psnr(&clean, &noisy, 1.0);
                p_model += psnr(&clean, &y, 1.0);
            }
            let n = samples.len() as f64;
            Some((p_noisy / n, p_model / n))
        }
        None => None,
    };
    out.json(json!({
        "model": m.name(),
        "samples": samples.len(),
        "errors": {"mean": errors.iter().map(|&e| e as f64).sum::<f64>() / errors.len() as f64,
                   "p50": percentile(&sorted, 50.0), "p95": percentile(&sorted, 95.0),
                   "p99": percentile(&sorted, 99.0), "max": sorted[sorted.len() - 1]},
        "threshold": m.threshold(),
        "flagged": flagged,
        "auroc": au,
        "denoising_psnr_db": denoise.map(|(n, y)| json!({"noisy": n, "model": y})),
    }));
    out.line(format!(
        "{} on {} samples: error p50 {:.5}, p95 {:.5}, p99 {:.5}, max {:.5}; {flagged} above the threshold {}",
        m.name(),
        samples.len(),
        percentile(&sorted, 50.0),
        percentile(&sorted, 95.0),
        percentile(&sorted, 99.0),
        sorted[sorted.len() - 1],
        m.threshold()
    ));
    if let Some(v) = au {
        out.line(format!("AUROC {v:.4}"));
    }
    if let Some((n, y)) = denoise {
        out.line(format!("denoising PSNR: noisy {n:.2} dB, model {y:.2} dB"));
    }
    Ok(())
}
