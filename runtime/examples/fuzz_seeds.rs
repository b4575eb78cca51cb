//! Writes the fuzzer's seed models and the `include_model!` doc-test model
//! (`runtime/fuzz/seeds/*.aedge`): a tiny dense AE, a small conv AE, an LSTM AE (also as a series model) and one with
//! the ops TFLite import brought (depthwise convolution, average pooling, clip), in every
//! precision the runtime has, from the zoo's seeded weights, plus a per-tensor int8 dense
//! model written through the int8 IR. Run after a format change:
//! `cargo run -p aedge-runtime --example fuzz_seeds`.

use aedge_runtime::calibrate::{ranges, RangeMethod};
use aedge_runtime::ir::{same_padding, Graph, Layer};
use aedge_runtime::rng::SplitMix;
use aedge_runtime::zoo;
use aedge_runtime::{Activation, Op, Precision, Shape};
use std::path::Path;

fn tiny() -> Graph {
    zoo::dense(
        "tiny",
        Shape::vector(12),
        &[12, 6, 3, 6, 12],
        Activation::Sigmoid,
        7,
    )
}

fn conv() -> Graph {
    let mut r = SplitMix(11);
    let input = Shape::new(6, 6, 1);
    let mut g = Graph::new("conv", input);
    g.push(Layer::conv2d(
        2,
        [3, 3],
        [1, 1],
        same_padding(input, [3, 3], [1, 1]),
        r.glorot(18, 9, 18),
        r.vec(2, -0.05, 0.05),
        Activation::Relu,
    ));
    g.push(Layer::op(Op::MaxPool2d {
        kernel: [2, 2],
        stride: [2, 2],
        pad: [0; 4],
    }));
    g.encoder_layers = 2;
    g.push(Layer::op(Op::Upsample2d { factor: [2, 2] }));
    let mid = Shape::new(6, 6, 2);
    g.push(Layer::conv2d(
        1,
        [3, 3],
        [1, 1],
        same_padding(mid, [3, 3], [1, 1]),
        r.glorot(18, 18, 9),
        r.vec(1, -0.05, 0.05),
        Activation::Sigmoid,
    ));
    g
}

/// The LSTM AE as a series model: a window of 5 samples of 2 channels, scored every 2.
fn series() -> Graph {
    let mut g = zoo::lstm_ae(5, 2, 3, 5);
    g.series = Some(aedge_runtime::ir::Series {
        columns: vec!["value".into(), "load".into()],
        stride: 2,
        tail: 2,
        likelihood: aedge_runtime::Likelihood {
            hold: 4,
            novelty: 100.0,
            ..aedge_runtime::Likelihood::NAB
        },
        range: vec![[-1.0, 1.0], [0.0, 2.0]],
        period: 3,
        seasonal: aedge_runtime::Moments {
            count: 50,
            mean: 0.5,
            std: 0.2,
        },
        pattern: None,
    });
    g
}

fn newer_ops() -> Graph {
    let mut r = SplitMix(13);
    let input = Shape::new(6, 6, 2);
    let relu6 = Activation::Clip { min: 0.0, max: 6.0 };
    let mut g = Graph::new("newer-ops", input);
    g.push(Layer {
        op: Op::DepthwiseConv2d {
            multiplier: 2,
            kernel: [3, 3],
            stride: [1, 1],
            pad: same_padding(input, [3, 3], [1, 1]),
        },
        act: relu6,
        weights: r.glorot(36, 9, 9),
        bias: r.vec(4, -0.05, 0.05),
    });
    g.push(Layer::op(Op::AvgPool2d {
        kernel: [2, 2],
        stride: [2, 2],
        pad: [0; 4],
    }));
    g.encoder_layers = 2;
    g.push(Layer::op(Op::Upsample2d { factor: [2, 2] }));
    g.push(Layer::conv2d(
        2,
        [1, 1],
        [1, 1],
        [0; 4],
        r.glorot(8, 4, 2),
        r.vec(2, -0.05, 0.05),
        Activation::Identity,
    ));
    g.push(Layer::activation(relu6));
    g
}

/// Two dense layers with one requantization multiplier each (format 3's per-tensor blobs).
fn per_tensor() -> Result<Vec<u8>, String> {
    use aedge_runtime::qgraph::{QGraph, QLayer};
    use aedge_runtime::Quant;
    let mut r = SplitMix(17);
    let q = Quant {
        scale: 0.05,
        zero_point: -10,
    };
    let layer = |k: usize, n: u16, r: &mut SplitMix| QLayer {
        op: Op::Dense { units: n },
        act: Activation::Relu,
        weights: (0..k * n as usize)
            .map(|_| (r.next_u64() % 255) as i8)
            .collect(),
        bias: (0..n)
            .map(|_| (r.next_u64() % 2001) as i32 - 1000)
            .collect(),
        requant: vec![0.002; n as usize],
        pre: q,
        output: q,
        lut: None,
    };
    let layers = vec![layer(16, 8, &mut r), layer(8, 16, &mut r)];
    QGraph::chain("per-tensor", Shape::vector(16), q, 1, layers)
        .to_aedge()
        .map_err(|e| e.to_string())
}

fn write(dir: &Path, name: &str, g: &Graph, precisions: &[Precision]) -> Result<(), String> {
    let n = g.input.len();
    let mut r = SplitMix(3);
    let samples: Vec<Vec<f32>> = (0..16).map(|_| r.vec(n, 0.0, 1.0)).collect();
    for &p in precisions {
        let bytes = match p {
            Precision::Int8 => {
                let rg = ranges(g, samples.iter().map(Vec::as_slice), RangeMethod::MinMax)
                    .map_err(|e| e.to_string())?;
                g.to_aedge_int8(&rg)
            }
            _ => g.to_aedge(p),
        }
        .map_err(|e| e.to_string())?;
        let path = dir.join(format!("{name}-{p}.aedge"));
        aedge_runtime::fs::write_atomic(&path, &bytes).map_err(|e| e.to_string())?;
        println!("{} ({} bytes)", path.display(), bytes.len());
    }
    Ok(())
}

fn main() -> Result<(), String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds");
    let all = [Precision::F32, Precision::F16, Precision::Int8];
    write(&dir, "tiny", &tiny(), &all)?;
    write(&dir, "conv", &conv(), &all)?;
    write(
        &dir,
        "lstm",
        &zoo::lstm_ae(5, 2, 3, 5),
        &[Precision::F32, Precision::Int8],
    )?;
    write(&dir, "newer-ops", &newer_ops(), &all)?;
    write(
        &dir,
        "series",
        &series(),
        &[Precision::F32, Precision::Int8],
    )?;
    let path = dir.join("per-tensor-int8.aedge");
    let bytes = per_tensor()?;
    aedge_runtime::fs::write_atomic(&path, &bytes).map_err(|e| e.to_string())?;
    println!("{} ({} bytes)", path.display(), bytes.len());
    Ok(())
}
