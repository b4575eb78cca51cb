//! CSV time series: numeric columns read in order, cut into windows with a stride, and
//! standardised per channel with statistics that travel with the model.

use super::Dataset;
use aedge_runtime::Moments;
use std::path::{Path, PathBuf};

/// Why a CSV series could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SeriesError {
    /// The file could not be read or parsed as CSV.
    #[error("{path}: {message}")]
    Csv {
        /// The file.
        path: PathBuf,
        /// The parser's message.
        message: String,
    },
    /// A requested column is missing.
    #[error("{path}: no column named '{column}' (columns: {available})")]
    NoColumn {
        /// The file.
        path: PathBuf,
        /// The missing column.
        column: String,
        /// The header.
        available: String,
    },
    /// A value is not a number.
    #[error("{path}: row {row}, column '{column}': '{value}' is not a number")]
    NotNumber {
        /// The file.
        path: PathBuf,
        /// 1-based data row.
        row: usize,
        /// Column name.
        column: String,
        /// The text found.
        value: String,
    },
    /// An empty cell.
    #[error("{path}: row {row}, column '{column}' is empty (a gap: fill it or drop the row)")]
    Gap {
        /// The file.
        path: PathBuf,
        /// 1-based data row.
        row: usize,
        /// Column name.
        column: String,
    },
    /// Too few rows for one window, or no numeric columns.
    #[error("{path}: {message}")]
    TooShort {
        /// The file.
        path: PathBuf,
        /// What is missing.
        message: String,
    },
}

/// A multichannel series, one row per time step.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    /// Column names.
    pub columns: Vec<String>,
    /// `rows × channels` values.
    pub values: Vec<f32>,
    /// The first non-numeric column (a timestamp, usually): its name and text per row, kept
    /// so scores can be written beside the rows they belong to.
    pub time: Option<(String, Vec<String>)>,
}

/// Smallest autocorrelation a cycle must show over a stretch to be found by
/// [`Series::cycle`]. On NAB, 0.2 to 0.4 score within 0.6 points of each other.
const MIN_CYCLE_CORRELATION: f64 = 0.3;

/// Rows a cycle is looked for in (the search is quadratic in them).
const CYCLE_SEARCH_ROWS: usize = 20_000;

impl Series {
    /// The cycle of the first `rows` rows: the lag, longer than `window` (shorter cycles lie
    /// inside one window) and at most half the rows, where the channels' mean
    /// autocorrelation has its highest local maximum, if at least 0.3; else 0. Looks at most
    /// at the first 20,000 rows.
    pub fn cycle(&self, rows: usize, window: usize) -> usize {
        let c = self.channels();
        let rows = rows.min(self.rows()).min(CYCLE_SEARCH_ROWS);
        let max_lag = (rows / 2).min(u16::MAX as usize);
        if c == 0 || max_lag < window + 2 {
            return 0;
        }
        let mut ac = vec![0f64; max_lag + 1];
        for ch in 0..c {
            let x: Vec<f64> = (0..rows).map(|r| self.values[r * c + ch] as f64).collect();
            let mean = x.iter().sum::<f64>() / rows as f64;
            let x: Vec<f64> = x.iter().map(|v| v - mean).collect();
            let energy: f64 = x.iter().map(|v| v * v).sum();
            if energy <= 0.0 {
                continue;
            }
            for (lag, a) in ac.iter_mut().enumerate().skip(window) {
                let sum: f64 = x[lag..].iter().zip(&x).map(|(a, b)| a * b).sum();
                *a += sum / energy / c as f64;
            }
        }
        let mut best = (0, MIN_CYCLE_CORRELATION);
        for lag in window + 1..max_lag {
            if ac[lag] >= best.1 && ac[lag] >= ac[lag - 1] && ac[lag] >= ac[lag + 1] {
                best = (lag, ac[lag]);
            }
        }
        best.0
    }

    /// Count, mean and standard deviation over the first `rows` rows of the seasonal error
    /// `aedge_runtime::Stream` computes: the mean over channels of the squared difference
    /// from the sample `period` rows earlier, divided by the channel's `std`.
    pub fn seasonal_moments(&self, rows: usize, period: usize, std: &[f32]) -> Moments {
        let c = self.channels();
        let rows = rows.min(self.rows());
        if period == 0 || rows <= period || std.len() != c {
            return Moments::default();
        }
        let d: Vec<f64> = (period..rows)
            .map(|r| {
                (0..c)
                    .map(|ch| {
                        let diff = (self.values[r * c + ch] - self.values[(r - period) * c + ch])
                            / std[ch];
                        (diff * diff) as f64
                    })
                    .sum::<f64>()
                    / c as f64
            })
            .collect();
        let n = d.len() as f64;
        let mean = d.iter().sum::<f64>() / n;
        let var = d.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n;
        Moments {
            count: d.len() as u32,
            mean: mean as f32,
            std: var.sqrt() as f32,
        }
    }

    /// Channels.
    pub fn channels(&self) -> usize {
        self.columns.len()
    }

    /// Time steps.
    pub fn rows(&self) -> usize {
        self.values.len() / self.channels().max(1)
    }

    /// Reads `columns` (by header name) from a CSV file with a header row; with no columns
    /// given, every column whose first value is numeric (so a `timestamp` column is skipped).
    /// Empty cells (gaps) and non-finite values are errors naming the row and column.
    pub fn read(path: impl AsRef<Path>, columns: &[&str]) -> Result<Series, SeriesError> {
        let path = path.as_ref();
        let err = |e: csv::Error| SeriesError::Csv {
            path: path.into(),
            message: e.to_string(),
        };
        let mut rdr = csv::ReaderBuilder::new()
            .trim(csv::Trim::All)
            .from_path(path)
            .map_err(err)?;
        let header: Vec<String> = rdr
            .headers()
            .map_err(err)?
            .iter()
            .map(str::to_string)
            .collect();
        let mut records = rdr.records();
        let first = match records.next() {
            Some(r) => r.map_err(err)?,
            None => {
                return Err(SeriesError::TooShort {
                    path: path.into(),
                    message: "the file has no data rows".into(),
                })
            }
        };
        let picked: Vec<usize> = if columns.is_empty() {
            (0..header.len())
                .filter(|&i| first.get(i).is_some_and(|v| v.parse::<f32>().is_ok()))
                .collect()
        } else {
            columns
                .iter()
                .map(|c| {
                    header
                        .iter()
                        .position(|h| h == c)
                        .ok_or_else(|| SeriesError::NoColumn {
                            path: path.into(),
                            column: c.to_string(),
                            available: header.join(", "),
                        })
                })
                .collect::<Result<_, _>>()?
        };
        if picked.is_empty() {
            return Err(SeriesError::TooShort {
                path: path.into(),
                message: "no numeric columns".into(),
            });
        }
        let time_col =
            (0..header.len()).find(|&i| first.get(i).is_some_and(|v| v.parse::<f32>().is_err()));
        let mut times = Vec::new();
        let mut values = Vec::new();
        for (row, rec) in std::iter::once(Ok(first)).chain(records).enumerate() {
            let rec = rec.map_err(err)?;
            if let Some(t) = time_col {
                times.push(rec.get(t).unwrap_or("").to_string());
            }
            for &c in &picked {
                let text = rec.get(c).unwrap_or("");
                if text.is_empty() {
                    return Err(SeriesError::Gap {
                        path: path.into(),
                        row: row + 1,
                        column: header[c].clone(),
                    });
                }
                let v: f32 = text
                    .parse()
                    .ok()
                    .filter(|v: &f32| v.is_finite())
                    .ok_or_else(|| SeriesError::NotNumber {
                        path: path.into(),
                        row: row + 1,
                        column: header[c].clone(),
                        value: text.to_string(),
                    })?;
                values.push(v);
            }
        }
        Ok(Series {
            columns: picked.iter().map(|&i| header[i].clone()).collect(),
            values,
            time: time_col.map(|t| (header[t].clone(), times)),
        })
    }

    /// Per-channel lowest and highest value over rows `0..rows`.
    pub fn range(&self, rows: usize) -> Vec<[f32; 2]> {
        let c = self.channels();
        let mut range = vec![[f32::INFINITY, f32::NEG_INFINITY]; c];
        for row in self.values[..rows.min(self.rows()) * c].chunks_exact(c.max(1)) {
            for (r, &v) in range.iter_mut().zip(row) {
                *r = [r[0].min(v), r[1].max(v)];
            }
        }
        range
    }

    /// Per-channel mean and standard deviation over rows `0..rows` (a std of 0 becomes 1).
    pub fn stats(&self, rows: usize) -> (Vec<f32>, Vec<f32>) {
        let c = self.channels();
        let rows = rows.min(self.rows()).max(1);
        let mut mean = vec![0f64; c];
        let mut sq = vec![0f64; c];
        for r in 0..rows {
            for ch in 0..c {
                let v = self.values[r * c + ch] as f64;
                mean[ch] += v;
                sq[ch] += v * v;
            }
        }
        let mean: Vec<f64> = mean.iter().map(|m| m / rows as f64).collect();
        let std: Vec<f32> = sq
            .iter()
            .zip(&mean)
            .map(|(s, m)| ((s / rows as f64 - m * m).max(0.0)).sqrt() as f32)
            .map(|s| if s > 0.0 { s } else { 1.0 })
            .collect();
        (mean.iter().map(|&m| m as f32).collect(), std)
    }

    /// Windows of `len` steps every `stride` steps, standardised with `(mean, std)` (from
    /// [`Series::stats`], usually over the training part only).
    pub fn windows(
        &self,
        len: usize,
        stride: usize,
        mean: &[f32],
        std: &[f32],
    ) -> Result<Dataset, String> {
        let c = self.channels();
        if len == 0 || stride == 0 {
            return Err("window length and stride must be at least 1".into());
        }
        if self.rows() < len {
            return Err(format!(
                "the series has {} rows, fewer than one window of {len}",
                self.rows()
            ));
        }
        if mean.len() != c || std.len() != c {
            return Err("statistics do not match the number of channels".into());
        }
        let scale: Vec<f32> = std.iter().map(|s| 1.0 / s).collect();
        let offset: Vec<f32> = mean.iter().zip(std).map(|(m, s)| -m / s).collect();
        let mut x = Vec::new();
        let mut start = 0;
        while start + len <= self.rows() {
            for r in start..start + len {
                for ch in 0..c {
                    x.push(self.values[r * c + ch] * scale[ch] + offset[ch]);
                }
            }
            start += stride;
        }
        Ok(Dataset {
            shape: [len, 1, c],
            x,
            labels: None,
            scale,
            offset,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cycle_is_found_when_there_is_one() {
        let wave = |period: f32, noise: f32| Series {
            columns: vec!["a".into(), "b".into()],
            values: (0..600)
                .flat_map(|t| {
                    let x = (t as f32 * core::f32::consts::TAU / period).sin();
                    // A second channel with the same cycle, and a little deterministic noise.
                    [x + noise * ((t * 7919) % 13) as f32 / 13.0, 2.0 * x + 1.0]
                })
                .collect(),
            time: None,
        };
        assert_eq!(wave(50.0, 0.1).cycle(600, 16), 50);
        // A cycle shorter than the window is compared at its first multiple beyond it.
        assert_eq!(wave(10.0, 0.0).cycle(600, 16), 20);
        let noise = Series {
            columns: vec!["a".into()],
            values: aedge_runtime::rng::SplitMix(5).vec(600, -1.0, 1.0),
            time: None,
        };
        assert_eq!(noise.cycle(600, 16), 0);
        // The seasonal error of a perfect cycle is zero; of its noisy copy, not.
        let m = wave(50.0, 0.0).seasonal_moments(600, 50, &[1.0, 1.0]);
        assert_eq!(m.count, 550);
        assert!(m.mean < 1e-8, "{m:?}");
        assert!(wave(50.0, 0.5).seasonal_moments(600, 50, &[1.0, 1.0]).mean > 0.01);
        assert_eq!(
            wave(50.0, 0.0).seasonal_moments(600, 0, &[1.0, 1.0]),
            Moments::default()
        );
    }

    fn file(text: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("aedge-csv-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join(format!("{}.csv", text.len()));
        std::fs::write(&p, text).unwrap();
        p
    }

    #[test]
    fn reads_numeric_columns_and_windows() {
        let p = file("timestamp,value,temp\n2014-01-01 00:00:00,1,10\n2014-01-01 00:05:00,2,20\n2014-01-01 00:10:00,3,30\n2014-01-01 00:15:00,4,40\n");
        let s = Series::read(&p, &[]).unwrap();
        assert_eq!(s.columns, vec!["value", "temp"]);
        let (name, times) = s.time.as_ref().unwrap();
        assert_eq!(
            (name.as_str(), times[3].as_str()),
            ("timestamp", "2014-01-01 00:15:00")
        );
        assert_eq!(s.rows(), 4);
        let (mean, std) = s.stats(4);
        assert_eq!(mean, vec![2.5, 25.0]);
        let w = s.windows(3, 1, &mean, &std).unwrap();
        assert_eq!(w.shape, [3, 1, 2]);
        assert_eq!(w.len(), 2);
        // Standardised, and back to raw units through the stored scale/offset.
        assert!((w.sample(0)[0] - (1.0 - 2.5) / std[0]).abs() < 1e-6);
        assert!((w.raw(1)[5] - 40.0).abs() < 1e-4);
        let only = Series::read(&p, &["temp"]).unwrap();
        assert_eq!(only.values, vec![10.0, 20.0, 30.0, 40.0]);
    }

    #[test]
    fn bad_files_are_clear_errors() {
        let e = |t: &str, cols: &[&str]| Series::read(file(t), cols).unwrap_err().to_string();
        assert!(e("a,b\n1,2\n3,x\n", &[]).contains("row 2, column 'b': 'x' is not a number"));
        assert!(e("a,b\n1,2\n3,\n", &[]).contains("row 2, column 'b' is empty"));
        assert!(e("a,b\n1,2\n3,NaN\n", &[]).contains("row 2, column 'b': 'NaN' is not a number"));
        assert!(e("a,b\n1,2\n", &["c"]).contains("no column named 'c'"));
        assert!(e("a,b\n", &[]).contains("no data rows"));
        assert!(e("t\nfoo\n", &[]).contains("no numeric columns"));
        assert!(e("a,b\n1,2\n3\n", &[]).contains("found record with 1 field"));
        assert!(Series::read("/nonexistent.csv", &[])
            .unwrap_err()
            .to_string()
            .contains("/nonexistent.csv"));
        let s = Series::read(file("v\n1\n2\n"), &[]).unwrap();
        assert!(s.windows(5, 1, &[0.0], &[1.0]).is_err());
    }
}
