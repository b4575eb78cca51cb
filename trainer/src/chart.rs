//! Small PNG charts with labelled axes and a legend, drawn on an RGB canvas with the font8x8
//! bitmap font (no system fonts needed): loss curves, the scatter of a 2-D latent space, and
//! the benchmark's bar chart.

use aedge_runtime::fs::write_atomic;
use font8x8::UnicodeFonts;
use image::{ImageBuffer, Rgb};
use std::path::Path;

/// Distinct colours for series and classes (Tableau 10).
pub const PALETTE: [[u8; 3]; 10] = [
    [31, 119, 180],
    [255, 127, 14],
    [44, 160, 44],
    [214, 39, 40],
    [148, 103, 189],
    [140, 86, 75],
    [227, 119, 194],
    [127, 127, 127],
    [188, 189, 34],
    [23, 190, 207],
];

const W: u32 = 640;
const H: u32 = 420;
// Plot area inside the margins.
const L: u32 = 72;
const R: u32 = 130;
const T: u32 = 36;
const B: u32 = 48;

struct Canvas(ImageBuffer<Rgb<u8>, Vec<u8>>);

impl Canvas {
    fn new() -> Self {
        Self::sized(W, H)
    }

    fn sized(w: u32, h: u32) -> Self {
        Canvas(ImageBuffer::from_pixel(w, h, Rgb([255, 255, 255])))
    }

    fn put(&mut self, x: i64, y: i64, c: [u8; 3]) {
        let (w, h) = self.0.dimensions();
        if x >= 0 && y >= 0 && (x as u32) < w && (y as u32) < h {
            self.0.put_pixel(x as u32, y as u32, Rgb(c));
        }
    }

    fn text(&mut self, x: i64, y: i64, s: &str, c: [u8; 3]) {
        for (k, ch) in s.chars().enumerate() {
            let glyph = font8x8::BASIC_FONTS.get(ch).unwrap_or([0; 8]);
            for (row, bits) in glyph.iter().enumerate() {
                for col in 0..8 {
                    if bits & (1 << col) != 0 {
                        self.put(x + k as i64 * 8 + col, y + row as i64, c);
                    }
                }
            }
        }
    }

    fn line(&mut self, (x0, y0): (f64, f64), (x1, y1): (f64, f64), c: [u8; 3]) {
        let n = ((x1 - x0).abs().max((y1 - y0).abs()).ceil() as i64).max(1);
        for i in 0..=n {
            let t = i as f64 / n as f64;
            let (x, y) = (x0 + (x1 - x0) * t, y0 + (y1 - y0) * t);
            // Two pixels thick, so thin curves stay visible.
            self.put(x.round() as i64, y.round() as i64, c);
            self.put(x.round() as i64, y.round() as i64 + 1, c);
        }
    }

    fn dot(&mut self, x: f64, y: f64, c: [u8; 3]) {
        for dy in -1..=1 {
            for dx in -1..=1 {
                self.put(x.round() as i64 + dx, y.round() as i64 + dy, c);
            }
        }
    }

    fn save(self, path: &Path) -> Result<(), String> {
        let mut png = std::io::Cursor::new(Vec::new());
        self.0
            .write_to(&mut png, image::ImageFormat::Png)
            .map_err(|e| e.to_string())?;
        write_atomic(path, png.get_ref()).map_err(|e| format!("{}: {e}", path.display()))
    }
}

/// Short tick label.
fn fmt(v: f64) -> String {
    let a = v.abs();
    if a != 0.0 && !(1e-2..1e4).contains(&a) {
        format!("{v:.1e}")
    } else if a >= 100.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.3}")
    }
}

/// Data → pixel mapping with axes, ticks and labels drawn.
struct Frame {
    x: (f64, f64),
    y: (f64, f64),
}

impl Frame {
    fn new(xs: impl Iterator<Item = f64> + Clone, ys: impl Iterator<Item = f64> + Clone) -> Self {
        let range = |it: &mut dyn Iterator<Item = f64>| {
            let (lo, hi) = it
                .filter(|v| v.is_finite())
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), v| {
                    (l.min(v), h.max(v))
                });
            if lo > hi {
                (0.0, 1.0)
            } else if hi - lo < 1e-12 {
                (lo - 0.5, hi + 0.5)
            } else {
                let pad = (hi - lo) * 0.05;
                (lo - pad, hi + pad)
            }
        };
        Frame {
            x: range(&mut xs.clone()),
            y: range(&mut ys.clone()),
        }
    }

    fn px(&self, x: f64, y: f64) -> (f64, f64) {
        let fx = (x - self.x.0) / (self.x.1 - self.x.0);
        let fy = (y - self.y.0) / (self.y.1 - self.y.0);
        (
            L as f64 + fx * (W - L - R) as f64,
            (H - B) as f64 - fy * (H - T - B) as f64,
        )
    }

    fn draw(&self, c: &mut Canvas, title: &str, x_label: &str, y_label: &str) {
        let ink = [40, 40, 40];
        let grid = [225, 225, 225];
        for i in 0..=4 {
            let f = i as f64 / 4.0;
            let (yv, xv) = (
                self.y.0 + f * (self.y.1 - self.y.0),
                self.x.0 + f * (self.x.1 - self.x.0),
            );
            let (_, py) = self.px(self.x.0, yv);
            let (px, _) = self.px(xv, self.y.0);
            c.line((L as f64, py), ((W - R) as f64, py), grid);
            c.line((px, T as f64), (px, (H - B) as f64), grid);
            let ty = fmt(yv);
            c.text(L as i64 - 6 - 8 * ty.len() as i64, py as i64 - 4, &ty, ink);
            let tx = fmt(xv);
            c.text(
                px as i64 - 4 * tx.len() as i64,
                (H - B) as i64 + 8,
                &tx,
                ink,
            );
        }
        c.line((L as f64, T as f64), (L as f64, (H - B) as f64), ink);
        c.line(
            (L as f64, (H - B) as f64),
            ((W - R) as f64, (H - B) as f64),
            ink,
        );
        c.text(L as i64, 12, title, ink);
        c.text(
            ((L + W - R) / 2) as i64 - 4 * x_label.len() as i64,
            (H - 18) as i64,
            x_label,
            ink,
        );
        c.text(8, T as i64 - 16, y_label, ink);
    }
}

fn legend(c: &mut Canvas, entries: &[(String, [u8; 3])]) {
    for (k, (name, col)) in entries.iter().enumerate() {
        let y = T as i64 + 8 + 16 * k as i64;
        let x = (W - R + 14) as i64;
        for dy in 0..8 {
            for dx in 0..12 {
                c.put(x + dx, y + dy, *col);
            }
        }
        c.text(x + 18, y, name, [40, 40, 40]);
    }
}

/// A line chart: each series is `(name, points)`, coloured from [`PALETTE`] in order.
pub fn line_chart(
    path: &Path,
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[(&str, Vec<(f64, f64)>)],
) -> Result<(), String> {
    if series.iter().all(|(_, p)| p.is_empty()) {
        return Err("nothing to plot".into());
    }
    let all = series.iter().flat_map(|(_, p)| p.iter().copied());
    let f = Frame::new(all.clone().map(|p| p.0), all.map(|p| p.1));
    let mut c = Canvas::new();
    f.draw(&mut c, title, x_label, y_label);
    for (k, (_, pts)) in series.iter().enumerate() {
        let col = PALETTE[k % PALETTE.len()];
        let finite: Vec<_> = pts
            .iter()
            .filter(|p| p.0.is_finite() && p.1.is_finite())
            .collect();
        for w in finite.windows(2) {
            c.line(f.px(w[0].0, w[0].1), f.px(w[1].0, w[1].1), col);
        }
        for p in &finite {
            let (x, y) = f.px(p.0, p.1);
            c.dot(x, y, col);
        }
    }
    let names: Vec<_> = series
        .iter()
        .enumerate()
        .map(|(k, (n, _))| (n.to_string(), PALETTE[k % PALETTE.len()]))
        .collect();
    legend(&mut c, &names);
    c.save(path)
}

/// A scatter of 2-D points coloured by class (`class % 10` into [`PALETTE`]); the legend
/// names the classes present.
pub fn scatter(
    path: &Path,
    title: &str,
    x_label: &str,
    y_label: &str,
    points: &[([f32; 2], u8)],
) -> Result<(), String> {
    if points.is_empty() {
        return Err("nothing to plot".into());
    }
    let f = Frame::new(
        points.iter().map(|p| p.0[0] as f64),
        points.iter().map(|p| p.0[1] as f64),
    );
    let mut c = Canvas::new();
    f.draw(&mut c, title, x_label, y_label);
    for (p, class) in points {
        let (x, y) = f.px(p[0] as f64, p[1] as f64);
        c.dot(x, y, PALETTE[*class as usize % PALETTE.len()]);
    }
    let mut classes: Vec<u8> = points.iter().map(|p| p.1).collect();
    classes.sort_unstable();
    classes.dedup();
    let names: Vec<_> = classes
        .iter()
        .map(|&k| (format!("class {k}"), PALETTE[k as usize % PALETTE.len()]))
        .collect();
    legend(&mut c, &names);
    c.save(path)
}

/// Train (and validation, when measured) loss per epoch.
pub fn loss_curves(
    path: &Path,
    title: &str,
    history: &[crate::train::EpochMetrics],
) -> Result<(), String> {
    let train: Vec<(f64, f64)> = history
        .iter()
        .map(|m| (m.epoch as f64, m.train_loss))
        .collect();
    let val: Vec<(f64, f64)> = history
        .iter()
        .filter_map(|m| m.val_loss.map(|v| (m.epoch as f64, v)))
        .collect();
    let mut series = vec![("train", train)];
    if !val.is_empty() {
        series.push(("validation", val));
    }
    line_chart(path, title, "epoch", "loss", &series)
}

/// One group of bars in [`bar_chart`]: a heading and `(label, value)` bars.
pub type BarGroup = (String, Vec<(String, f64)>);

/// Horizontal bars on a log-10 axis (values spanning microseconds to milliseconds stay
/// readable), grouped under headings; each bar is labelled with its value. Non-positive or
/// non-finite values are listed without a bar.
pub fn bar_chart(path: &Path, title: &str, unit: &str, groups: &[BarGroup]) -> Result<(), String> {
    let values: Vec<f64> = groups
        .iter()
        .flat_map(|(_, b)| b.iter().map(|v| v.1))
        .filter(|v| v.is_finite() && *v > 0.0)
        .collect();
    if values.is_empty() {
        return Err("nothing to plot".into());
    }
    let lo = values
        .iter()
        .copied()
        .fold(f64::INFINITY, f64::min)
        .log10()
        .floor();
    let hi = values
        .iter()
        .copied()
        .fold(0.0, f64::max)
        .log10()
        .ceil()
        .max(lo + 1.0);
    let rows: usize = groups.iter().map(|(_, b)| b.len() + 1).sum();
    let (label_w, bar_w, row_h) = (30 * 8 + 16u32, 560u32, 16u32);
    let (w, h) = (label_w + bar_w + 90, 56 + rows as u32 * row_h + 40);
    let mut c = Canvas::sized(w, h);
    let ink = [40, 40, 40];
    let x_of = |v: f64| label_w as f64 + (v.log10() - lo) / (hi - lo) * bar_w as f64;
    c.text(8, 12, title, ink);
    let top = 40i64;
    let bottom = top + rows as i64 * row_h as i64;
    for d in lo as i64..=hi as i64 {
        let x = x_of(10f64.powi(d as i32));
        c.line((x, top as f64), (x, bottom as f64), [225, 225, 225]);
        let t = fmt(10f64.powi(d as i32));
        c.text(x as i64 - 4 * t.len() as i64, bottom + 6, &t, ink);
    }
    c.text(
        label_w as i64 + bar_w as i64 / 2 - 4 * unit.len() as i64,
        bottom + 22,
        unit,
        ink,
    );
    let mut y = top;
    for (g, (heading, bars)) in groups.iter().enumerate() {
        c.text(8, y + 4, heading, ink);
        y += row_h as i64;
        let col = PALETTE[g % PALETTE.len()];
        for (label, v) in bars {
            let short: String = label.chars().take(30).collect();
            c.text(16, y + 4, &short, ink);
            if v.is_finite() && *v > 0.0 {
                let x1 = x_of(*v);
                for yy in y + 3..y + row_h as i64 - 3 {
                    c.line((label_w as f64, yy as f64), (x1, yy as f64), col);
                }
                c.text(x1 as i64 + 6, y + 4, &fmt(*v), ink);
            } else {
                c.text(label_w as i64 + 6, y + 4, "n/a", ink);
            }
            y += row_h as i64;
        }
    }
    c.save(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charts_draw_lines_points_and_text() {
        let dir = std::env::temp_dir();
        let p = dir.join(format!("aedge-chart-{}.png", std::process::id()));
        line_chart(
            &p,
            "loss",
            "epoch",
            "BCE",
            &[
                ("train", vec![(1.0, 0.7), (2.0, 0.5), (3.0, 0.4)]),
                ("val", vec![(1.0, 0.72), (2.0, 0.55), (3.0, 0.45)]),
            ],
        )
        .unwrap();
        let img = image::open(&p).unwrap().to_rgb8();
        assert_eq!(img.dimensions(), (W, H));
        let has = |c: [u8; 3]| img.pixels().any(|px| px.0 == c);
        assert!(has(PALETTE[0]) && has(PALETTE[1]) && has([40, 40, 40]));
        scatter(&p, "code", "z0", "z1", &[([0.0, 1.0], 3), ([1.0, -1.0], 7)]).unwrap();
        let img = image::open(&p).unwrap().to_rgb8();
        let has = |c: [u8; 3]| img.pixels().any(|px| px.0 == c);
        assert!(has(PALETTE[3]) && has(PALETTE[7]) && !has(PALETTE[0]));
        std::fs::remove_file(&p).unwrap();
        assert!(line_chart(&p, "", "", "", &[("a", vec![])]).is_err());
    }
}
