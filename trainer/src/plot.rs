//! PNG figures without a plotting stack: grids of images such as inputs against
//! reconstructions (seed 004's figure) or noisy / clean / denoised rows, and a decoded
//! manifold of a 2-D latent space.

use aedge_runtime::fs::write_atomic;
use image::{ImageBuffer, Rgb};
use std::path::Path;

/// Writes rows of images (values in `[0, 1]`, HWC with 1 or 3 channels) as one PNG, each
/// image scaled up by `zoom`, with a 2-pixel gap.
pub fn image_grid(
    path: &Path,
    rows: &[Vec<&[f32]>],
    shape: [usize; 3],
    zoom: u32,
) -> Result<(), String> {
    let [h, w, c] = shape;
    if c != 1 && c != 3 {
        return Err(format!("cannot draw images with {c} channels"));
    }
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0) as u32;
    if cols == 0 {
        return Err("nothing to draw".into());
    }
    let (z, gap) = (zoom.max(1), 2u32);
    let cell_w = w as u32 * z + gap;
    let cell_h = h as u32 * z + gap;
    let mut img = ImageBuffer::from_pixel(
        cols * cell_w + gap,
        rows.len() as u32 * cell_h + gap,
        Rgb([255u8, 255, 255]),
    );
    for (r, row) in rows.iter().enumerate() {
        for (k, pix) in row.iter().enumerate() {
            if pix.len() != h * w * c {
                return Err(format!(
                    "image has {} values, expected {}",
                    pix.len(),
                    h * w * c
                ));
            }
            for y in 0..h {
                for x in 0..w {
                    let at = (y * w + x) * c;
                    let px = |i: usize| (pix[at + i].clamp(0.0, 1.0) * 255.0).round() as u8;
                    let rgb = if c == 1 {
                        [px(0); 3]
                    } else {
                        [px(0), px(1), px(2)]
                    };
                    for dy in 0..z {
                        for dx in 0..z {
                            let (ox, oy) = (
                                gap + k as u32 * cell_w + x as u32 * z + dx,
                                gap + r as u32 * cell_h + y as u32 * z + dy,
                            );
                            img.put_pixel(ox, oy, Rgb(rgb));
                        }
                    }
                }
            }
        }
    }
    let mut png = std::io::Cursor::new(Vec::new());
    img.write_to(&mut png, image::ImageFormat::Png)
        .map_err(|e| e.to_string())?;
    write_atomic(path, png.get_ref()).map_err(|e| e.to_string())
}

/// Latent points of an `n × n` grid over `[-span, span]²`, row by row (top row = high y),
/// to decode into a manifold figure.
pub fn latent_grid(n: usize, span: f32) -> Vec<[f32; 2]> {
    let at = |i: usize| {
        if n > 1 {
            -span + 2.0 * span * i as f32 / (n - 1) as f32
        } else {
            0.0
        }
    };
    (0..n)
        .flat_map(|r| (0..n).map(move |k| [at(k), at(n - 1 - r)]))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grid_png_has_the_expected_size_and_pixels() {
        let a = vec![0.0f32; 4 * 3];
        let b = vec![1.0f32; 4 * 3];
        let path = std::env::temp_dir().join(format!("aedge-grid-{}.png", std::process::id()));
        image_grid(&path, &[vec![&a, &b], vec![&b]], [4, 3, 1], 2).unwrap();
        let img = image::open(&path).unwrap().to_rgb8();
        // 2 columns of (3*2 + 2) plus a 2-pixel border; 2 rows of (4*2 + 2) plus 2.
        assert_eq!(img.dimensions(), (2 * 8 + 2, 2 * 10 + 2));
        assert_eq!(img.get_pixel(2, 2).0, [0, 0, 0]);
        assert_eq!(img.get_pixel(10, 2).0, [255, 255, 255]);
        std::fs::remove_file(&path).unwrap();
        assert!(image_grid(&path, &[vec![&a[..5]]], [4, 3, 1], 1).is_err());
        assert_eq!(latent_grid(3, 1.0)[0], [-1.0, 1.0]);
        assert_eq!(latent_grid(3, 1.0)[8], [1.0, -1.0]);
    }
}
