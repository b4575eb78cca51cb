//! PNG figures without a plotting stack: grids of images such as inputs against
//! reconstructions (seed 004's figure) or noisy / clean / denoised rows, and a decoded
//! manifold of a 2-D latent space.

use aedge_runtime::fs::write_atomic;
use std::path::Path;

/// How [`image_grid`] lays images out.
#[derive(Clone, Copy, Debug)]
pub struct Grid {
    /// The value drawn white (1 for images in `[0, 1]`, 255 for raw 8-bit pixels).
    pub peak: f32,
    /// Each image pixel becomes `zoom × zoom` PNG pixels.
    pub zoom: u32,
    /// White pixels between images and around the grid.
    pub gap: u32,
}

impl Grid {
    /// Images in `[0, 1]`, zoomed, with 2-pixel white gaps (figures).
    pub fn figure(zoom: u32) -> Grid {
        Grid {
            peak: 1.0,
            zoom,
            gap: 2,
        }
    }

    /// 8-bit pixels side by side at their size (the CLI's outputs).
    pub const PIXELS: Grid = Grid {
        peak: 255.0,
        zoom: 1,
        gap: 0,
    };
}

/// Writes rows of images (HWC with 1 or 3 channels, values in `[0, grid.peak]`) as one
/// PNG (grey or RGB), atomically.
pub fn image_grid(
    path: &Path,
    rows: &[Vec<&[f32]>],
    shape: [usize; 3],
    grid: Grid,
) -> Result<(), String> {
    let [h, w, c] = shape;
    if c != 1 && c != 3 {
        return Err(format!("cannot draw images with {c} channels"));
    }
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    if cols == 0 || h * w == 0 {
        return Err("nothing to draw".into());
    }
    let (z, gap) = (grid.zoom.max(1) as usize, grid.gap as usize);
    let (cell_w, cell_h) = (w * z + gap, h * z + gap);
    let (gw, gh) = (cols * cell_w + gap, rows.len() * cell_h + gap);
    let mut buf = vec![255u8; gw * gh * c];
    let to_u8 = |v: f32| (v.clamp(0.0, grid.peak) * (255.0 / grid.peak)).round() as u8;
    for (r, row) in rows.iter().enumerate() {
        for (k, pix) in row.iter().enumerate() {
            if pix.len() != h * w * c {
                return Err(format!(
                    "image has {} values, expected {}",
                    pix.len(),
                    h * w * c
                ));
            }
            for y in 0..h * z {
                for x in 0..w * z {
                    let (oy, ox) = (gap + r * cell_h + y, gap + k * cell_w + x);
                    let src = ((y / z) * w + x / z) * c;
                    let dst = (oy * gw + ox) * c;
                    for ch in 0..c {
                        buf[dst + ch] = to_u8(pix[src + ch]);
                    }
                }
            }
        }
    }
    let color = if c == 3 {
        image::ExtendedColorType::Rgb8
    } else {
        image::ExtendedColorType::L8
    };
    let mut png = Vec::new();
    image::ImageEncoder::write_image(
        image::codecs::png::PngEncoder::new(&mut png),
        &buf,
        gw as u32,
        gh as u32,
        color,
    )
    .map_err(|e| e.to_string())?;
    write_atomic(path, &png).map_err(|e| format!("{}: {e}", path.display()))
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
        image_grid(&path, &[vec![&a, &b], vec![&b]], [4, 3, 1], Grid::figure(2)).unwrap();
        let img = image::open(&path).unwrap().to_rgb8();
        // 2 columns of (3*2 + 2) plus a 2-pixel border; 2 rows of (4*2 + 2) plus 2.
        assert_eq!(img.dimensions(), (2 * 8 + 2, 2 * 10 + 2));
        assert_eq!(img.get_pixel(2, 2).0, [0, 0, 0]);
        assert_eq!(img.get_pixel(10, 2).0, [255, 255, 255]);
        std::fs::remove_file(&path).unwrap();
        assert!(image_grid(&path, &[vec![&a[..5]]], [4, 3, 1], Grid::figure(1)).is_err());
        assert_eq!(latent_grid(3, 1.0)[0], [-1.0, 1.0]);
        assert_eq!(latent_grid(3, 1.0)[8], [1.0, -1.0]);
    }
}
