//! Scoring a stream one sample at a time: the device side of a series model. Samples go into
//! a caller-owned window buffer; once it holds a full window, and then every `stride`
//! samples, the window's reconstruction error is turned into a score in `[0, 1]` by a running
//! estimate of the error distribution (NAB's "anomaly likelihood"), or of the distribution of
//! differences from the sample one period earlier when that is less likely, raised when a value
//! lies outside every value seen before (as NAB's HTM detector does) and held so that an event
//! is reported once; a one-channel model with a pattern memory also reports windows of a shape
//! never seen before ([`crate::pattern`]). No heap, and the host's per-timestamp scores are
//! this same code, so device and host agree bit for bit.

use crate::desc::{Likelihood, Moments, SeriesDesc};
use crate::error::Error;
use crate::model::Model;
use crate::pattern::Patterns;

/// One scored window: the result of [`Stream::push`] when a window completes.
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Point {
    /// The window's reconstruction error (the model's metric, model units).
    pub error: f32,
    /// Anomaly score in `[0, 1]`: the window's [`Point::level`] if it beats the highest level
    /// of the last `hold` windows (see [`Likelihood::hold`]) and that level was under
    /// [`FIRM`], else 0 — one report per event.
    pub score: f32,
    /// The score before the hold: `L / (L + 7)`, where `L` is `−log10` of the tail
    /// probability of the recent error under the errors seen so far (or of the difference
    /// from a period earlier under those differences, when smaller), plus the likelihood's
    /// `novelty` when a value lay outside every value seen before (0.5 is a tail probability
    /// of 10⁻⁷; it keeps rising, never saturating, for rarer errors), raised to the pattern
    /// memory's level when that is higher.
    pub level: f32,
    /// The pattern memory's report since the last scored window: the confidence in `(0, 1]`
    /// that a novel shape appeared, 0 if none (or the model has no pattern memory). When
    /// positive, `level` is at least `PATTERN_FLOOR + (1 − PATTERN_FLOOR) · c`, where `c` is
    /// the report raised by what the error saw over the pattern's last step (see
    /// [`PATTERN_FLOOR`], [`CORROBORATION`]), and the score is that level unless the hold
    /// keeps it at 0.
    pub pattern: f32,
    /// `score >= alarm` of the model's likelihood settings.
    pub anomalous: bool,
}

/// Where a pattern report enters the score: `PATTERN_FLOOR + (1 − PATTERN_FLOOR) ·
/// confidence`, just under the levels of a 10⁻⁶³ error tail, so a novel shape ranks beside
/// the rarest errors (on NAB, floors of 0.88 and 0.92 gave about a point less than 0.9).
pub const PATTERN_FLOOR: f32 = 0.9;

/// A pattern report's confidence is raised by this times the highest level of the error (with
/// the range check) over the rows of the pattern's last step: a new shape that the error also
/// found unusual is more likely an event. On NAB, averaged over pattern level counts from 60
/// to 84: 0.2 to 0.3 scored within 0.2 points of each other and 0.5 to 0.7 above none; the
/// level over two steps instead of one scored 0.2 less, and without the range check 0.3 less.
pub const CORROBORATION: f32 = 0.25;

/// A reported level at or above this holds firm: until its hold ends, no later level is
/// reported, however high, where a weaker report is followed by any higher level. A confident
/// report has found its event, and what comes next in the same hold is that event going on;
/// a weak one may be the first sign of an event still to show. 0.95 is a pattern report of
/// half confidence, an error tail of 10⁻¹³³, or a value outside the range seen with a 10⁻³³
/// error tail. On NAB, every escalation within a hold after a false report was another
/// false report (43 of 255 at the standard threshold, none the first report in a window);
/// averaged over pattern level counts from 60 to 84, 0.94 to 0.97 scored 0.5 to 1.1 points
/// above no firm level (0.95 the most, each level count higher by 0.9 to 1.2), while 0.93
/// scored 1.8 below: a bare range-check report (0.935) must not hold firm.
pub const FIRM: f32 = 0.95;

/// `L` at which a level is 0.5.
const HALF_LEVEL: f32 = 7.0;

/// Smallest standard deviation the error distribution is given, relative to its mean and
/// absolute: a flat stretch of a series has almost no error spread, and without a floor the
/// first small wobble after it would be called a certain anomaly.
const STD_FLOOR_REL: f32 = 0.05;
const STD_FLOOR_ABS: f32 = 1e-6;

/// `-log10` of the standard normal upper tail probability at `z`: by `erfc` where f32 holds
/// it, by the asymptotic series beyond (so far-out errors still rank above less far ones,
/// rather than all scoring the same).
fn neg_log10_tail(z: f32) -> f32 {
    if z < 5.0 {
        -libm::log10f(0.5 * libm::erfcf(z * core::f32::consts::FRAC_1_SQRT_2))
    } else {
        // Q(z) ≈ φ(z) / z · (1 − 1/z²); ln φ(z) = −z²/2 − ln √(2π).
        let ln_q = -0.5 * z * z - 0.918_938_5 - libm::logf(z) + libm::logf(1.0 - 1.0 / (z * z));
        -ln_q * core::f32::consts::LOG10_E
    }
}

/// A running mean and variance over at most `memory` values (older ones fade out).
#[derive(Clone, Copy, Debug, PartialEq)]
struct Moving {
    n: u32,
    mean: f32,
    var: f32,
}

impl Moving {
    fn new(m: Moments, memory: u32) -> Self {
        if m.count > 0 && m.mean.is_finite() && m.std.is_finite() {
            Moving {
                n: m.count.min(memory),
                mean: m.mean,
                var: m.std * m.std,
            }
        } else {
            Moving {
                n: 0,
                mean: 0.0,
                var: 0.0,
            }
        }
    }

    /// `−log10` of the tail probability of `x` (0 before any value).
    fn likelihood(&self, x: f32) -> f32 {
        if self.n == 0 {
            return 0.0;
        }
        let std = libm::sqrtf(self.var)
            .max(STD_FLOOR_REL * libm::fabsf(self.mean))
            .max(STD_FLOOR_ABS);
        neg_log10_tail((x - self.mean) / std).max(0.0)
    }

    fn add(&mut self, x: f32, memory: u32) {
        self.n = (self.n + 1).min(memory);
        let n = self.n as f32;
        let d = x - self.mean;
        self.mean += d / n;
        self.var += (d * (x - self.mean) - self.var) / n;
    }
}

/// The running error distributions, recent mean and held peak behind the scores.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Running {
    settings: Likelihood,
    /// Window errors, capped at `settings.memory` windows.
    errors: Moving,
    /// Exponential moving average of the errors over about `settings.short` windows.
    recent: f32,
    /// Seasonal errors (a sample against the one a period earlier).
    seasonal: Moving,
    /// The highest level reported in the current hold (−∞: none), and windows since.
    peak: f32,
    age: u16,
    /// The highest `L` since the pattern memory's last point (0: none yet).
    step_peak: f32,
}

impl Running {
    /// Starts from the calibration errors' count, mean and standard deviation (normal data
    /// the model was calibrated on), or from nothing if `count` is 0.
    pub fn new(settings: Likelihood, count: u32, mean: f32, std: f32) -> Self {
        let errors = Moving::new(Moments { count, mean, std }, settings.memory);
        Running {
            settings,
            recent: errors.mean,
            errors,
            seasonal: Moving::new(Moments::default(), settings.memory),
            peak: f32::NEG_INFINITY,
            age: 0,
            step_peak: 0.0,
        }
    }

    /// Starts the seasonal errors' estimate from `m` (the normal stretch's).
    pub fn with_seasonal(mut self, m: Moments) -> Self {
        self.seasonal = Moving::new(m, self.settings.memory);
        self
    }

    /// Scores one window error (`seasonal`: the largest seasonal error since the last
    /// window, if there was one; `novel`: a value since the last window lay outside every
    /// value seen before; `pattern`: if the pattern memory made a point since the last
    /// window, its highest report, 0 for none — `None` if it made no point), then adds them
    /// to the distributions. The level's `L` is the larger of the two errors' likelihoods; a
    /// pattern report, raised by the highest level since the memory's previous point
    /// ([`CORROBORATION`]), raises the level to at least [`PATTERN_FLOOR`], under the same
    /// hold ([`FIRM`]), so an event seen by both is reported once.
    pub fn update(
        &mut self,
        error: f32,
        seasonal: Option<f32>,
        novel: bool,
        pattern: Option<f32>,
    ) -> Point {
        let s = self.settings;
        if self.errors.n == 0 {
            self.recent = error;
        } else {
            let alpha = 2.0 / (s.short as f32 + 1.0);
            self.recent += alpha * (error - self.recent);
        }
        let mut l = self.errors.likelihood(self.recent);
        if let Some(d) = seasonal {
            l = l.max(self.seasonal.likelihood(d));
            self.seasonal.add(d, s.memory);
        }
        if novel {
            l += s.novelty;
        }
        let mut level = l / (l + HALF_LEVEL);
        self.step_peak = self.step_peak.max(l);
        let mut report = 0.0;
        if let Some(p) = pattern {
            let seen = self.step_peak / (self.step_peak + HALF_LEVEL);
            self.step_peak = 0.0;
            if p > 0.0 {
                report = p;
                let c = (p + CORROBORATION * seen).min(1.0);
                level = level.max(PATTERN_FLOOR + (1.0 - PATTERN_FLOOR) * c);
            }
        }
        let score = if s.hold == 0 || (level > self.peak && self.peak < FIRM) {
            self.peak = level;
            self.age = 0;
            level
        } else {
            self.age = self.age.saturating_add(1);
            if self.age >= s.hold {
                self.peak = f32::NEG_INFINITY;
            }
            0.0
        };
        self.errors.add(error, s.memory);
        Point {
            error,
            score,
            level,
            pattern: report,
            anomalous: score >= s.alarm,
        }
    }
}

/// Scores a series model's input one sample (one value per channel) at a time.
pub struct Stream<'m, 'b> {
    model: Model<'m>,
    /// The model's preprocessing, looked up once: the seasonal differences are in its units.
    scaling: crate::Scaling<'m>,
    series: SeriesDesc<'m>,
    window: &'b mut [f32],
    /// Per channel, the lowest and highest value seen (from the normal stretch on).
    range: &'b mut [f32],
    /// The last `period` samples, a ring starting at `lag_at` (oldest first once full).
    lag: &'b mut [f32],
    lag_at: usize,
    /// Samples pushed, saturating at `period`.
    lag_seen: usize,
    /// The largest seasonal error since the last scored window.
    seasonal: Option<f32>,
    channels: usize,
    /// Samples pushed so far, saturating at the window length.
    filled: usize,
    /// Samples since the last scored window.
    since: u16,
    /// A value outside the range seen came since the last scored window.
    novel: bool,
    running: Running,
    patterns: Option<Patterns<'b>>,
    /// The highest pattern report since the last scored window, if the memory made a point.
    pattern: Option<f32>,
}

impl<'m, 'b> Stream<'m, 'b> {
    /// Values the caller's buffer must hold: the window (window length × channels), a low
    /// and a high per channel, the last period's samples (period × channels) and the pattern
    /// memory (see [`crate::pattern::buffer_len`]).
    pub fn buffer_len(model: &Model) -> usize {
        let c = model.input_shape().c as usize;
        let period = model.series().map_or(0, |s| s.period as usize);
        model.input_shape().len() + 2 * c + period * c + Self::pattern_len(model)
    }

    fn pattern_len(model: &Model) -> usize {
        model.pattern().map_or(0, crate::pattern::buffer_len)
    }

    /// A stream over a series model, using `buffer` (exactly [`Stream::buffer_len`] values)
    /// as its window and range of values seen, and starting the running estimate from the
    /// model's calibration errors.
    pub fn new(model: Model<'m>, buffer: &'b mut [f32]) -> Result<Self, Error> {
        let series = *model.series().ok_or(Error::Unsupported(
            "the model has no series definition; export it from a checkpoint trained on a series",
        ))?;
        let expected = Self::buffer_len(&model);
        if buffer.len() != expected {
            return Err(Error::BadLength {
                what: "stream buffer",
                expected,
                got: buffer.len(),
            });
        }
        let (buffer, pattern) = buffer.split_at_mut(expected - Self::pattern_len(&model));
        let patterns = match model.pattern() {
            Some(&d) => Some(Patterns::new(d, pattern)?),
            None => None,
        };
        let (window, rest) = buffer.split_at_mut(model.input_shape().len());
        let (range, lag) = rest.split_at_mut(2 * model.input_shape().c as usize);
        let known = model.series_range();
        if known.len() == range.len() {
            range.copy_from_slice(known);
        } else {
            // Nothing seen yet: the first sample sets each channel's range.
            for pair in range.chunks_exact_mut(2) {
                pair.copy_from_slice(&[f32::INFINITY, f32::NEG_INFINITY]);
            }
        }
        let e = model.error_stats();
        Ok(Stream {
            running: Running::new(series.likelihood, e.count, e.mean, e.std)
                .with_seasonal(series.seasonal),
            channels: model.input_shape().c as usize,
            scaling: model.scaling(),
            model,
            series,
            window,
            range,
            lag,
            lag_at: 0,
            lag_seen: 0,
            seasonal: None,
            filled: 0,
            since: 0,
            novel: false,
            patterns,
            pattern: None,
        })
    }

    /// Adds one sample (sensor units, one value per channel). Returns the window's score when
    /// the window is full and `stride` samples have passed since the last one (the first full
    /// window is always scored), else `None`.
    pub fn push(&mut self, sample: &[f32], arena: &mut [u8]) -> Result<Option<Point>, Error> {
        if sample.len() != self.channels {
            return Err(Error::BadLength {
                what: "sample",
                expected: self.channels,
                got: sample.len(),
            });
        }
        if let Some(index) = sample.iter().position(|x| !x.is_finite()) {
            return Err(Error::NonFiniteInput { index });
        }
        if !self.lag.is_empty() {
            let c = self.channels;
            let period = self.lag.len() / c;
            let earlier = &mut self.lag[self.lag_at * c..][..c];
            if self.lag_seen == period {
                // Mean squared difference in model units (the offset cancels).
                let s = self.scaling;
                let d = sample
                    .iter()
                    .zip(earlier.iter())
                    .enumerate()
                    .map(|(ch, (&x, &y))| {
                        let d = (x - y) * s.of(ch).0;
                        d * d
                    })
                    .sum::<f32>()
                    / c as f32;
                self.seasonal = Some(self.seasonal.map_or(d, |m| m.max(d)));
            }
            earlier.copy_from_slice(sample);
            self.lag_at = (self.lag_at + 1) % period;
            self.lag_seen = (self.lag_seen + 1).min(period);
        }
        for (&x, pair) in sample.iter().zip(self.range.chunks_exact_mut(2)) {
            // Only once a spread has been seen: a flat start is not a range.
            self.novel |= pair[0] < pair[1] && (x < pair[0] || x > pair[1]);
            pair[0] = pair[0].min(x);
            pair[1] = pair[1].max(x);
        }
        if let Some(report) = self.patterns.as_mut().and_then(|p| p.push(sample[0])) {
            self.pattern = Some(self.pattern.map_or(report, |p| p.max(report)));
        }
        // A shift rather than a ring: the model reads one contiguous window, and moving
        // window × channels floats costs little beside the inference.
        self.window.copy_within(self.channels.., 0);
        let newest = self.window.len() - self.channels;
        self.window[newest..].copy_from_slice(sample);
        let rows = self.window.len() / self.channels;
        let first = self.filled + 1 == rows;
        self.filled = (self.filled + 1).min(rows);
        if self.filled < rows {
            return Ok(None);
        }
        self.since = self.since.saturating_add(1);
        if !first && self.since < self.series.stride {
            return Ok(None);
        }
        self.since = 0;
        let tail = self.series.tail as usize;
        let error = if tail >= rows {
            self.model.score(self.window, arena)?.error
        } else {
            self.model
                .error_from(self.window, arena, (rows - tail) * self.channels)?
        };
        let novel = core::mem::take(&mut self.novel) && self.series.likelihood.novelty > 0.0;
        let seasonal = self.seasonal.take();
        let pattern = core::mem::take(&mut self.pattern);
        Ok(Some(self.running.update(error, seasonal, novel, pattern)))
    }

    /// The pattern memory, if the model has one (to inspect its categories and vigilance).
    pub fn patterns(&self) -> Option<&Patterns<'b>> {
        self.patterns.as_ref()
    }

    /// The running estimate (to inspect, or to carry across a restart).
    pub fn running(&self) -> Running {
        self.running
    }
}
