//! The denoising benchmark: its noise, its classical baseline and the PSNR of a model in f32
//! and int8 against both, shared by the quickstart and `aedge eval denoising`.

use aedge_runtime::metrics::psnr;
use aedge_runtime::{AlignedBytes, Model};
use aedge_trainer::corrupt::Corruption;
use aedge_trainer::data::Dataset;
use std::path::Path;

/// The Keras blog's noise: gaussian, factor 0.5, clipped to [0, 1] (model units), seeded.
pub fn noisy(x: &[f32], seed: u64) -> Vec<f32> {
    let mut v = x.to_vec();
    let mut rng = aedge_runtime::rng::SplitMix(seed);
    NOISE.apply(&mut v, &mut rng);
    v
}

/// The corruption [`noisy`] applies.
pub const NOISE: Corruption = Corruption::Gaussian {
    factor: 0.5,
    clip: true,
};

/// 3×3 median filter (edges replicated), the classical baseline for denoising.
pub fn median3(x: &[f32], h: usize, w: usize) -> Vec<f32> {
    let mut out = vec![0.0; x.len()];
    for y in 0..h {
        for xx in 0..w {
            let mut win = [0.0f32; 9];
            let mut k = 0;
            for dy in [-1i64, 0, 1] {
                for dx in [-1i64, 0, 1] {
                    let yy = (y as i64 + dy).clamp(0, h as i64 - 1) as usize;
                    let xq = (xx as i64 + dx).clamp(0, w as i64 - 1) as usize;
                    win[k] = x[yy * w + xq];
                    k += 1;
                }
            }
            win.sort_by(f32::total_cmp);
            out[y * w + xx] = win[4];
        }
    }
    out
}

/// Mean PSNR (dB, peak 1) of each denoising method against the clean images.
pub struct Psnr {
    /// The noisy input itself.
    pub noisy: f64,
    /// [`median3`] of the noisy input.
    pub median: f64,
    /// The f32 model.
    pub f32: f64,
    /// The int8 model.
    pub int8: f64,
}

/// Denoises the first `count` images of `test` (model units in [0, 1], sensor units 0–255)
/// with the f32 and int8 model files, noise seeded from `seed` per image, and writes the first
/// ten as a grid at `grid` (rows: clean, noisy, median, f32, int8).
pub fn measure(
    f32_file: &[u8],
    int8_file: &[u8],
    test: &Dataset,
    count: usize,
    seed: u64,
    grid: &Path,
) -> crate::Result<Psnr> {
    let (b32, b8) = (
        AlignedBytes::from(f32_file.to_vec()),
        AlignedBytes::from(int8_file.to_vec()),
    );
    let (m32, m8) = (
        Model::parse(&b32).map_err(|e| e.to_string())?,
        Model::parse(&b8).map_err(|e| e.to_string())?,
    );
    let mut arena = AlignedBytes::zeroed(m32.arena_len().max(m8.arena_len()));
    let [h, w, _] = test.shape;
    let n = count.min(test.len()).max(1);
    let (mut p_noisy, mut p_median, mut p32, mut p8) = (0.0, 0.0, 0.0, 0.0);
    let mut rows: Vec<Vec<Vec<f32>>> = vec![Vec::new(); 5];
    for i in 0..n {
        let clean = test.sample(i);
        let nx = noisy(clean, seed + i as u64);
        let nraw: Vec<f32> = nx.iter().map(|v| v * 255.0).collect();
        let med = median3(&nx, h, w);
        let (mut y32, mut y8) = (vec![0.0; clean.len()], vec![0.0; clean.len()]);
        m32.reconstruct(&nraw, &mut y32, &mut arena)
            .map_err(|e| format!("image {i}: {e}"))?;
        m8.reconstruct(&nraw, &mut y8, &mut arena)
            .map_err(|e| format!("image {i}: {e}"))?;
        p_noisy += psnr(clean, &nx, 1.0);
        p_median += psnr(clean, &med, 1.0);
        p32 += psnr(clean, &y32, 1.0);
        p8 += psnr(clean, &y8, 1.0);
        if i < 10 {
            for (r, v) in [clean.to_vec(), nx, med, y32, y8].into_iter().enumerate() {
                rows[r].push(v.iter().map(|p| p * 255.0).collect());
            }
        }
    }
    let rows: Vec<Vec<&[f32]>> = rows
        .iter()
        .map(|r| r.iter().map(Vec::as_slice).collect())
        .collect();
    crate::output::png_grid(grid, &rows, h, w, 1)?;
    let k = n as f64;
    Ok(Psnr {
        noisy: p_noisy / k,
        median: p_median / k,
        f32: p32 / k,
        int8: p8 / k,
    })
}
