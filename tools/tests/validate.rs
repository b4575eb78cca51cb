//! `aedge validate` on QEMU's Cortex-M4F: an int8 TFLite import is bit-exact with the host
//! layer by layer, a weight changed on the device side is found at its layer, and bad
//! arguments are one-line errors. Needs qemu-system-arm (scripts/test.sh installs it).

mod common;

use aedge::validate::{validate, Target};
use common::{aedge, fails, repo, stdout};
use std::path::PathBuf;

/// The converter-made int8 TFLite conv autoencoder and two of its reference inputs (a .f32
/// file): depthwise, pooling, transposed convolution, resize and table activations.
fn conv_ae(work: &std::path::Path) -> (aedge_runtime::qgraph::QGraph, PathBuf, Vec<Vec<f32>>) {
    let dir = repo().join("data/tflite");
    let imported = aedge_convert::tflite::import(
        &std::fs::read(dir.join("conv_ae_int8.tflite")).unwrap(),
        "conv-ae",
    )
    .unwrap();
    let refs = std::fs::read(dir.join("conv_ae_ref.bin")).unwrap();
    let inputs: Vec<Vec<f32>> = refs[8..]
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect::<Vec<f32>>()
        .chunks_exact(784)
        .take(2)
        .map(<[f32]>::to_vec)
        .collect();
    let path = work.join("inputs.f32");
    let bytes: Vec<u8> = inputs
        .iter()
        .flatten()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    std::fs::write(&path, bytes).unwrap();
    (imported.graph, path, inputs)
}

fn work(name: &str) -> PathBuf {
    let d = repo().join("target/validate-test").join(name);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn a_tflite_import_is_bit_exact_on_qemu_layer_by_layer() {
    let dir = work("tflite");
    let model = dir.join("conv-ae.aedge");
    stdout(
        aedge()
            .args(["import", "--quiet"])
            .arg(repo().join("data/tflite/conv_ae_int8.tflite"))
            .arg("-o")
            .arg(&model),
    );
    let (_, inputs, _) = conv_ae(&dir);
    let json: serde_json::Value = serde_json::from_str(&stdout(
        aedge()
            .args(["validate", "--json"])
            .arg(&model)
            .arg("--inputs")
            .arg(&inputs)
            .arg("--work")
            .arg(dir.join("device")),
    ))
    .unwrap();
    assert_eq!(json["bit_exact"], true, "{json:#}");
    assert_eq!(json["target"], "QEMU mps2-an386 (Cortex-M4F)");
    assert_eq!(json["inputs"].as_array().unwrap().len(), 2);
    assert_eq!(json["verdicts_agree"], 2);
    let layers = json["inputs"][0]["layers"].as_array().unwrap();
    assert!(layers.len() > 5, "{json:#}");
    assert!(layers.iter().all(|l| l["differing"] == 0));
    // The device measured itself.
    assert_eq!(json["unit"], "instructions");
    let count = json["inputs"][0]["count"].as_u64().unwrap();
    assert!(count > 10_000);
    // And its estimated Cortex-M4 cycles: every instruction takes at least one, within the
    // bounds of the manual's ranges.
    let c = &json["inputs"][0]["cycles"];
    let (e, lo, hi) = (
        c["estimate"].as_u64().unwrap(),
        c["low"].as_u64().unwrap(),
        c["high"].as_u64().unwrap(),
    );
    assert!(count <= lo && lo <= e && e <= hi, "{json:#}");
    // The flash lines the inference read: its int8 weights stream from flash, each byte
    // once, so at least one 8-byte line per 8 bytes of them; instructions come from flash too.
    let weights = aedge_runtime::Model::parse(&aedge_runtime::AlignedBytes::from(
        std::fs::read(&model).unwrap(),
    ))
    .unwrap()
    .layers()
    .map(|l| l.params as u64)
    .sum::<u64>();
    let (data, code) = (
        c["flash_data_lines"].as_u64().unwrap(),
        c["flash_code_lines"].as_u64().unwrap(),
    );
    assert!(
        data >= weights / 8 && code > 0,
        "{data} data lines for {weights} weights: {json:#}"
    );
    assert!(json["stack"].as_u64().unwrap() > 100);
    assert!(json["sizes"]["flash"].as_u64().unwrap() > json["arena"].as_u64().unwrap() / 100);

    // Text: the table and the verdict line.
    let text = stdout(
        aedge()
            .arg("validate")
            .arg(&model)
            .arg("--inputs")
            .arg(&inputs)
            .arg("--target")
            .arg("host"),
    );
    assert!(text.contains("outputs and scores: bit-exact"), "{text}");
    assert!(text.contains("DepthwiseConv2d"), "{text}");
}

#[test]
fn a_wrong_weight_on_the_device_is_found_at_its_layer() {
    let dir = work("fault");
    let (graph, _, inputs) = conv_ae(&dir);
    let reference = graph.to_aedge().unwrap();
    // Change one weight of a convolution in the middle of the network, on the device only.
    let layer = graph
        .layers
        .iter()
        .enumerate()
        .skip(2)
        .find(|(_, l)| l.weights.len() > 8)
        .map(|(i, _)| i)
        .unwrap();
    let mut wrong = graph.clone();
    let w = &mut wrong.layers[layer].weights;
    let mid = w.len() / 2;
    w[mid] = w[mid].wrapping_add(64);
    let device = wrong.to_aedge().unwrap();
    let v = validate(&reference, &device, &inputs, Target::Qemu, &dir).unwrap();
    assert!(!v.bit_exact);
    let d = v.first_divergence.expect("a divergence");
    assert_eq!((d.input, d.layer), (0, layer), "{d:?}");
    let first = &v.inputs[0].layers;
    assert!(first[..layer].iter().all(|l| l.differing == 0));
    assert!(first[layer].differing > 0 && first[layer].max_diff >= 1.0);
    // And the same model on both sides is bit-exact through the library too.
    let same = validate(&reference, &reference, &inputs, Target::Host, &dir).unwrap();
    assert!(same.bit_exact && same.first_divergence.is_none());
}

#[test]
fn bad_validate_arguments_are_one_line_errors() {
    let model = repo().join("firmware/models/dense-scorer-int8.aedge");
    let mnist = repo().join("data/mnist-sample/t1k-images-idx3-ubyte.gz");
    let run = |inputs: &std::path::Path, extra: &[&str]| {
        fails(
            aedge()
                .arg("validate")
                .arg(&model)
                .arg("--inputs")
                .arg(inputs)
                .args(extra),
        )
    };
    let e = run(&mnist, &["--target", "arduino"]);
    assert!(
        e.contains("unknown target 'arduino'") && e.contains("qemu"),
        "{e}"
    );
    let e = run(&mnist, &["--count", "0"]);
    assert!(e.contains("--count"), "{e}");
    let e = run(&repo().join("data/tflite/conv_ae_ref.bin"), &[]);
    assert!(e.contains("conv_ae_ref.bin"), "{e}");
}

#[test]
fn inspect_measures_the_stack_and_sizes_on_qemu() {
    let model = repo().join("firmware/models/dense-scorer-int8.aedge");
    let json: serde_json::Value = serde_json::from_str(&stdout(
        aedge()
            .args(["inspect", "--json", "--device", "qemu"])
            .arg(&model)
            .arg("--work")
            .arg(work("inspect")),
    ))
    .unwrap();
    let d = &json["device"][0];
    assert_eq!(d["unit"], "instructions", "{json:#}");
    assert!(d["count"].as_u64().unwrap() > 10_000, "{json:#}");
    // A dense int8 inference needs about a kilobyte and a half of stack (2026-12: 1,412 B).
    let stack = d["stack"].as_u64().unwrap();
    assert!((256..8192).contains(&stack), "{stack}");
    assert_eq!(d["arena"], json["arena_bytes"]);
    assert!(d["sizes"]["flash"].as_u64().unwrap() > json["file_bytes"].as_u64().unwrap());
    // The cycle estimate of the whole inference and of every layer (the bench's run): int8
    // dense costs more cycles than instructions (loads take two), and the layers add up.
    let count = d["count"].as_u64().unwrap();
    let cycles = d["cycles"]["estimate"].as_u64().unwrap();
    assert!(count < cycles && cycles < 3 * count, "{json:#}");
    let layers: u64 = d["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["cycles"].as_u64().unwrap())
        .sum();
    assert!(
        layers.abs_diff(cycles) * 100 <= cycles,
        "{layers} vs {cycles}"
    );
    let e = fails(aedge().args(["inspect", "--device", "host"]).arg(&model));
    assert!(e.contains("--device takes qemu or a board"), "{e}");
}
