//! write -> parse -> run round trips of hand-built models in f32, f16 and int8.

mod common;

use aedge_runtime::calibrate::{ranges, threshold, RangeMethod};
use aedge_runtime::ir::Graph;
use aedge_runtime::metrics::psnr;
use aedge_runtime::precisions::export_precisions;
use aedge_runtime::{element_error, AlignedBytes, Error, Model, Precision, ThresholdRule};
use common::{all_ops, conv_ae, dense_ae, images};

/// The three precisions of one graph, int8 calibrated with min/max ranges on `calib`.
fn export_all(g: &Graph, calib: &[Vec<f32>]) -> [AlignedBytes; 3] {
    let e = export_precisions(g, calib, &[] as &[Vec<f32>], &[RangeMethod::MinMax]).unwrap();
    e.files().map(|(_, b)| AlignedBytes::from(b.to_vec()))
}

fn reconstruct(m: &Model, x: &[f32]) -> Vec<f32> {
    let mut arena = AlignedBytes::zeroed(m.arena_len());
    let mut y = vec![0.0; m.output_shape().len()];
    m.reconstruct(x, &mut y, &mut arena).unwrap();
    y
}

/// Checks one graph end to end and returns (f16 PSNR, int8 PSNR) against f32 in dB.
fn check_model(g: &Graph, seed: u64) -> (f64, f64) {
    let data = images(seed, 24, g.input);
    let (calib, test) = data.split_at(16);
    let files = export_all(g, calib);
    let models: Vec<Model> = files.iter().map(|b| Model::parse(b).unwrap()).collect();
    let (f32m, f16m, i8m) = (&models[0], &models[1], &models[2]);
    assert_eq!(f32m.precision(), Precision::F32);
    assert_eq!(f16m.precision(), Precision::F16);
    assert_eq!(i8m.precision(), Precision::Int8);
    // Flash: f16 weights take half of f32, int8 about a quarter (once weights dominate the
    // per-channel parameters and tables).
    if f32m.param_count() > 10_000 {
        assert!(f16m.weights_len() < f32m.weights_len() * 6 / 10);
        assert!(i8m.weights_len() < f32m.weights_len() * 3 / 10);
    }
    let (mut p16, mut p8) = (f64::INFINITY, f64::INFINITY);
    for x in test {
        let y32 = reconstruct(f32m, x);
        p16 = p16.min(psnr(&y32, &reconstruct(f16m, x), 1.0));
        p8 = p8.min(psnr(&y32, &reconstruct(i8m, x), 1.0));
        for m in &models {
            check_entry_points(m, x);
        }
    }
    println!("{}: f16 vs f32 {p16:.1} dB, int8 vs f32 {p8:.1} dB", g.name);
    (p16, p8)
}

/// encode + decode equals reconstruct; score and denoise agree with reconstruct.
fn check_entry_points(m: &Model, x: &[f32]) {
    let mut arena = AlignedBytes::zeroed(m.arena_len());
    let y = reconstruct(m, x);
    let mut z = vec![0.0; m.latent_shape().len()];
    m.encode(x, &mut z, &mut arena).unwrap();
    let mut y2 = vec![0.0; y.len()];
    if m.decodes_codes() {
        m.decode(&z, &mut y2, &mut arena).unwrap();
        // (int8: the latent code is dequantized and requantized exactly.)
        assert_eq!(y, y2, "{}: decode(encode(x)) != reconstruct(x)", m.name());
    } else {
        // Skips cross the code: the decoder needs the encoder's saved tensors.
        assert!(matches!(
            m.decode(&z, &mut y2, &mut arena),
            Err(Error::Unsupported(_))
        ));
    }
    let s = m.score(x, &mut arena).unwrap();
    let scale = m.preprocess_scale();
    let offset = m.preprocess_offset();
    let c = m.input_shape().c as usize;
    let pick = |v: &[f32], i: usize| if v.len() == 1 { v[0] } else { v[i % c] };
    let want: f64 = x
        .iter()
        .zip(&y)
        .enumerate()
        .map(|(i, (&r, &yy))| {
            element_error(m.metric(), r * pick(scale, i) + pick(offset, i), yy) as f64
        })
        .sum::<f64>()
        / x.len() as f64;
    assert!(
        (s.error as f64 - want).abs() <= 1e-6 * want.max(1.0),
        "{} vs {want}",
        s.error
    );
    assert_eq!(s.anomalous, s.error > m.threshold());
    let mut d = vec![0.0; y.len()];
    m.denoise(x, &mut d, &mut arena).unwrap();
    for (i, (&dv, &yv)) in d.iter().zip(&y).enumerate() {
        let back = dv * pick(scale, i) + pick(offset, i);
        assert!(
            (back - yv).abs() <= 1e-4 * yv.abs().max(1.0),
            "denoise[{i}] = {dv} does not map back to {yv}"
        );
    }
}

#[test]
fn dense_784_32_784_round_trips_in_all_precisions() {
    let (p16, p8) = check_model(&dense_ae(1), 10);
    assert!(p16 > 50.0, "f16 vs f32 PSNR {p16:.1} dB");
    assert!(p8 > 30.0, "int8 vs f32 PSNR {p8:.1} dB");
}

#[test]
fn conv_ae_with_conv_transpose_round_trips_in_all_precisions() {
    let (p16, p8) = check_model(&conv_ae(2), 20);
    assert!(p16 > 50.0, "f16 vs f32 PSNR {p16:.1} dB");
    assert!(p8 > 30.0, "int8 vs f32 PSNR {p8:.1} dB");
}

#[test]
fn every_op_round_trips_in_all_precisions() {
    let (p16, p8) = check_model(&all_ops(3), 30);
    assert!(p16 > 45.0, "f16 vs f32 PSNR {p16:.1} dB");
    assert!(p8 > 25.0, "int8 vs f32 PSNR {p8:.1} dB");
}

#[test]
fn unet_with_add_and_concat_round_trips_in_all_precisions() {
    let g = aedge_runtime::zoo::small_unet(5);
    let (p16, p8) = check_model(&g, 50);
    assert!(p16 > 50.0, "f16 vs f32 PSNR {p16:.1} dB");
    assert!(p8 > 30.0, "int8 vs f32 PSNR {p8:.1} dB");
}

#[test]
fn unet_joins_follow_their_definition() {
    // Each layer's output by `trace`: the Add's is the sum of its input and the tensor saved
    // at layer 4, the Concat's the upsampled tensor's 8 channels and the saved 8 of layer 1 in
    // the order it names, pixel by pixel; in int8 the same within a step of the output's
    // quantization.
    for saved_first in [false, true] {
        let mut g = aedge_runtime::zoo::small_unet(6);
        g.layers[11].op = aedge_runtime::Op::Concat {
            channels: 8,
            saved_first,
        };
        check_joins(&g, saved_first);
    }
}

fn check_joins(g: &Graph, saved_first: bool) {
    let calib = images(8, 8, g.input);
    let x = &calib[0];
    let [f32b, _, i8b] = export_all(g, &calib);
    for bytes in [f32b, i8b] {
        let m = Model::parse(&bytes).unwrap();
        assert!(!m.decodes_codes());
        let mut arena = AlignedBytes::zeroed(m.arena_len());
        let mut t: Vec<(Vec<f32>, f32)> = Vec::new();
        m.trace(x, &mut arena, &mut |_, a| {
            t.push(match a {
                aedge_runtime::Activations::F32(v) => (v.to_vec(), 0.0),
                aedge_runtime::Activations::Int8(v, q) => {
                    (v.iter().map(|&c| q.dequantize(c)).collect(), q.scale)
                }
            })
        })
        .unwrap();
        let close = |got: f32, want: f32, step: f32| {
            (got - want).abs() <= step + 1e-6 * want.abs().max(1.0)
        };
        let (sum, step) = &t[8];
        for (i, v) in sum.iter().enumerate() {
            let want = t[7].0[i] + t[4].0[i];
            assert!(close(*v, want, *step), "add [{i}]: {v} vs {want}");
        }
        assert_eq!(t[4].0, t[3].0, "Save passes its input on");
        let (cat, step) = &t[11];
        assert_eq!(cat.len(), 28 * 28 * 16);
        for p in 0..28 * 28 {
            for c in 0..16 {
                let (first, second) = if saved_first { (1, 10) } else { (10, 1) };
                let want = if c < 8 {
                    t[first].0[p * 8 + c]
                } else {
                    t[second].0[p * 8 + c - 8]
                };
                let got = cat[p * 16 + c];
                assert!(
                    close(got, want, *step),
                    "concat [{p}, {c}]: {got} vs {want}"
                );
            }
        }
    }
}

#[test]
fn lstm_sequence_ae_round_trips_in_all_precisions() {
    let g = aedge_runtime::zoo::lstm_ae(24, 3, 16, 4);
    let (p16, p8) = check_model(&g, 40);
    assert!(p16 > 50.0, "f16 vs f32 PSNR {p16:.1} dB");
    assert!(p8 > 30.0, "int8 vs f32 PSNR {p8:.1} dB");
}

#[test]
fn arena_len_is_the_largest_live_pair() {
    let g = dense_ae(1);
    let calib = images(1, 4, g.input);
    let [f32b, f16b, i8b] = export_all(&g, &calib);
    // f32: input 784 + hidden 32 (the reshape is free): (784 + 32) * 4 bytes.
    assert_eq!(Model::parse(&f32b).unwrap().arena_len(), (784 + 32) * 4);
    assert_eq!(Model::parse(&f16b).unwrap().arena_len(), (784 + 32) * 4);
    assert_eq!(Model::parse(&i8b).unwrap().arena_len(), 784 + 32);
    // conv: the largest live pairs are 28x28x8 -> 14x14x8 (first MaxPool) and 14x14x8 -> 28x28x8
    // (second ConvTranspose).
    let cb = AlignedBytes::from(conv_ae(2).to_aedge(Precision::F32).unwrap());
    let c = Model::parse(&cb).unwrap();
    assert_eq!(c.arena_len(), (14 * 14 * 8 + 28 * 28 * 8) * 4);

    // One byte less is refused, not overrun.
    let m = Model::parse(&i8b).unwrap();
    let mut arena = AlignedBytes::zeroed(m.arena_len() + 16);
    let mut y = vec![0.0; 784];
    let x = &calib[0];
    assert_eq!(
        m.reconstruct(x, &mut y, &mut arena[..m.arena_len() - 1]),
        Err(Error::ArenaTooSmall {
            needed: m.arena_len(),
            got: m.arena_len() - 1
        })
    );
    // Exactly arena_len works, and bytes past it are never touched.
    arena[m.arena_len()..].fill(0xA5);
    m.reconstruct(x, &mut y, &mut arena).unwrap();
    assert!(arena[m.arena_len()..].iter().all(|&b| b == 0xA5));
    assert_eq!(
        m.reconstruct(x, &mut y, &mut arena[1..]),
        Err(Error::Misaligned {
            what: "arena",
            align: 4
        })
    );
}

#[test]
fn bad_inputs_are_errors() {
    let bytes = AlignedBytes::from(dense_ae(1).to_aedge(Precision::F32).unwrap());
    let m = Model::parse(&bytes).unwrap();
    let mut arena = AlignedBytes::zeroed(m.arena_len());
    let mut y = vec![0.0; 784];
    let mut x = vec![0.5; 784];
    assert_eq!(
        m.reconstruct(&x[..700], &mut y, &mut arena),
        Err(Error::BadLength {
            what: "input",
            expected: 784,
            got: 700
        })
    );
    assert_eq!(
        m.reconstruct(&x, &mut y[..3], &mut arena),
        Err(Error::BadLength {
            what: "output",
            expected: 784,
            got: 3
        })
    );
    x[17] = f32::NAN;
    assert_eq!(
        m.score(&x, &mut arena),
        Err(Error::NonFiniteInput { index: 17 })
    );
    let mut z = vec![0.0; 32];
    z[3] = f32::INFINITY;
    assert_eq!(
        m.decode(&z, &mut y, &mut arena),
        Err(Error::NonFiniteInput { index: 3 })
    );
}

#[test]
fn calibrated_threshold_is_stored_and_applied() {
    let mut g = dense_ae(4);
    let data = images(5, 40, g.input);
    let m0 = AlignedBytes::from(g.to_aedge(Precision::F32).unwrap());
    let m = Model::parse(&m0).unwrap();
    let mut arena = AlignedBytes::zeroed(m.arena_len());
    let errors: Vec<f32> = data
        .iter()
        .map(|x| m.score(x, &mut arena).unwrap().error)
        .collect();
    let (t, stats) = threshold(&errors, ThresholdRule::Percentile(90.0)).unwrap();
    g.threshold = t;
    g.threshold_rule = ThresholdRule::Percentile(90.0);
    g.errors = stats;
    let b = AlignedBytes::from(g.to_aedge(Precision::F32).unwrap());
    let m = Model::parse(&b).unwrap();
    assert_eq!(m.threshold(), t);
    assert_eq!(m.error_stats(), stats);
    assert_eq!(stats.count, 40);
    let flagged = data
        .iter()
        .filter(|x| m.score(x, &mut arena).unwrap().anomalous)
        .count();
    assert_eq!(
        flagged, 4,
        "the 90th percentile flags 10% of the calibration set"
    );
    let (t2, _) = threshold(&errors, ThresholdRule::MeanPlusKStd(2.0)).unwrap();
    assert!((t2 - (stats.mean + 2.0 * stats.std)).abs() < 1e-6);
}

#[test]
fn percentile_calibration_also_round_trips() {
    let g = conv_ae(7);
    let data = images(8, 10, g.input);
    let r = ranges(
        &g,
        data.iter().map(|v| v.as_slice()),
        RangeMethod::Percentile(99.9),
    )
    .unwrap();
    let mm = ranges(&g, data.iter().map(|v| v.as_slice()), RangeMethod::MinMax).unwrap();
    for (p, m) in r.layers.iter().zip(&mm.layers) {
        assert!(p.out.max <= m.out.max && p.out.min >= m.out.min);
    }
    let b = AlignedBytes::from(g.to_aedge_int8(&r).unwrap());
    let m = Model::parse(&b).unwrap();
    let f = AlignedBytes::from(g.to_aedge(Precision::F32).unwrap());
    let f = Model::parse(&f).unwrap();
    let p = psnr(&reconstruct(&f, &data[0]), &reconstruct(&m, &data[0]), 1.0);
    assert!(p > 30.0, "int8 (percentile) vs f32 PSNR {p:.1} dB");
}

#[test]
fn model_reports_its_layers() {
    let b = AlignedBytes::from(conv_ae(2).to_aedge(Precision::F32).unwrap());
    let m = Model::parse(&b).unwrap();
    let layers: Vec<_> = m.layers().collect();
    assert_eq!(layers.len(), 7);
    assert_eq!(m.latent_shape().len(), 7 * 7 * 4);
    assert_eq!(layers[0].macs, 28 * 28 * 8 * 9);
    assert_eq!(m.macs(), layers.iter().map(|l| l.macs).sum::<u64>());
    assert_eq!(
        m.param_count(),
        (8 * 9 + 8) + (4 * 72 + 4) + (8 * 36 + 8) + (8 * 72 + 8) + (72 + 1)
    );
    assert_eq!(m.name(), "small-conv-transpose");
}
