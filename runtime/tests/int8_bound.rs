//! int8 results against the f32 reference stay within the analytic quantization error bound.

mod common;

use aedge_runtime::calibrate::{ranges, RangeMethod};
use aedge_runtime::ir::{Graph, Layer};
use aedge_runtime::{Activation, AlignedBytes, Model, Precision, Shape};
use common::Rng;
use proptest::prelude::*;

fn run(bytes: &AlignedBytes, x: &[f32]) -> Vec<f32> {
    let m = Model::parse(bytes).unwrap();
    let mut arena = AlignedBytes::zeroed(m.arena_len());
    let mut y = vec![0.0; m.output_shape().len()];
    m.reconstruct(x, &mut y, &mut arena).unwrap();
    y
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// For `y = act(W x + b)`, with input step `s_in`, per-channel weight step `s_w` and output
    /// step `s_out`, the int8 result is within
    /// `L * (s_in/2 Σ|w| + s_w/2 Σ|x̂| + s_in s_w / 2 + 1.5 s_pre) + s_out`
    /// of f32, where `L` is the activation's Lipschitz constant and `s_pre` the step before the
    /// activation table (the 1.5 allows the fixed-point requantization one extra step).
    #[test]
    fn dense_int8_is_within_the_quantization_bound(n in 2usize..64, a in 0usize..4, seed in any::<u64>()) {
        let acts = [Activation::Identity, Activation::Relu, Activation::Sigmoid, Activation::Tanh];
        let lipschitz = [1.0f32, 1.0, 0.25, 1.0];
        let act = acts[a];
        let mut r = Rng(seed);
        let w = r.vec(n * n, -0.5, 0.5);
        let b = r.vec(n, -0.2, 0.2);
        let mut g = Graph::new("bound", Shape::vector(n as u16));
        g.push(Layer::dense(n as u16, w.clone(), b, act));
        let samples: Vec<Vec<f32>> = (0..8).map(|_| r.vec(n, -1.0, 1.0)).collect();
        let rg = ranges(&g, samples.iter().map(|v| v.as_slice()), RangeMethod::MinMax).unwrap();
        let f = AlignedBytes::from(g.to_aedge(Precision::F32).unwrap());
        let q = AlignedBytes::from(g.to_aedge_int8(&rg).unwrap());
        let m = Model::parse(&q).unwrap();
        let in_q = m.meta().input_quant;
        let layer = m.layers().next().unwrap();
        let s_out = layer.output_quant.scale;
        let s_pre = layer.desc.quant.unwrap().pre.scale;
        for x in &samples {
            let (yf, yq) = (run(&f, x), run(&q, x));
            let xh: Vec<f32> = x.iter().map(|&v| in_q.dequantize(in_q.quantize(v))).collect();
            for o in 0..n {
                let row = &w[o * n..][..n];
                let s_w = row.iter().fold(0.0f32, |m, v| m.max(v.abs())) / 127.0;
                let pre_bound = in_q.scale / 2.0 * row.iter().map(|v| v.abs()).sum::<f32>()
                    + s_w / 2.0 * xh.iter().map(|v| v.abs()).sum::<f32>()
                    + in_q.scale * s_w / 2.0
                    + 1.5 * s_pre;
                // A full step at the output covers rounding and the clipping of sigmoid at 255/256.
                let bound = lipschitz[a] * pre_bound + s_out + 1e-6;
                let err = (yf[o] - yq[o]).abs();
                prop_assert!(err <= bound, "{:?} out {}: |{} - {}| = {} > bound {}", act, o, yf[o], yq[o], err, bound);
            }
        }
    }
}
