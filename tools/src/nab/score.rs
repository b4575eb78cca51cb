//! NAB's scoring: a value per row from its position relative to the label windows (early
//! detections inside a window earn most, false positives right after one cost least), one
//! threshold per profile optimised over the whole corpus, and the score normalised between a
//! detector that never fires (0) and a perfect one (100).

/// A cost profile (`config/profiles.json`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Profile {
    /// NAB's name for it.
    pub name: &'static str,
    /// Weight of a detected window.
    pub tp: f64,
    /// Weight of a false positive.
    pub fp: f64,
    /// Cost of a missed window.
    pub fn_: f64,
}

/// NAB's three profiles.
pub const PROFILES: [Profile; 3] = [
    Profile {
        name: "standard",
        tp: 1.0,
        fp: 0.11,
        fn_: 1.0,
    },
    Profile {
        name: "reward_low_FP_rate",
        tp: 1.0,
        fp: 0.22,
        fn_: 1.0,
    },
    Profile {
        name: "reward_low_FN_rate",
        tp: 1.0,
        fp: 0.11,
        fn_: 2.0,
    },
];

/// Rows at the start of a file of `rows` rows that NAB does not score: 15 % of the file, at
/// most 15 % of 5,000.
pub fn probation(rows: usize) -> usize {
    ((0.15 * rows as f64).floor() as usize).min(750)
}

/// NAB's scaled sigmoid: 1 well before the end of a window, −1 well after.
fn sigmoid(y: f64) -> f64 {
    if y > 3.0 {
        -1.0
    } else {
        2.0 / (1.0 + (5.0 * y).exp()) - 1.0
    }
}

/// What a detection at one row is worth before the profile's weights.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Row {
    /// Inside window `window` (an index over the corpus), worth `value` × tp.
    Window { window: usize, value: f64 },
    /// Outside every window: a false positive costing `value` × fp (`value` ≤ 0).
    Outside { value: f64 },
}

/// One row's value for a file of `rows` rows with these `windows` (inclusive row ranges, in
/// order); `first_window` numbers the file's windows within the corpus.
fn row_values(rows: usize, windows: &[(usize, usize)], first_window: usize) -> Vec<Row> {
    let peak = sigmoid(-1.0);
    let mut out = Vec::with_capacity(rows);
    let mut next = 0;
    let mut last: Option<(usize, usize)> = None; // (right row, width) of the last window ended
    for i in 0..rows {
        while next < windows.len() && windows[next].1 < i {
            last = Some((windows[next].1, windows[next].1 - windows[next].0 + 1));
            next += 1;
        }
        let row = match windows.get(next) {
            Some(&(a, b)) if a <= i => {
                let w = (b - a + 1) as f64;
                Row::Window {
                    window: first_window + next,
                    value: sigmoid(-((b - i + 1) as f64) / w) / peak,
                }
            }
            _ => match last {
                None => Row::Outside { value: -1.0 },
                Some((b, w)) if w > 1 => Row::Outside {
                    value: sigmoid((i - b) as f64 / (w - 1) as f64),
                },
                Some(_) => Row::Outside { value: -1.0 },
            },
        };
        out.push(row);
    }
    out
}

/// One series' scores and label windows.
pub struct Scored<'a> {
    /// One anomaly score per row.
    pub scores: &'a [f64],
    /// Label windows, inclusive row ranges in order.
    pub windows: &'a [(usize, usize)],
}

/// A profile's result over the corpus.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Result {
    /// The profile.
    pub profile: Profile,
    /// The best threshold (rows with a score ≥ it detect).
    pub threshold: f64,
    /// The raw score at that threshold.
    pub raw: f64,
    /// A detector that never fires.
    pub null: f64,
    /// A detector that finds every window at its start and nothing else.
    pub perfect: f64,
    /// `100 (raw − null) / (perfect − null)`: NAB's reported score.
    pub normalized: f64,
    /// Windows detected at the threshold.
    pub detected: usize,
    /// Windows in the corpus.
    pub windows: usize,
    /// Detections outside every window (scored rows) at the threshold.
    pub false_positives: usize,
}

/// Scores the corpus under `profile`: sweeps every distinct score from the highest down and
/// keeps the threshold with the best total, as NAB's optimiser does.
pub fn score(files: &[Scored], profile: Profile) -> Result {
    let mut rows: Vec<(f64, Row)> = Vec::new();
    let mut windows = 0;
    for f in files {
        let n = f.scores.len();
        let values = row_values(n, f.windows, windows);
        windows += f.windows.len();
        let skip = probation(n);
        rows.extend(
            f.scores[skip..]
                .iter()
                .copied()
                .zip(values[skip..].iter().copied()),
        );
    }
    rows.sort_by(|a, b| b.0.total_cmp(&a.0));
    let null = -profile.fn_ * windows as f64;
    let mut best_part = vec![-profile.fn_; windows];
    let (mut total, mut detected, mut fps) = (null, 0, 0);
    let mut best = (null, f64::INFINITY, 0, 0);
    let mut i = 0;
    while i < rows.len() {
        let t = rows[i].0;
        while i < rows.len() && rows[i].0 == t {
            match rows[i].1 {
                Row::Window { window, value } => {
                    let v = value * profile.tp;
                    if best_part[window] == -profile.fn_ {
                        detected += 1;
                    }
                    if v > best_part[window] {
                        total += v - best_part[window];
                        best_part[window] = v;
                    }
                }
                Row::Outside { value } => {
                    total += value * profile.fp;
                    fps += 1;
                }
            }
            i += 1;
        }
        if total > best.0 {
            best = (total, t, detected, fps);
        }
    }
    let perfect = profile.tp * windows as f64;
    Result {
        profile,
        threshold: best.1,
        raw: best.0,
        null,
        perfect,
        normalized: 100.0 * (best.0 - null) / (perfect - null),
        detected: best.2,
        windows,
        false_positives: best.3,
    }
}

/// One series at a given threshold: what it adds to the corpus's raw score, and why.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SeriesResult {
    /// The series' part of the raw score: its windows' best detections (or −fn each when
    /// missed) plus its false positives' costs. Summed over the corpus, the corpus's raw score.
    pub raw: f64,
    /// Its windows detected.
    pub detected: usize,
    /// Its label windows.
    pub windows: usize,
    /// Its detections outside every window (scored rows).
    pub false_positives: usize,
}

/// Scores one series at `threshold` under `profile` (NAB's per-file scores at the corpus's
/// optimised threshold).
pub fn series(f: &Scored, profile: Profile, threshold: f64) -> SeriesResult {
    let n = f.scores.len();
    let values = row_values(n, f.windows, 0);
    let mut best = vec![-profile.fn_; f.windows.len()];
    let mut hit = vec![false; f.windows.len()];
    let (mut fp_cost, mut false_positives) = (0.0, 0);
    for (&score, row) in f.scores.iter().zip(&values).skip(probation(n)) {
        if score < threshold {
            continue;
        }
        match *row {
            Row::Window { window, value } => {
                hit[window] = true;
                best[window] = best[window].max(value * profile.tp);
            }
            Row::Outside { value } => {
                fp_cost += value * profile.fp;
                false_positives += 1;
            }
        }
    }
    SeriesResult {
        raw: best.iter().sum::<f64>() + fp_cost,
        detected: hit.iter().filter(|&&h| h).count(),
        windows: f.windows.len(),
        false_positives,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn series_results_add_up_to_the_corpus() {
        // Two series: a window found late plus a false positive after it; a window missed and
        // a false positive before any window.
        let (w1, w2) = ([(100, 119)], [(120, 139)]);
        let mut s1 = vec![0.0; 200];
        s1[110] = 0.9;
        s1[150] = 0.95;
        let mut s2 = vec![0.0; 200];
        s2[60] = 0.97;
        s2[125] = 0.5;
        let files = [
            Scored {
                scores: &s1,
                windows: &w1,
            },
            Scored {
                scores: &s2,
                windows: &w2,
            },
        ];
        for p in PROFILES {
            let r = score(&files, p);
            let parts: Vec<SeriesResult> =
                files.iter().map(|f| series(f, p, r.threshold)).collect();
            let raw: f64 = parts.iter().map(|s| s.raw).sum();
            assert!((raw - r.raw).abs() < 1e-9, "{p:?}: {raw} vs {r:?}");
            assert_eq!(parts.iter().map(|s| s.detected).sum::<usize>(), r.detected);
            assert_eq!(
                parts.iter().map(|s| s.false_positives).sum::<usize>(),
                r.false_positives
            );
            assert_eq!(parts.iter().map(|s| s.windows).sum::<usize>(), r.windows);
        }
        // At a threshold of 0.9 the second series has only its false positive; its window is
        // missed.
        let p = PROFILES[0];
        let s = series(&files[1], p, 0.9);
        assert_eq!((s.detected, s.false_positives), (0, 1));
        assert!((s.raw - (-p.fn_ - p.fp)).abs() < 1e-12, "{s:?}");
    }

    #[test]
    fn probation_is_fifteen_percent_capped() {
        assert_eq!(probation(100), 15);
        assert_eq!(probation(4032), 604);
        assert_eq!(probation(22695), 750);
    }

    #[test]
    fn row_values_follow_the_window_positions() {
        // Rows 0..10, one window over rows 4..=6.
        let v = row_values(10, &[(4, 6)], 0);
        assert_eq!(v[0], Row::Outside { value: -1.0 });
        let Row::Window { window: 0, value } = v[4] else {
            panic!("{:?}", v[4])
        };
        // First row of a window: y = -1, so exactly tp.
        assert!((value - 1.0).abs() < 1e-12);
        let Row::Window { value: last, .. } = v[6] else {
            panic!()
        };
        assert!((last - sigmoid(-1.0 / 3.0) / sigmoid(-1.0)).abs() < 1e-12);
        // Right after the window: y = 1/(w-1) = 0.5.
        assert_eq!(
            v[7],
            Row::Outside {
                value: sigmoid(0.5)
            }
        );
        assert!(sigmoid(0.5) < 0.0 && sigmoid(0.5) > -1.0);
    }

    #[test]
    fn perfect_null_and_a_false_positive() {
        // 200 rows, probation 30, one window 100..=119.
        let windows = [(100, 119)];
        let mut scores = vec![0.0; 200];
        let p = PROFILES[0];
        let r = score(
            &[Scored {
                scores: &scores,
                windows: &windows,
            }],
            p,
        );
        assert_eq!((r.raw, r.normalized, r.detected), (-1.0, 0.0, 0));
        scores[100] = 1.0;
        let r = score(
            &[Scored {
                scores: &scores,
                windows: &windows,
            }],
            p,
        );
        assert!((r.normalized - 100.0).abs() < 1e-9, "{r:?}");
        // A false positive before the window scores higher: the best threshold now also
        // counts it, or drops both; here detecting still pays (1 - 0.11 > -1).
        scores[50] = 1.0;
        let r = score(
            &[Scored {
                scores: &scores,
                windows: &windows,
            }],
            p,
        );
        assert!((r.raw - (1.0 - 0.11)).abs() < 1e-12, "{r:?}");
        assert_eq!(r.false_positives, 1);
        // Inside the probation a detection is not counted at all.
        scores[50] = 0.0;
        scores[10] = 1.0;
        let r = score(
            &[Scored {
                scores: &scores,
                windows: &windows,
            }],
            p,
        );
        assert_eq!(r.false_positives, 0);
    }
}
