//! Scoring a stream one sample at a time: the device side of a series model. Samples go into
//! a caller-owned window buffer; once it holds a full window, and then every `stride`
//! samples, the window's reconstruction error is turned into a score in `[0, 1]` by a running
//! estimate of the error distribution (NAB's "anomaly likelihood"), raised when a value lies
//! outside every value seen before (as NAB's HTM detector does) and held so that an event is
//! reported once. No heap, and the host's per-timestamp scores are this same code, so device
//! and host agree bit for bit.

use crate::desc::{Likelihood, SeriesDesc};
use crate::error::Error;
use crate::model::Model;

/// One scored window: the result of [`Stream::push`] when a window completes.
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Point {
    /// The window's reconstruction error (the model's metric, model units).
    pub error: f32,
    /// Anomaly score in `[0, 1)`: the window's [`Point::level`] if it beats the highest level
    /// of the last `hold` windows (see [`Likelihood::hold`]), else 0 — one report per event.
    pub score: f32,
    /// The score before the hold: `L / (L + 7)`, where `L` is `−log10` of the tail
    /// probability of the recent error under the errors seen so far, plus the likelihood's
    /// `novelty` when a value lay outside every value seen before (0.5 is a tail probability
    /// of 10⁻⁷; it keeps rising, never saturating, for rarer errors).
    pub level: f32,
    /// `score >= alarm` of the model's likelihood settings.
    pub anomalous: bool,
}

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

/// The running error distribution, recent mean and held peak behind the scores.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Running {
    settings: Likelihood,
    /// Windows counted, capped at `settings.memory` (beyond that older errors fade out).
    n: u32,
    mean: f32,
    var: f32,
    /// Exponential moving average over about `settings.short` windows.
    recent: f32,
    /// The highest `L` reported in the current hold (−∞: none), and windows since.
    peak: f32,
    age: u16,
}

impl Running {
    /// Starts from the calibration errors' count, mean and standard deviation (normal data
    /// the model was calibrated on), or from nothing if `count` is 0.
    pub fn new(settings: Likelihood, count: u32, mean: f32, std: f32) -> Self {
        let calibrated = count > 0 && mean.is_finite() && std.is_finite();
        Running {
            settings,
            n: if calibrated {
                count.min(settings.memory)
            } else {
                0
            },
            mean: if calibrated { mean } else { 0.0 },
            var: if calibrated { std * std } else { 0.0 },
            recent: if calibrated { mean } else { 0.0 },
            peak: f32::NEG_INFINITY,
            age: 0,
        }
    }

    /// Scores one window error (`novel`: a value since the last window lay outside every
    /// value seen before), then adds it to the distribution.
    pub fn update(&mut self, error: f32, novel: bool) -> Point {
        let s = self.settings;
        if self.n == 0 {
            self.recent = error;
        } else {
            let alpha = 2.0 / (s.short as f32 + 1.0);
            self.recent += alpha * (error - self.recent);
        }
        let mut l = if self.n == 0 {
            0.0
        } else {
            let std = libm::sqrtf(self.var)
                .max(STD_FLOOR_REL * libm::fabsf(self.mean))
                .max(STD_FLOOR_ABS);
            neg_log10_tail((self.recent - self.mean) / std).max(0.0)
        };
        if novel {
            l += s.novelty;
        }
        let level = l / (l + HALF_LEVEL);
        let score = if s.hold == 0 || l > self.peak {
            self.peak = l;
            self.age = 0;
            level
        } else {
            self.age = self.age.saturating_add(1);
            if self.age >= s.hold {
                self.peak = f32::NEG_INFINITY;
            }
            0.0
        };
        self.n = (self.n + 1).min(s.memory);
        let n = self.n as f32;
        let d = error - self.mean;
        self.mean += d / n;
        self.var += (d * (error - self.mean) - self.var) / n;
        Point {
            error,
            score,
            level,
            anomalous: score >= s.alarm,
        }
    }
}

/// Scores a series model's input one sample (one value per channel) at a time.
pub struct Stream<'m, 'b> {
    model: Model<'m>,
    series: SeriesDesc<'m>,
    window: &'b mut [f32],
    /// Per channel, the lowest and highest value seen (from the normal stretch on).
    range: &'b mut [f32],
    channels: usize,
    /// Samples pushed so far, saturating at the window length.
    filled: usize,
    /// Samples since the last scored window.
    since: u16,
    /// A value outside the range seen came since the last scored window.
    novel: bool,
    running: Running,
}

impl<'m, 'b> Stream<'m, 'b> {
    /// Values the caller's buffer must hold: the window (window length × channels) and a
    /// low and a high per channel.
    pub fn buffer_len(model: &Model) -> usize {
        model.input_shape().len() + 2 * model.input_shape().c as usize
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
        let (window, range) = buffer.split_at_mut(model.input_shape().len());
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
            running: Running::new(series.likelihood, e.count, e.mean, e.std),
            channels: model.input_shape().c as usize,
            model,
            series,
            window,
            range,
            filled: 0,
            since: 0,
            novel: false,
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
        for (&x, pair) in sample.iter().zip(self.range.chunks_exact_mut(2)) {
            // Only once a spread has been seen: a flat start is not a range.
            self.novel |= pair[0] < pair[1] && (x < pair[0] || x > pair[1]);
            pair[0] = pair[0].min(x);
            pair[1] = pair[1].max(x);
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
        Ok(Some(self.running.update(error, novel)))
    }

    /// The running estimate (to inspect, or to carry across a restart).
    pub fn running(&self) -> Running {
        self.running
    }
}
