//! Generates burn models from aedge's exported ONNX fixtures with burn-import, so the
//! `burn_import` test can check a second, independent ONNX consumer.
#![allow(deprecated)] // burn-import is a shim over burn-onnx (see tests/Cargo.toml)

fn main() {
    for name in ["aedge_dense_ae", "aedge_conv_ae", "aedge_convt_ae"] {
        let path = format!("fixtures/onnx/{name}.onnx");
        println!("cargo:rerun-if-changed={path}");
        burn_import::ModelGen::new()
            .input(&path)
            .out_dir("burn_models/")
            .load_strategy(burn_import::onnx::LoadStrategy::Embedded)
            .run_from_script();
    }
}
