//! TFLite import: the imported models compute what TensorFlow Lite Micro computes, bit for bit.

use aedge_convert::tflite;
use aedge_runtime::{AlignedBytes, Model};
use std::path::PathBuf;

fn data(name: &str) -> Vec<u8> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../data/tflite")
        .join(name);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn load(name: &str) -> (tflite::Imported, AlignedBytes) {
    let imported = tflite::import(&data(name), name).expect("imports");
    let bytes = AlignedBytes::from(imported.graph.to_aedge().expect("writes"));
    (imported, bytes)
}

/// The MLPerf Tiny anomaly-detection model and the check vector of its README: TFLite
/// Micro (reference kernels and CMSIS-NN alike) gives sum 5820, weighted sum 23878 and
/// these first eight values.
#[test]
fn mlperf_ad_matches_tflite_micro() {
    let (imported, bytes) = load("ad01_int8.tflite");
    assert!(!imported.float_input && !imported.float_output);
    assert_eq!(imported.ops.len(), 10);
    assert!(imported
        .ops
        .iter()
        .all(|o| o.op == "FULLY_CONNECTED" && o.became == "Dense"));
    assert_eq!(
        imported.graph.encoder_layers, 5,
        "the 8-unit code layer ends the encoder"
    );
    let model = Model::parse(&bytes).unwrap();
    let x: Vec<i8> = (0..640)
        .map(|i| (((i * 37 + 11) % 256) - 128) as i8)
        .collect();
    let mut arena = AlignedBytes::zeroed(model.arena_len());
    let mut y = vec![0i8; 640];
    model.infer_int8(&x, &mut y, &mut arena).unwrap();
    let sum: i64 = y.iter().map(|&v| v as i64).sum();
    let weighted: i64 = y
        .iter()
        .enumerate()
        .map(|(i, &v)| v as i64 * ((i % 7) as i64 + 1))
        .sum();
    assert_eq!((sum, weighted), (5820, 23878));
    assert_eq!(&y[..8], &[-36, 10, 40, 56, 51, 52, 49, 66]);
}

/// A small conv autoencoder made with the TFLite converter (data/tflite/make_conv_ae.py):
/// QUANTIZE, CONV_2D, MAX_POOL_2D, DEPTHWISE_CONV_2D (fused RELU6), AVERAGE_POOL_2D,
/// RESHAPE, FULLY_CONNECTED, TANH, TRANSPOSE_CONV, RESIZE_NEAREST_NEIGHBOR, LOGISTIC,
/// DEQUANTIZE. Outputs equal TFLite Micro's for every reference input.
#[test]
fn conv_autoencoder_matches_tflite_micro() {
    let (imported, bytes) = load("conv_ae_int8.tflite");
    assert!(imported.float_input && imported.float_output);
    let model = Model::parse(&bytes).unwrap();
    let refs = data("conv_ae_ref.bin");
    let word = |i: usize| u32::from_le_bytes(refs[4 * i..4 * i + 4].try_into().unwrap());
    let (n, len) = (word(0) as usize, word(1) as usize);
    assert_eq!(refs.len(), 8 + 2 * n * len * 4);
    let f32s = |start: usize| -> Vec<f32> {
        (0..n * len)
            .map(|i| f32::from_bits(word(2 + start + i)))
            .collect()
    };
    let (xs, ys) = (f32s(0), f32s(n * len));
    let mut arena = AlignedBytes::zeroed(model.arena_len());
    let mut out = vec![0f32; len];
    for s in 0..n {
        model
            .reconstruct(&xs[s * len..][..len], &mut out, &mut arena)
            .unwrap();
        let want = &ys[s * len..][..len];
        let differ = out
            .iter()
            .zip(want)
            .filter(|(a, b)| a.to_bits() != b.to_bits())
            .count();
        assert_eq!(
            differ, 0,
            "sample {s}: {differ} of {len} outputs differ from TFLite Micro"
        );
    }
}

/// Stand-alone LOGISTIC, TANH, RELU and RELU6 at six input quantizations each
/// (data/tflite/make_activations.py): all 256 int8 codes give TFLite Micro's outputs. This
/// checks the gemmlowp fixed-point tables, TFLM's RELU requantization (output scale differs
/// from the input's) and RELU6's saturating bound. (A float-evaluated table happens to agree
/// with gemmlowp's on all of these codes: they differ only within ~2^-23 of a rounding tie.)
#[test]
fn activations_match_tflite_micro_on_every_code() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../data/tflite/act");
    let mut checked = 0;
    for kind in ["sigmoid", "tanh", "relu", "relu6"] {
        for i in 0..6 {
            let name = format!("act/{kind}_{i}.tflite");
            let (imported, bytes) = load(&name);
            assert!(imported.float_input && imported.float_output);
            let model = Model::parse(&bytes).unwrap();
            let refs = std::fs::read(dir.join(format!("{kind}_{i}.ref"))).unwrap();
            let v: Vec<f32> = refs
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
                .collect();
            assert_eq!(v.len(), 512);
            let (x, want) = v.split_at(256);
            let mut arena = AlignedBytes::zeroed(model.arena_len());
            let mut y = vec![0f32; 256];
            model.reconstruct(x, &mut y, &mut arena).unwrap();
            let differ: Vec<usize> = (0..256)
                .filter(|&k| y[k].to_bits() != want[k].to_bits())
                .collect();
            assert!(
                differ.is_empty(),
                "{name}: codes {differ:?} differ from TFLite Micro"
            );
            checked += 1;
        }
    }
    assert_eq!(checked, 24);
}

/// An op outside the autoencoder set is refused with its name and index.
#[test]
fn unsupported_ops_are_named() {
    let e = tflite::import(&data("act/softmax_unsupported.tflite"), "x").unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.starts_with("operator 1 (SOFTMAX): this op is not supported"),
        "{msg}"
    );
}

/// Damaged files (random byte changes, truncation, a foreign file) give an error or a model
/// that loads and runs, never a panic.
#[test]
fn damaged_files_never_panic() {
    let mut rng = aedge_runtime::rng::SplitMix(99);
    for name in [
        "ad01_int8.tflite",
        "conv_ae_int8.tflite",
        "act/relu_3.tflite",
    ] {
        let good = data(name);
        for trial in 0..1000 {
            let mut bytes = good.clone();
            if trial % 10 == 0 {
                bytes.truncate(rng.next_u64() as usize % good.len());
            } else {
                for _ in 0..1 + rng.next_u64() % 8 {
                    let i = rng.next_u64() as usize % bytes.len();
                    bytes[i] = rng.next_u64() as u8;
                }
            }
            if let Ok(imported) = tflite::import(&bytes, "fuzz") {
                if let Ok(file) = imported.graph.to_aedge() {
                    let file = AlignedBytes::from(file);
                    let model = Model::parse(&file).expect("what the writer wrote parses");
                    let mut arena = AlignedBytes::zeroed(model.arena_len());
                    let x = vec![0.5f32; model.input_shape().len()];
                    let mut y = vec![0f32; model.output_shape().len()];
                    model.reconstruct(&x, &mut y, &mut arena).unwrap();
                }
            }
        }
    }
    let e = tflite::import(b"not a model at all", "x").unwrap_err();
    assert!(e.to_string().contains("not a TFLite file"), "{e}");
}
