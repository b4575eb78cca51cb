//! A second, independent ONNX consumer: burn-import (burn-onnx's ModelGen) generated burn
//! models from aedge's exported ONNX files at build time (see build.rs). They must give the
//! outputs aedge-runtime gives for the graphs the files were exported from.

use aedge_convert::onnx::{to_onnx, Part};
use aedge_runtime::{AlignedBytes, Model, Precision};
use aedge_tests::{burn_import_models, repo_root};
use burn::tensor::{Tensor, TensorData};

#[allow(clippy::all, dead_code, unused)]
mod generated {
    pub mod aedge_dense_ae {
        include!(concat!(env!("OUT_DIR"), "/burn_models/aedge_dense_ae.rs"));
    }
    pub mod aedge_conv_ae {
        include!(concat!(env!("OUT_DIR"), "/burn_models/aedge_conv_ae.rs"));
    }
    pub mod aedge_convt_ae {
        include!(concat!(env!("OUT_DIR"), "/burn_models/aedge_convt_ae.rs"));
    }
}

/// The committed fixtures are exactly what the exporter writes now (set AEDGE_BLESS=1 to
/// rewrite them after an intended exporter change; build.rs then regenerates the burn code).
#[test]
fn fixtures_match_the_exporter() {
    let bless = std::env::var_os("AEDGE_BLESS").is_some();
    for (name, g) in burn_import_models() {
        let path = repo_root().join(format!("tests/fixtures/onnx/{name}.onnx"));
        let bytes = to_onnx(&g, Part::Whole).unwrap();
        if bless {
            aedge_runtime::fs::write_atomic(&path, &bytes).unwrap();
        }
        let committed = std::fs::read(&path).unwrap();
        assert!(
            committed == bytes,
            "{name}.onnx differs from the exporter's output; run with AEDGE_BLESS=1"
        );
    }
}

/// aedge-runtime's f32 reconstruction of `x` (model units, HWC) for one fixture graph.
fn runtime(name: &str, x: &[f32]) -> Vec<f32> {
    let (_, mut g) = burn_import_models()
        .into_iter()
        .find(|(n, _)| *n == name)
        .unwrap();
    // ONNX inputs are in model units: compare without the preprocessing.
    g.preprocess_scale = vec![1.0];
    g.preprocess_offset = vec![0.0];
    let bytes = AlignedBytes::from(g.to_aedge(Precision::F32).unwrap());
    let m = Model::parse(&bytes).unwrap();
    let mut arena = AlignedBytes::zeroed(m.arena_len());
    let mut y = vec![0.0; x.len()];
    m.reconstruct(x, &mut y, &mut arena).unwrap();
    y
}

/// A 28×28 test pattern in `[0, 1]` (one channel, so NCHW and HWC agree).
fn pattern(k: usize) -> Vec<f32> {
    (0..784)
        .map(|i| (((i * (7 + k)) % 29) as f32 / 28.0).clamp(0.0, 1.0))
        .collect()
}

fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    aedge_runtime::metrics::max_abs_diff(a, b)
}

macro_rules! burn_matches_runtime {
    ($test:ident, $module:ident) => {
        #[test]
        fn $test() {
            let device = burn::tensor::Device::flex();
            let model = generated::$module::Model::from_embedded(&device);
            for k in 0..3 {
                let x = pattern(k);
                let t = Tensor::<4>::from_data(TensorData::new(x.clone(), [1, 1, 28, 28]), &device);
                let y: Vec<f32> = model.forward(t).into_data().try_to_vec().unwrap();
                let d = max_diff(&y, &runtime(stringify!($module), &x));
                assert!(
                    d <= 1e-5,
                    "{}: |burn-import - runtime| = {d}",
                    stringify!($module)
                );
            }
        }
    };
}

burn_matches_runtime!(dense_ae_via_burn_import, aedge_dense_ae);
burn_matches_runtime!(conv_ae_via_burn_import, aedge_conv_ae);
burn_matches_runtime!(conv_transpose_ae_via_burn_import, aedge_convt_ae);
