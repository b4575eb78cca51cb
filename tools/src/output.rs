//! PNG output, written atomically.

use std::path::Path;

/// Writes `rows` of images (`h × w × c` values in 0–255, c = 1 or 3) as one PNG grid.
pub fn png_grid(
    path: &Path,
    rows: &[Vec<&[f32]>],
    h: usize,
    w: usize,
    c: usize,
) -> crate::Result<()> {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let (gw, gh) = (cols * w, rows.len() * h);
    if gw == 0 || gh == 0 {
        return Err("nothing to draw".into());
    }
    let mut buf = vec![0u8; gw * gh * c];
    for (r, row) in rows.iter().enumerate() {
        for (k, img) in row.iter().enumerate() {
            for y in 0..h {
                for x in 0..w {
                    for ch in 0..c {
                        let v = img.get((y * w + x) * c + ch).copied().unwrap_or(0.0);
                        let at = ((r * h + y) * gw + k * w + x) * c + ch;
                        buf[at] = v.round().clamp(0.0, 255.0) as u8;
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
    aedge_runtime::fs::write_atomic(path, &png).map_err(|e| format!("{}: {e}", path.display()))
}
