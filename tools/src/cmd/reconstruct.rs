//! `aedge reconstruct` and `aedge encode`: samples through the whole autoencoder, or through
//! its encoder, written as `.npy`, `.npz`, CSV or PNG.

use crate::{input, output, Out, Result};
use aedge_runtime::{AlignedBytes, Model};
use serde_json::json;
use std::path::PathBuf;

/// Arguments of `aedge reconstruct` and `aedge encode`.
#[derive(clap::Args)]
pub struct Args {
    /// The .aedge model.
    model: PathBuf,
    /// Samples in sensor units: IDX images, .npy/.npz, an image or a folder of images,
    /// .f32 or CSV rows.
    inputs: PathBuf,
    /// Output file: .npy, .npz (the array `reconstructions` or `codes`), .csv (one row per
    /// sample) or, for reconstructed images, .png.
    #[arg(short, long)]
    output: PathBuf,
    /// Only the first N samples.
    #[arg(long)]
    limit: Option<usize>,
}

/// What to compute.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// The reconstruction, in sensor units.
    Whole,
    /// The code (latent vector).
    Encoder,
}

/// Runs the subcommand.
pub fn run(a: Args, part: Part, out: Out) -> Result<()> {
    let bytes = super::read_model(&a.model)?;
    let m = Model::parse(&bytes).map_err(|e| e.to_string())?;
    if m.series().is_some() {
        return Err(format!(
            "{} is a series model; aedge score gives its per-row scores",
            m.name()
        ));
    }
    let s = m.input_shape();
    let s = [s.h as usize, s.w as usize, s.c as usize];
    let samples = input::read(&a.inputs, &input::Reading::for_model(s))?;
    for n in &samples.notes {
        out.line(n);
    }
    let n = a
        .limit
        .map_or(samples.len(), |l| l.max(1).min(samples.len()));
    let shape = match part {
        Part::Whole => m.output_shape(),
        Part::Encoder => m.latent_shape(),
    };
    let mut arena = AlignedBytes::zeroed(m.arena_len());
    let mut results = Vec::with_capacity(n);
    for i in 0..n {
        let mut y = vec![0.0; shape.len()];
        let x = samples.sample(i);
        match part {
            Part::Whole => m.denoise(x, &mut y, &mut arena),
            Part::Encoder => m.encode(x, &mut y, &mut arena),
        }
        .map_err(|e| format!("sample {i}: {e}"))?;
        results.push(y);
    }
    let dims = [shape.h as usize, shape.w as usize, shape.c as usize];
    let what = match part {
        Part::Whole => "reconstructions",
        Part::Encoder => "codes",
    };
    output::samples(&a.output, what, &results, dims)?;
    out.json(json!({
        "model": m.name(),
        "samples": n,
        "shape": dims,
        "output": a.output.display().to_string(),
    }));
    out.line(format!(
        "{n} {what} of shape {dims:?} from {} → {}",
        m.name(),
        a.output.display()
    ));
    Ok(())
}
