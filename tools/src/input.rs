//! Sample files: IDX images (`.idx`, `-ubyte`, optionally `.gz`), PNG images, raw
//! little-endian f32 (`.f32`) and CSV (one sample per row). Values are in sensor units (pixels
//! 0–255) and HWC order, as the runtime takes them.

use aedge_trainer::data::Images;
use std::path::Path;

fn ext(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default()
}

/// Reads samples of `len` values each from `path`.
pub fn load(path: &Path, len: usize) -> crate::Result<Vec<Vec<f32>>> {
    let name = ext(path);
    let shown = path.display();
    let samples: Vec<Vec<f32>> = if name.ends_with(".png") {
        vec![read_png(path)?.1]
    } else if name.ends_with(".f32") {
        let bytes = std::fs::read(path).map_err(|e| format!("cannot read {shown}: {e}"))?;
        if bytes.is_empty() || bytes.len() % (4 * len) != 0 {
            return Err(format!(
                "{shown}: {} bytes is not a whole number of {len}-value f32 samples",
                bytes.len()
            ));
        }
        bytes
            .chunks_exact(4 * len)
            .map(|s| {
                s.chunks_exact(4)
                    .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                    .collect()
            })
            .collect()
    } else if name.ends_with(".csv") {
        let text =
            std::fs::read_to_string(path).map_err(|e| format!("cannot read {shown}: {e}"))?;
        let mut rows = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() {
                continue;
            }
            let row: std::result::Result<Vec<f32>, _> =
                line.split(',').map(|v| v.trim().parse::<f32>()).collect();
            match row {
                Ok(r) => rows.push(r),
                // A header line is allowed.
                Err(_) if rows.is_empty() && i == 0 => continue,
                Err(_) => return Err(format!("{shown}:{}: not a row of numbers", i + 1)),
            }
        }
        rows
    } else if name.contains("idx") || name.contains("-ubyte") {
        let im = Images::read(path).map_err(|e| e.to_string())?;
        (0..im.count).map(|i| im.image(i).to_vec()).collect()
    } else {
        return Err(format!(
            "{shown}: unknown sample format (use .png, IDX images, .f32 or .csv)"
        ));
    };
    if samples.is_empty() {
        return Err(format!("{shown}: no samples"));
    }
    for (i, s) in samples.iter().enumerate() {
        if s.len() != len {
            return Err(format!(
                "{shown}: sample {i} has {} values, the model takes {len}",
                s.len()
            ));
        }
    }
    Ok(samples)
}

/// Reads a PNG as 8-bit grayscale (or RGB when it has colour): `(channels, HWC pixels)`.
pub fn read_png(path: &Path) -> crate::Result<(usize, Vec<f32>)> {
    let img = image::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(if img.color().has_color() {
        (
            3,
            img.to_rgb8()
                .into_raw()
                .into_iter()
                .map(f32::from)
                .collect(),
        )
    } else {
        (
            1,
            img.to_luma8()
                .into_raw()
                .into_iter()
                .map(f32::from)
                .collect(),
        )
    })
}
