//! Preprocessing: the per-channel affine map between sensor (raw) units and the model units
//! the network sees, `model = raw × scale + offset`. One copy, used by every entry point of
//! [`Model`](crate::Model), the calibrator, the firmware and the tools.

/// A model's preprocessing: one scale and offset for the whole tensor, or one per channel
/// (the innermost axis of the input).
#[derive(Clone, Copy, Debug)]
pub struct Scaling<'a> {
    scale: &'a [f32],
    offset: &'a [f32],
    channels: usize,
}

impl<'a> Scaling<'a> {
    /// The map for `channels` input channels; `scale` and `offset` hold one value or one per
    /// channel (a parsed model's are checked to).
    pub fn new(scale: &'a [f32], offset: &'a [f32], channels: usize) -> Self {
        Scaling {
            scale,
            offset,
            channels: channels.max(1),
        }
    }

    #[inline]
    fn at(v: &[f32], ch: usize, default: f32) -> f32 {
        match v {
            [one] => *one,
            _ => v.get(ch).copied().unwrap_or(default),
        }
    }

    /// Scale and offset of input element `i`.
    #[inline]
    pub fn of(&self, i: usize) -> (f32, f32) {
        let ch = i % self.channels;
        (
            Self::at(self.scale, ch, 1.0),
            Self::at(self.offset, ch, 0.0),
        )
    }

    /// The one scale and offset when they do not vary by channel.
    #[inline]
    pub fn per_tensor(&self) -> Option<(f32, f32)> {
        (self.scale.len() <= 1 && self.offset.len() <= 1).then(|| self.of(0))
    }

    /// Model units of raw input element `i`.
    #[inline]
    pub fn to_model(&self, i: usize, raw: f32) -> f32 {
        let (s, o) = self.of(i);
        raw * s + o
    }

    /// Raw units of model-unit value `y` at element `i` (the inverse of [`Self::to_model`]).
    #[inline]
    pub fn to_raw(&self, i: usize, y: f32) -> f32 {
        let (s, o) = self.of(i);
        (y - o) / s
    }

    /// Model units of a whole raw input; `out` must be as long as `raw`.
    pub fn apply(&self, raw: &[f32], out: &mut [f32]) {
        for (i, (o, &x)) in out.iter_mut().zip(raw).enumerate() {
            *o = self.to_model(i, x);
        }
    }
}
