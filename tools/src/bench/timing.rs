//! Timing statistics: warm up, then repeat until a time budget and a minimum run count are
//! both met, and report the median and the 95th percentile.

use serde::Serialize;
use std::time::{Duration, Instant};

/// Latency of one operation over many runs.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Latency {
    /// Median, microseconds.
    pub median_us: f64,
    /// 95th percentile, microseconds.
    pub p95_us: f64,
    /// Timed runs.
    pub runs: usize,
}

/// How long and how often to measure.
#[derive(Clone, Copy, Debug)]
pub struct Budget {
    /// Keep measuring at least this long.
    pub time: Duration,
    /// And at least this many runs.
    pub min_runs: usize,
    /// Never more than this many runs.
    pub max_runs: usize,
}

/// Times `f`: a few warm-up calls (caches, lazily built plans, GPU shader compilation), then
/// timed calls until `budget` is met.
pub fn measure(
    budget: Budget,
    mut f: impl FnMut() -> Result<(), String>,
) -> Result<Latency, String> {
    let warm = Instant::now();
    for _ in 0..3 {
        f()?;
    }
    // Cheap operations get a longer warm-up so the CPU clock settles.
    while warm.elapsed() < budget.time / 10 {
        f()?;
    }
    let mut times = Vec::new();
    let start = Instant::now();
    while times.len() < budget.max_runs
        && (times.len() < budget.min_runs || start.elapsed() < budget.time)
    {
        let t = Instant::now();
        f()?;
        times.push(t.elapsed().as_secs_f64() * 1e6);
    }
    times.sort_by(f64::total_cmp);
    let at = |p: f32| aedge_runtime::metrics::percentile(&times, p).unwrap_or(f64::NAN);
    Ok(Latency {
        median_us: at(50.0),
        p95_us: at(95.0),
        runs: times.len(),
    })
}
