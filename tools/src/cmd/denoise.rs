//! `aedge denoise`: images through the autoencoder, back in sensor units, as PNG.

use crate::{input, output, Out, Result};
use aedge_runtime::{AlignedBytes, Model};
use std::path::PathBuf;

/// Arguments of `aedge denoise`.
#[derive(clap::Args)]
pub struct Args {
    /// The .aedge model (an image autoencoder).
    model: PathBuf,
    /// Images in sensor units: a PNG, a folder of images, IDX or .npy.
    input: PathBuf,
    /// Output PNG: the denoised image; for several inputs, a grid with the inputs on top and
    /// the denoised images below, ten per row.
    #[arg(short, long)]
    output: PathBuf,
    /// Denoise at most N images of an IDX file.
    #[arg(long, default_value_t = 20)]
    limit: usize,
}

/// Runs the subcommand.
pub fn run(a: Args, out: Out) -> Result<()> {
    let bytes = super::read_model(&a.model)?;
    let m = Model::parse(&bytes).map_err(|e| e.to_string())?;
    let s = m.input_shape();
    let (h, w, c) = (s.h as usize, s.w as usize, s.c as usize);
    if h == 1 && w == 1 {
        return Err(format!(
            "{} is not an image model (input {})",
            m.name(),
            s.len()
        ));
    }
    let read = input::read(&a.input, &input::Reading::for_model([h, w, c]))?;
    for n in &read.notes {
        out.line(n);
    }
    let mut samples = read.each();
    samples.truncate(a.limit.max(1));
    let mut arena = AlignedBytes::zeroed(m.arena_len());
    let mut denoised = Vec::with_capacity(samples.len());
    for (i, x) in samples.iter().enumerate() {
        let mut y = vec![0.0; m.output_shape().len()];
        m.denoise(x, &mut y, &mut arena)
            .map_err(|e| format!("image {i}: {e}"))?;
        denoised.push(y);
    }
    let rows: Vec<Vec<&[f32]>> = if samples.len() == 1 {
        vec![vec![&denoised[0][..]]]
    } else {
        samples
            .chunks(10)
            .zip(denoised.chunks(10))
            .flat_map(|(xs, ys)| {
                [
                    xs.iter().map(Vec::as_slice).collect(),
                    ys.iter().map(Vec::as_slice).collect(),
                ]
            })
            .collect()
    };
    output::png_grid(&a.output, &rows, h, w, c)?;
    out.line(format!(
        "denoised {} image(s) with {} → {}",
        samples.len(),
        m.name(),
        a.output.display()
    ));
    Ok(())
}
