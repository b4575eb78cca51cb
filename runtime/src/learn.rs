//! Learning what normal is on the device: the scores of samples from the device's own sensor
//! collected in a caller-owned buffer, and a threshold set from them by the model's rule with
//! the host's calibration arithmetic ([`threshold_in_place`] is what `calibrate::threshold`
//! runs too), so one model file can be deployed to many machines and each calibrates itself;
//! [`save`] and [`load`] keep the result through the `embedded-storage` traits.

use crate::desc::{ErrorStats, ThresholdRule};
use crate::error::Error;
use crate::model::Model;
use embedded_storage::{ReadStorage, Storage};

/// Bytes [`save`] writes: magic `AETH`, the model's CRC-32, the threshold (f32), and a
/// CRC-32 of those twelve bytes, all little-endian.
pub const SAVED_LEN: usize = 16;

const MAGIC: [u8; 4] = *b"AETH";

/// Keeps a learned threshold for `model` in `storage` at `offset` (a flash page on a board,
/// RAM under QEMU), so the device keeps what it learned across resets.
pub fn save<S: Storage>(
    storage: &mut S,
    offset: u32,
    model: &Model,
    threshold: f32,
) -> Result<(), Error> {
    let mut b = [0u8; SAVED_LEN];
    b[..4].copy_from_slice(&MAGIC);
    b[4..8].copy_from_slice(&model.checksum().to_le_bytes());
    b[8..12].copy_from_slice(&threshold.to_le_bytes());
    let crc = crc32fast::hash(&b[..12]);
    b[12..].copy_from_slice(&crc.to_le_bytes());
    storage
        .write(offset, &b)
        .map_err(|_| Error::Storage("cannot write the threshold record"))
}

/// The threshold [`save`] kept for `model` at `offset`, or `None` when the storage holds no
/// intact record for this model (never written, erased, torn, or another model's).
pub fn load<S: ReadStorage>(
    storage: &mut S,
    offset: u32,
    model: &Model,
) -> Result<Option<f32>, Error> {
    let mut b = [0u8; SAVED_LEN];
    storage
        .read(offset, &mut b)
        .map_err(|_| Error::Storage("cannot read the threshold record"))?;
    let word = |i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
    let intact = b[..4] == MAGIC && word(12) == crc32fast::hash(&b[..12]);
    if !intact || word(4) != model.checksum() {
        return Ok(None);
    }
    let t = f32::from_bits(word(8));
    Ok((t.is_finite() || t == f32::INFINITY).then_some(t))
}

/// Threshold and error summary from `errors` under `rule`, without a heap: the finite values
/// are moved to the front and sorted there (the buffer is reordered). The host's calibration
/// calls this on a copy, so the same errors give the same bits everywhere.
pub fn threshold_in_place(
    errors: &mut [f32],
    rule: ThresholdRule,
) -> Result<(f32, ErrorStats), Error> {
    let mut n = 0;
    for i in 0..errors.len() {
        if errors[i].is_finite() {
            errors.swap(n, i);
            n += 1;
        }
    }
    let e = &mut errors[..n];
    if e.is_empty() {
        return Err(Error::Unsupported(
            "threshold calibration needs at least one finite error",
        ));
    }
    // A total order: the sorted values are the same whatever order they came in.
    e.sort_unstable_by(f32::total_cmp);
    let pct = |p: f32| crate::metrics::percentile(e, p).unwrap_or(0.0);
    let mean = e.iter().map(|&x| x as f64).sum::<f64>() / n as f64;
    let var = e
        .iter()
        .map(|&x| (x as f64 - mean) * (x as f64 - mean))
        .sum::<f64>()
        / n as f64;
    let stats = ErrorStats {
        count: n as u32,
        mean: mean as f32,
        std: libm::sqrt(var) as f32,
        min: e[0],
        p50: pct(50.0),
        p95: pct(95.0),
        p99: pct(99.0),
        max: e[n - 1],
    };
    let t = match rule {
        ThresholdRule::Percentile(p) => pct(p),
        ThresholdRule::MeanPlusKStd(k) => stats.mean + k * stats.std,
        ThresholdRule::Manual => {
            return Err(Error::Unsupported("a manual threshold is not calibrated"))
        }
    };
    Ok((t, stats))
}

/// Storage in RAM (`N` bytes, erased to `0xff`): where there is no flash to keep a learned
/// threshold in, as under QEMU, and for tests. Reads and writes out of range are errors.
#[derive(Debug)]
pub struct RamStorage<const N: usize>(pub [u8; N]);

impl<const N: usize> RamStorage<N> {
    /// Erased storage.
    pub fn new() -> Self {
        RamStorage([0xff; N])
    }
}

impl<const N: usize> Default for RamStorage<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> ReadStorage for RamStorage<N> {
    type Error = ();

    fn read(&mut self, offset: u32, bytes: &mut [u8]) -> Result<(), ()> {
        let o = offset as usize;
        let src = self
            .0
            .get(o..o.checked_add(bytes.len()).ok_or(())?)
            .ok_or(())?;
        bytes.copy_from_slice(src);
        Ok(())
    }

    fn capacity(&self) -> usize {
        N
    }
}

impl<const N: usize> Storage for RamStorage<N> {
    fn write(&mut self, offset: u32, bytes: &[u8]) -> Result<(), ()> {
        let o = offset as usize;
        let end = o.checked_add(bytes.len()).ok_or(())?;
        self.0.get_mut(o..end).ok_or(())?.copy_from_slice(bytes);
        Ok(())
    }
}

/// Collects the scores of normal samples in a caller-owned buffer and sets a threshold from
/// them (see the module documentation).
#[derive(Debug)]
pub struct Learner<'b> {
    scores: &'b mut [f32],
    len: usize,
}

impl<'b> Learner<'b> {
    /// A learner that keeps up to `buffer.len()` scores.
    pub fn new(buffer: &'b mut [f32]) -> Self {
        Learner {
            scores: buffer,
            len: 0,
        }
    }

    /// Scores `input` (sensor units) with `model` and keeps the score; returns it.
    pub fn observe(
        &mut self,
        model: &Model,
        input: &[f32],
        arena: &mut [u8],
    ) -> Result<f32, Error> {
        if self.is_full() {
            return Err(Error::BadLength {
                what: "learner buffer (full)",
                expected: self.scores.len(),
                got: self.len + 1,
            });
        }
        let s = model.score(input, arena)?.error;
        self.scores[self.len] = s;
        self.len += 1;
        Ok(s)
    }

    /// Scores kept so far.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no score is kept yet.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether the buffer is full.
    pub fn is_full(&self) -> bool {
        self.len == self.scores.len()
    }

    /// The threshold of the kept scores under `rule` (the model's own rule:
    /// [`Model::threshold_rule`]), with their summary. Reorders the kept scores.
    pub fn threshold(&mut self, rule: ThresholdRule) -> Result<(f32, ErrorStats), Error> {
        threshold_in_place(&mut self.scores[..self.len], rule)
    }
}
