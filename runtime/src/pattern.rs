//! Novelty of whole patterns: a memory of the shapes a one-channel series has taken. The
//! stream is downsampled (each `step` samples become the one furthest from the recent mean,
//! so spikes survive), quantized to `levels` steps of the normal range, and every `window`
//! points are matched, as their levels and the Haar transform of their shape, against a
//! bounded set of categories by fuzzy adaptive resonance. A window no category resonates
//! with becomes a new category and, outside the masking after a recent report, is reported
//! with a confidence in `(0, 1]`; the vigilance follows the similarities seen. After ARTime
//! (M. Hampton, 2021), reduced to a fixed memory of byte categories for microcontrollers.
//!
//! The memory lives in the stream's buffer and starts empty with every [`crate::Stream`]: it
//! learns the first `warmup` points (the normal stretch's length) before it reports anything,
//! then reports with a confidence scaled from [`RAMP_START`] up to 1 over the next
//! [`RAMP_WARMUPS`] warm-ups, while it still meets the series' usual shapes for the first time.

use crate::desc::PatternDesc;
use crate::error::Error;

/// Points per pattern the runtime accepts at most (features are two per point).
pub const MAX_WINDOW: usize = 16;
const MAX_DIM: usize = 2 * MAX_WINDOW;

/// A level this close (as a share of the range) to the median level is taken as the median:
/// small wobbles around the usual value do not make new shapes.
const CHOMP: f32 = 0.075;

/// A downsampled extreme within this share of the step's mean is taken as the mean (so a
/// series of negative values keeps its extremes: ARTime's rule, kept as it was measured).
const SPIKE: f32 = 0.1;

/// Similarity the vigilance's upper bound is held under.
const MAX_VIGILANCE: f32 = 0.97;

/// Vigilance used to order the normal stretch's patterns when fitting (see [`initial_vigilance`]).
#[cfg(feature = "alloc")]
const FIT_VIGILANCE: f32 = 0.8;

/// Reports right after the warm-up are scaled by this, rising to 1 over [`RAMP_WARMUPS`]
/// warm-ups: a young memory meets many usual shapes for the first time (on NAB, a third of the
/// false reports came in the first sixth of the scored rows), and a scaled report still
/// counts when it is far from anything learned. On NAB, averaged over level counts from 60 to
/// 84: starting at 0.5 to 0.7, over 2 to 3 warm-ups, scored within 0.2 points of each other
/// and 0.7 above no ramp; starting at 0.3 scored 1 to 1.4 below.
pub const RAMP_START: f32 = 0.7;
/// Warm-ups after the first over which reports are scaled up to full confidence.
pub const RAMP_WARMUPS: u32 = 3;

/// The caller's buffer, in `f32` slots, that a pattern memory of `d` needs.
pub fn buffer_len(d: &PatternDesc) -> usize {
    let w = d.window as usize;
    let warm = d.warmup as usize;
    // Levels, the level histogram (u32), the two similarity rings, then the categories
    // (4·window bytes each) packed four to a slot.
    w + (d.levels as usize + 1)
        + (warm / 2 + 1)
        + (warm + 1)
        + (d.capacity as usize * 4 * w).div_ceil(4)
}

/// Checks a stored description (the parser calls it; a bad file gets one error).
pub(crate) fn check(d: &PatternDesc) -> Result<(), &'static str> {
    let w = d.window as usize;
    if !(2..=MAX_WINDOW).contains(&w) || !w.is_power_of_two() {
        return Err("pattern window must be a power of two from 2 to 16");
    }
    if d.step == 0 || d.levels == 0 || d.capacity == 0 || d.warmup == 0 {
        return Err("pattern step, levels, capacity and warmup must be at least 1");
    }
    if !(d.low.is_finite() && d.high.is_finite() && d.low < d.high) {
        return Err("pattern range must be finite with low < high");
    }
    if !(d.vigilance.is_finite() && (0.0..=1.0).contains(&d.vigilance)) {
        return Err("pattern vigilance must be in [0, 1]");
    }
    Ok(())
}

/// Turns samples into downsampled, quantized points, the last `window` of them kept.
#[derive(Clone, Copy, Debug)]
struct Downsampler {
    step: u16,
    n: u16,
    sum: f32,
    min: f32,
    max: f32,
    /// Moving average of the steps' means (`None` before the first).
    average: Option<f32>,
    total: u32,
    /// Points in `levels` so far, saturating at the window.
    filled: usize,
}

impl Downsampler {
    fn new(step: u16) -> Self {
        Downsampler {
            step,
            n: 0,
            sum: 0.0,
            min: f32::INFINITY,
            max: f32::NEG_INFINITY,
            average: None,
            total: 0,
            filled: 0,
        }
    }

    /// Adds a sample; at the end of a step, appends its point to `window` (the last
    /// `window.len()` points, oldest first) and returns true.
    fn push(&mut self, x: f32, d: &PatternDesc, window: &mut [f32], hist: &mut [u32]) -> bool {
        self.sum += x;
        self.min = self.min.min(x);
        self.max = self.max.max(x);
        self.n += 1;
        if self.n < self.step {
            return false;
        }
        let mean = self.sum / self.step as f32;
        let (lo, hi) = (self.min, self.max);
        *self = Downsampler {
            average: self.average,
            total: self.total,
            filled: self.filled,
            ..Downsampler::new(self.step)
        };
        let average = self.average.map_or(mean, |a| (a + mean) / 2.0);
        self.average = Some(average);
        // The extreme furthest from the recent mean, unless it is close to this step's.
        let mut v = if libm::fabsf(hi - average) < libm::fabsf(lo - average) {
            lo
        } else {
            hi
        };
        if libm::fabsf(v - mean) < SPIKE * mean {
            v = mean;
        }
        let unit = ((v - d.low) / (d.high - d.low)).clamp(0.0, 1.0);
        let levels = d.levels as f32;
        let level = libm::roundf(unit * levels) as usize;
        if self.total == u32::MAX / 2 {
            // Halve the counts before they can overflow: old points weigh less.
            self.total = 0;
            for n in hist.iter_mut() {
                *n /= 2;
                self.total += *n;
            }
        }
        hist[level] += 1;
        self.total += 1;
        let median = median(hist, self.total);
        let mut point = level as f32 / levels;
        let mid = median as f32 / levels;
        if libm::fabsf(point - mid) < CHOMP {
            point = mid;
        }
        window.copy_within(1.., 0);
        let last = window.len() - 1;
        window[last] = point;
        self.filled = (self.filled + 1).min(window.len());
        true
    }

    fn full(&self, window: &[f32]) -> bool {
        self.filled == window.len()
    }
}

/// The lowest level holding the middle count of `total` points.
fn median(hist: &[u32], total: u32) -> usize {
    let half = total.div_ceil(2);
    let mut seen = 0;
    for (level, &n) in hist.iter().enumerate() {
        seen += n;
        if seen >= half {
            return level;
        }
    }
    hist.len() - 1
}

/// Scales `v` to span `[0, 1]` (left as is when flat).
fn stretch(v: &mut [f32]) {
    let lo = v.iter().copied().fold(f32::INFINITY, f32::min);
    for x in v.iter_mut() {
        *x -= lo;
    }
    let hi = v.iter().copied().fold(0.0, f32::max);
    if hi > 0.0 {
        for x in v.iter_mut() {
            *x /= hi;
        }
    }
}

/// The Haar transform in place (length a power of two): the overall average first, then the
/// differences from the coarsest to the finest.
fn haar(v: &mut [f32]) {
    let mut tmp = [0.0f32; MAX_WINDOW];
    let mut len = v.len();
    while len > 1 {
        let half = len / 2;
        for j in 0..half {
            let (a, b) = (v[2 * j], v[2 * j + 1]);
            tmp[j] = (a + b) * core::f32::consts::FRAC_1_SQRT_2;
            tmp[half + j] = (a - b) * core::f32::consts::FRAC_1_SQRT_2;
        }
        v[..len].copy_from_slice(&tmp[..len]);
        len = half;
    }
}

/// A window's features as bytes: the Haar transform of its shape (stretched to `[0, 1]`),
/// then its levels; `out` holds `2 · window.len()`.
fn features(window: &[f32], out: &mut [u8]) {
    let w = window.len();
    let mut shape = [0.0f32; MAX_WINDOW];
    shape[..w].copy_from_slice(window);
    stretch(&mut shape[..w]);
    haar(&mut shape[..w]);
    stretch(&mut shape[..w]);
    for (o, &x) in out.iter_mut().zip(shape[..w].iter().chain(window)) {
        *o = libm::roundf(x.clamp(0.0, 1.0) * 255.0) as u8;
    }
}

/// How a pattern matched the memory.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Match {
    /// The best category's resonance, `fs³ · es²` (0 for the very first pattern).
    similarity: f32,
    /// The best category's match on the newest level (`es`).
    energy: f32,
    /// No category came within the vigilance's lower bound: a new, novel category.
    novel: bool,
}

/// Fuzzy-ART categories in caller-owned bytes: each is a box (the lowest features and the
/// lowest complements seen), `2 · dim` bytes; when full, the oldest is replaced.
struct Categories<'b> {
    bytes: &'b mut [u8],
    dim: usize,
    count: usize,
    next: usize,
}

impl<'b> Categories<'b> {
    /// An empty memory of `bytes.len() / (2 · dim)` categories of `dim` features.
    fn new(bytes: &'b mut [u8], dim: usize) -> Self {
        Categories {
            bytes,
            dim,
            count: 0,
            next: 0,
        }
    }

    /// Categories held.
    fn len(&self) -> usize {
        self.count
    }

    fn capacity(&self) -> usize {
        self.bytes.len() / (2 * self.dim)
    }

    /// Matches `f` (`dim` features) against every category: those resonating at or above
    /// `upper` learn it (their box grows to hold it); if none does, it becomes a category,
    /// novel when even the best was below `lower`.
    fn learn(&mut self, f: &[u8], lower: f32, upper: f32) -> Match {
        let dim = self.dim;
        let mut x = [0u8; 2 * MAX_DIM];
        x[..dim].copy_from_slice(f);
        for (c, &v) in x[dim..2 * dim].iter_mut().zip(f) {
            *c = 255 - v;
        }
        let x = &x[..2 * dim];
        if self.count == 0 {
            self.add(x);
            return Match {
                similarity: 0.0,
                energy: 0.0,
                novel: false,
            };
        }
        let mut best = Match {
            similarity: -1.0,
            energy: 0.0,
            novel: false,
        };
        let mut resonated = false;
        for w in self.bytes.chunks_exact_mut(2 * dim).take(self.count) {
            let (common, size) = crate::kernels::boxes::overlap(w, x);
            let fs = ratio(common, size);
            // The newest level and its complement: how well the current value itself fits.
            let (n, m) = (dim - 1, 2 * dim - 1);
            let es = ratio(
                w[n].min(x[n]) as u32 + w[m].min(x[m]) as u32,
                w[n] as u32 + w[m] as u32,
            );
            let s = fs * fs * fs * es * es;
            if s > best.similarity {
                best = Match {
                    similarity: s,
                    energy: es,
                    novel: false,
                };
            }
            if s >= upper {
                crate::kernels::boxes::learn(w, x);
                resonated = true;
            }
        }
        if !resonated {
            self.add(x);
            best.novel = best.similarity < lower;
        }
        best
    }

    fn add(&mut self, x: &[u8]) {
        let n = x.len();
        let cap = self.capacity();
        if cap == 0 {
            return;
        }
        let at = if self.count < cap {
            self.count += 1;
            self.count - 1
        } else {
            let at = self.next;
            self.next = (self.next + 1) % cap;
            at
        };
        self.bytes[at * n..][..n].copy_from_slice(x);
    }
}

fn ratio(a: u32, b: u32) -> f32 {
    if b == 0 {
        0.0
    } else {
        a as f32 / b as f32
    }
}

/// A ring of the last values, oldest overwritten.
struct Ring<'b> {
    v: &'b mut [f32],
    at: usize,
}

impl<'b> Ring<'b> {
    fn new(v: &'b mut [f32], fill: f32) -> Self {
        v.fill(fill);
        Ring { v, at: 0 }
    }

    fn push(&mut self, x: f32) {
        self.v[self.at] = x;
        self.at = (self.at + 1) % self.v.len();
    }
}

/// The memory, its downsampler and the vigilance that adapts as the stream goes, over a
/// caller-owned buffer of [`buffer_len`] values.
pub struct Patterns<'b> {
    desc: PatternDesc,
    down: Downsampler,
    window: &'b mut [f32],
    hist: &'b mut [u32],
    /// Recent best similarities (their minimum raises the lower vigilance).
    similar: Ring<'b>,
    /// Recent shortfalls of the best similarity below the upper vigilance.
    shortfall: Ring<'b>,
    memory: Categories<'b>,
    lower: f32,
    upper: f32,
    /// Points so far (1-based once the first is made), saturating: the warm-up's clock.
    points: u32,
    /// Points so far, wrapping (a device may run for years): the masks' and updates' clock,
    /// compared by wrapping differences.
    clock: u32,
    last_report: u32,
    last_report_similarity: f32,
    last_update: u32,
    /// Masking after a new category until `mask` points pass without one.
    mask_new: bool,
    since_new: u32,
    /// Running mean of the best similarities (the upper vigilance follows it).
    mean_n: u32,
    mean: f32,
    /// Sum and count of the reported patterns' similarities (the lowest within each
    /// report's masking), and the latest.
    reported_sum: f32,
    reported_n: u32,
    reported_last: f32,
}

impl<'b> Patterns<'b> {
    /// A memory as `desc` says, over `buffer` (exactly [`buffer_len`] values).
    pub fn new(desc: PatternDesc, buffer: &'b mut [f32]) -> Result<Self, Error> {
        check(&desc).map_err(Error::Unsupported)?;
        let expected = buffer_len(&desc);
        if buffer.len() != expected {
            return Err(Error::BadLength {
                what: "pattern buffer",
                expected,
                got: buffer.len(),
            });
        }
        let w = desc.window as usize;
        let warm = desc.warmup as usize;
        let (window, rest) = buffer.split_at_mut(w);
        let (hist, rest) = rest.split_at_mut(desc.levels as usize + 1);
        let (similar, rest) = rest.split_at_mut(warm / 2 + 1);
        let (shortfall, cats) = rest.split_at_mut(warm + 1);
        window.fill(0.0);
        let hist: &mut [u32] = bytemuck::cast_slice_mut(hist);
        hist.fill(0);
        let bytes: &mut [u8] = bytemuck::cast_slice_mut(cats);
        let used = desc.capacity as usize * 4 * w;
        Ok(Patterns {
            down: Downsampler::new(desc.step),
            window,
            hist,
            similar: Ring::new(similar, 1.0),
            shortfall: Ring::new(shortfall, 0.0),
            memory: Categories::new(&mut bytes[..used], 2 * w),
            lower: desc.vigilance,
            upper: desc.vigilance,
            desc,
            points: 0,
            clock: 0,
            last_report: 0,
            last_report_similarity: 0.0,
            last_update: 0,
            mask_new: false,
            since_new: 0,
            mean_n: 0,
            mean: 0.0,
            reported_sum: 0.0,
            reported_n: 0,
            reported_last: 0.0,
        })
    }

    /// Adds a finite sample ([`crate::Stream`] refuses others before they get here). At the
    /// end of each step, once a window of points is full, returns the pattern's report: its
    /// confidence in `(0, 1]` when it is a novel shape worth reporting, else 0.
    pub fn push(&mut self, x: f32) -> Option<f32> {
        if !self.down.push(x, &self.desc, self.window, self.hist) {
            return None;
        }
        self.points = self.points.saturating_add(1);
        self.clock = self.clock.wrapping_add(1);
        if !self.down.full(self.window) {
            return None;
        }
        let mut f = [0u8; MAX_DIM];
        let dim = 2 * self.window.len();
        features(self.window, &mut f[..dim]);
        Some(self.resonate(&f[..dim]))
    }

    /// Categories held.
    pub fn categories(&self) -> usize {
        self.memory.len()
    }

    fn resonate(&mut self, f: &[u8]) -> f32 {
        let (i, now) = (self.points, self.clock);
        let warm = self.desc.warmup as u32;
        let mask = self.desc.window as u32 * 3 / 2;
        let since_report = now.wrapping_sub(self.last_report);
        let update_after_report = since_report == mask;
        let update_for_trend = now.wrapping_sub(self.last_update) >= warm / 2;
        let masked_after_report = since_report <= mask;
        if i > warm + mask && self.mask_new && self.since_new >= mask {
            self.mask_new = false;
        }
        let m = self.memory.learn(f, self.lower, self.upper);
        let a = m.similarity.max(0.0);
        self.since_new = if m.novel {
            0
        } else {
            self.since_new.saturating_add(1)
        };
        self.mean_n = self.mean_n.saturating_add(1);
        self.mean += (a - self.mean) / self.mean_n as f32;
        self.similar.push(a);
        self.shortfall.push(self.upper - a);
        if since_report < mask && self.reported_n > 0 && a < self.reported_last {
            self.reported_sum += a - self.reported_last;
            self.reported_last = a;
        }
        let masked = self.mask_new || masked_after_report;
        let scale = if masked_after_report { 0.9 } else { 0.7 };
        let far_below = a < self.last_report_similarity * scale;
        let mut report = 0.0;
        if i > warm && m.novel && (!masked || far_below) {
            report = self.confidence(a, m.energy) * ramp(i - warm, warm);
            if self.reported_n < u32::MAX {
                self.reported_sum += a;
                self.reported_n += 1;
            }
            self.reported_last = a;
            self.last_report_similarity = a;
            self.last_report = now;
        }
        self.mask_new |= m.novel;
        if i > warm && (update_after_report || update_for_trend) {
            self.adapt(i, now);
        }
        report
    }

    /// How far below both vigilance bounds the similarity fell, and how badly the newest
    /// level fit.
    fn confidence(&self, similarity: f32, energy: f32) -> f32 {
        let s = similarity.min(0.999);
        let gap = 1.0 - s;
        let upper = (gap - (1.0 - self.upper)) / gap;
        let lower = (gap - (1.0 - self.lower)) / gap;
        (upper * 0.35 + lower * 0.65 + (1.0 - energy) * 1.5).min(1.0)
    }

    /// Moves the vigilance: the upper bound to the mean similarity; the lower bound up toward
    /// the recent least similarity, or down by the recent shortfalls, not below the reported
    /// patterns' mean similarity.
    fn adapt(&mut self, i: u32, now: u32) {
        let least = self.similar.v.iter().copied().fold(f32::INFINITY, f32::min);
        let upper = self.mean.min(MAX_VIGILANCE);
        let mut lower = if self.lower <= least {
            self.lower + (least - self.lower) * 0.19
        } else {
            let mut step = 0.0;
            if i > 2 * self.desc.warmup as u32 {
                let (mut sum, mut n) = (0.0f32, 0u32);
                for &d in self.shortfall.v.iter().filter(|&&d| d > 0.05) {
                    sum += d.min(0.37);
                    n += 1;
                }
                if n > 0 {
                    step = sum / n as f32;
                }
            }
            let mut lower = self.lower - step.max(0.01) / 2.0;
            if self.reported_n > 0 {
                lower = lower.max(self.reported_sum / self.reported_n as f32);
            }
            lower
        };
        lower = lower.min(upper);
        self.lower = lower;
        self.upper = upper;
        self.last_update = now;
        self.mask_new = true;
    }
}

/// The scale of a report `after` points past a warm-up of `warm` points (see [`RAMP_START`]).
fn ramp(after: u32, warm: u32) -> f32 {
    let span = RAMP_WARMUPS.saturating_mul(warm).max(1);
    if after >= span {
        return 1.0;
    }
    RAMP_START + (1.0 - RAMP_START) * (after as f32 / span as f32)
}

/// Points per pattern, and patterns per normal stretch: a pattern spans about a thirteenth of
/// the normal stretch (ARTime's choice; on NAB 10 and 16 per stretch gave 3–4 points less).
#[cfg(feature = "alloc")]
const PATTERN_WINDOW: usize = 8;
#[cfg(feature = "alloc")]
const PATTERNS_PER_STRETCH: usize = 13;
/// Quantization levels of the value range by default. On NAB the score moves by about ±2
/// points with the level count, in no order (from 60 to 84 in steps of 4: 74.3 to 78.4, mean
/// 76.3; 80 gives 75.7): which shapes count as new depends on where the level boundaries
/// fall. 80 was chosen before that was measured and is kept; `aedge eval nab
/// --pattern-levels` and `scripts/nab-levels.sh` try others.
pub const LEVELS: u16 = 80;
/// The most levels worth asking for: levels reach the categories as bytes, so more tell no
/// more shapes apart.
pub const MAX_LEVELS: u16 = 255;
/// Categories the memory keeps (on NAB, averaged over level counts from 60 to 84, before the
/// ramp: 384, 512 and 1024 scored within 0.1 points of each other, 256 0.4 below, 128 2
/// below).
pub const CAPACITY: u16 = 384;

/// The pattern memory of a one-column normal stretch, quantized to `levels` steps (at
/// least 2; [`LEVELS`] by default): its downsampling step, its value range
/// widened by half its span on each side (values beyond are clamped: the range check reports
/// them), and the starting vigilance fitted on its patterns. `None` when the stretch holds
/// fewer than two windows of points, or `levels` is under 2.
#[cfg(feature = "alloc")]
pub fn fit(values: &[f32], levels: u16) -> Option<PatternDesc> {
    let step = (values.len() / (PATTERN_WINDOW * PATTERNS_PER_STRETCH)).max(1);
    let warmup = values.len() / step;
    if levels < 2
        || warmup < 2 * PATTERN_WINDOW
        || step > u16::MAX as usize
        || warmup > u16::MAX as usize
    {
        return None;
    }
    let lo = values.iter().copied().fold(f32::INFINITY, f32::min);
    let hi = values.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let span = if hi > lo { hi - lo } else { lo.abs().max(1.0) };
    let mut d = PatternDesc {
        step: step as u16,
        window: PATTERN_WINDOW as u16,
        levels,
        low: lo - span / 2.0,
        high: hi + span / 2.0,
        vigilance: 0.0,
        capacity: CAPACITY,
        warmup: warmup as u16,
    };
    let f = stretch_features(values, &d);
    d.vigilance = initial_vigilance(&f, 2 * PATTERN_WINDOW);
    Some(d)
}

/// The features of every full window of `values` (the normal stretch) under `d`, in order,
/// `2 · window` bytes each, through the stream's own downsampler.
#[cfg(feature = "alloc")]
fn stretch_features(values: &[f32], d: &PatternDesc) -> alloc::vec::Vec<u8> {
    let w = d.window as usize;
    let mut window = alloc::vec![0.0f32; w];
    let mut hist = alloc::vec![0u32; d.levels as usize + 1];
    let mut down = Downsampler::new(d.step);
    let mut out = alloc::vec::Vec::new();
    for &x in values {
        if down.push(x, d, &mut window, &mut hist) && down.full(&window) {
            let at = out.len();
            out.resize(at + 2 * w, 0);
            features(&window, &mut out[at..]);
        }
    }
    out
}

/// The starting vigilance for a stretch of patterns (`dim` bytes each): ordered from the
/// least to the most typical (by summed cosine similarity), they are learned at a fixed
/// vigilance, and the mean best similarity of the second half is the answer — how similar a
/// normal pattern is to what came before it.
#[cfg(feature = "alloc")]
fn initial_vigilance(features: &[u8], dim: usize) -> f32 {
    use alloc::vec::Vec;
    let rows: Vec<&[u8]> = features.chunks_exact(dim).collect();
    let n = rows.len();
    if n == 0 {
        return FIT_VIGILANCE;
    }
    let norm: Vec<f32> = rows
        .iter()
        .map(|r| {
            libm::sqrtf(
                r.iter()
                    .map(|&v| (v as f32 / 255.0) * (v as f32 / 255.0))
                    .sum(),
            )
        })
        .collect();
    // Close to cosine similarity (ARTime's rule for an all-zero pattern), symmetric: each pair
    // is worked out once and added to both sums, in the order a full row-by-row sum would.
    let similarity = |a: usize, b: usize| {
        if norm[a] == 0.0 {
            1.0 - norm[b]
        } else if norm[b] == 0.0 {
            1.0 - norm[a]
        } else {
            let dot: f32 = rows[a]
                .iter()
                .zip(rows[b])
                .map(|(&x, &y)| (x as f32 / 255.0) * (y as f32 / 255.0))
                .sum();
            dot / (norm[a] * norm[b])
        }
    };
    let mut typical = alloc::vec![0.0f32; n];
    for a in 0..n {
        for b in 0..a {
            let s = similarity(a, b);
            typical[a] += s;
            typical[b] += s;
        }
        typical[a] += 1.0;
    }
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| typical[a].total_cmp(&typical[b]));
    let mut bytes = alloc::vec![0u8; 2 * dim * n];
    let mut memory = Categories::new(&mut bytes, dim);
    let similarity: Vec<f32> = order
        .iter()
        .map(|&k| {
            memory
                .learn(rows[k], FIT_VIGILANCE, FIT_VIGILANCE)
                .similarity
        })
        .collect();
    let tail = &similarity[n / 2..];
    tail.iter().sum::<f32>() / tail.len() as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    fn desc() -> PatternDesc {
        PatternDesc {
            step: 2,
            window: 8,
            levels: 80,
            low: -1.5,
            high: 1.5,
            vigilance: 0.8,
            capacity: 64,
            warmup: 40,
        }
    }

    #[test]
    fn haar_of_a_step_has_one_coarse_difference() {
        let mut v = [1.0, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0];
        haar(&mut v);
        let r = core::f32::consts::SQRT_2;
        assert!((v[0] - 4.0 / (2.0 * r)).abs() < 1e-6, "{v:?}");
        assert!((v[1] - 4.0 / (2.0 * r)).abs() < 1e-6, "{v:?}");
        assert!(v[2..].iter().all(|&x| x.abs() < 1e-6), "{v:?}");
    }

    #[test]
    fn median_is_the_middle_level() {
        assert_eq!(median(&[1, 0, 3, 1], 5), 2);
        assert_eq!(median(&[2, 0, 0, 2], 4), 0);
    }

    #[test]
    fn a_repeated_shape_resonates_and_a_new_one_is_novel() {
        let mut bytes = [0u8; 2 * 16];
        let mut m = Categories::new(&mut bytes, 8);
        let a = [10u8, 200, 10, 200, 10, 200, 10, 200];
        let b = [250u8, 250, 5, 5, 250, 250, 5, 5];
        assert!(!m.learn(&a, 0.5, 0.9).novel);
        let again = m.learn(&a, 0.5, 0.9);
        assert_eq!(again.similarity, 1.0);
        assert_eq!(m.len(), 1);
        let new = m.learn(&b, 0.5, 0.9);
        assert!(new.novel && new.similarity < 0.5, "{new:?}");
        assert_eq!(m.len(), 2);
        // Full: a third shape replaces the oldest.
        let c = [128u8; 8];
        m.learn(&c, 0.0, 1.1);
        assert_eq!(m.len(), 2);
        assert!(m.learn(&a, 0.0, 0.99).similarity < 1.0);
    }

    /// A regular wave, 24 samples a period.
    fn wave(i: usize) -> f32 {
        libm::sinf(i as f32 * core::f32::consts::TAU / 24.0)
    }

    /// Streams the wave from sample 2000 to `end` with a burst of another shape at 2010..2020;
    /// the highest report.
    fn burst(p: &mut Patterns, end: usize) -> f32 {
        let mut highest = 0.0f32;
        for i in 2000..end {
            let x = if (2010..2020).contains(&i) {
                1.4 * libm::cosf(i as f32)
            } else {
                wave(i)
            };
            if let Some(s) = p.push(x) {
                highest = highest.max(s);
            }
        }
        highest
    }

    #[test]
    fn a_regular_wave_settles_and_a_burst_is_reported() {
        let d = desc();
        let mut buf = [0.0f32; 1024];
        let mut p = Patterns::new(d, &mut buf[..buffer_len(&d)]).unwrap();
        let mut late = 0;
        for i in 0..2000 {
            if let Some(s) = p.push(wave(i)) {
                if i > 800 && s > 0.0 {
                    late += 1;
                }
            }
        }
        assert_eq!(late, 0, "a steady wave is reported after it was learned");
        let burst = burst(&mut p, 2040);
        assert!(burst > 0.0, "a burst of another shape is not reported");
        assert!(p.categories() <= 64);
    }

    #[test]
    fn a_clock_that_wraps_and_a_histogram_that_fills_keep_working() {
        let d = desc();
        let mut buf = [0.0f32; 1024];
        let mut p = Patterns::new(d, &mut buf[..buffer_len(&d)]).unwrap();
        for i in 0..2000 {
            p.push(wave(i));
        }
        // As after years on a device: the clock about to wrap, the histogram about to
        // overflow, relative times kept.
        let shift = u32::MAX - 5 - p.clock;
        p.clock = p.clock.wrapping_add(shift);
        p.last_report = p.last_report.wrapping_add(shift);
        p.last_update = p.last_update.wrapping_add(shift);
        p.points = u32::MAX - 3;
        p.hist[40] += u32::MAX / 2 - p.down.total;
        p.down.total = u32::MAX / 2;
        let burst = burst(&mut p, 2060);
        assert!(p.clock < 100, "the clock did not wrap");
        assert!(p.down.total < u32::MAX / 2);
        assert!(burst > 0.0, "a burst after the wrap is not reported");
    }

    #[test]
    fn reports_rise_to_full_confidence_over_the_ramp() {
        assert_eq!(ramp(0, 40), RAMP_START);
        assert!((ramp(60, 40) - (RAMP_START + 1.0) / 2.0).abs() < 1e-6);
        assert_eq!(ramp(120, 40), 1.0);
        assert_eq!(ramp(u32::MAX - 40, 40), 1.0);
        assert_eq!(ramp(5, 0), 1.0);
    }

    #[test]
    fn a_wrong_buffer_is_refused() {
        let d = desc();
        let mut buf = [0.0f32; 3];
        assert!(matches!(
            Patterns::new(d, &mut buf),
            Err(Error::BadLength { .. })
        ));
        let bad = PatternDesc { window: 6, ..d };
        assert!(check(&bad).is_err());
    }
}
