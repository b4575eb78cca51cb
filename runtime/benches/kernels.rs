//! Kernel and whole-model micro-benchmarks (criterion): `cargo bench -p aedge-runtime`.
//! The cross-target comparison (tract, GPU, MCU) is `aedge bench`.

use aedge_runtime::calibrate::{ranges, RangeMethod};
use aedge_runtime::fixed::{multiply_by_quantized_multiplier, quantize_multiplier};
use aedge_runtime::ir::Graph;
use aedge_runtime::kernels::{conv, dense, spatial, Requant, Window};
use aedge_runtime::rng::SplitMix;
use aedge_runtime::zoo;
use aedge_runtime::{Activation, AlignedBytes, Model, Precision, Shape};
use criterion::{black_box, criterion_group, criterion_main, Criterion};

fn dense_kernels(c: &mut Criterion) {
    let (k, n) = (784, 36);
    let mut r = SplitMix(1);
    let x: Vec<i8> = (0..k).map(|_| r.next_u64() as i8).collect();
    let w: Vec<i8> = (0..n * k).map(|_| r.next_u64() as i8).collect();
    let mut packed = vec![0i8; w.len()];
    dense::int8::pack(&w, n, k, &mut packed);
    let bias = vec![100i32; n];
    let (m, s) = quantize_multiplier(0.004);
    let (mult, shift) = (vec![m; n], vec![s; n]);
    let q = Requant {
        input_zero_point: 0,
        bias: &bias,
        multiplier: &mult,
        shift: &shift,
        output_zero_point: -3,
        min: -128,
        lut: None,
    };
    let mut y = vec![0i8; n];
    c.bench_function("int8 dense 784x36", |b| {
        b.iter(|| dense::int8::dense(black_box(&x), &packed, &q, &mut y))
    });
    let xf = r.vec(k, 0.0, 1.0);
    let wf = r.vec(n * k, -0.1, 0.1);
    let bf = vec![0.0f32; n];
    let mut yf = vec![0.0f32; n];
    c.bench_function("f32 dense 784x36", |b| {
        b.iter(|| dense::float::dense(black_box(&xf), &wf, &bf, Activation::Relu, &mut yf))
    });
    let acc: Vec<i32> = (0..1024)
        .map(|_| (r.next_u64() >> 40) as i32 - (1 << 23))
        .collect();
    c.bench_function("requantize 1024", |b| {
        b.iter(|| {
            acc.iter()
                .map(|&a| multiply_by_quantized_multiplier(black_box(a), m, s))
                .fold(0i32, i32::wrapping_add)
        })
    });
}

/// The keras-conv model's convolution shapes: first layer (one input channel), a middle one,
/// and the decoder's last (one output channel), int8 and f32.
fn conv_kernel(c: &mut Criterion) {
    for (h, ic, oc) in [(28u16, 1u16, 16u16), (14, 16, 8), (28, 16, 1)] {
        let input = Shape::new(h, h, ic);
        let output = Shape::new(h, h, oc);
        let g = Window {
            input,
            output,
            kernel: [3, 3],
            stride: [1, 1],
            pad: [1, 1],
        };
        let mut r = SplitMix(2);
        let n = oc as usize * 9 * ic as usize;
        let x: Vec<i8> = (0..input.len()).map(|_| r.next_u64() as i8).collect();
        let w: Vec<i8> = (0..n).map(|_| r.next_u64() as i8).collect();
        let bias = vec![0i32; oc as usize];
        let (m, s) = quantize_multiplier(0.002);
        let (mult, shift) = (vec![m; oc as usize], vec![s; oc as usize]);
        let q = Requant {
            input_zero_point: 5,
            bias: &bias,
            multiplier: &mult,
            shift: &shift,
            output_zero_point: 0,
            min: 0,
            lut: None,
        };
        let mut y = vec![0i8; output.len()];
        c.bench_function(&format!("int8 conv3x3 {h}x{h}x{ic}->{oc}"), |b| {
            b.iter(|| conv::int8::conv2d(black_box(&x), &w, &g, &q, &mut y, &mut []))
        });
        let xf: Vec<f32> = x.iter().map(|&v| v as f32 / 128.0).collect();
        let wf: Vec<f32> = w.iter().map(|&v| v as f32 / 128.0).collect();
        let bf = vec![0.0f32; oc as usize];
        let mut yf = vec![0.0f32; output.len()];
        c.bench_function(&format!("f32 conv3x3 {h}x{h}x{ic}->{oc}"), |b| {
            b.iter(|| conv::float::conv2d(black_box(&xf), &wf, &bf, &g, Activation::Relu, &mut yf))
        });
    }
}

/// The keras-conv model's first 2×2 max pooling.
fn pool_kernel(c: &mut Criterion) {
    let g = Window {
        input: Shape::new(28, 28, 16),
        output: Shape::new(14, 14, 16),
        kernel: [2, 2],
        stride: [2, 2],
        pad: [0, 0],
    };
    let mut r = SplitMix(4);
    let x: Vec<i8> = (0..g.input.len()).map(|_| r.next_u64() as i8).collect();
    let mut y = vec![0i8; g.output.len()];
    c.bench_function("int8 max pool 2x2 28x28x16", |b| {
        b.iter(|| spatial::max_pool2d(black_box(&x), &g, &mut y))
    });
}

fn model(g: &Graph, p: Precision) -> Vec<u8> {
    match p {
        Precision::Int8 => {
            let mut r = SplitMix(3);
            let n = g.input.len();
            let calib: Vec<Vec<f32>> = (0..16).map(|_| r.vec(n, 0.0, 1.0)).collect();
            let rg = ranges(g, calib.iter().map(Vec::as_slice), RangeMethod::MinMax).unwrap();
            g.to_aedge_int8(&rg).unwrap()
        }
        _ => g.to_aedge(p).unwrap(),
    }
}

fn models(c: &mut Criterion) {
    for (name, g) in [
        ("mlperf-ad", zoo::mlperf_ad(1)),
        ("seed-dense", zoo::mnist_dense(36, 1)),
        ("keras-conv", zoo::keras_conv(1)),
    ] {
        for p in [Precision::F32, Precision::F16, Precision::Int8] {
            let bytes = AlignedBytes::from(model(&g, p));
            let m = Model::parse(&bytes).unwrap();
            let mut arena = AlignedBytes::zeroed(m.arena_len());
            c.bench_function(&format!("{name} {p} run"), |b| {
                b.iter(|| {
                    black_box(m.run(&mut arena).unwrap());
                })
            });
        }
    }
}

/// keras-conv int8 with the kernels capped at each level this CPU has: what a machine
/// without VNNI (AVX2 only: AMD Zen 2/3, Intel before Ice Lake), without AVX2, or an ARM host
/// without `sdot` (Cortex-A72) gets.
fn isa_levels(c: &mut Criterion) {
    use aedge_runtime::kernels::isa;
    let bytes = AlignedBytes::from(model(&zoo::keras_conv(1), Precision::Int8));
    let m = Model::parse(&bytes).unwrap();
    let mut arena = AlignedBytes::zeroed(m.arena_len());
    for &level in isa::LEVELS {
        isa::cap(level);
        if !isa::has(level) {
            continue;
        }
        let name = isa::name(level);
        c.bench_function(&format!("keras-conv int8 run, kernels up to {name}"), |b| {
            b.iter(|| {
                black_box(m.run(&mut arena).unwrap());
            })
        });
    }
    isa::cap(u8::MAX);
}

criterion_group!(
    benches,
    dense_kernels,
    conv_kernel,
    pool_kernel,
    models,
    isa_levels
);
criterion_main!(benches);
