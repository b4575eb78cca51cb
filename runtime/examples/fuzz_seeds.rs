//! Writes the fuzzer's seed models and the `include_model!` doc-test model
//! (`runtime/fuzz/seeds/*.aedge`): a tiny dense AE, a small conv AE and an LSTM AE, in every
//! precision the runtime has, from the zoo's seeded weights. Run after a format change:
//! `cargo run -p aedge-runtime --example fuzz_seeds`.

use aedge_runtime::calibrate::{ranges, RangeMethod};
use aedge_runtime::ir::{same_padding, Graph, Layer};
use aedge_runtime::zoo::{self, SplitMix};
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
    )
}
