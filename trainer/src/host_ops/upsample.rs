//! Nearest-neighbour upsampling by an integer factor on `f32` NCHW slices, and its gradient
//! (each input pixel's gradient is the sum over the `f × f` block it was copied to).

use rayon::prelude::*;

/// `x` holds planes of `h × w`; returns the planes of `h·f × w·f`.
pub fn forward(x: &[f32], h: usize, w: usize, f: usize) -> Vec<f32> {
    let (ho, wo) = (h * f, w * f);
    let mut y = vec![0.0; x.len() * f * f];
    if y.is_empty() {
        return y;
    }
    y.par_chunks_mut(ho * wo)
        .zip(x.par_chunks(h * w))
        .for_each(|(yp, xp)| {
            for (rows, src) in yp.chunks_exact_mut(f * wo).zip(xp.chunks_exact(w)) {
                let (first, rest) = rows.split_at_mut(wo);
                for (d, &s) in first.chunks_exact_mut(f).zip(src) {
                    d.fill(s);
                }
                for r in rest.chunks_exact_mut(wo) {
                    r.copy_from_slice(first);
                }
            }
        });
    y
}

/// `gy` holds planes of `h·f × w·f`; returns the gradient planes of `h × w`.
pub fn backward(gy: &[f32], h: usize, w: usize, f: usize) -> Vec<f32> {
    let wo = w * f;
    let mut gx = vec![0.0; gy.len() / (f * f)];
    if gx.is_empty() {
        return gx;
    }
    gx.par_chunks_mut(h * w)
        .zip(gy.par_chunks(h * f * wo))
        .for_each(|(gp, yp)| {
            for (dst, rows) in gp.chunks_exact_mut(w).zip(yp.chunks_exact(f * wo)) {
                for r in rows.chunks_exact(wo) {
                    for (d, block) in dst.iter_mut().zip(r.chunks_exact(f)) {
                        *d += block.iter().sum::<f32>();
                    }
                }
            }
        });
    gx
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_forward_and_sums_back() {
        // Two planes of 2 × 3, factor 2.
        let x: Vec<f32> = (0..12).map(|v| v as f32).collect();
        let y = forward(&x, 2, 3, 2);
        assert_eq!(&y[..6], &[0.0, 0.0, 1.0, 1.0, 2.0, 2.0]);
        assert_eq!(&y[6..12], &y[..6]);
        assert_eq!(&y[12..18], &[3.0, 3.0, 4.0, 4.0, 5.0, 5.0]);
        assert_eq!(y[24], 6.0);
        // The gradient of Σ y · gy with gy = y: each input gets f² times its value.
        let gx = backward(&y, 2, 3, 2);
        let want: Vec<f32> = x.iter().map(|v| 4.0 * v).collect();
        assert_eq!(gx, want);
    }
}
