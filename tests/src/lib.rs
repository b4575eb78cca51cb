//! Fixtures for aedge's end-to-end tests and the runtime demo: paths to the bundled data and
//! the hand-built reference models run through every precision.
#![warn(missing_docs)]

use aedge_runtime::ir::Graph;
use aedge_runtime::{AlignedBytes, Error, Model};
use aedge_trainer::data::{IdxError, Images};
use std::path::{Path, PathBuf};

pub mod firmware;

/// The repository's top directory.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

/// The bundled MNIST sample (first 1,000 test images), pixels 0–255.
pub fn mnist_sample() -> Result<Images, IdxError> {
    Images::read(repo_root().join("data/mnist-sample/t1k-images-idx3-ubyte.gz"))
}

/// Runs `reconstruct` on one input with a fresh arena of the model's size.
pub fn reconstruct(m: &Model, x: &[f32]) -> Result<Vec<f32>, Error> {
    let mut arena = AlignedBytes::zeroed(m.arena_len());
    let mut y = vec![0.0; m.output_shape().len()];
    m.reconstruct(x, &mut y, &mut arena)?;
    Ok(y)
}

/// The models whose ONNX export (by aedge's exporter) burn-import turns into burn code at
/// build time: `tests/fixtures/onnx/<name>.onnx`. The `burn_import` test checks that the
/// committed files are what the exporter writes today.
pub fn burn_import_models() -> Vec<(&'static str, Graph)> {
    use aedge_runtime::zoo;
    vec![
        ("aedge_dense_ae", zoo::mnist_dense(32, 11)),
        ("aedge_conv_ae", zoo::keras_conv(12)),
        ("aedge_convt_ae", zoo::small_conv_transpose(13)),
    ]
}
