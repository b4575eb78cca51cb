//! Series models on the host: the series definition `aedge train` keeps beside a checkpoint
//! (columns, window, stride, the normal stretch and its standardisation), the windows it
//! cuts for training and calibration, and per-row scores through the runtime's own
//! [`Stream`], so the host's scores are the device's.

use crate::data::DataArgs;
use aedge_runtime::{Likelihood, Model, Moments, PatternDesc, Point, Stream};
use aedge_trainer::data::{Dataset, Series};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// How a series is cut and scored, fixed at training time.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Definition {
    /// The sensor columns, in channel order.
    pub columns: Vec<String>,
    /// Rows per window.
    pub window: usize,
    /// Rows between two scored windows.
    pub stride: usize,
    /// The newest rows of a window whose error is the window's.
    pub tail: usize,
    /// Rows of the series the model was built from: the normal stretch at its start.
    pub normal_rows: usize,
    /// Share of the normal stretch's windows (its end) held out for the threshold.
    pub val: f32,
    /// Per-column mean over the normal stretch.
    pub mean: Vec<f32>,
    /// Per-column standard deviation over the normal stretch (0 becomes 1).
    pub std: Vec<f32>,
    /// Windows the running error estimate remembers.
    pub memory: u32,
    /// Windows in the recent mean error.
    pub short: u16,
    /// Score at which a row is flagged.
    pub alarm: f32,
    /// Windows a score must beat the highest score of to be reported (0 in checkpoints
    /// made before the hold existed).
    #[serde(default)]
    pub hold: u16,
    /// Likelihood added when a value lies outside every value seen before (0: off, as in
    /// checkpoints made before the range check existed).
    #[serde(default)]
    pub novelty: f32,
    /// Per-column lowest and highest value over the normal stretch.
    #[serde(default)]
    pub range: Vec<[f32; 2]>,
    /// Rows in the series' cycle, each sample compared with the one a cycle earlier (0: no
    /// comparison).
    #[serde(default)]
    pub period: usize,
    /// The seasonal differences' statistics over the normal stretch.
    #[serde(default)]
    pub seasonal: Moments,
    /// The pattern memory (one-column series; `None` with `--no-patterns`, for several
    /// columns, and in checkpoints made before it existed).
    #[serde(default)]
    pub pattern: Option<PatternDesc>,
    /// FNV-1a of the normal stretch's values: export checks it is given the same series.
    pub fingerprint: u32,
}

impl Definition {
    /// The file name inside the checkpoint directory.
    pub const FILE: &'static str = "series.json";

    /// The definition `train` makes of `s` under the arguments `a`, holding out `val`.
    pub fn new(a: &DataArgs, s: &Series, val: f32) -> crate::Result<Definition> {
        if !(a.normal_part > 0.0 && a.normal_part <= 1.0) {
            return Err("--normal-part must be in (0, 1]".into());
        }
        let normal_rows = ((s.rows() as f64 * a.normal_part as f64).ceil() as usize).min(s.rows());
        Self::with_normal_rows(a, s, val, normal_rows)
    }

    /// As [`Definition::new`] with the normal stretch given in rows.
    pub fn with_normal_rows(
        a: &DataArgs,
        s: &Series,
        val: f32,
        normal_rows: usize,
    ) -> crate::Result<Definition> {
        let path = a.data.display();
        let window = a.window_len();
        if window == 0 || a.stride == 0 {
            return Err("--window and --stride must be at least 1".into());
        }
        if !(0.0..1.0).contains(&val) {
            return Err("--val must be in [0, 1)".into());
        }
        let tail = a.tail;
        if tail == 0 || tail > window {
            return Err(format!(
                "--tail must be between 1 and the window ({window} rows)"
            ));
        }
        let normal_rows = normal_rows.min(s.rows());
        if normal_rows < window + 1 {
            return Err(format!(
                "{path}: the normal stretch is {normal_rows} of {} rows (--normal-part {}), fewer than one window of {window} plus one; give a longer series, a larger --normal-part or a smaller --window",
                s.rows(),
                a.normal_part,
            ));
        }
        let (mean, std) = s.stats(normal_rows);
        let l = Likelihood::NAB;
        let period = match a.period {
            Some(p) => p,
            None => s.cycle(normal_rows, window),
        };
        if period > u16::MAX as usize {
            return Err(format!("--period must be at most {}", u16::MAX));
        }
        if period > 0 && period >= normal_rows {
            return Err(format!(
                "--period {period} is not shorter than the normal stretch ({normal_rows} rows): no sample of it has one a period earlier"
            ));
        }
        let seasonal = s.seasonal_moments(normal_rows, period, &std);
        let pattern = if a.no_patterns || s.channels() != 1 {
            None
        } else {
            aedge_runtime::pattern::fit(&s.values[..normal_rows], a.pattern_levels)
        };
        Ok(Definition {
            columns: s.columns.clone(),
            window,
            stride: a.stride,
            tail,
            normal_rows,
            val,
            mean,
            std,
            memory: l.memory,
            short: l.short,
            alarm: l.alarm,
            hold: hold_windows(normal_rows, a.stride),
            novelty: NOVELTY,
            range: s.range(normal_rows),
            period,
            seasonal,
            pattern,
            fingerprint: fingerprint(s, normal_rows),
        })
    }

    /// Reads this definition's columns from the CSV at `path`.
    pub fn read(&self, path: &Path) -> crate::Result<Series> {
        let cols: Vec<&str> = self.columns.iter().map(String::as_str).collect();
        Series::read(path, &cols).map_err(|e| e.to_string())
    }

    /// Checks that `s` is the series the definition was made of.
    pub fn check(&self, s: &Series, path: &Path) -> crate::Result<()> {
        if s.rows() < self.normal_rows || fingerprint(s, self.normal_rows) != self.fingerprint {
            return Err(format!(
                "{}: its first {} rows are not the normal stretch the checkpoint was trained on; give the same --data as to aedge train",
                path.display(),
                self.normal_rows
            ));
        }
        Ok(())
    }

    /// Every window (stride 1) of the normal stretch, standardised.
    pub fn normal(&self, s: &Series) -> crate::Result<Dataset> {
        let c = s.channels();
        let part = Series {
            columns: s.columns.clone(),
            values: s.values[..self.normal_rows * c].to_vec(),
            time: None,
        };
        part.windows(self.window, 1, &self.mean, &self.std)
    }

    /// (training, held-out) windows of [`Definition::normal`]: the held-out ones are the
    /// last `val` of them, and the `window - 1` windows before those are dropped so no
    /// training window shares a row with a held-out one.
    pub fn split(&self, d: &Dataset) -> crate::Result<(Dataset, Dataset)> {
        let n = d.len();
        let n_val = (n as f64 * self.val as f64).round() as usize;
        if n_val == 0 {
            return Ok((d.clone(), d.select(&[])));
        }
        let n_train = n.saturating_sub(n_val + self.window - 1);
        if n_train == 0 {
            return Err(format!(
                "the normal stretch has {n} windows, too few to hold out {n_val} and train on the rest; give a larger --normal-part or a smaller --val"
            ));
        }
        let train: Vec<usize> = (0..n_train).collect();
        let val: Vec<usize> = (n - n_val..n).collect();
        Ok((d.select(&train), d.select(&val)))
    }

    /// The series record the model files carry.
    pub fn runtime(&self) -> crate::Result<aedge_runtime::ir::Series> {
        Ok(aedge_runtime::ir::Series {
            columns: self.columns.clone(),
            stride: u16::try_from(self.stride).map_err(|_| "--stride must be at most 65535")?,
            tail: u16::try_from(self.tail).map_err(|_| "--tail must be at most 65535")?,
            likelihood: Likelihood {
                memory: self.memory,
                short: self.short,
                alarm: self.alarm,
                hold: self.hold,
                novelty: self.novelty,
            },
            range: self.range.clone(),
            period: self.period as u16,
            seasonal: self.seasonal,
            pattern: self.pattern,
        })
    }

    /// Writes the definition into the checkpoint directory `dir`.
    pub fn save(&self, dir: &Path) -> crate::Result<()> {
        crate::data::save_record(dir, Self::FILE, self)
    }

    /// The definition in the checkpoint directory `dir`, if it was trained on a series.
    pub fn load(dir: &Path) -> crate::Result<Option<Definition>> {
        crate::data::load_record(dir, Self::FILE)
    }
}

/// Likelihood (`−log10` of a tail probability) added for a value outside every value seen
/// before: 100 puts such windows above all but the most extreme errors (on NAB, 10 and 30
/// gave 4 and 0.5 points less, 1000 0.8 less).
const NOVELTY: f32 = 100.0;

/// The hold: an eighth of the normal stretch, in windows (at least 1). On NAB (normal
/// stretch = the probationary period) a sixth to a sixteenth score within 0.1 points.
fn hold_windows(normal_rows: usize, stride: usize) -> u16 {
    (normal_rows / 8 / stride.max(1)).clamp(1, u16::MAX as usize) as u16
}

fn fingerprint(s: &Series, rows: usize) -> u32 {
    crate::data::fingerprint_values(&s.values[..rows * s.channels()])
}

/// The rows of the model's window, checking that `s` holds at least one window.
fn window_rows(m: &Model, s: &Series) -> crate::Result<usize> {
    let rows = m.input_shape().h as usize;
    if s.rows() < rows {
        return Err(format!(
            "the series has {} rows, fewer than the model's window of {rows}",
            s.rows()
        ));
    }
    Ok(rows)
}

/// Evenly spread indices, at most `n` of `0..len` (windows for int8 ranges: consecutive
/// stride-1 windows would cover only a short stretch of the series).
pub fn spread(len: usize, n: usize) -> Vec<usize> {
    let k = n.min(len);
    (0..k).map(|i| i * len / k.max(1)).collect()
}

/// The series model's columns of the CSV at `path`.
pub fn read_for(m: &Model, path: &Path) -> crate::Result<Series> {
    let s = m.series().ok_or(
        "the model has no series definition; export it from a checkpoint trained on a CSV series",
    )?;
    let cols: Vec<&str> = s.columns.split(',').collect();
    Series::read(path, &cols).map_err(|e| e.to_string())
}

/// Per row of `s`, the point of the last window scored at or before it (`None` before the
/// first full window): causal, each row's score uses rows up to it only.
pub fn score_rows(m: &Model, s: &Series) -> crate::Result<Vec<Option<Point>>> {
    let mut arena = aedge_runtime::AlignedBytes::zeroed(m.arena_len());
    let mut buffer = vec![0.0; Stream::buffer_len(m)];
    let mut stream = Stream::new(*m, &mut buffer).map_err(|e| e.to_string())?;
    window_rows(m, s)?;
    let c = s.channels();
    let mut last = None;
    let mut out = Vec::with_capacity(s.rows());
    for (r, sample) in s.values.chunks_exact(c).enumerate() {
        if let Some(p) = stream
            .push(sample, &mut arena)
            .map_err(|e| format!("row {}: {e}", r + 1))?
        {
            last = Some(p);
        }
        out.push(last);
    }
    Ok(out)
}

/// Writes one CSV row per series row: the timestamp (when the series has one), the values,
/// the raw window error, the level, the pattern memory's report (0: none), the score (the
/// level when it reports an event, else 0) and the verdict (empty before the first full
/// window).
pub fn write_scores(path: &Path, s: &Series, points: &[Option<Point>]) -> crate::Result<()> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut header: Vec<String> = Vec::new();
    if let Some((name, _)) = &s.time {
        header.push(name.clone());
    }
    header.extend(s.columns.iter().cloned());
    header.extend(["error", "level", "pattern", "score", "anomalous"].map(String::from));
    let csv_err = |e: csv::Error| format!("{}: {e}", path.display());
    w.write_record(&header).map_err(csv_err)?;
    let c = s.channels();
    for (r, p) in points.iter().enumerate() {
        let mut rec: Vec<String> = Vec::with_capacity(header.len());
        if let Some((_, times)) = &s.time {
            rec.push(times[r].clone());
        }
        rec.extend(s.values[r * c..(r + 1) * c].iter().map(|v| v.to_string()));
        match p {
            Some(p) => {
                rec.push(p.error.to_string());
                rec.push(p.level.to_string());
                rec.push(p.pattern.to_string());
                rec.push(p.score.to_string());
                rec.push(p.anomalous.to_string());
            }
            None => rec.extend(std::iter::repeat_n(String::new(), 5)),
        }
        w.write_record(&rec).map_err(csv_err)?;
    }
    let bytes = w.into_inner().map_err(|e| e.to_string())?;
    aedge_runtime::fs::write_atomic(path, &bytes).map_err(|e| format!("{}: {e}", path.display()))
}

/// Raw (sensor-unit) windows of `s` for a series model: every `stride` rows, as `Stream`
/// scores them.
pub fn raw_windows(m: &Model, s: &Series) -> crate::Result<Vec<Vec<f32>>> {
    let desc = m.series().ok_or("the model has no series definition")?;
    let (rows, c) = (window_rows(m, s)?, s.channels());
    Ok((0..=s.rows() - rows)
        .step_by(desc.stride as usize)
        .map(|start| s.values[start * c..(start + rows) * c].to_vec())
        .collect())
}
