//! The three passes of a stride-1 convolution on `f32` NCHW slices, each as one matrix
//! product per sample through the `gemm` crate, with im2col by whole runs of an input row.
//!
//! - forward: `y_n (O × HoWo) = W (O × K) · col(x_n) (K × HoWo)`, `K = C·kh·kw`;
//! - input gradient: the same product on the output gradient with the kernel flipped and
//!   transposed and the padding `k − 1 − p`: `gx_n = W' · col(gy_n)`;
//! - weight gradient: `gW = Σ_n gy_n · col(x_n)ᵀ`, summed per fixed group of samples and the
//!   groups in order, so the result does not depend on the number of threads.

use core::ops::Range;
use rayon::prelude::*;

/// Samples whose weight gradients one task sums before the tasks' sums are added in order.
const GROUP: usize = 8;

/// The sizes of one convolution: `n` samples of `c × h × w` into `o` channels with a
/// `kh × kw` kernel, stride 1, and `pad = [top, left, bottom, right]` (each below the kernel
/// size, so the input gradient is itself a convolution with non-negative padding).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Geometry {
    /// Samples.
    pub n: usize,
    /// Input channels.
    pub c: usize,
    /// Input height.
    pub h: usize,
    /// Input width.
    pub w: usize,
    /// Output channels.
    pub o: usize,
    /// Kernel height.
    pub kh: usize,
    /// Kernel width.
    pub kw: usize,
    /// Padding `[top, left, bottom, right]`.
    pub pad: [usize; 4],
}

impl Geometry {
    /// Output height.
    pub fn ho(&self) -> usize {
        self.h + self.pad[0] + self.pad[2] + 1 - self.kh
    }

    /// Output width.
    pub fn wo(&self) -> usize {
        self.w + self.pad[1] + self.pad[3] + 1 - self.kw
    }

    /// Rows of the im2col matrix.
    fn k(&self) -> usize {
        self.c * self.kh * self.kw
    }

    /// Whether these kernels compute this convolution: a kernel no larger than the padded
    /// input, and each padding below the kernel size.
    pub fn supported(&self) -> bool {
        let [t, l, b, r] = self.pad;
        self.kh >= 1
            && self.kw >= 1
            && t < self.kh
            && b < self.kh
            && l < self.kw
            && r < self.kw
            && self.h + t + b >= self.kh
            && self.w + l + r >= self.kw
    }

    /// The convolution whose forward pass is this one's input gradient: over the output
    /// gradient, `c` and `o` swapped, padding `k − 1 − p`.
    fn transposed(&self) -> Geometry {
        let [t, l, b, r] = self.pad;
        Geometry {
            n: self.n,
            c: self.o,
            h: self.ho(),
            w: self.wo(),
            o: self.c,
            kh: self.kh,
            kw: self.kw,
            pad: [
                self.kh - 1 - t,
                self.kw - 1 - l,
                self.kh - 1 - b,
                self.kw - 1 - r,
            ],
        }
    }
}

/// One sample's im2col matrix for output rows `rows`: `K × (rows · Wo)`, row `(ci, u, v)`
/// holding the input shifted by the kernel offset `(u, v)`, zero where that falls in the
/// padding.
fn im2col(g: &Geometry, x: &[f32], rows: Range<usize>, col: &mut [f32]) {
    let wo = g.wo();
    let [top, left, ..] = g.pad;
    let mut out = col.chunks_exact_mut(rows.len() * wo);
    for plane in x.chunks_exact(g.h * g.w) {
        for u in 0..g.kh {
            for v in 0..g.kw {
                let dst = out.next().expect("im2col: K rows");
                if wo == g.w {
                    shifted_plane(g, plane, u, v, rows.clone(), dst);
                    continue;
                }
                // Output columns j whose input column j + v − left lies inside the row.
                let j0 = left.saturating_sub(v).min(wo);
                let j1 = (g.w + left).saturating_sub(v).min(wo).max(j0);
                for (i, d) in rows.clone().zip(dst.chunks_exact_mut(wo)) {
                    let ii = (i + u).wrapping_sub(top);
                    if ii >= g.h {
                        d.fill(0.0);
                        continue;
                    }
                    let src = &plane[ii * g.w + j0 + v - left..][..j1 - j0];
                    d[..j0].fill(0.0);
                    d[j0..j1].copy_from_slice(src);
                    d[j1..].fill(0.0);
                }
            }
        }
    }
}

/// One im2col row when the output is as wide as the input (`same` padding across): the
/// shifted plane is a single copy of the input from offset `(u − top)·w + (v − left)`, after
/// which the columns that wrapped to a neighbouring row (at most `kw − 1` per row) are
/// zeroed — far fewer, longer copies than one per image row.
fn shifted_plane(
    g: &Geometry,
    plane: &[f32],
    u: usize,
    v: usize,
    rows: Range<usize>,
    dst: &mut [f32],
) {
    let w = g.w;
    let [top, left, ..] = g.pad;
    // Output rows of the tile whose input row i + u − top lies inside the plane.
    let a0 = top.saturating_sub(u).clamp(rows.start, rows.end);
    let a1 = (g.h + top).saturating_sub(u).clamp(a0, rows.end);
    let (i0, i1) = (a0 - rows.start, a1 - rows.start);
    dst[..i0 * w].fill(0.0);
    dst[i1 * w..].fill(0.0);
    if i0 == i1 {
        return;
    }
    let block = &mut dst[i0 * w..i1 * w];
    // Element e of the block reads plane[start + e], start = (a0 + u − top)·w + v − left.
    let start = ((a0 + u - top) * w + v) as isize - left as isize;
    let lo = (-start).max(0) as usize;
    let hi = (plane.len() as isize - start).clamp(0, block.len() as isize) as usize;
    block[..lo].fill(0.0);
    if hi > lo {
        block[lo..hi].copy_from_slice(&plane[(start + lo as isize) as usize..][..hi - lo]);
    }
    block[hi.max(lo)..].fill(0.0);
    // Columns j with j + v − left outside [0, w) read a neighbouring row: zero them.
    let shift = v as isize - left as isize;
    if shift != 0 {
        let bad = if shift < 0 {
            0..(-shift) as usize
        } else {
            w - (shift as usize).min(w)..w
        };
        // Column by column down the rows: a strided store per row, where a fill per row
        // would be a memset call for one or two values.
        let rows = block.len() / w;
        for c in bad {
            for r in 0..rows {
                block[r * w + c] = 0.0;
            }
        }
    }
}

/// The sum of `v` in 16 lanes, then the lanes in order: vectorised (a plain `f32` sum is
/// one sequential chain), and the same for every run.
fn lane_sum(v: &[f32]) -> f32 {
    let mut lanes = [0.0f32; 16];
    let mut chunks = v.chunks_exact(16);
    for c in &mut chunks {
        for (l, x) in lanes.iter_mut().zip(c) {
            *l += x;
        }
    }
    lanes.iter().sum::<f32>() + chunks.remainder().iter().sum::<f32>()
}

/// `dst (m × n, row stride ldd) = [dst +] a (m × k) · b (k × n)`, with `a` and `b` given by
/// their row and column strides; single-threaded (the callers split by sample).
#[allow(clippy::too_many_arguments)]
fn matmul(
    m: usize,
    n: usize,
    k: usize,
    dst: &mut [f32],
    ldd: usize,
    accumulate: bool,
    a: (&[f32], isize, isize),
    b: (&[f32], isize, isize),
) {
    assert!(dst.len() >= (m.max(1) - 1) * ldd + n);
    let last = |(s, rs, cs): (&[f32], isize, isize), r: usize, c: usize| {
        assert!(r == 0 || c == 0 || s.len() > (r - 1) * rs as usize + (c - 1) * cs as usize);
    };
    last(a, m, k);
    last(b, k, n);
    // SAFETY: the asserts above keep every element gemm reads or writes inside the slices,
    // whose strides are non-negative; dst does not alias a or b (a `&mut` and two `&`).
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            ldd as isize,
            accumulate,
            a.0.as_ptr(),
            a.2,
            a.1,
            b.0.as_ptr(),
            b.2,
            b.1,
            1.0,
            1.0,
            false,
            false,
            false,
            gemm::Parallelism::None,
        );
    }
}

/// The im2col matrix is built for this many bytes of output rows at a time at most, so a
/// large image does not need a matrix `K` times its size.
const COL_BYTES: usize = 4 << 20;

/// Output rows per im2col tile within `budget` bytes (at least one).
fn tile_rows(g: &Geometry, budget: usize) -> usize {
    (budget / (4 * g.k() * g.wo()).max(1)).clamp(1, g.ho().max(1))
}

/// The output row ranges of the tiles.
fn tiles(g: &Geometry, budget: usize) -> impl Iterator<Item = Range<usize>> + Clone {
    let (t, ho) = (tile_rows(g, budget), g.ho());
    (0..ho).step_by(t).map(move |r| r..(r + t).min(ho))
}

/// Forward pass: `x` is `n × c × h × w`, `weight` `o × c × kh × kw`; returns `n × o × ho × wo`.
pub fn forward(g: &Geometry, x: &[f32], weight: &[f32], bias: Option<&[f32]>) -> Vec<f32> {
    forward_in(g, x, weight, bias, COL_BYTES)
}

fn forward_in(
    g: &Geometry,
    x: &[f32],
    weight: &[f32],
    bias: Option<&[f32]>,
    budget: usize,
) -> Vec<f32> {
    let (hw, wo) = (g.ho() * g.wo(), g.wo());
    let mut y = vec![0.0; g.n * g.o * hw];
    if y.is_empty() {
        return y;
    }
    let k = g.k();
    let tile = tile_rows(g, budget);
    y.par_chunks_mut(g.o * hw)
        .zip(x.par_chunks(g.c * g.h * g.w))
        .for_each_init(
            || vec![0.0; k * tile * wo],
            |col, (yn, xn)| {
                if let Some(b) = bias {
                    for (row, &bo) in yn.chunks_exact_mut(hw).zip(b) {
                        row.fill(bo);
                    }
                }
                for rows in tiles(g, budget) {
                    let cols = rows.len() * wo;
                    let col = &mut col[..k * cols];
                    im2col(g, xn, rows.clone(), col);
                    // The tile's columns of y_n (o × HoWo, row stride HoWo).
                    let dst = &mut yn[rows.start * wo..];
                    let w = (weight, k as isize, 1);
                    matmul(
                        g.o,
                        cols,
                        k,
                        dst,
                        hw,
                        bias.is_some(),
                        w,
                        (col, cols as isize, 1),
                    );
                }
            },
        );
    y
}

/// Input gradient: `gy` is `n × o × ho × wo`; returns `n × c × h × w`.
pub fn input_grad(g: &Geometry, weight: &[f32], gy: &[f32]) -> Vec<f32> {
    input_grad_in(g, weight, gy, COL_BYTES)
}

fn input_grad_in(g: &Geometry, weight: &[f32], gy: &[f32], budget: usize) -> Vec<f32> {
    // W'[ci][(oi, u, v)] = W[oi][ci][kh−1−u][kw−1−v].
    let (kk, kw) = (g.kh * g.kw, g.kw);
    let mut flipped = vec![0.0; weight.len()];
    for oi in 0..g.o {
        for ci in 0..g.c {
            for u in 0..g.kh {
                for v in 0..kw {
                    flipped[(ci * g.o + oi) * kk + u * kw + v] =
                        weight[(oi * g.c + ci) * kk + (g.kh - 1 - u) * kw + (kw - 1 - v)];
                }
            }
        }
    }
    forward_in(&g.transposed(), gy, &flipped, None, budget)
}

/// Weight and bias gradients: `x` is `n × c × h × w`, `gy` `n × o × ho × wo`; returns
/// `(o × c × kh × kw, o)`.
pub fn weight_grad(g: &Geometry, x: &[f32], gy: &[f32]) -> (Vec<f32>, Vec<f32>) {
    weight_grad_in(g, x, gy, COL_BYTES)
}

fn weight_grad_in(g: &Geometry, x: &[f32], gy: &[f32], budget: usize) -> (Vec<f32>, Vec<f32>) {
    let (hw, wo, k) = (g.ho() * g.wo(), g.wo(), g.k());
    let (xs, ys) = (g.c * g.h * g.w, g.o * hw);
    let tile = tile_rows(g, budget);
    let partial: Vec<(Vec<f32>, Vec<f32>)> = x
        .par_chunks(GROUP * xs)
        .zip(gy.par_chunks(GROUP * ys))
        .map(|(xg, yg)| {
            let mut gw = vec![0.0; g.o * k];
            let mut gb = vec![0.0; g.o];
            let mut col = vec![0.0; k * tile * wo];
            for (xn, yn) in xg.chunks_exact(xs).zip(yg.chunks_exact(ys)) {
                for rows in tiles(g, budget) {
                    let cols = rows.len() * wo;
                    let col = &mut col[..k * cols];
                    im2col(g, xn, rows.clone(), col);
                    // gW (o × K) += gy_n[:, tile] (o × cols) · colᵀ (cols × K).
                    let a = (&yn[rows.start * wo..], hw as isize, 1);
                    let b = (&col[..], 1, cols as isize);
                    matmul(g.o, k, cols, &mut gw, k, true, a, b);
                }
                for (s, row) in gb.iter_mut().zip(yn.chunks_exact(hw)) {
                    *s += lane_sum(row);
                }
            }
            (gw, gb)
        })
        .collect();
    let mut gw = vec![0.0; g.o * k];
    let mut gb = vec![0.0; g.o];
    for (w, b) in &partial {
        gw.iter_mut().zip(w).for_each(|(s, v)| *s += v);
        gb.iter_mut().zip(b).for_each(|(s, v)| *s += v);
    }
    (gw, gb)
}

#[cfg(test)]
mod tests {
    use super::*;
    use aedge_runtime::rng::SplitMix;

    /// The definition, one output at a time.
    fn direct(g: &Geometry, x: &[f32], w: &[f32], b: &[f32]) -> Vec<f32> {
        let (ho, wo) = (g.ho(), g.wo());
        let mut y = vec![0.0f64; g.n * g.o * ho * wo];
        for n in 0..g.n {
            for o in 0..g.o {
                for i in 0..ho {
                    for j in 0..wo {
                        let mut s = b[o] as f64;
                        for c in 0..g.c {
                            for u in 0..g.kh {
                                for v in 0..g.kw {
                                    let (ii, jj) = (i + u, j + v);
                                    if ii < g.pad[0] || jj < g.pad[1] {
                                        continue;
                                    }
                                    let (ii, jj) = (ii - g.pad[0], jj - g.pad[1]);
                                    if ii >= g.h || jj >= g.w {
                                        continue;
                                    }
                                    s += (w[((o * g.c + c) * g.kh + u) * g.kw + v]
                                        * x[((n * g.c + c) * g.h + ii) * g.w + jj])
                                        as f64;
                                }
                            }
                        }
                        y[((n * g.o + o) * ho + i) * wo + j] = s;
                    }
                }
            }
        }
        y.into_iter().map(|v| v as f32).collect()
    }

    fn random(n: usize, r: &mut SplitMix) -> Vec<f32> {
        r.vec(n, -1.0, 1.0)
    }

    fn close(a: &[f32], b: &[f32], what: &str) {
        assert_eq!(a.len(), b.len(), "{what}");
        for (i, (x, y)) in a.iter().zip(b).enumerate() {
            assert!(
                (x - y).abs() <= 1e-4 * (1.0 + y.abs()),
                "{what}[{i}]: {x} vs {y}"
            );
        }
    }

    const CASES: [Geometry; 4] = [
        // keras-conv's first layer: one channel, same padding.
        Geometry {
            n: 3,
            c: 1,
            h: 7,
            w: 6,
            o: 4,
            kh: 3,
            kw: 3,
            pad: [1, 1, 1, 1],
        },
        // A valid 3×3 on several channels, more samples than one weight-gradient group.
        Geometry {
            n: 11,
            c: 3,
            h: 5,
            w: 5,
            o: 2,
            kh: 3,
            kw: 3,
            pad: [0; 4],
        },
        // Asymmetric padding and a non-square kernel.
        Geometry {
            n: 2,
            c: 2,
            h: 4,
            w: 9,
            o: 3,
            kh: 2,
            kw: 3,
            pad: [0, 2, 1, 0],
        },
        // The kernel as large as the padded input (one output).
        Geometry {
            n: 2,
            c: 2,
            h: 2,
            w: 2,
            o: 1,
            kh: 3,
            kw: 3,
            pad: [1, 1, 0, 0],
        },
    ];

    #[test]
    fn forward_matches_the_definition() {
        let mut r = SplitMix(5);
        for g in CASES {
            assert!(g.supported());
            let x = random(g.n * g.c * g.h * g.w, &mut r);
            let w = random(g.o * g.k(), &mut r);
            let b = random(g.o, &mut r);
            let want = direct(&g, &x, &w, &b);
            close(&forward(&g, &x, &w, Some(&b)), &want, "y");
            // One output row per im2col tile gives the same values.
            close(&forward_in(&g, &x, &w, Some(&b), 1), &want, "y, tiled");
        }
    }

    /// The gradients of `L = Σ y · gy` against the adjoint identities: `Σ gx · x = L − Σ b·gy`
    /// is linear in x, so each gradient is checked by the change of `L` along a random
    /// direction, exactly (no step size).
    #[test]
    fn gradients_are_the_adjoints_of_the_forward_pass() {
        let mut r = SplitMix(6);
        for g in CASES {
            let x = random(g.n * g.c * g.h * g.w, &mut r);
            let w = random(g.o * g.k(), &mut r);
            let gy = random(g.n * g.o * g.ho() * g.wo(), &mut r);
            let dx = random(x.len(), &mut r);
            let dw = random(w.len(), &mut r);
            let dot =
                |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(p, q)| (p * q) as f64).sum::<f64>();
            let zero = vec![0.0; g.o];
            // d/dx along dx of Σ conv(x, w)·gy = Σ conv(dx, w)·gy.
            let gx = input_grad(&g, &w, &gy);
            close(&input_grad_in(&g, &w, &gy, 1), &gx, "dx, tiled");
            let along_x = dot(&direct(&g, &dx, &w, &zero), &gy);
            assert!(
                (dot(&gx, &dx) - along_x).abs() < 1e-3 * (1.0 + along_x.abs()),
                "{g:?}"
            );
            let (gw, gb) = weight_grad(&g, &x, &gy);
            close(&weight_grad_in(&g, &x, &gy, 1).0, &gw, "dw, tiled");
            let along_w = dot(&direct(&g, &x, &dw, &zero), &gy);
            assert!(
                (dot(&gw, &dw) - along_w).abs() < 1e-3 * (1.0 + along_w.abs()),
                "{g:?}"
            );
            let hw = g.ho() * g.wo();
            for o in 0..g.o {
                let s: f64 = (0..g.n)
                    .flat_map(|n| gy[(n * g.o + o) * hw..][..hw].iter())
                    .map(|&v| v as f64)
                    .sum();
                assert!((gb[o] as f64 - s).abs() < 1e-4 * (1.0 + s.abs()));
            }
        }
    }
}
