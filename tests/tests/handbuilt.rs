//! Hand-built reference models (random weights) through every hop the runtime owns today:
//! build -> write to disk atomically -> read -> parse -> run on real MNIST digits, in f32,
//! f16 and int8.

use aedge_runtime::calibrate::RangeMethod;
use aedge_runtime::metrics::psnr;
use aedge_runtime::precisions::export_precisions;
use aedge_runtime::{fs, zoo, AlignedBytes, Model, Precision};
use aedge_tests::{mnist_sample, reconstruct};

fn check(g: aedge_runtime::ir::Graph, min_f16_db: f64, min_int8_db: f64) {
    let images = mnist_sample().expect("bundled MNIST sample");
    assert_eq!((images.count, images.height, images.width), (1000, 28, 28));
    let calib: Vec<&[f32]> = (0..64).map(|i| images.image(i)).collect();
    let dir = std::env::temp_dir().join(format!("aedge-e2e-{}-{}", g.name, std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut models = Vec::new();
    let files = export_precisions(&g, &calib, &[] as &[&[f32]], &[RangeMethod::MinMax]).unwrap();
    for (p, bytes) in files.files() {
        let path = dir.join(format!("{}-{p}.aedge", g.name));
        fs::write_atomic(&path, bytes).unwrap();
        let back = fs::read(&path).unwrap();
        assert_eq!(&back[..], bytes);
        models.push((p, back));
    }
    std::fs::remove_dir_all(&dir).unwrap();
    let parsed: Vec<(Precision, Model)> = models
        .iter()
        .map(|(p, b)| (*p, Model::parse(b).unwrap()))
        .collect();
    let f32m = &parsed[0].1;
    // Held-out digits (not used for calibration).
    for i in 900..920 {
        let x = images.image(i);
        let y = reconstruct(f32m, x).unwrap();
        assert!(
            y.iter().all(|v| (0.0..=1.0).contains(v)),
            "sigmoid output in [0, 1]"
        );
        for (p, m) in &parsed[1..] {
            let db = psnr(&y, &reconstruct(m, x).unwrap(), 1.0);
            let min = if *p == Precision::F16 {
                min_f16_db
            } else {
                min_int8_db
            };
            assert!(
                db >= min,
                "{} {p} vs f32 on digit {i}: {db:.1} dB < {min}",
                g.name
            );
        }
        // The latent code round-trips through decode in every precision (models whose skip
        // connections cross the code have no decoder of their own).
        for (_, m) in parsed.iter().filter(|(_, m)| m.decodes_codes()) {
            let mut arena = AlignedBytes::zeroed(m.arena_len());
            let mut z = vec![0.0; m.latent_shape().len()];
            let mut y2 = vec![0.0; 784];
            m.encode(x, &mut z, &mut arena).unwrap();
            m.decode(&z, &mut y2, &mut arena).unwrap();
            assert_eq!(y2, reconstruct(m, x).unwrap());
        }
    }
}

#[test]
fn dense_784_32_784_runs_on_mnist_in_every_precision() {
    check(zoo::mnist_dense(32, 42), 60.0, 30.0);
}

#[test]
fn conv_autoencoder_with_conv_transpose_runs_on_mnist_in_every_precision() {
    check(zoo::small_conv_transpose(42), 60.0, 30.0);
}

#[test]
fn keras_conv_autoencoder_runs_on_mnist_in_every_precision() {
    check(zoo::keras_conv(42), 60.0, 30.0);
}

/// Average pooling, depthwise convolution and a clip (ReLU6) activation, the ops the TFLite
/// import added, in f32, f16 and calibrated int8, and through the ONNX export (checked against
/// tract-onnx).
#[test]
fn avg_pool_depthwise_and_relu6_run_in_every_precision_and_export_to_onnx() {
    use aedge_runtime::ir::Layer;
    use aedge_runtime::{Activation, Op, Shape};
    let mut g = zoo::keras_conv(7);
    g.name = "avgpool-relu6".into();
    let relu6 = Activation::Clip { min: 0.0, max: 6.0 };
    for l in &mut g.layers {
        if matches!(l.op, Op::Conv2d { .. }) && l.act == Activation::Relu {
            l.act = relu6;
        }
        if let Op::MaxPool2d {
            kernel,
            stride,
            pad,
        } = l.op
        {
            l.op = Op::AvgPool2d {
                kernel,
                stride,
                pad,
            };
        }
    }
    g.layers.insert(1, Layer::activation(relu6));
    // A depthwise 3×3 over the first conv's 16 channels (multiplier 2 → 32), then back to 16
    // through a 1×1 convolution, so the rest of the model is unchanged.
    let mut r = aedge_runtime::rng::SplitMix(11);
    g.layers.insert(
        2,
        Layer {
            op: Op::DepthwiseConv2d {
                multiplier: 2,
                kernel: [3, 3],
                stride: [1, 1],
                pad: [1, 1, 1, 1],
            },
            act: Activation::Relu,
            weights: r.vec(32 * 9, -0.4, 0.4),
            bias: r.vec(32, -0.1, 0.1),
        },
    );
    g.layers.insert(
        3,
        Layer::conv2d(
            16,
            [1, 1],
            [1, 1],
            [0; 4],
            r.vec(16 * 32, -0.3, 0.3),
            vec![0.0; 16],
            Activation::Relu,
        ),
    );
    g.encoder_layers += 3;
    assert!(g
        .layers
        .iter()
        .any(|l| matches!(l.op, Op::AvgPool2d { .. })));
    assert_eq!(g.output_shape().unwrap(), Shape::new(28, 28, 1));
    check_onnx(&g);
    check(g, 60.0, 30.0);
}

/// The whole model's ONNX export computes what the runtime does (tract-onnx, a 28×28 input
/// with the models' 1/255 preprocessing).
fn check_onnx(g: &aedge_runtime::ir::Graph) {
    let onnx = aedge_convert::onnx::to_onnx(g, aedge_convert::onnx::Part::Whole).unwrap();
    let pre: Vec<f32> = (0..784)
        .map(|i| ((i * 37) % 101) as f32 / 100.0 / 255.0)
        .collect();
    let diff = aedge_convert::tract::verify(&onnx, g, &pre).unwrap();
    assert!(
        diff < 1e-5,
        "ONNX export differs from the runtime by {diff}"
    );
}

/// A U-Net (skip connections by `Add` and by `Concat`, both crossing the code) in f32, f16 and
/// calibrated int8 on MNIST digits, and through the ONNX export (checked against tract-onnx;
/// the decoder alone is refused).
#[test]
fn unet_runs_in_every_precision_and_exports_to_onnx() {
    use aedge_convert::onnx::{to_onnx, Part};
    let g = zoo::small_unet(42);
    check_onnx(&g);
    // The saved channels first, as PyTorch U-Nets often concatenate.
    let mut first = g.clone();
    first.layers[11].op = aedge_runtime::Op::Concat {
        channels: 8,
        saved_first: true,
    };
    check_onnx(&first);
    let e = to_onnx(&g, Part::Decoder).unwrap_err();
    assert!(e.contains("cross the code"), "{e}");
    assert!(to_onnx(&g, Part::Encoder).is_ok());
    check(g, 60.0, 30.0);
}
