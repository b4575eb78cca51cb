//! burn → graph IR → .aedge: the runtime reproduces burn's outputs (f32 within 1e-5), and the
//! same graph quantizes to int8.

mod common;

use aedge_runtime::calibrate::{ranges, RangeMethod};
use aedge_runtime::{AlignedBytes, Model, Precision};
use aedge_trainer::data::Dataset;
use aedge_trainer::export::to_graph;
use aedge_trainer::model::{Act, Architecture, AutoEncoder, ModelSpec, Upsampling};
use aedge_trainer::{TrainConfig, Trained};
use common::{burn_run, every_layer, max_diff, mnist, nab, trained, trained_lstm, unet};

/// burn's deterministic reconstruction and code of sample `i`.
fn burn_outputs(model: &AutoEncoder, data: &Dataset, i: usize) -> (Vec<f32>, Vec<f32>) {
    let x = data.sample(i);
    (
        burn_run(model, x, |m, x| m.reconstruct(x)),
        burn_run(model, x, |m, x| m.encode(x)),
    )
}

fn check(arch: Architecture) {
    let data = mnist(120);
    let (spec, cfg, trained) = trained(arch, &data);
    check_trained(&spec, &cfg, &trained, &data);
}

fn check_trained(spec: &ModelSpec, cfg: &TrainConfig, trained: &Trained, data: &Dataset) {
    let g = to_graph("t", &trained.model, spec, data, cfg.loss.metric()).unwrap();
    let bytes = AlignedBytes::from(g.to_aedge(Precision::F32).unwrap());
    let m = Model::parse(&bytes).unwrap();
    let mut arena = AlignedBytes::zeroed(m.arena_len());
    for i in 0..6 {
        let (y_burn, z_burn) = burn_outputs(&trained.model, data, i);
        let raw = data.raw(i);
        let mut y = vec![0.0; m.output_shape().len()];
        m.reconstruct(&raw, &mut y, &mut arena).unwrap();
        let d = max_diff(&y, &y_burn);
        assert!(d <= 1e-5, "{:?}: |runtime - burn| = {d}", spec.arch);
        let mut z = vec![0.0; m.latent_shape().len()];
        m.encode(&raw, &mut z, &mut arena).unwrap();
        let dz = max_diff(&z, &z_burn);
        assert!(
            dz <= 1e-4 * z_burn.iter().fold(1.0f32, |a, v| a.max(v.abs())),
            "{:?}: code differs by {dz}",
            spec.arch
        );
    }
    // The same graph quantizes and runs in int8.
    let calib: Vec<Vec<f32>> = (0..64).map(|i| data.raw(i)).collect();
    let r = ranges(&g, calib.iter().map(|v| v.as_slice()), RangeMethod::MinMax).unwrap();
    let q = AlignedBytes::from(g.to_aedge_int8(&r).unwrap());
    let qm = Model::parse(&q).unwrap();
    let mut qa = AlignedBytes::zeroed(qm.arena_len());
    let mut yq = vec![0.0; data.dim()];
    let last = data.len() - 1;
    qm.reconstruct(&data.raw(last), &mut yq, &mut qa).unwrap();
    let (y_burn, _) = burn_outputs(&trained.model, data, last);
    assert!(
        max_diff(&yq, &y_burn) < 0.1,
        "{:?}: int8 far from f32",
        spec.arch
    );
}

#[test]
fn dense_exports_exactly() {
    check(Architecture::Dense {
        hidden: vec![64],
        code: 16,
        code_act: Act::Relu,
    });
}

#[test]
fn vae_exports_its_mean_encoder() {
    check(Architecture::Vae {
        hidden: vec![64],
        latent: 4,
    });
}

#[test]
fn conv_with_nearest_upsampling_exports_exactly() {
    check(Architecture::Conv {
        channels: vec![8, 4, 4],
        upsampling: Upsampling::Nearest,
    });
}

#[test]
fn conv_with_transposed_convolutions_exports_exactly() {
    check(Architecture::Conv {
        channels: vec![8, 4],
        upsampling: Upsampling::Transpose,
    });
}

#[test]
fn lstm_sequence_ae_exports_exactly() {
    let data = nab(24);
    let (spec, cfg, trained) = trained_lstm(&data, 8);
    check_trained(&spec, &cfg, &trained, &data);
}

#[test]
fn layer_lists_export_exactly() {
    check(every_layer());
}

#[test]
fn unet_skips_export_exactly() {
    check(unet());
}
