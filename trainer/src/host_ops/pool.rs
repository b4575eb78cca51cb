//! Max pooling on `f32` NCHW planes, keeping each output's winning input position for the
//! gradient. Ties go to the first position in row-major window order and a NaN always wins
//! (the last NaN), as burn-flex decides, so both paths route gradients alike.

use rayon::prelude::*;

/// One pooling: planes of `h × w`, a `kh × kw` window every `stride`, padding
/// `[top, left, bottom, right]` that never wins (each below the window size).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pool {
    /// Plane height.
    pub h: usize,
    /// Plane width.
    pub w: usize,
    /// Window `[height, width]`.
    pub kernel: [usize; 2],
    /// Stride `[down, across]`.
    pub stride: [usize; 2],
    /// Padding `[top, left, bottom, right]`.
    pub pad: [usize; 4],
}

impl Pool {
    /// Output height.
    pub fn ho(&self) -> usize {
        (self.h + self.pad[0] + self.pad[2] - self.kernel[0]) / self.stride[0] + 1
    }

    /// Output width.
    pub fn wo(&self) -> usize {
        (self.w + self.pad[1] + self.pad[3] - self.kernel[1]) / self.stride[1] + 1
    }

    /// Whether [`forward`] computes it: every window holds at least one input position.
    pub fn supported(&self) -> bool {
        let [t, l, b, r] = self.pad;
        let [kh, kw] = self.kernel;
        kh >= 1
            && kw >= 1
            && self.stride[0] >= 1
            && self.stride[1] >= 1
            && t < kh
            && b < kh
            && l < kw
            && r < kw
            && self.h + t + b >= kh
            && self.w + l + r >= kw
    }

    /// The input rows (or columns) of output `i`'s window along one axis.
    fn span(i: usize, stride: usize, pad: usize, k: usize, len: usize) -> (usize, usize) {
        let start = i * stride;
        (
            start.saturating_sub(pad),
            (start + k).saturating_sub(pad).min(len),
        )
    }
}

/// The pooled planes and, per output, its winner's position in its input plane.
pub fn forward(p: &Pool, x: &[f32]) -> (Vec<f32>, Vec<u32>) {
    let (ho, wo, plane) = (p.ho(), p.wo(), p.h * p.w);
    let outs = x.len() / plane.max(1) * ho * wo;
    let mut y = vec![0.0; outs];
    let mut idx = vec![0u32; outs];
    if outs == 0 {
        return (y, idx);
    }
    y.par_chunks_mut(ho * wo)
        .zip(idx.par_chunks_mut(ho * wo))
        .zip(x.par_chunks(plane))
        .for_each(|((yp, ip), xp)| {
            for i in 0..ho {
                let (r0, r1) = Pool::span(i, p.stride[0], p.pad[0], p.kernel[0], p.h);
                for j in 0..wo {
                    let (c0, c1) = Pool::span(j, p.stride[1], p.pad[1], p.kernel[1], p.w);
                    // Start from the window's first position (supported() keeps every
                    // window non-empty); comparing it with itself changes nothing.
                    let first = r0 * p.w + c0;
                    let (mut best, mut at) = (xp[first], first);
                    for r in r0..r1 {
                        for (c, &v) in xp[r * p.w..][c0..c1].iter().enumerate() {
                            if v > best || v.is_nan() {
                                (best, at) = (v, r * p.w + c0 + c);
                            }
                        }
                    }
                    yp[i * wo + j] = best;
                    ip[i * wo + j] = at as u32;
                }
            }
        });
    (y, idx)
}

/// The input gradient: each output's gradient goes to its winner.
pub fn backward(p: &Pool, gy: &[f32], idx: &[u32]) -> Vec<f32> {
    let (outs, plane) = (p.ho() * p.wo(), p.h * p.w);
    let mut gx = vec![0.0; gy.len() / outs.max(1) * plane];
    if gx.is_empty() {
        return gx;
    }
    gx.par_chunks_mut(plane)
        .zip(gy.par_chunks(outs).zip(idx.par_chunks(outs)))
        .for_each(|(gp, (yp, ip))| {
            for (&g, &at) in yp.iter().zip(ip) {
                gp[at as usize] += g;
            }
        });
    gx
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pools_with_a_partial_edge_window_and_routes_gradients_to_winners() {
        // One 3 × 3 plane, 2 × 2 windows, stride 2, padding at the bottom and right (7 → 4
        // in keras-conv): the last row and column pool partial windows.
        let p = Pool {
            h: 3,
            w: 3,
            kernel: [2, 2],
            stride: [2, 2],
            pad: [0, 0, 1, 1],
        };
        assert!(p.supported());
        let x = [1.0, 5.0, 2.0, 3.0, 4.0, 9.0, 7.0, 7.0, 0.0];
        let (y, idx) = forward(&p, &x);
        assert_eq!(y, vec![5.0, 9.0, 7.0, 0.0]);
        // The tie between the two 7s goes to the first.
        assert_eq!(idx, vec![1, 5, 6, 8]);
        let gx = backward(&p, &[1.0, 2.0, 3.0, 4.0], &idx);
        assert_eq!(gx, vec![0.0, 1.0, 0.0, 0.0, 0.0, 2.0, 3.0, 0.0, 4.0]);
    }
}
