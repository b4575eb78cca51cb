//! Charts for the CLI's outputs, drawn with plotters: PNG through the bitmap backend with an
//! embedded font (DejaVu Sans Mono, `tools/assets/`, so no system font is needed), and SVG for
//! the HTML reports. plotters picks the ticks (1, 2, 5 × 10ⁿ steps).

use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::Path;
use std::sync::Once;

/// Size of every chart, pixels.
const SIZE: (u32, u32) = (800, 480);

/// Series colours, in order: ten, so a chart of ten classes repeats none.
const PALETTE: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

/// Series with more points than this are drawn as lines only: markers on a dense curve (a
/// ROC of 10,000 samples) merge into a thick smear.
const MARKER_LIMIT: usize = 60;

/// The font family the charts name; registered once from the embedded file.
const FONT: &str = "sans-serif";

fn register_font() -> Result<(), String> {
    static ONCE: Once = Once::new();
    let mut ok = true;
    ONCE.call_once(|| {
        ok = plotters::style::register_font(
            FONT,
            FontStyle::Normal,
            include_bytes!("../assets/DejaVuSansMono.ttf"),
        )
        .is_ok();
    });
    ok.then_some(())
        .ok_or_else(|| "the embedded chart font does not load".into())
}

fn err(e: impl std::fmt::Display) -> String {
    format!("chart: {e}")
}

/// One named series of `(x, y)` points.
pub type Series<'a> = (&'a str, Vec<(f64, f64)>);

/// The finite range of `v`, widened when it is a single value.
fn range(v: impl Iterator<Item = f64>) -> Option<(f64, f64)> {
    let (lo, hi) = v
        .filter(|x| x.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), x| {
            (l.min(x), h.max(x))
        });
    if lo > hi {
        return None;
    }
    let pad = if hi > lo {
        0.0
    } else {
        lo.abs().max(1.0) * 0.05
    };
    Some((lo - pad, hi + pad))
}

fn draw_lines<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    labels: (&str, &str),
    series: &[Series],
) -> Result<(), String> {
    let points = || series.iter().flat_map(|(_, p)| p.iter().copied());
    let (x0, x1) = range(points().map(|p| p.0)).ok_or("nothing to plot")?;
    let (y0, y1) = range(points().map(|p| p.1)).ok_or("nothing to plot")?;
    root.fill(&WHITE).map_err(err)?;
    let mut chart = ChartBuilder::on(root)
        .caption(title, (FONT, 22))
        .margin(12)
        .x_label_area_size(44)
        .y_label_area_size(72)
        .build_cartesian_2d(x0..x1, y0..y1)
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc(labels.0)
        .y_desc(labels.1)
        .label_style((FONT, 14))
        .axis_desc_style((FONT, 16))
        .draw()
        .map_err(err)?;
    for (k, (name, pts)) in series.iter().enumerate() {
        let colour = PALETTE[k % PALETTE.len()];
        let finite: Vec<(f64, f64)> = pts
            .iter()
            .copied()
            .filter(|p| p.0.is_finite() && p.1.is_finite())
            .collect();
        chart
            .draw_series(LineSeries::new(finite.clone(), colour.stroke_width(2)))
            .map_err(err)?
            .label(*name)
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], colour.stroke_width(2))
            });
        if finite.len() <= MARKER_LIMIT {
            chart
                .draw_series(finite.iter().map(|&p| Circle::new(p, 3, colour.filled())))
                .map_err(err)?;
        }
    }
    chart
        .configure_series_labels()
        .label_font((FONT, 14))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(err)?;
    root.present().map_err(err)
}

/// Horizontal bars, `(label, value)` with values > 0, on a log-10 axis.
fn draw_bars<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    unit: &str,
    bars: &[(String, f64)],
) -> Result<(), String> {
    let (lo, hi) = range(bars.iter().map(|b| b.1)).ok_or("nothing to plot")?;
    let (lo, hi) = (lo / 2.0, hi * 2.0);
    let n = bars.len();
    root.fill(&WHITE).map_err(err)?;
    let label_width = bars.iter().map(|b| b.0.chars().count()).max().unwrap_or(0) as u32 * 8 + 16;
    let mut chart = ChartBuilder::on(root)
        .caption(title, (FONT, 20))
        .margin(12)
        .x_label_area_size(44)
        .y_label_area_size(label_width.min(SIZE.0 / 2))
        .build_cartesian_2d((lo..hi).log_scale(), (0..n).into_segmented())
        .map_err(err)?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .x_desc(unit)
        .y_labels(n)
        .y_label_formatter(&|v| match v {
            SegmentValue::CenterOf(i) => bars.get(*i).map(|b| b.0.clone()).unwrap_or_default(),
            _ => String::new(),
        })
        .label_style((FONT, 13))
        .axis_desc_style((FONT, 15))
        .draw()
        .map_err(err)?;
    chart
        .draw_series(bars.iter().enumerate().map(|(i, (_, v))| {
            let colour = PALETTE[i % PALETTE.len()];
            Rectangle::new(
                [
                    (lo, SegmentValue::Exact(i)),
                    (*v, SegmentValue::Exact(i + 1)),
                ],
                colour.mix(0.8).filled(),
            )
        }))
        .map_err(err)?;
    root.present().map_err(err)
}

/// Draws into an RGB buffer and writes it as a PNG, atomically.
fn png(
    path: &Path,
    draw: impl FnOnce(&DrawingArea<BitMapBackend, Shift>) -> Result<(), String>,
) -> Result<(), String> {
    register_font()?;
    let (w, h) = SIZE;
    let mut buf = vec![0u8; (w * h * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut buf, SIZE).into_drawing_area();
        draw(&root)?;
    }
    let mut out = Vec::new();
    image::ImageEncoder::write_image(
        image::codecs::png::PngEncoder::new(&mut out),
        &buf,
        w,
        h,
        image::ExtendedColorType::Rgb8,
    )
    .map_err(err)?;
    aedge_runtime::fs::write_atomic(path, &out).map_err(|e| format!("{}: {e}", path.display()))
}

fn svg(
    draw: impl FnOnce(&DrawingArea<SVGBackend, Shift>) -> Result<(), String>,
) -> Result<String, String> {
    let mut s = String::new();
    {
        let root = SVGBackend::with_string(&mut s, SIZE).into_drawing_area();
        draw(&root)?;
    }
    Ok(s)
}

/// A line chart of `series` as a PNG at `path`; returns the same chart as SVG for a report.
pub fn line_chart(
    path: &Path,
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[Series],
) -> Result<String, String> {
    png(path, |root| {
        draw_lines(root, title, (x_label, y_label), series)
    })?;
    svg(|root| draw_lines(root, title, (x_label, y_label), series))
}

/// Train (and validation, when measured) loss per epoch, as a PNG at `path`.
pub fn loss_curves(
    path: &Path,
    title: &str,
    history: &[aedge_trainer::train::EpochMetrics],
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
    line_chart(path, title, "epoch", "loss", &series).map(drop)
}

/// One group of bars in [`bar_chart`]: a heading and `(label, value)` bars.
pub type BarGroup = (String, Vec<(String, f64)>);

/// Horizontal bars on a log-10 axis (microseconds to milliseconds stay readable), each
/// labelled `group: bar`, as a PNG at `path`. Non-positive or non-finite values are left out.
pub fn bar_chart(path: &Path, title: &str, unit: &str, groups: &[BarGroup]) -> Result<(), String> {
    let bars: Vec<(String, f64)> = groups
        .iter()
        .flat_map(|(g, b)| b.iter().map(move |(l, v)| (format!("{g}: {l}"), *v)))
        .filter(|b| b.1.is_finite() && b.1 > 0.0)
        .collect();
    if bars.is_empty() {
        return Err("nothing to plot".into());
    }
    png(path, |root| draw_bars(root, title, unit, &bars))
}

/// What [`series_scores`] draws: the series by row, its per-row scores and which rows are
/// flagged.
pub struct ScoredSeries<'a> {
    /// Column names, one per channel.
    pub columns: &'a [String],
    /// `rows × channels` values in sensor units.
    pub values: &'a [f32],
    /// Score per row in `[0, 1]` (`None` before the first full window).
    pub scores: &'a [Option<f32>],
    /// The score at which a row is flagged.
    pub alarm: f32,
}

fn draw_scored<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    s: &ScoredSeries,
) -> Result<(), String> {
    let c = s.columns.len().max(1);
    let rows = s.values.len() / c;
    if rows == 0 {
        return Err("nothing to plot".into());
    }
    root.fill(&WHITE).map_err(err)?;
    let (top, bottom) = root.split_vertically(SIZE.1 * 62 / 100);
    let (y0, y1) = range(s.values.iter().map(|&v| v as f64)).ok_or("nothing to plot")?;
    let x1 = (rows - 1).max(1) as f64;
    let mut chart = ChartBuilder::on(&top)
        .caption(title, (FONT, 20))
        .margin(10)
        .x_label_area_size(24)
        .y_label_area_size(72)
        .build_cartesian_2d(0.0..x1, y0..y1)
        .map_err(err)?;
    chart
        .configure_mesh()
        .y_desc("value")
        .label_style((FONT, 13))
        .axis_desc_style((FONT, 15))
        .draw()
        .map_err(err)?;
    // Flagged rows as shaded spans behind the values.
    let flagged = |r: usize| {
        s.scores
            .get(r)
            .copied()
            .flatten()
            .is_some_and(|v| v >= s.alarm)
    };
    let mut spans = Vec::new();
    let mut r = 0;
    while r < rows {
        if flagged(r) {
            let start = r;
            while r < rows && flagged(r) {
                r += 1;
            }
            spans.push((start as f64, (r as f64).min(x1)));
        } else {
            r += 1;
        }
    }
    chart
        .draw_series(spans.iter().map(|&(a, b)| {
            Rectangle::new(
                [(a, y0), (b.max(a + 0.5), y1)],
                RGBColor(214, 39, 40).mix(0.2).filled(),
            )
        }))
        .map_err(err)?;
    for ch in 0..c {
        let colour = PALETTE[ch % PALETTE.len()];
        let pts = (0..rows).map(|r| (r as f64, s.values[r * c + ch] as f64));
        let name = s.columns.get(ch).cloned().unwrap_or_default();
        chart
            .draw_series(LineSeries::new(pts, colour.stroke_width(1)))
            .map_err(err)?
            .label(name)
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], colour.stroke_width(2))
            });
    }
    chart
        .configure_series_labels()
        .label_font((FONT, 13))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(err)?;
    let mut chart = ChartBuilder::on(&bottom)
        .margin(10)
        .x_label_area_size(36)
        .y_label_area_size(72)
        .build_cartesian_2d(0.0..x1, 0.0..1.0)
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc("row")
        .y_desc("score")
        .label_style((FONT, 13))
        .axis_desc_style((FONT, 15))
        .draw()
        .map_err(err)?;
    let scored = (0..rows).filter_map(|r| {
        s.scores
            .get(r)
            .copied()
            .flatten()
            .map(|v| (r as f64, v as f64))
    });
    chart
        .draw_series(LineSeries::new(scored, PALETTE[3].stroke_width(1)))
        .map_err(err)?;
    let alarm = s.alarm as f64;
    chart
        .draw_series(LineSeries::new(
            [(0.0, alarm), (x1, alarm)],
            BLACK.mix(0.6).stroke_width(1),
        ))
        .map_err(err)?;
    root.present().map_err(err)
}

/// A series with its anomaly scores below it and flagged rows shaded, as a PNG at `path`.
pub fn series_scores(path: &Path, title: &str, s: &ScoredSeries) -> Result<(), String> {
    png(path, |root| draw_scored(root, title, s))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charts_are_drawn_and_empty_ones_refused() {
        let dir = std::env::temp_dir().join(format!("aedge-chart-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("line.png");
        let s = line_chart(
            &p,
            "t",
            "epoch",
            "loss",
            &[("a", vec![(1.0, 0.5), (2.0, 0.25)])],
        )
        .unwrap();
        assert!(s.starts_with("<svg") && s.contains("epoch"), "{s}");
        let img = image::open(&p).unwrap();
        assert_eq!((img.width(), img.height()), SIZE);
        let b = dir.join("bars.png");
        bar_chart(
            &b,
            "t",
            "µs",
            &[("m".into(), vec![("x".into(), 3.0), ("y".into(), 300.0)])],
        )
        .unwrap();
        assert!(image::open(&b).is_ok());
        assert!(line_chart(&p, "t", "x", "y", &[("a", vec![])]).is_err());
        assert!(bar_chart(&b, "t", "µs", &[("m".into(), vec![("x".into(), -1.0)])]).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
