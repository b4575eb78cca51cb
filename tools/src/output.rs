//! Outputs of samples: PNG grids through the trainer's one image grid, and arrays of samples
//! as `.npy`, `.npz` or CSV (the format chosen by the file's extension).

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

/// Writes `samples` (each of `shape`) to `path`: `.npy` as one `float32` array of shape
/// `(n, h, w, c)` (or `(n, values)` when `h = w = 1`), `.npz` as that array named `name`,
/// `.csv` one row per sample, `.png` a grid of images, ten per row (pixels 0–255). The file
/// is written whole or not at all.
pub fn samples(
    path: &Path,
    name: &str,
    samples: &[Vec<f32>],
    shape: [usize; 3],
) -> crate::Result<()> {
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    let shown = path.display();
    let array = || {
        let [h, w, c] = shape;
        let dims = if h == 1 && w == 1 {
            vec![samples.len(), c]
        } else {
            vec![samples.len(), h, w, c]
        };
        (
            dims,
            samples.iter().flatten().copied().collect::<Vec<f32>>(),
        )
    };
    let bytes = match ext.as_str() {
        "npy" => {
            let (dims, flat) = array();
            aedge_trainer::data::npy_bytes(&dims, &flat)?
        }
        "npz" => {
            let (dims, flat) = array();
            aedge_trainer::data::npz_bytes(&[(name, &dims, &flat)])?
        }
        "csv" => {
            let mut s = String::new();
            for x in samples {
                let row: Vec<String> = x.iter().map(|v| v.to_string()).collect();
                s += &row.join(",");
                s.push('\n');
            }
            s.into_bytes()
        }
        "png" => {
            let [h, w, c] = shape;
            if h == 1 || w == 1 {
                return Err(format!(
                    "{shown}: samples of shape {shape:?} are not images; write .npy or .csv"
                ));
            }
            let rows: Vec<Vec<&[f32]>> = samples
                .chunks(10)
                .map(|r| r.iter().map(Vec::as_slice).collect())
                .collect();
            return png_grid(path, &rows, h, w, c);
        }
        _ => return Err(format!("{shown}: write .npy, .npz, .csv or .png")),
    };
    aedge_runtime::fs::write_atomic(path, &bytes).map_err(|e| format!("{shown}: {e}"))
}
