//! The latent metric: the Gaussian of normal codes fitted per precision, stored, validated
//! and applied by `score`, with the arithmetic checked against an f64 reference.

mod common;

use aedge_runtime::calibrate::RangeMethod;
use aedge_runtime::ir::Graph;
use aedge_runtime::latent_fit::{fit, LatentFit};
use aedge_runtime::precisions::{calibrate_thresholds, export_precisions, Exported};
use aedge_runtime::{AlignedBytes, Error, Metric, Model, Precision, ThresholdRule};
use common::{conv_ae, dense_ae, images};

fn calibrated(mut g: Graph, metric: Metric, seed: u64) -> (Graph, Exported, Vec<Vec<f32>>) {
    g.metric = metric;
    let data = images(seed, 140, g.input);
    let (normal, held) = data.split_at(100);
    let mut files =
        export_precisions(&g, &normal[..16], &normal[..0], &[RangeMethod::MinMax]).unwrap();
    calibrate_thresholds(
        &mut g,
        &mut files,
        &normal[..16],
        normal,
        held,
        ThresholdRule::Percentile(90.0),
    )
    .unwrap();
    (g, files, data)
}

fn code(m: &Model, x: &[f32]) -> Vec<f32> {
    let mut arena = AlignedBytes::zeroed(m.arena_len());
    let mut c = vec![0.0; m.latent_shape().len()];
    m.encode(x, &mut c, &mut arena).unwrap();
    c
}

/// The distance by the record's definition, in f64.
fn reference(f: &LatentFit, c: &[f32]) -> f64 {
    let d = f.mean.len();
    let x: Vec<f64> = c
        .iter()
        .zip(&f.mean)
        .map(|(&c, &m)| c as f64 - m as f64)
        .collect();
    let total: f64 = x.iter().map(|v| v * v).sum();
    let (mut along, mut explained) = (0.0, 0.0);
    for (row, &w) in f.basis.chunks_exact(d).zip(&f.inv_var) {
        let p: f64 = row.iter().zip(&x).map(|(&b, v)| b as f64 * v).sum();
        explained += p * p;
        along += p * p * w as f64;
    }
    (along + (total - explained).max(0.0) * f.rest_inv_var as f64) / d as f64
}

#[test]
fn latent_scores_follow_the_stored_gaussian_in_every_precision() {
    let (_, files, data) = calibrated(conv_ae(3), Metric::Latent, 4);
    for (precision, bytes) in files.files() {
        let b = AlignedBytes::from(bytes.to_vec());
        let m = Model::parse(&b).unwrap();
        assert_eq!(m.metric(), Metric::Latent);
        let l = m.latent_fit().expect("a latent record");
        // The record's own Gaussian, fitted again from this file's codes of the same samples.
        let codes: Vec<Vec<f32>> = data[..100].iter().map(|x| code(&m, x)).collect();
        let again = fit(&codes, aedge_runtime::latent_fit::DEFAULT_COMPONENTS).unwrap();
        let stored = |blob: aedge_runtime::Blob| -> Vec<f32> {
            // The weights section's offset is the header's u32 at byte 12.
            let section = u32::from_le_bytes(bytes[12..16].try_into().unwrap()) as usize;
            let at = section + blob.offset as usize;
            bytemuck_f32(&bytes[at..at + blob.len as usize])
        };
        assert_eq!(stored(l.mean), again.mean, "{precision}");
        let mut arena = AlignedBytes::zeroed(m.arena_len());
        for x in &data[100..] {
            let s = m.score(x, &mut arena).unwrap();
            let want = reference(&again, &code(&m, x));
            assert!(
                (s.error as f64 - want).abs() <= 1e-4 * want.max(1.0),
                "{precision}: {} vs {want}",
                s.error
            );
        }
        let flagged = data[100..]
            .iter()
            .filter(|x| m.score(x, &mut arena).unwrap().anomalous)
            .count();
        assert_eq!(
            flagged, 4,
            "{precision}: p90 of 40 held-out samples flags 4"
        );
    }
}

fn bytemuck_f32(b: &[u8]) -> Vec<f32> {
    b.chunks_exact(4)
        .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
        .collect()
}

#[test]
fn codes_far_from_the_normal_ones_score_higher() {
    let (_, files, data) = calibrated(dense_ae(5), Metric::MseLatent, 6);
    let b = AlignedBytes::from(files.f32.clone());
    let m = Model::parse(&b).unwrap();
    let l = m.latent_fit().unwrap();
    let mut arena = AlignedBytes::zeroed(m.arena_len());
    let parts: Vec<_> = data[100..]
        .iter()
        .map(|x| m.score_parts(x, &mut arena).unwrap())
        .collect();
    // Standardised on the held-out samples: their summed score has mean about 0.
    let mean: f32 = data[100..]
        .iter()
        .map(|x| m.score(x, &mut arena).unwrap().error)
        .sum::<f32>()
        / 40.0;
    assert!(mean.abs() < 1e-3, "mean standardised score {mean}");
    let [rm, rs, lm, ls] = l.mix;
    let s0 = m.score(&data[100], &mut arena).unwrap().error;
    let p0 = parts[0];
    let want = (p0.reconstruction.unwrap() - rm) * rs + (p0.latent.unwrap() - lm) * ls;
    assert_eq!(s0, want);
    // An input ten times as bright has a code far from the normal ones (the encoder is
    // nearly linear at this scale), so its latent part is far larger.
    let far: Vec<f32> = data[100].iter().map(|v| v * 10.0).collect();
    let pf = m.score_parts(&far, &mut arena).unwrap();
    assert!(
        pf.latent.unwrap() > 10.0 * p0.latent.unwrap(),
        "{pf:?} vs {p0:?}"
    );
}

#[test]
fn a_latent_metric_without_its_record_is_scored_by_reconstruction_until_fitted() {
    let mut g = dense_ae(1);
    g.metric = Metric::Latent;
    let b = AlignedBytes::from(g.to_aedge(Precision::F32).unwrap());
    assert_eq!(Model::parse(&b).unwrap().metric(), Metric::Mse);
}

#[test]
fn bad_latent_records_are_rejected() {
    let (mut g, _, _) = calibrated(dense_ae(2), Metric::Latent, 3);
    let good = g.latent.clone().unwrap();
    let mut short = good.clone();
    short.mean.pop();
    g.latent = Some(short);
    assert!(matches!(
        g.to_aedge(Precision::F32),
        Err(Error::InvalidGraph { reason, .. }) if reason.contains("code's length")
    ));
    let mut negative = good.clone();
    negative.inv_var[0] = -1.0;
    g.latent = Some(negative);
    assert!(matches!(
        g.to_aedge(Precision::F32),
        Err(Error::InvalidGraph { reason, .. }) if reason.contains("finite")
    ));
    let mut series = good;
    series.rest_inv_var = f32::NAN;
    g.latent = Some(series);
    assert!(g.to_aedge(Precision::F32).is_err());
}
