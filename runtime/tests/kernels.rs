//! Every kernel against a plain reference implementation on random shapes.

mod common;

use aedge_runtime::fixed::multiply_by_quantized_multiplier;
use aedge_runtime::fixed::quantize_multiplier;
use aedge_runtime::kernels::{activation, conv, dense, spatial, Requant, Window};
use aedge_runtime::{Activation, Shape};
use common::Rng;
use half::f16;
use proptest::prelude::*;

const ACTS: [Activation; 5] = [
    Activation::Identity,
    Activation::Relu,
    Activation::LeakyRelu { alpha: 0.2 },
    Activation::Sigmoid,
    Activation::Tanh,
];

fn close(a: &[f32], b: &[f32], tol: f32) -> Result<(), TestCaseError> {
    prop_assert_eq!(a.len(), b.len());
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        prop_assert!(
            (x - y).abs() <= tol * (1.0 + y.abs()),
            "[{}]: {} vs {}",
            i,
            x,
            y
        );
    }
    Ok(())
}

/// Convolution geometry: (input, kernel, stride, pad top/left/bottom/right, out_c).
fn conv_case() -> impl Strategy<Value = (Shape, [usize; 2], [usize; 2], [usize; 4], u16, u64)> {
    (
        1u16..9,
        1u16..9,
        1u16..5,
        1usize..4,
        1usize..4,
        1usize..3,
        1usize..3,
        // Past 8 so the host kernels' 8-channel blocks have full and partial ones.
        1u16..20,
        any::<u64>(),
    )
        .prop_flat_map(|(h, w, c, kh, kw, sh, sw, oc, seed)| {
            (
                Just((h, w, c, kh, kw, sh, sw, oc, seed)),
                0..kh,
                0..kw,
                0..kh,
                0..kw,
            )
        })
        .prop_filter_map(
            "kernel larger than padded input",
            |((h, w, c, kh, kw, sh, sw, oc, seed), pt, pl, pb, pr)| {
                if (h as usize + pt + pb) < kh || (w as usize + pl + pr) < kw {
                    return None;
                }
                Some((
                    Shape::new(h, w, c),
                    [kh, kw],
                    [sh, sw],
                    [pt, pl, pb, pr],
                    oc,
                    seed,
                ))
            },
        )
}

fn conv_window(input: Shape, k: [usize; 2], s: [usize; 2], p: [usize; 4], oc: u16) -> Window {
    let oh = (input.h as usize + p[0] + p[2] - k[0]) / s[0] + 1;
    let ow = (input.w as usize + p[1] + p[3] - k[1]) / s[1] + 1;
    Window {
        input,
        output: Shape::new(oh as u16, ow as u16, oc),
        kernel: k,
        stride: s,
        pad: [p[0], p[1]],
    }
}

/// Plain convolution: every output sums every in-range tap.
fn ref_conv(x: &[f32], w: &[f32], b: &[f32], g: &Window, act: Activation) -> Vec<f32> {
    let (ih, iw, ic) = (g.input.h as isize, g.input.w as isize, g.input.c as usize);
    let (oh, ow, oc) = (
        g.output.h as usize,
        g.output.w as usize,
        g.output.c as usize,
    );
    let [kh, kw] = g.kernel;
    let mut y = vec![0.0; oh * ow * oc];
    for oy in 0..oh {
        for ox in 0..ow {
            for o in 0..oc {
                let mut acc = b[o] as f64;
                for ky in 0..kh {
                    for kx in 0..kw {
                        let iy = (oy * g.stride[0] + ky) as isize - g.pad[0] as isize;
                        let ix = (ox * g.stride[1] + kx) as isize - g.pad[1] as isize;
                        if iy < 0 || ix < 0 || iy >= ih || ix >= iw {
                            continue;
                        }
                        for c in 0..ic {
                            acc += x[(iy as usize * iw as usize + ix as usize) * ic + c] as f64
                                * w[((o * kh + ky) * kw + kx) * ic + c] as f64;
                        }
                    }
                }
                y[(oy * ow + ox) * oc + o] = act.apply(acc as f32);
            }
        }
    }
    y
}

/// Plain transposed convolution in scatter form: every input adds its kernel to the full
/// output, which is then cropped.
fn ref_conv_t(x: &[f32], w: &[f32], b: &[f32], g: &Window, act: Activation) -> Vec<f32> {
    let (ih, iw, ic) = (g.input.h as usize, g.input.w as usize, g.input.c as usize);
    let (oh, ow, oc) = (
        g.output.h as usize,
        g.output.w as usize,
        g.output.c as usize,
    );
    let [kh, kw] = g.kernel;
    let (fh, fw) = (
        (ih - 1) * g.stride[0] + kh + g.stride[0],
        (iw - 1) * g.stride[1] + kw + g.stride[1],
    );
    let mut full = vec![0.0f64; fh * fw * oc];
    for iy in 0..ih {
        for ix in 0..iw {
            for ky in 0..kh {
                for kx in 0..kw {
                    let (fy, fx) = (iy * g.stride[0] + ky, ix * g.stride[1] + kx);
                    for o in 0..oc {
                        for c in 0..ic {
                            full[(fy * fw + fx) * oc + o] += x[(iy * iw + ix) * ic + c] as f64
                                * w[((o * kh + ky) * kw + kx) * ic + c] as f64;
                        }
                    }
                }
            }
        }
    }
    let mut y = vec![0.0; oh * ow * oc];
    for oy in 0..oh {
        for ox in 0..ow {
            for o in 0..oc {
                let v = full[((oy + g.pad[0]) * fw + ox + g.pad[1]) * oc + o] + b[o] as f64;
                y[(oy * ow + ox) * oc + o] = act.apply(v as f32);
            }
        }
    }
    y
}

fn to_f16(w: &[f32]) -> (Vec<f16>, Vec<f32>) {
    let h: Vec<f16> = w.iter().map(|&v| f16::from_f32(v)).collect();
    let back = h.iter().map(|v| v.to_f32()).collect();
    (h, back)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn dense_matches_reference(n_in in 1usize..70, n_out in 1usize..20, a in 0usize..5, seed in any::<u64>()) {
        let mut r = Rng(seed);
        let (x, w, b) = (r.vec(n_in, -1.0, 1.0), r.vec(n_in * n_out, -1.0, 1.0), r.vec(n_out, -1.0, 1.0));
        let act = ACTS[a];
        let want: Vec<f32> = (0..n_out)
            .map(|o| act.apply(b[o] + (0..n_in).map(|i| w[o * n_in + i] * x[i]).sum::<f32>()))
            .collect();
        let mut y = vec![0.0; n_out];
        dense::float::dense(&x, &w, &b, act, &mut y);
        close(&y, &want, 1e-5)?;
        let (wh, wback) = to_f16(&w);
        let want16: Vec<f32> = (0..n_out)
            .map(|o| act.apply(b[o] + (0..n_in).map(|i| wback[o * n_in + i] * x[i]).sum::<f32>()))
            .collect();
        dense::float::dense(&x, &wh, &b, act, &mut y);
        close(&y, &want16, 1e-5)?;
    }

    #[test]
    fn conv2d_matches_reference((input, k, s, p, oc, seed) in conv_case(), a in 0usize..5) {
        let g = conv_window(input, k, s, p, oc);
        let mut r = Rng(seed);
        let x = r.vec(input.len(), -1.0, 1.0);
        let w = r.vec(oc as usize * k[0] * k[1] * input.c as usize, -1.0, 1.0);
        let b = r.vec(oc as usize, -1.0, 1.0);
        let mut y = vec![f32::NAN; g.output.len()];
        conv::float::conv2d(&x, &w, &b, &g, ACTS[a], &mut y);
        close(&y, &ref_conv(&x, &w, &b, &g, ACTS[a]), 1e-5)?;
        let (wh, wback) = to_f16(&w);
        conv::float::conv2d(&x, &wh, &b, &g, ACTS[a], &mut y);
        close(&y, &ref_conv(&x, &wback, &b, &g, ACTS[a]), 1e-5)?;
    }

    #[test]
    fn conv_transpose2d_matches_reference(
        h in 1u16..7, w in 1u16..7, c in 1u16..4, oc in 1u16..4, kh in 1usize..5, kw in 1usize..5,
        sh in 1usize..4, sw in 1usize..4, seed in any::<u64>(), a in 0usize..5, crop in any::<(u8, u8, u8, u8)>()
    ) {
        let (pt, pl) = (crop.0 as usize % kh, crop.1 as usize % kw);
        // Any output size up to the full size plus stride-1 extra rows, after cropping.
        let full_h = (h as usize - 1) * sh + kh + sh - 1 - pt;
        let full_w = (w as usize - 1) * sw + kw + sw - 1 - pl;
        let oh = 1 + crop.2 as usize % full_h;
        let ow = 1 + crop.3 as usize % full_w;
        let input = Shape::new(h, w, c);
        let g = Window { input, output: Shape::new(oh as u16, ow as u16, oc), kernel: [kh, kw], stride: [sh, sw], pad: [pt, pl] };
        let mut r = Rng(seed);
        let x = r.vec(input.len(), -1.0, 1.0);
        let wt = r.vec(oc as usize * kh * kw * c as usize, -1.0, 1.0);
        let b = r.vec(oc as usize, -1.0, 1.0);
        let mut y = vec![f32::NAN; g.output.len()];
        conv::float::conv_transpose2d(&x, &wt, &b, &g, ACTS[a], &mut y);
        close(&y, &ref_conv_t(&x, &wt, &b, &g, ACTS[a]), 1e-5)?;
    }

    #[test]
    fn max_pool_matches_reference((input, k, s, p, _oc, seed) in conv_case()) {
        let g = conv_window(input, k, s, p, input.c);
        let x = Rng(seed).vec(input.len(), -1.0, 1.0);
        let mut y = vec![f32::NAN; g.output.len()];
        spatial::max_pool2d(&x, &g, &mut y);
        let (ih, iw, c) = (input.h as isize, input.w as isize, input.c as usize);
        for oy in 0..g.output.h as usize {
            for ox in 0..g.output.w as usize {
                for ch in 0..c {
                    let mut m = f32::NEG_INFINITY;
                    for ky in 0..k[0] {
                        for kx in 0..k[1] {
                            let iy = (oy * s[0] + ky) as isize - p[0] as isize;
                            let ix = (ox * s[1] + kx) as isize - p[1] as isize;
                            if iy >= 0 && ix >= 0 && iy < ih && ix < iw {
                                m = m.max(x[(iy as usize * iw as usize + ix as usize) * c + ch]);
                            }
                        }
                    }
                    prop_assert_eq!(y[(oy * g.output.w as usize + ox) * c + ch], m);
                }
            }
        }
        // int8 pooling picks the same elements.
        let xq: Vec<i8> = x.iter().map(|v| (v * 127.0) as i8).collect();
        let mut yq = vec![0i8; g.output.len()];
        spatial::max_pool2d(&xq, &g, &mut yq);
        for (a, b) in yq.iter().zip(&y) {
            prop_assert_eq!(*a, (b * 127.0) as i8);
        }
    }

    #[test]
    fn upsample_matches_reference(h in 1u16..6, w in 1u16..6, c in 1u16..4, fh in 1usize..4, fw in 1usize..4, seed in any::<u64>()) {
        let input = Shape::new(h, w, c);
        let output = Shape::new(h * fh as u16, w * fw as u16, c);
        let g = Window { input, output, kernel: [1, 1], stride: [fh, fw], pad: [0, 0] };
        let x = Rng(seed).vec(input.len(), -1.0, 1.0);
        let mut y = vec![0.0; output.len()];
        spatial::upsample2d(&x, &g, &mut y);
        for oy in 0..output.h as usize {
            for ox in 0..output.w as usize {
                for ch in 0..c as usize {
                    prop_assert_eq!(y[(oy * output.w as usize + ox) * c as usize + ch], x[((oy / fh) * w as usize + ox / fw) * c as usize + ch]);
                }
            }
        }
    }

    /// int8 convolution against a reference that requantizes in exact real arithmetic: the
    /// fixed-point path may differ by at most one step.
    #[test]
    fn int8_conv_matches_real_requantization((input, k, s, p, oc, seed) in conv_case(), zp_in in -128i32..128, zp_out in -128i32..128, relu in any::<bool>()) {
        let g = conv_window(input, k, s, p, oc);
        let mut r = Rng(seed);
        let x: Vec<i8> = (0..input.len()).map(|_| r.next_u64() as i8).collect();
        let fan = k[0] * k[1] * input.c as usize;
        let w: Vec<i8> = (0..oc as usize * fan).map(|_| (r.next_u64() % 255) as i8).map(|v| v.max(-127)).collect();
        let b: Vec<i32> = (0..oc).map(|_| (r.next_u64() % 20001) as i32 - 10000).collect();
        let reals: Vec<f64> = (0..oc).map(|_| r.uniform(1e-4, 2e-2) as f64).collect();
        let (mult, shift): (Vec<i32>, Vec<i32>) = reals.iter().map(|&m| quantize_multiplier(m)).unzip();
        let min = if relu { zp_out } else { -128 };
        let q = Requant { input_zero_point: zp_in, bias: &b, multiplier: &mult, shift: &shift, output_zero_point: zp_out, min, lut: None };
        let mut y = vec![0i8; g.output.len()];
        conv::int8::conv2d(&x, &w, &g, &q, &mut y, &mut []);
        let xf: Vec<f32> = x.iter().map(|&v| (v as i32 - zp_in) as f32).collect();
        let wf: Vec<f32> = w.iter().map(|&v| v as f32).collect();
        let bf: Vec<f32> = b.iter().map(|&v| v as f32).collect();
        let acc = ref_conv(&xf, &wf, &bf, &g, Activation::Identity);
        for (i, (&got, &a)) in y.iter().zip(&acc).enumerate() {
            let o = i % oc as usize;
            let want = ((a as f64 * reals[o]).round() as i32 + zp_out).clamp(min, 127);
            prop_assert!((got as i32 - want).abs() <= 1, "[{}] {} vs {}", i, got, want);
        }
    }

    #[test]
    fn int8_dense_and_conv_transpose_match_real_requantization(
        h in 1u16..5, w in 1u16..5, c in 1u16..4, oc in 1u16..4, k in 1usize..4, st in 1usize..3, seed in any::<u64>(), zp_in in -128i32..128
    ) {
        let input = Shape::new(h, w, c);
        let out = Shape::new((h as usize - 1) as u16 * st as u16 + k as u16, (w as usize - 1) as u16 * st as u16 + k as u16, oc);
        let g = Window { input, output: out, kernel: [k, k], stride: [st, st], pad: [0, 0] };
        let mut r = Rng(seed);
        let x: Vec<i8> = (0..input.len()).map(|_| r.next_u64() as i8).collect();
        let wq: Vec<i8> = (0..oc as usize * k * k * c as usize).map(|_| (r.next_u64() % 255) as i8).map(|v| v.max(-127)).collect();
        let b: Vec<i32> = (0..oc).map(|_| (r.next_u64() % 2001) as i32 - 1000).collect();
        let real = r.uniform(1e-3, 1e-2) as f64;
        let (m, s) = quantize_multiplier(real);
        let (mult, shift) = (vec![m; oc as usize], vec![s; oc as usize]);
        let q = Requant { input_zero_point: zp_in, bias: &b, multiplier: &mult, shift: &shift, output_zero_point: 0, min: -128, lut: None };
        let xf: Vec<f32> = x.iter().map(|&v| (v as i32 - zp_in) as f32).collect();
        let wf: Vec<f32> = wq.iter().map(|&v| v as f32).collect();
        let bf: Vec<f32> = b.iter().map(|&v| v as f32).collect();
        let mut y = vec![0i8; out.len()];
        conv::int8::conv_transpose2d(&x, &wq, &g, &q, &mut y);
        for (&got, &a) in y.iter().zip(&ref_conv_t(&xf, &wf, &bf, &g, Activation::Identity)) {
            let want = ((a as f64 * real).round() as i32).clamp(-128, 127);
            prop_assert!((got as i32 - want).abs() <= 1);
        }
        // Dense: the same weights read as [oc][k*k*c] over the first k*k*c inputs.
        let n = k * k * c as usize;
        if input.len() >= n {
            let mut yd = vec![0i8; oc as usize];
            let mut packed = vec![0i8; wq.len()];
            dense::int8::pack(&wq, oc as usize, n, &mut packed);
            let mut folded = b.clone();
            dense::int8::fold_zero_point(&wq, n, zp_in, &mut folded);
            let qd = Requant { bias: &folded, ..q };
            dense::int8::dense(&x[..n], &packed, &qd, &mut yd);
            for o in 0..oc as usize {
                let a: i64 = b[o] as i64 + (0..n).map(|i| (x[i] as i64 - zp_in as i64) * wq[o * n + i] as i64).sum::<i64>();
                let want = ((a as f64 * real).round() as i32).clamp(-128, 127);
                prop_assert!((yd[o] as i32 - want).abs() <= 1);
            }
        }
    }

    /// The packed dense kernel equals TFLite's arithmetic exactly: `Σ (x - zp)·w + bias`,
    /// requantized, for any shape (blocks of 4 rows, chunks of 8, and the tails).
    #[test]
    fn int8_packed_dense_is_exact(n in 1usize..23, k in 1usize..70, seed in any::<u64>(), zp_in in -128i32..128, zp_out in -128i32..128, relu in any::<bool>()) {
        let mut r = Rng(seed);
        let x: Vec<i8> = (0..k).map(|_| r.next_u64() as i8).collect();
        let w: Vec<i8> = (0..n * k).map(|_| (r.next_u64() % 255) as i8).map(|v| v.max(-127)).collect();
        let b: Vec<i32> = (0..n).map(|_| (r.next_u64() % 200_001) as i32 - 100_000).collect();
        let (mult, shift): (Vec<i32>, Vec<i32>) = (0..n).map(|_| quantize_multiplier(r.uniform(1e-4, 3.0) as f64)).unzip();
        let min = if relu { zp_out } else { -128 };
        let mut packed = vec![0i8; w.len()];
        dense::int8::pack(&w, n, k, &mut packed);
        let mut back = vec![0i8; w.len()];
        dense::int8::unpack(&packed, n, k, &mut back);
        prop_assert_eq!(&back, &w);
        let mut folded = b.clone();
        dense::int8::fold_zero_point(&w, k, zp_in, &mut folded);
        let q = Requant { input_zero_point: zp_in, bias: &folded, multiplier: &mult, shift: &shift, output_zero_point: zp_out, min, lut: None };
        let mut y = vec![0i8; n];
        dense::int8::dense(&x, &packed, &q, &mut y);
        for o in 0..n {
            let acc = b[o] + (0..k).map(|i| (x[i] as i32 - zp_in) * w[o * k + i] as i32).sum::<i32>();
            let want = (multiply_by_quantized_multiplier(acc, mult[o], shift[o]) + zp_out).clamp(min, 127);
            prop_assert_eq!(y[o] as i32, want, "row {}", o);
        }
    }

    #[test]
    fn int8_lookup_applies_the_table(seed in any::<u64>()) {
        let mut r = Rng(seed);
        let table: [i8; 256] = core::array::from_fn(|_| r.next_u64() as i8);
        let mut v: Vec<i8> = (0..300).map(|_| r.next_u64() as i8).collect();
        let orig = v.clone();
        activation::lookup(&mut v, &table);
        for (a, b) in v.iter().zip(&orig) {
            prop_assert_eq!(*a, table[(*b as i32 + 128) as usize]);
        }
    }
}

/// Average pooling counts only the valid inputs of a padded window and rounds int8 means half
/// away from zero (TFLite's reference): a 2×2 window, stride 1, padded at the bottom/right.
#[test]
fn avg_pool_counts_valid_inputs_and_rounds_like_tflite() {
    let input = Shape::new(2, 2, 1);
    let g = Window {
        input,
        output: input,
        kernel: [2, 2],
        stride: [1, 1],
        pad: [0, 0],
    };
    // Windows: all four; the right column; the bottom row; the last value alone.
    let x: [i8; 4] = [-3, -4, 1, 1];
    let mut y = [0i8; 4];
    spatial::avg_pool2d_int8(&x, &g, &mut y);
    // -5/4 = -1.25 → -1; -3/2 = -1.5 → -2; 2/2 = 1; 1/1 = 1.
    assert_eq!(y, [-1, -2, 1, 1]);
    let xf = [-3.0f32, -4.0, 1.0, 1.0];
    let mut yf = [0f32; 4];
    spatial::avg_pool2d(&xf, &g, &mut yf);
    assert_eq!(yf, [-1.25, -1.5, 1.0, 1.0]);
}

/// A depthwise convolution equals the full convolution whose weights are zero off the
/// diagonal (output channel o reads input channel o / m only): exactly in int8, within
/// rounding in f32. Shapes, strides, paddings and depth multipliers vary.
#[test]
fn depthwise_equals_the_expanded_convolution() {
    let mut r = Rng(41);
    for case in 0..60 {
        let (h, w, ic) = (3 + case % 5, 2 + (case * 7) % 6, 1 + case % 4);
        let m = 1 + case % 3;
        let oc = ic * m;
        let k = [1 + case % 3, 1 + (case / 3) % 3];
        let s = [1 + case % 2, 1 + (case / 2) % 2];
        let p = [k[0] / 2, k[1] / 2, (k[0] - 1) / 2, (k[1] - 1) / 2];
        let input = Shape::new(h as u16, w as u16, ic as u16);
        let full = conv_window(input, k, s, p, oc as u16);
        let g = full;
        let dw: Vec<f32> = r.vec(oc * k[0] * k[1], -1.0, 1.0);
        let mut expanded = vec![0.0f32; oc * k[0] * k[1] * ic];
        for o in 0..oc {
            for t in 0..k[0] * k[1] {
                expanded[(o * k[0] * k[1] + t) * ic + o / m] = dw[o * k[0] * k[1] + t];
            }
        }
        let b = r.vec(oc, -0.5, 0.5);
        let x = r.vec(input.len(), -1.0, 1.0);
        let n = g.output.len();
        let (mut yd, mut yc) = (vec![0.0; n], vec![0.0; n]);
        conv::float::depthwise2d(&x, &dw, &b, &g, Activation::Relu, &mut yd);
        conv::float::conv2d(&x, &expanded, &b, &g, Activation::Relu, &mut yc);
        close(&yd, &yc, 1e-5).unwrap();

        let q8 = |v: &[f32]| -> Vec<i8> { v.iter().map(|x| (x * 100.0) as i8).collect() };
        let (xq, dq, eq) = (q8(&x), q8(&dw), q8(&expanded));
        let bias: Vec<i32> = (0..oc as i32).map(|i| i * 37 - 50).collect();
        let (m1, s1) = quantize_multiplier(0.004);
        let (mult, shift) = (vec![m1; oc], vec![s1; oc]);
        let q = Requant {
            input_zero_point: 3,
            bias: &bias,
            multiplier: &mult,
            shift: &shift,
            output_zero_point: -7,
            min: -128,
            lut: None,
        };
        let (mut qd, mut qc) = (vec![0i8; n], vec![0i8; n]);
        conv::int8::depthwise2d(&xq, &dq, &g, &q, &mut qd);
        conv::int8::conv2d(&xq, &eq, &g, &q, &mut qc, &mut []);
        assert_eq!(qd, qc, "case {case}");
    }
}

/// `Quant::quantize` is TFLite's rounding (half away from zero) and saturation, written
/// branch-free: checked against `f32::round` on halves, their neighbours, large values and
/// random ones, for several scales and zero points.
#[test]
fn quantize_matches_round_half_away_from_zero() {
    let reference = |q: &aedge_runtime::Quant, x: f32| {
        ((x / q.scale).round() + q.zero_point as f32).clamp(-128.0, 127.0) as i8
    };
    let mut r = Rng(0x9a);
    for (scale, zero_point) in [
        (1.0, 0),
        (0.5, -128),
        (1.0 / 255.0, 127),
        (0.0371, -7),
        (3.0, 5),
    ] {
        let q = aedge_runtime::Quant { scale, zero_point };
        let mut xs: Vec<f32> = Vec::new();
        for k in -2000..2000 {
            let half = k as f32 * 0.5 * scale;
            xs.extend([
                half,
                f32::from_bits(half.to_bits() + 1),
                f32::from_bits(half.to_bits().saturating_sub(1)),
            ]);
        }
        xs.extend([
            0.0,
            -0.0,
            1e30,
            -1e30,
            f32::MAX,
            f32::MIN,
            3e38 * 2.0,
            -3e38 * 2.0,
            f32::NAN,
        ]);
        xs.extend((0..10_000).map(|_| r.uniform(-300.0, 300.0) * scale));
        for x in xs {
            assert_eq!(
                q.quantize(x),
                reference(&q, x),
                "x = {x:e}, scale {scale}, zp {zero_point}"
            );
        }
    }
}
