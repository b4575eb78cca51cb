//! Scoring a stream one sample at a time: the device side of a series model. Samples go into
//! a caller-owned window buffer; once it holds a full window, and then every `stride`
//! samples, the window's reconstruction error is turned into a score in `[0, 1]` by a running
//! estimate of the error distribution (NAB's "anomaly likelihood"). No heap, and the host's
//! per-timestamp scores are this same code, so device and host agree bit for bit.

use crate::desc::{Likelihood, SeriesDesc};
use crate::error::Error;
use crate::model::Model;

/// One scored window: the result of [`Stream::push`] when a window completes.
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Point {
    /// The window's reconstruction error (the model's metric, model units).
    pub error: f32,
    /// Anomaly score in `[0, 1)`: `1 − exp(−L/10)` where `L = −log10` of the tail probability
    /// of the recent mean error under the errors seen so far (0.5 is a tail probability of
    /// about 10⁻⁷; the score keeps rising, never saturating, for rarer errors).
    pub score: f32,
    /// `score >= alarm` of the model's likelihood settings.
    pub anomalous: bool,
}

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

/// The running error distribution and recent mean behind the scores.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Running {
    settings: Likelihood,
    /// Windows counted, capped at `settings.memory` (beyond that older errors fade out).
    n: u32,
    mean: f32,
    var: f32,
    /// Exponential moving average over about `settings.short` windows.
    recent: f32,
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
        }
    }

    /// Scores one window error, then adds it to the distribution.
    pub fn update(&mut self, error: f32) -> Point {
        let s = self.settings;
        if self.n == 0 {
            self.recent = error;
        } else {
            let alpha = 2.0 / (s.short as f32 + 1.0);
            self.recent += alpha * (error - self.recent);
        }
        let score = if self.n == 0 {
            0.0
        } else {
            let std = libm::sqrtf(self.var)
                .max(STD_FLOOR_REL * libm::fabsf(self.mean))
                .max(STD_FLOOR_ABS);
            let z = (self.recent - self.mean) / std;
            1.0 - libm::expf(-neg_log10_tail(z) / 10.0)
        };
        self.n = (self.n + 1).min(s.memory);
        let n = self.n as f32;
        let d = error - self.mean;
        self.mean += d / n;
        self.var += (d * (error - self.mean) - self.var) / n;
        Point {
            error,
            score,
            anomalous: score >= s.alarm,
        }
    }
}

/// Scores a series model's input one sample (one value per channel) at a time.
pub struct Stream<'m, 'b> {
    model: Model<'m>,
    series: SeriesDesc<'m>,
    window: &'b mut [f32],
    channels: usize,
    /// Samples pushed so far, saturating at the window length.
    filled: usize,
    /// Samples since the last scored window.
    since: u16,
    running: Running,
}

impl<'m, 'b> Stream<'m, 'b> {
    /// Values the window buffer must hold: window length × channels.
    pub fn window_len(model: &Model) -> usize {
        model.input_shape().len()
    }

    /// A stream over a series model, using `window` (exactly [`Stream::window_len`] values)
    /// as its buffer and starting the running estimate from the model's calibration errors.
    pub fn new(model: Model<'m>, window: &'b mut [f32]) -> Result<Self, Error> {
        let series = *model.series().ok_or(Error::Unsupported(
            "the model has no series definition; export it from a checkpoint trained on a series",
        ))?;
        let expected = Self::window_len(&model);
        if window.len() != expected {
            return Err(Error::BadLength {
                what: "window buffer",
                expected,
                got: window.len(),
            });
        }
        let e = model.error_stats();
        Ok(Stream {
            running: Running::new(series.likelihood, e.count, e.mean, e.std),
            channels: model.input_shape().c as usize,
            model,
            series,
            window,
            filled: 0,
            since: 0,
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
        Ok(Some(self.running.update(error)))
    }

    /// The running estimate (to inspect, or to carry across a restart).
    pub fn running(&self) -> Running {
        self.running
    }
}
