//! The parity report on trained models: f32 matches burn, f16 and int8 stay close to f32,
//! verdicts agree, and the AUROC on labelled anomalies barely moves.

mod common;

use aedge_runtime::calibrate::threshold;
use aedge_runtime::precisions::{export_precisions, RANGE_METHODS};
use aedge_runtime::{AlignedBytes, Model, Precision, ThresholdRule};
use aedge_trainer::data::Dataset;
use aedge_trainer::export::to_graph;
use aedge_trainer::model::{Act, Architecture, ModelSpec};
use aedge_trainer::parity::{burn_reconstructions, report, Labelled, ParityReport};
use aedge_trainer::{device, Backend, TrainConfig, Trained};
use common::{mnist, nab, trained, trained_lstm};

/// Exports with a p99 threshold and reports parity on `data`, with anomalies made by adding
/// `shift` to every raw value of the same samples.
fn parity_of(
    spec: &ModelSpec,
    cfg: &TrainConfig,
    t: &Trained,
    data: &Dataset,
    shift: f32,
) -> ParityReport {
    let mut g = to_graph("parity", &t.model, spec, data, cfg.loss.metric()).unwrap();
    let raw: Vec<Vec<f32>> = (0..data.len()).map(|i| data.raw(i)).collect();
    let f32b = AlignedBytes::from(g.to_aedge(Precision::F32).unwrap());
    let m = Model::parse(&f32b).unwrap();
    let mut arena = AlignedBytes::zeroed(m.arena_len());
    let errors: Vec<f32> = raw
        .iter()
        .map(|x| m.score(x, &mut arena).unwrap().error)
        .collect();
    (g.threshold, g.errors) = threshold(&errors, ThresholdRule::Percentile(99.0)).unwrap();
    let files = export_precisions(&g, &raw, &raw, &RANGE_METHODS).unwrap();
    let idx: Vec<usize> = (0..data.len()).collect();
    let burn = burn_reconstructions(&t.model, data, &idx, &device(Backend::Flex).unwrap());
    let mut labelled = raw.clone();
    labelled.extend(
        raw.iter()
            .map(|x| x.iter().map(|v| v + shift).collect::<Vec<f32>>()),
    );
    let labels: Vec<bool> = (0..labelled.len()).map(|i| i >= raw.len()).collect();
    let r = report(
        "parity",
        &files,
        &raw,
        &burn,
        Some(Labelled {
            samples: &labelled,
            anomalous: &labels,
            source: "shifted copies",
        }),
    )
    .unwrap();
    println!("{}", r.summary());
    // The JSON form carries every figure.
    let json = serde_json::to_value(&r).unwrap();
    for key in [
        "f32_vs_burn_max_abs",
        "f16",
        "int8",
        "int8_ranges",
        "int8_candidates",
    ] {
        assert!(json.get(key).is_some(), "{key} missing");
    }
    r
}

fn check(r: &ParityReport, int8_db: f64) {
    assert!(r.f32_vs_burn_ok, "f32 vs burn {}", r.f32_vs_burn_max_abs);
    assert!(r.f16.psnr_db_min > 50.0, "f16 {}", r.f16.psnr_db_min);
    assert!(r.int8.psnr_db_min > int8_db, "int8 {}", r.int8.psnr_db_min);
    assert!(r.f16.verdict_agreement >= 0.95);
    assert!(r.int8.verdict_agreement >= 0.9);
    assert_eq!(r.int8_candidates.len(), 2);
    let best = r
        .int8_candidates
        .iter()
        .map(|c| c.psnr_db_mean)
        .fold(f64::MIN, f64::max);
    assert!(r
        .int8_candidates
        .iter()
        .any(|c| c.method == r.int8_ranges && c.psnr_db_mean == best));
    let d = r.int8.auroc_delta.unwrap();
    assert!(d.abs() < 0.05, "int8 AUROC moved by {d}");
}

#[test]
fn dense_parity_report() {
    let data = mnist(150);
    let (spec, cfg, t) = trained(
        Architecture::Dense {
            hidden: vec![],
            code: 16,
            code_act: Act::Relu,
        },
        &data,
    );
    check(&parity_of(&spec, &cfg, &t, &data, 60.0), 25.0);
}

#[test]
fn lstm_parity_report() {
    let data = nab(24);
    let (spec, cfg, t) = trained_lstm(&data, 8);
    check(&parity_of(&spec, &cfg, &t, &data, 40.0), 20.0);
}
