//! PNG output: rows of images through the trainer's one image grid.

use aedge_trainer::plot::{image_grid, Grid};
use std::path::Path;

/// Writes `rows` of images (`h × w × c` values in 0–255, c = 1 or 3) as one PNG grid.
pub fn png_grid(
    path: &Path,
    rows: &[Vec<&[f32]>],
    h: usize,
    w: usize,
    c: usize,
) -> crate::Result<()> {
    image_grid(path, rows, [h, w, c], Grid::PIXELS)
}
