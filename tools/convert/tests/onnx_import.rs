//! ONNX → IR import of autoencoders made by PyTorch's exporter (tests/fixtures/onnx, made by
//! make_fixtures.py there): each imports, runs in aedge-runtime in f32 within 1e-5 of both
//! PyTorch's stored outputs and tract-onnx, and quantizes to f16 and int8; unmapped ops are
//! clear errors.

use aedge_convert::onnx::{
    from_onnx, input_dims, to_onnx_order, to_runtime_order, ImportError, ImportOptions,
};
use aedge_convert::tract::verify;
use aedge_runtime::calibrate::{ranges, RangeMethod};
use aedge_runtime::{AlignedBytes, Model, Op, Precision};
use std::path::PathBuf;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    aedge_runtime::metrics::max_abs_diff(a, b)
}

struct Fixture {
    onnx: Vec<u8>,
    inputs: Vec<Vec<f32>>,
    outputs: Vec<Vec<f32>>,
}

fn fixture(name: &str) -> Fixture {
    let dir = repo().join("tests/fixtures/onnx");
    let onnx = std::fs::read(dir.join(format!("{name}.onnx"))).unwrap();
    let io: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join(format!("{name}.io.json"))).unwrap())
            .unwrap();
    let rows = |k: &str| -> Vec<Vec<f32>> {
        io[k]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                r.as_array()
                    .unwrap()
                    .iter()
                    .map(|v| v.as_f64().unwrap() as f32)
                    .collect()
            })
            .collect()
    };
    Fixture {
        inputs: rows("inputs"),
        outputs: rows("outputs"),
        onnx,
    }
}

/// Imports a fixture and checks it against PyTorch and tract in f32, then in f16 and int8.
fn check(name: &str, expect_ops: &[&str]) {
    let f = fixture(name);
    let g = from_onnx(&f.onnx, &ImportOptions::default()).unwrap();
    let ops: Vec<&str> = g.layers.iter().map(|l| l.op.name()).collect();
    for op in expect_ops {
        assert!(ops.contains(op), "{name}: no {op} in {ops:?}");
    }
    assert!(g.encoder_layers > 0 && g.encoder_layers < g.layers.len());
    let dims = input_dims(&f.onnx).unwrap();
    let bytes = AlignedBytes::from(g.to_aedge(Precision::F32).unwrap());
    let m = Model::parse(&bytes).unwrap();
    let mut arena = AlignedBytes::zeroed(m.arena_len());
    for (x, want) in f.inputs.iter().zip(&f.outputs) {
        let mut y = vec![0.0; m.output_shape().len()];
        m.reconstruct(&to_runtime_order(&dims, x), &mut y, &mut arena)
            .unwrap();
        let d = max_diff(&to_onnx_order(&dims, &y), want);
        assert!(d <= 1e-5, "{name}: |runtime - torch| = {d}");
        let t = verify(&f.onnx, &g, x).unwrap();
        assert!(t <= 1e-5, "{name}: |runtime - tract| = {t}");
    }
    // f16 and int8 from the same graph stay close to f32.
    let calib: Vec<Vec<f32>> = f
        .inputs
        .iter()
        .map(|x| to_runtime_order(&dims, x))
        .collect();
    let r = ranges(&g, calib.iter().map(|v| v.as_slice()), RangeMethod::MinMax).unwrap();
    for (p, bytes, tol) in [
        (
            "f16",
            AlignedBytes::from(g.to_aedge(Precision::F16).unwrap()),
            1e-2,
        ),
        (
            "int8",
            AlignedBytes::from(g.to_aedge_int8(&r).unwrap()),
            0.15,
        ),
    ] {
        let q = Model::parse(&bytes).unwrap();
        let mut qa = AlignedBytes::zeroed(q.arena_len());
        let x = &calib[0];
        let mut y = vec![0.0; q.output_shape().len()];
        q.reconstruct(x, &mut y, &mut qa).unwrap();
        let d = max_diff(&to_onnx_order(&dims, &y), &f.outputs[0]);
        assert!(d <= tol, "{name} {p}: |quantized - torch| = {d}");
    }
}

#[test]
fn pytorch_dense_ae_imports() {
    check("torch_dense_ae", &["Dense", "Reshape"]);
}

#[test]
fn pytorch_conv_ae_imports() {
    check(
        "torch_conv_ae",
        &[
            "Conv2d",
            "MaxPool2d",
            "Dense",
            "ConvTranspose2d",
            "Upsample2d",
        ],
    );
}

#[test]
fn pytorch_lstm_ae_imports() {
    check("torch_lstm_ae", &["Lstm", "Repeat", "Conv2d"]);
    let g = from_onnx(&fixture("torch_lstm_ae").onnx, &ImportOptions::default()).unwrap();
    // The code is the encoder LSTM's last hidden state.
    assert!(matches!(
        g.layers[0].op,
        Op::Lstm {
            return_sequences: false,
            ..
        }
    ));
    assert_eq!(g.encoder_layers, 1);
}

#[test]
fn unmapped_op_is_named_with_its_node() {
    let e = from_onnx(&fixture("torch_elu").onnx, &ImportOptions::default()).unwrap_err();
    match &e {
        ImportError::UnsupportedOp { op, node } => {
            assert_eq!(op, "Elu");
            assert!(node.contains("Elu"), "{node}");
        }
        other => panic!("expected UnsupportedOp, got {other:?}"),
    }
    let msg = e.to_string();
    assert!(msg.contains("'Elu'") && msg.contains("node"), "{msg}");
}

#[test]
fn garbage_is_a_decode_error() {
    assert!(matches!(
        from_onnx(b"\xff\xff not onnx", &ImportOptions::default()),
        Err(ImportError::Decode(_) | ImportError::Invalid(_))
    ));
    // Truncated files never panic.
    let f = fixture("torch_conv_ae").onnx;
    for cut in (0..f.len()).step_by(997) {
        let _ = from_onnx(&f[..cut], &ImportOptions::default());
    }
}

#[test]
fn own_onnx_exports_import_back_to_the_same_model() {
    use aedge_convert::onnx::{to_onnx, Part};
    use aedge_runtime::zoo;
    for g in [
        zoo::mnist_dense(16, 1),
        zoo::keras_conv(2),
        zoo::small_conv_transpose(3),
        zoo::lstm_ae(16, 2, 8, 4),
        zoo::small_unet(5),
        {
            // PyTorch's order: cat([skip, x]).
            let mut g = zoo::small_unet(6);
            g.layers[11].op = aedge_runtime::Op::Concat {
                channels: 8,
                saved_first: true,
            };
            g
        },
    ] {
        let onnx = to_onnx(&g, Part::Whole).unwrap();
        // ONNX carries model units; the preprocessing comes in through the options.
        let opts = ImportOptions {
            preprocess_scale: g.preprocess_scale.clone(),
            preprocess_offset: g.preprocess_offset.clone(),
            ..ImportOptions::default()
        };
        let back = from_onnx(&onnx, &opts).unwrap();
        assert_eq!(back.input, g.input, "{}", g.name);
        assert_eq!(
            back.encoder_layers, g.encoder_layers,
            "{}: bottleneck",
            g.name
        );
        let (a, b) = (
            AlignedBytes::from(g.to_aedge(Precision::F32).unwrap()),
            AlignedBytes::from(back.to_aedge(Precision::F32).unwrap()),
        );
        let (ma, mb) = (Model::parse(&a).unwrap(), Model::parse(&b).unwrap());
        let mut arena = AlignedBytes::zeroed(ma.arena_len().max(mb.arena_len()));
        let x: Vec<f32> = (0..g.input.len())
            .map(|i| ((i * 37) % 255) as f32 / 255.0)
            .collect();
        let (mut ya, mut yb) = (vec![0.0; x.len()], vec![0.0; x.len()]);
        ma.reconstruct(&x, &mut ya, &mut arena).unwrap();
        mb.reconstruct(&x, &mut yb, &mut arena).unwrap();
        assert!(max_diff(&ya, &yb) <= 1e-5, "{}", g.name);
    }
}
