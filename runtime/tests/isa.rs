//! Every host code path of the int8 kernels gives the same bits as TFLite's arithmetic. The
//! kernels pick their level at run time (x86-64: AVX2, VNNI, AVX-512; aarch64: NEON, `sdot`);
//! here the level is capped so that each path this CPU has runs on the same cases. (Its own
//! test binary: the cap is process-wide.) The aarch64 paths run under `qemu-aarch64` in the
//! test command (`scripts/test.sh`, set up by `scripts/install-aarch64.sh`).

#![cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]

mod common;

use aedge_runtime::fixed::{multiply_by_quantized_multiplier, quantize_multiplier};
use aedge_runtime::kernels::{conv, dense, isa, Requant, Window};
use aedge_runtime::Shape;
use common::Rng;
use std::sync::Mutex;

/// The cap is process-wide: tests that set it run one at a time.
static CAP: Mutex<()> = Mutex::new(());

/// One random dense layer: row-major weights, and its expected outputs.
struct Case {
    n: usize,
    k: usize,
    x: Vec<i8>,
    packed: Vec<i8>,
    folded: Vec<i32>,
    mult: Vec<i32>,
    shift: Vec<i32>,
    zp_in: i32,
    zp_out: i32,
    min: i32,
    lut: Option<[i8; 256]>,
    want: Vec<i8>,
}

fn case(r: &mut Rng, n: usize, k: usize) -> Case {
    let x: Vec<i8> = (0..k).map(|_| r.next_u64() as i8).collect();
    let w: Vec<i8> = (0..n * k)
        .map(|_| ((r.next_u64() % 255) as i8).max(-127))
        .collect();
    let b: Vec<i32> = (0..n)
        .map(|_| (r.next_u64() % 200_001) as i32 - 100_000)
        .collect();
    // Per-tensor (one multiplier) in a third of the cases, as in imported TFLite models.
    let channels = if r.next_u64().is_multiple_of(3) { 1 } else { n };
    let (mult, shift): (Vec<i32>, Vec<i32>) = (0..channels)
        .map(|_| quantize_multiplier(r.uniform(1e-4, 3.0) as f64))
        .unzip();
    let zp_in = (r.next_u64() % 256) as i32 - 128;
    let zp_out = (r.next_u64() % 256) as i32 - 128;
    let min = if r.next_u64().is_multiple_of(2) {
        zp_out.max(-128)
    } else {
        -128
    };
    let lut = r
        .next_u64()
        .is_multiple_of(2)
        .then(|| core::array::from_fn(|i| (i as u8 ^ 0x5a) as i8));
    let mut packed = vec![0i8; w.len()];
    dense::int8::pack(&w, n, k, &mut packed);
    let mut folded = b.clone();
    dense::int8::fold_zero_point(&w, k, zp_in, &mut folded);
    let want = (0..n)
        .map(|o| {
            let acc = (0..k).fold(b[o], |a, i| {
                a.wrapping_add((x[i] as i32 - zp_in) * w[o * k + i] as i32)
            });
            let c = if channels == 1 { 0 } else { o };
            let v = multiply_by_quantized_multiplier(acc, mult[c], shift[c])
                .saturating_add(zp_out)
                .clamp(min, 127);
            match &lut {
                Some(t) => t[(v + 128) as usize],
                None => v as i8,
            }
        })
        .collect();
    Case {
        n,
        k,
        x,
        packed,
        folded,
        mult,
        shift,
        zp_in,
        zp_out,
        min,
        lut,
        want,
    }
}

fn run(c: &Case) -> Vec<i8> {
    let q = Requant {
        input_zero_point: c.zp_in,
        bias: &c.folded,
        multiplier: &c.mult,
        shift: &c.shift,
        output_zero_point: c.zp_out,
        min: c.min,
        lut: c.lut.as_ref(),
    };
    let mut y = vec![0i8; c.n];
    dense::int8::dense(&c.x, &c.packed, &q, &mut y);
    y
}

/// The levels this CPU has, each run with the cap at it.
fn levels() -> impl Iterator<Item = u8> {
    let have: Vec<u8> = isa::LEVELS
        .iter()
        .copied()
        .filter(|&l| {
            isa::cap(u8::MAX);
            isa::has(l)
        })
        .collect();
    println!(
        "levels: {}",
        have.iter()
            .map(|&l| isa::name(l))
            .collect::<Vec<_>>()
            .join(", ")
    );
    have.into_iter()
}

#[test]
fn every_level_gives_tflite_bits() {
    let mut r = Rng(0x15a);
    let mut cases = Vec::new();
    // Both autoencoder layers of the seed model, the MLPerf AD shapes, and small odd ones
    // (every tail length, row counts around the 8-row pairs).
    for (n, k) in [(36, 784), (784, 36), (128, 640), (8, 128), (640, 128)] {
        cases.push(case(&mut r, n, k));
    }
    for _ in 0..400 {
        let n = 1 + (r.next_u64() % 40) as usize;
        let k = 1 + (r.next_u64() % 100) as usize;
        cases.push(case(&mut r, n, k));
    }
    let _one = CAP.lock().unwrap_or_else(|e| e.into_inner());
    for level in levels() {
        isa::cap(level);
        for c in &cases {
            assert_eq!(run(c), c.want, "level {level}, {}x{}", c.n, c.k);
        }
    }
    isa::cap(u8::MAX);
}

/// TFLite's int8 convolution, written out: `Σ (x - zp)·w` over the in-range taps.
fn ref_conv(x: &[i8], w: &[i8], g: &Window, q: &Requant) -> Vec<i8> {
    let ([ih, iw, ic], [oh, ow, oc]) = g.sizes();
    let [kh, kw] = g.kernel;
    let mut y = Vec::new();
    for oy in 0..oh {
        for ox in 0..ow {
            for o in 0..oc {
                let mut acc = q.bias[o];
                for ky in 0..kh {
                    for kx in 0..kw {
                        let iy = (oy * g.stride[0] + ky) as isize - g.pad[0] as isize;
                        let ix = (ox * g.stride[1] + kx) as isize - g.pad[1] as isize;
                        if iy < 0 || ix < 0 || iy >= ih as isize || ix >= iw as isize {
                            continue;
                        }
                        for c in 0..ic {
                            let xv = x[(iy as usize * iw + ix as usize) * ic + c] as i32;
                            let wv = w[((o * kh + ky) * kw + kx) * ic + c] as i32;
                            acc = acc.wrapping_add((xv - q.input_zero_point) * wv);
                        }
                    }
                }
                let v = multiply_by_quantized_multiplier(acc, q.multiplier[o], q.shift[o])
                    .saturating_add(q.output_zero_point)
                    .clamp(q.min, 127);
                y.push(match q.lut {
                    Some(t) => t[(v + 128) as usize],
                    None => v as i8,
                });
            }
        }
    }
    y
}

#[test]
fn every_level_gives_the_same_int8_convolution() {
    let mut r = Rng(0xc0);
    let mut cases = Vec::new();
    for i in 0..150 {
        let (h, w) = (1 + r.next_u64() % 9, 1 + r.next_u64() % 9);
        let ic = [1, 2, 3, 8, 16][(r.next_u64() % 5) as usize];
        let oc = [1, 3, 8, 9, 16, 17][(r.next_u64() % 6) as usize];
        let k = [
            1 + (r.next_u64() % 3) as usize,
            1 + (r.next_u64() % 3) as usize,
        ];
        let stride = [
            1 + (r.next_u64() % 2) as usize,
            1 + (r.next_u64() % 2) as usize,
        ];
        let pad = [
            (r.next_u64() as usize) % k[0],
            (r.next_u64() as usize) % k[1],
        ];
        let oh = (h as usize + 2 * pad[0]).saturating_sub(k[0]) / stride[0] + 1;
        let ow = (w as usize + 2 * pad[1]).saturating_sub(k[1]) / stride[1] + 1;
        if h as usize + 2 * pad[0] < k[0] || w as usize + 2 * pad[1] < k[1] {
            continue;
        }
        let g = Window {
            input: Shape::new(h as u16, w as u16, ic),
            output: Shape::new(oh as u16, ow as u16, oc),
            kernel: k,
            stride,
            pad,
        };
        let x: Vec<i8> = (0..g.input.len()).map(|_| r.next_u64() as i8).collect();
        let wl = oc as usize * k[0] * k[1] * ic as usize;
        let wt: Vec<i8> = (0..wl)
            .map(|_| ((r.next_u64() % 255) as i8).max(-127))
            .collect();
        let b: Vec<i32> = (0..oc)
            .map(|_| (r.next_u64() % 20_001) as i32 - 10_000)
            .collect();
        let (m, s): (Vec<i32>, Vec<i32>) = (0..oc)
            .map(|_| quantize_multiplier(r.uniform(1e-4, 2e-2) as f64))
            .unzip();
        let zp_in = (r.next_u64() % 256) as i32 - 128;
        let zp_out = (r.next_u64() % 256) as i32 - 128;
        let min = if i % 2 == 0 { zp_out } else { -128 };
        cases.push((g, x, wt, b, m, s, zp_in, zp_out, min));
    }
    let _one = CAP.lock().unwrap_or_else(|e| e.into_inner());
    let table: [i8; 256] = core::array::from_fn(|i| (i as u8).wrapping_mul(37) as i8);
    for level in levels() {
        isa::cap(level);
        for (i, (g, x, w, b, m, s, zp_in, zp_out, min)) in cases.iter().enumerate() {
            let q = Requant {
                input_zero_point: *zp_in,
                bias: b,
                multiplier: m,
                shift: s,
                output_zero_point: *zp_out,
                min: *min,
                // Every third case with an activation table.
                lut: (i % 3 == 0).then_some(&table),
            };
            let mut y = vec![0i8; g.output.len()];
            conv::int8::conv2d(x, w, g, &q, &mut y, &mut []);
            assert_eq!(y, ref_conv(x, w, g, &q), "level {level}, {g:?}");
        }
    }
    isa::cap(u8::MAX);
}

/// f32 and f16-weight kernels: the AVX2 build and the portable one add the same products in
/// the same order, so they agree bit for bit. (aarch64 has one f32 build.)
#[cfg(target_arch = "x86_64")]
#[test]
fn float_kernels_give_the_same_bits_on_every_level() {
    use aedge_runtime::kernels::{conv, dense};
    use aedge_runtime::Activation;
    use half::f16;
    let mut r = Rng(0xf32);
    let mut dense = Vec::new();
    for _ in 0..200 {
        let k = 1 + (r.next_u64() % 100) as usize;
        let n = 1 + (r.next_u64() % 20) as usize;
        dense.push((
            k,
            r.vec(k, -1.0, 1.0),
            r.vec(n * k, -1.0, 1.0),
            r.vec(n, -0.1, 0.1),
        ));
    }
    let mut convs = Vec::new();
    for _ in 0..60 {
        let ic = [1u16, 3, 8, 16][(r.next_u64() % 4) as usize];
        let oc = [1u16, 5, 8, 13, 16][(r.next_u64() % 5) as usize];
        let (h, w) = (3 + (r.next_u64() % 8) as u16, 3 + (r.next_u64() % 8) as u16);
        let g = Window {
            input: Shape::new(h, w, ic),
            output: Shape::new(h, w, oc),
            kernel: [3, 3],
            stride: [1, 1],
            pad: [1, 1],
        };
        let wl = oc as usize * 9 * ic as usize;
        convs.push((
            g,
            r.vec(g.input.len(), -1.0, 1.0),
            r.vec(wl, -0.5, 0.5),
            r.vec(oc as usize, -0.1, 0.1),
        ));
    }
    let _one = CAP.lock().unwrap_or_else(|e| e.into_inner());
    let mut runs: Vec<Vec<u32>> = Vec::new();
    for level in [isa::PORTABLE, isa::AVX2] {
        isa::cap(level);
        let mut bits = Vec::new();
        for (k, x, w, b) in &dense {
            let w16: Vec<f16> = w.iter().map(|&v| f16::from_f32(v)).collect();
            let mut y = vec![0.0f32; b.len()];
            dense::float::dense(x, w, b, Activation::Sigmoid, &mut y);
            bits.extend(y.iter().map(|v| v.to_bits()));
            dense::float::dense(&x[..*k], &w16, b, Activation::Identity, &mut y);
            bits.extend(y.iter().map(|v| v.to_bits()));
        }
        for (g, x, w, b) in &convs {
            let w16: Vec<f16> = w.iter().map(|&v| f16::from_f32(v)).collect();
            let mut y = vec![0.0f32; g.output.len()];
            conv::float::conv2d(x, w, b, g, Activation::Relu, &mut y);
            bits.extend(y.iter().map(|v| v.to_bits()));
            conv::float::conv2d(x, &w16, b, g, Activation::Identity, &mut y);
            bits.extend(y.iter().map(|v| v.to_bits()));
        }
        runs.push(bits);
    }
    isa::cap(u8::MAX);
    assert_eq!(runs[0].len(), runs[1].len());
    let differ = runs[0].iter().zip(&runs[1]).filter(|(a, b)| a != b).count();
    assert_eq!(
        differ,
        0,
        "{differ} of {} values differ between portable and AVX2",
        runs[0].len()
    );
}
