//! Reconstruction losses computed on the host for the CPU backends: the loss's value and its
//! gradient with respect to the model's output, in one vectorised pass.
//!
//! burn's CPU backends run every element-wise op of a loss, and each op's gradient, as its
//! own pass over the batch with scalar `exp` / `log1p`; for the dense autoencoder that was a
//! third of a training step. The trainer reads the output back, computes `L` and `∂L/∂out`
//! here and gives burn the surrogate `Σ out · g` with `g` a constant, whose gradient is
//! exactly `∂L/∂out` (the reported loss is the value computed here, not the surrogate's).

use crate::host::{self, TINY};

/// A per-element reconstruction loss that [`value_and_grad`] computes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HostLoss {
    /// Binary cross-entropy of `sigmoid(z)` against `t`, from the logits `z`:
    /// `max(z, 0) − z·t + log(1 + e^−|z|)`, gradient `σ(z) − t`.
    BceLogits,
    /// `(p − t)²`, gradient `2 (p − t)`.
    Mse,
    /// `|p − t|`, gradient `sign(p − t)` (0 where equal, as burn's `abs`).
    Mae,
}

/// Elements summed in `f32` lanes before the running total (in `f64`) takes them: the lanes
/// stay vectorised, and a lane never sums more than 64 values, so the `f32` partial sums
/// lose no more than the values' own rounding.
const LANES: usize = 16;
const CHUNK: usize = LANES * 64;

/// Elements per task when the work is split over threads: a multiple of [`CHUNK`], and
/// large enough that a task outweighs its scheduling.
const BLOCK: usize = CHUNK * 16;

/// Sum over all elements of the loss of `pred` against `target`, writing
/// `scale · ∂loss_i/∂pred_i` into `grad[i]`. The three slices must have the same length.
/// Blocks of the batch run on rayon's threads; their sums are added in order, so the result
/// does not depend on the number of threads.
///
/// # Panics
/// If the lengths differ (a caller bug, not a data error).
pub fn value_and_grad(
    kind: HostLoss,
    pred: &[f32],
    target: &[f32],
    scale: f32,
    grad: &mut [f32],
) -> f64 {
    use rayon::prelude::*;
    assert!(
        pred.len() == target.len() && pred.len() == grad.len(),
        "host loss: {} predictions, {} targets, {} gradients",
        pred.len(),
        target.len(),
        grad.len()
    );
    let sums: Vec<f64> = pred
        .par_chunks(BLOCK)
        .zip(target.par_chunks(BLOCK))
        .zip(grad.par_chunks_mut(BLOCK))
        .map(|((p, t), g)| block_sum(kind, p, t, scale, g))
        .collect();
    sums.iter().sum()
}

aedge_runtime::dispatch! {
    /// One block's loss and gradient, compiled for AVX-512, AVX2 + FMA and the baseline.
    fn block_sum [] (kind: HostLoss, p: &[f32], t: &[f32], scale: f32, g: &mut [f32]) -> f64
        => sum_portable [] for [avx512 avx2]
}

/// One block of the batch (inlined into each instruction-set variant of `block_sum`).
#[inline(always)]
fn sum_portable(kind: HostLoss, p: &[f32], t: &[f32], scale: f32, g: &mut [f32]) -> f64 {
    match kind {
        HostLoss::BceLogits => sum_bce_logits(p, t, scale, g),
        HostLoss::Mse => sum_mse(p, t, scale, g),
        HostLoss::Mae => sum_mae(p, t, scale, g),
    }
}

/// Generates a chunked, lane-accumulating loop over one element function.
macro_rules! chunked_sum {
    ($name:ident, $elem:ident) => {
        #[inline(always)]
        fn $name(p: &[f32], t: &[f32], scale: f32, g: &mut [f32]) -> f64 {
            let mut total = 0.0f64;
            let n = p.len() - p.len() % LANES;
            for ((pc, tc), gc) in p[..n]
                .chunks(CHUNK)
                .zip(t[..n].chunks(CHUNK))
                .zip(g[..n].chunks_mut(CHUNK))
            {
                let mut acc = [0.0f32; LANES];
                for ((pl, tl), gl) in pc
                    .chunks_exact(LANES)
                    .zip(tc.chunks_exact(LANES))
                    .zip(gc.chunks_exact_mut(LANES))
                {
                    for i in 0..LANES {
                        let (l, d) = $elem(pl[i], tl[i]);
                        acc[i] += l;
                        gl[i] = flush(d * scale);
                    }
                }
                total += acc.iter().map(|&a| a as f64).sum::<f64>();
            }
            for i in n..p.len() {
                let (l, d) = $elem(p[i], t[i]);
                total += l as f64;
                g[i] = flush(d * scale);
            }
            total
        }
    };
}

chunked_sum!(sum_bce_logits, bce_logits);
chunked_sum!(sum_mse, mse);
chunked_sum!(sum_mae, mae);

/// Gradients below [`TINY`] (1e-30) become 0: a saturated sigmoid's gradient (`σ(z) ≈ e^z`
/// for an always-black pixel, times `1/(batch·features)`) falls towards the subnormal range as
/// training goes on, and subnormal operands make the backward matmuls take microcode assists.
#[inline(always)]
fn flush(g: f32) -> f32 {
    host::flush(g, TINY)
}

/// Loss and gradient of BCE from a logit. NaN logits give a NaN loss (through `z·t`), so a
/// diverged run is still caught by the trainer's finiteness check.
#[inline(always)]
fn bce_logits(z: f32, t: f32) -> (f32, f32) {
    let e = exp_neg(z.abs());
    let r = 1.0 / (1.0 + e);
    let sig = if z >= 0.0 { r } else { e * r };
    (z.max(0.0) - z * t + log1p_unit(e), sig - t)
}

#[inline(always)]
fn mse(p: f32, t: f32) -> (f32, f32) {
    let d = p - t;
    (d * d, 2.0 * d)
}

#[inline(always)]
fn mae(p: f32, t: f32) -> (f32, f32) {
    let d = p - t;
    let s = if d > 0.0 {
        1.0
    } else if d < 0.0 {
        -1.0
    } else {
        d // 0, or NaN passed on
    };
    (d.abs(), s)
}

/// `e^−a` for `a ≥ 0` (NaN passes through as NaN), within 2 ulp: Cody–Waite range reduction
/// to `|r| ≤ ln2/2` and a degree-7 Taylor polynomial. Arguments beyond 87 give `e^−87`
/// (1.6e-38), whose effect on the loss and gradient is below `f32` resolution.
#[inline(always)]
fn exp_neg(a: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    const LN2_HI: f32 = 0.693_359_4; // 0.693359375: few mantissa bits, so n·LN2_HI is exact
    const LN2_LO: f32 = -2.121_944_4e-4;
    // Adding 1.5·2^23 rounds to an integer, which then sits in the low mantissa bits.
    const MAGIC: f32 = 12_582_912.0;
    let x = if a < 87.0 { -a } else { -87.0 };
    let shifted = x * LOG2E + MAGIC;
    let n = shifted - MAGIC;
    let r = x - n * LN2_HI - n * LN2_LO;
    let p = 1.0
        + r * (1.0
            + r * (0.5
                + r * (1.0 / 6.0
                    + r * (1.0 / 24.0
                        + r * (1.0 / 120.0 + r * (1.0 / 720.0 + r * (1.0 / 5040.0)))))));
    let k = shifted.to_bits().wrapping_sub(MAGIC.to_bits()) as i32; // n ∈ [−126, 0]
    p * f32::from_bits((k.wrapping_add(127) as u32) << 23)
}

/// `ln(1 + e)` for `e ∈ [0, 1]`: `2·atanh(s)` with `s = e / (2 + e) ≤ 1/3`, as a series in
/// `s²` to the `s¹⁵` term (truncation below 2e-9 relative). Exact for tiny `e` too, where
/// forming `1 + e` would round.
#[inline(always)]
fn log1p_unit(e: f32) -> f32 {
    let s = e / (2.0 + e);
    let s2 = s * s;
    let q = 1.0
        + s2 * (1.0 / 3.0
            + s2 * (1.0 / 5.0
                + s2 * (1.0 / 7.0
                    + s2 * (1.0 / 9.0 + s2 * (1.0 / 11.0 + s2 * (1.0 / 13.0 + s2 / 15.0))))));
    2.0 * s * q
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Loss, gradient, and the size of the gradient's terms (a difference of two rounded
    /// values is only accurate relative to them).
    fn reference(kind: HostLoss, p: f32, t: f32) -> (f64, f64, f64) {
        let (p, t) = (p as f64, t as f64);
        match kind {
            HostLoss::BceLogits => {
                let sig = 1.0 / (1.0 + (-p).exp());
                let l = p.max(0.0) - p * t + (-p.abs()).exp().ln_1p();
                (l, sig - t, sig + t)
            }
            HostLoss::Mse => ((p - t) * (p - t), 2.0 * (p - t), 2.0 * (p.abs() + t)),
            HostLoss::Mae => {
                let d = p - t;
                (d.abs(), d.signum() * ((p != t) as u8 as f64), 0.0)
            }
        }
    }

    /// Values spread over the ranges that matter, with every tail length.
    fn cases(n: usize) -> (Vec<f32>, Vec<f32>) {
        let mut r = aedge_runtime::rng::SplitMix(7);
        let mut u = || (r.next_u64() >> 40) as f32 / (1u64 << 24) as f32;
        let p: Vec<f32> = (0..n)
            .map(|i| match i % 5 {
                0 => (u() - 0.5) * 200.0, // far into both saturations
                1 => (u() - 0.5) * 1e-6,  // tiny
                _ => (u() - 0.5) * 16.0,
            })
            .collect();
        let t: Vec<f32> = (0..n).map(|_| u()).collect();
        (p, t)
    }

    #[test]
    fn matches_f64_reference_on_every_path() {
        for kind in [HostLoss::BceLogits, HostLoss::Mse, HostLoss::Mae] {
            for n in [0, 1, 15, 16, 17, 1023, 1024, 1025, 5000, BLOCK * 2 + 17] {
                let (p, t) = cases(n);
                let scale = 1.0 / n.max(1) as f32;
                let mut g = vec![f32::NAN; n];
                let mut g_port = vec![f32::NAN; n];
                let sum = value_and_grad(kind, &p, &t, scale, &mut g);
                let sum_port: f64 = p
                    .chunks(BLOCK)
                    .zip(t.chunks(BLOCK))
                    .zip(g_port.chunks_mut(BLOCK))
                    .map(|((p, t), g)| sum_portable(kind, p, t, scale, g))
                    .sum();
                let (mut want, mut abs) = (0.0f64, 0.0f64);
                for i in 0..n {
                    let (l, d, size) = reference(kind, p[i], t[i]);
                    want += l;
                    abs += l.abs();
                    let (d, size) = (d * scale as f64, size * scale as f64);
                    for got in [g[i], g_port[i]] {
                        let err = (got as f64 - d).abs();
                        assert!(
                            err <= 3e-7 * (d.abs() + size) + 1e-30,
                            "{kind:?} n={n} i={i}: p={} t={} grad {got} want {d}",
                            p[i],
                            t[i]
                        );
                    }
                }
                for got in [sum, sum_port] {
                    assert!(
                        (got - want).abs() <= 1e-6 * abs + 1e-12,
                        "{kind:?} n={n}: sum {got} want {want}"
                    );
                }
            }
        }
    }

    /// The AVX-512, AVX2 and portable builds of the block pass give the same bits (the
    /// levels this CPU lacks fall back, so they are checked on a machine that has them).
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn every_instruction_set_gives_the_same_bits() {
        use aedge_runtime::kernels::isa;
        let (p, t) = cases(BLOCK + 37);
        for kind in [HostLoss::BceLogits, HostLoss::Mse, HostLoss::Mae] {
            let mut runs = Vec::new();
            for level in [isa::PORTABLE, isa::AVX2, isa::AVX512] {
                isa::cap(level);
                let mut g = vec![0.0f32; p.len()];
                let sum = block_sum(kind, &p, &t, 0.5, &mut g);
                runs.push((
                    sum.to_bits(),
                    g.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                ));
            }
            isa::cap(u8::MAX);
            assert!(
                runs.windows(2).all(|w| w[0] == w[1]),
                "{kind:?}: levels differ"
            );
        }
    }

    #[test]
    fn exp_and_log1p_are_accurate_across_their_ranges() {
        let mut worst_exp = 0.0f64;
        let mut worst_log = 0.0f64;
        for i in 0..=200_000 {
            let a = i as f32 * (87.0 / 200_000.0);
            let want = (-(a as f64)).exp();
            worst_exp = worst_exp.max((exp_neg(a) as f64 - want).abs() / want);
            let e = i as f32 / 200_000.0;
            let want = (e as f64).ln_1p();
            if want > 0.0 {
                worst_log = worst_log.max((log1p_unit(e) as f64 - want).abs() / want);
            }
        }
        // f32 carries 6e-8 relative; allow a few ulp.
        assert!(worst_exp < 3e-7, "exp_neg relative error {worst_exp}");
        assert!(worst_log < 3e-7, "log1p_unit relative error {worst_log}");
        assert!(exp_neg(1e4) > 0.0 && exp_neg(1e4) < 1e-37);
        assert_eq!(exp_neg(0.0), 1.0);
    }

    #[test]
    fn nan_logits_give_a_nan_loss() {
        let mut g = [0.0f32; 3];
        let s = value_and_grad(
            HostLoss::BceLogits,
            &[0.5, f32::NAN, 1.0],
            &[0.5, 0.5, 0.5],
            1.0,
            &mut g,
        );
        assert!(s.is_nan());
        let s = value_and_grad(HostLoss::BceLogits, &[f32::NAN], &[0.0], 1.0, &mut g[..1]);
        assert!(s.is_nan());
    }
}
