//! The `aedge` binary end to end on small data, including bad inputs: user errors exit with
//! 1 and one line on stderr, never a panic or a half-written file.

mod common;

use aedge_runtime::calibrate::{ranges, RangeMethod};
use aedge_runtime::{zoo, Precision};
use common::{aedge, fails, repo, stdout};
use std::path::{Path, PathBuf};

fn mnist() -> PathBuf {
    repo().join("data/mnist-sample/t1k-images-idx3-ubyte.gz")
}

fn labels() -> PathBuf {
    repo().join("data/mnist-sample/t1k-labels-idx1-ubyte.gz")
}

fn tmp(name: &str) -> PathBuf {
    let d = repo().join("target/cli-tests");
    std::fs::create_dir_all(&d).unwrap();
    d.join(name)
}

/// The seeded 784-32-784 reference model, int8, calibrated on the bundled digits.
fn dense_int8() -> PathBuf {
    let path = tmp("dense-int8.aedge");
    let g = zoo::mnist_dense(32, 1);
    let im = aedge_trainer::data::Images::read(mnist()).unwrap();
    let calib: Vec<&[f32]> = (0..50).map(|i| im.image(i)).collect();
    let r = ranges(&g, calib, RangeMethod::MinMax).unwrap();
    aedge_runtime::fs::write_atomic(&path, &g.to_aedge_int8(&r).unwrap()).unwrap();
    let f32_path = tmp("dense-f32.aedge");
    aedge_runtime::fs::write_atomic(&f32_path, &g.to_aedge(Precision::F32).unwrap()).unwrap();
    path
}

#[test]
fn inspect_reports_layers_sizes_and_arena() {
    let m = dense_int8();
    let text = stdout(aedge().arg("inspect").arg(&m));
    assert!(
        text.contains("Dense 32") && text.contains("arena 816 B"),
        "{text}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&stdout(aedge().args(["inspect", "--json"]).arg(&m))).unwrap();
    assert_eq!(json["arena_bytes"], 816);
    assert_eq!(json["macs"], 50176);
    assert_eq!(json["layers"].as_array().unwrap().len(), 3);
}

#[test]
fn import_score_and_denoise_a_pytorch_model() {
    let onnx = repo().join("tests/fixtures/onnx/torch_conv_ae.onnx");
    let out = tmp("torch-conv-int8.aedge");
    let _ = std::fs::remove_file(&out);
    let json: serde_json::Value = serde_json::from_str(&stdout(
        aedge()
            .args([
                "import",
                "--json",
                "--precision",
                "int8",
                "--scale",
                "0.00392157",
            ])
            .arg(&onnx)
            .arg("-o")
            .arg(&out)
            .arg("--calib")
            .arg(mnist())
            .arg("--calib-count")
            .arg("50")
            .arg("--normal")
            .arg(mnist()),
    ))
    .unwrap();
    assert!(json["tract_max_abs_diff"].as_f64().unwrap() <= 1e-5);
    assert_eq!(json["precision"], "int8");
    assert!(out.exists());
    let score: serde_json::Value = serde_json::from_str(&stdout(
        aedge()
            .args(["score", "--json", "--limit", "200", "--normal", "1"])
            .arg(&out)
            .arg(mnist())
            .arg("--labels")
            .arg(labels()),
    ))
    .unwrap();
    assert_eq!(score["samples"].as_array().unwrap().len(), 200);
    let au = score["auroc"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&au));
    let png = tmp("denoised.png");
    let _ = std::fs::remove_file(&png);
    stdout(
        aedge()
            .arg("denoise")
            .arg(&out)
            .arg(mnist())
            .arg("-o")
            .arg(&png)
            .args(["--limit", "12"]),
    );
    let img = image::open(&png).unwrap();
    // Two rows of ten (inputs, denoised) and one of two of each: 4 rows of 28 pixels.
    assert_eq!((img.width(), img.height()), (280, 112));
    // A single PNG in gives a single PNG out.
    let one = tmp("one.png");
    aedge_png(&png, &one);
    let single = tmp("single-out.png");
    stdout(
        aedge()
            .arg("denoise")
            .arg(&out)
            .arg(&one)
            .arg("-o")
            .arg(&single),
    );
    assert_eq!(image::open(&single).unwrap().width(), 28);
}

/// Crops the first 28×28 tile of a grid to a new PNG.
fn aedge_png(grid: &Path, to: &Path) {
    let img = image::open(grid).unwrap().to_luma8();
    let tile = image::imageops::crop_imm(&img, 0, 0, 28, 28).to_image();
    tile.save(to).unwrap();
}

#[test]
fn bad_inputs_are_one_line_errors() {
    let m = dense_int8();
    // Not a model, a missing file, a truncated model.
    let e = fails(aedge().arg("inspect").arg(repo().join("README.md")));
    assert!(e.contains("magic"), "{e}");
    fails(aedge().arg("inspect").arg(tmp("missing.aedge")));
    let bytes = std::fs::read(&m).unwrap();
    let cut = tmp("cut.aedge");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    fails(aedge().arg("inspect").arg(&cut));
    // Wrong sample size, NaN, unknown format.
    let small = tmp("small.f32");
    std::fs::write(&small, [0u8; 12]).unwrap();
    let e = fails(aedge().arg("score").arg(&m).arg(&small));
    assert!(e.contains("784"), "{e}");
    let nan = tmp("nan.f32");
    let mut v = vec![0u8; 784 * 4];
    v[40..44].copy_from_slice(&f32::NAN.to_le_bytes());
    std::fs::write(&nan, &v).unwrap();
    let e = fails(aedge().arg("score").arg(&m).arg(&nan));
    assert!(
        e.contains("sample 0") && e.to_lowercase().contains("finite"),
        "{e}"
    );
    fails(aedge().arg("score").arg(&m).arg(repo().join("README.md")));
    // An ONNX op the runtime lacks; an int8 import without calibration data; nothing written.
    let out = tmp("never.aedge");
    let _ = std::fs::remove_file(&out);
    let e = fails(
        aedge()
            .arg("import")
            .arg(repo().join("tests/fixtures/onnx/torch_elu.onnx"))
            .arg("-o")
            .arg(&out),
    );
    assert!(e.contains("'Elu'"), "{e}");
    let e = fails(
        aedge()
            .args(["import", "--precision", "int8"])
            .arg(repo().join("tests/fixtures/onnx/torch_dense_ae.onnx"))
            .arg("-o")
            .arg(&out),
    );
    assert!(e.contains("--calib"), "{e}");
    assert!(!out.exists());
    // Labels that do not cover the samples.
    let e = fails(
        aedge()
            .args(["score", "--normal", "1", "--labels"])
            .arg(&m)
            .arg(&m)
            .arg(mnist()),
    );
    assert!(!e.is_empty());
    // Usage errors are clap's (exit 2).
    let out = aedge()
        .args(["import", "--precision", "int4", "x.onnx", "-o", "y"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    // A pattern memory with fewer than 2 or more levels than its bytes hold.
    for levels in ["1", "256"] {
        let out = aedge()
            .args(["eval", "nab", "--data", "x", "--pattern-levels", levels])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2));
        let e = String::from_utf8_lossy(&out.stderr);
        assert!(
            e.contains("--pattern-levels") && e.contains("2..=255"),
            "{e}"
        );
    }
}

#[test]
fn train_export_and_eval() {
    let dir = tmp("train-run");
    let _ = std::fs::remove_dir_all(&dir);
    let json: serde_json::Value = serde_json::from_str(&stdout(
        aedge()
            .args([
                "train",
                "--json",
                "--preset",
                "seed-dense",
                // 113 training ones make one batch of the preset's 256: one step per epoch.
                "--epochs",
                "200",
                "--normal",
                "1",
            ])
            .arg("--data")
            .arg(mnist())
            .arg("--labels")
            .arg(labels())
            .arg("--out")
            .arg(&dir),
    ))
    .unwrap();
    assert_eq!(json["epochs"], 200);
    assert!(dir.join("checkpoint/state.json").exists() && dir.join("metrics.csv").exists());
    assert!(dir.join("checkpoint/holdout.json").exists());
    let model = dir.join("ones-int8.aedge");
    let parity = dir.join("parity.json");
    let ex: serde_json::Value = serde_json::from_str(&stdout(
        aedge()
            .args(["export", "--json", "--precision", "int8", "--normal", "1"])
            .arg("--checkpoint")
            .arg(dir.join("checkpoint"))
            .arg("--data")
            .arg(mnist())
            .arg("--labels")
            .arg(labels())
            .arg("-o")
            .arg(&model)
            .arg("--parity")
            .arg(&parity),
    ))
    .unwrap();
    assert!(ex["parity"]["f32_vs_burn_ok"].as_bool().unwrap());
    assert!(parity.exists());
    // The defaults: MSE, and a threshold from the ones `train` held out (10 % of 126).
    assert_eq!(ex["metric"], "mse");
    let th = &ex["threshold"];
    assert!(th["from"].as_str().unwrap().contains("held-out"), "{th}");
    assert_eq!(th["samples"], 13, "{th}");
    assert_eq!(th["rule"], "p99");
    assert!(th["int8"].as_f64().unwrap() > 0.0);
    let ks: serde_json::Value = serde_json::from_str(&stdout(
        aedge()
            .args([
                "export",
                "--json",
                "--k-sigma",
                "3",
                "--metric",
                "mae",
                "--normal",
                "1",
            ])
            .arg("--checkpoint")
            .arg(dir.join("checkpoint"))
            .arg("--data")
            .arg(mnist())
            .arg("--labels")
            .arg(labels())
            .arg("-o")
            .arg(dir.join("k-sigma.aedge")),
    ))
    .unwrap();
    assert_eq!(ks["metric"], "mae");
    assert_eq!(ks["threshold"]["rule"], "mean + 3σ");
    let e = fails(
        aedge()
            .args(["export", "--percentile", "101", "-o"])
            .arg(dir.join("p101.aedge"))
            .arg("--checkpoint")
            .arg(dir.join("checkpoint"))
            .arg("--data")
            .arg(mnist()),
    );
    assert!(e.contains("--percentile"), "{e}");
    assert!(!dir.join("p101.aedge").exists());
    let onnx = dir.join("encoder.onnx");
    stdout(
        aedge()
            .args(["export", "--format", "onnx", "--part", "encoder"])
            .arg("--checkpoint")
            .arg(dir.join("checkpoint"))
            .arg("--data")
            .arg(mnist())
            .arg("-o")
            .arg(&onnx),
    );
    assert!(std::fs::metadata(&onnx).unwrap().len() > 1000);
    let ev: serde_json::Value = serde_json::from_str(&stdout(
        aedge()
            .args(["eval", "--json", "--normal", "1", "--noise", "0.5"])
            .arg(&model)
            .arg(mnist())
            .arg("--labels")
            .arg(labels()),
    ))
    .unwrap();
    // Digit 1 against the other nine on the bundled sample, int8, by the default score.
    let au = ev["auroc"].as_f64().unwrap();
    assert!(au >= 0.9, "AUROC {au}");
    assert!(ev["denoising_psnr_db"]["noisy"].as_f64().unwrap() > 5.0);
    // A checkpoint with data of another shape, an unknown preset, a missing checkpoint.
    let e = fails(
        aedge()
            .args(["export", "-o"])
            .arg(dir.join("x.aedge"))
            .arg("--checkpoint")
            .arg(dir.join("checkpoint"))
            .arg("--data")
            .arg(repo().join("data/nab-sample/art_daily_jumpsup.csv")),
    );
    assert!(e.contains("takes"), "{e}");
    assert!(!dir.join("x.aedge").exists());
    let e = fails(
        aedge()
            .args(["train", "--preset", "nope", "--data"])
            .arg(mnist()),
    );
    assert!(e.contains("unknown preset"), "{e}");
    for (devices, says) in [
        ("cpu,cpu", "cpu is listed twice"),
        ("auto,cpu", "auto picks one device"),
    ] {
        let out = tmp(&format!("devices-{}", devices.replace([',', ':'], "-")));
        let e = fails(
            aedge()
                .args(["train", "--preset", "seed-dense", "--devices", devices])
                .arg("--data")
                .arg(mnist())
                .arg("--out")
                .arg(&out),
        );
        assert!(e.contains(says), "{devices}: {e}");
        assert!(!out.exists(), "{devices}: {out:?} was written");
    }
    fails(
        aedge()
            .args(["export", "-o", "y.aedge", "--checkpoint"])
            .arg(tmp("no-such-dir"))
            .arg("--data")
            .arg(mnist()),
    );
}

/// keras-conv's recipe asks for the latent distance: `train` keeps that with the checkpoint,
/// `export` records it (its Gaussian fitted to the class's own codes, per precision) unless
/// `--metric` says otherwise, and the device-side score separates the digits.
#[test]
fn the_recipe_score_is_the_export_default() {
    let dir = tmp("latent-run");
    let _ = std::fs::remove_dir_all(&dir);
    let data = |c: &mut assert_cmd::Command| {
        c.arg("--data")
            .arg(mnist())
            .arg("--labels")
            .arg(labels())
            .args(["--normal", "1"]);
    };
    let mut train = aedge();
    train.args([
        "train",
        "--quiet",
        "--preset",
        "keras-conv",
        "--epochs",
        "15",
    ]);
    data(&mut train);
    stdout(train.arg("--out").arg(&dir));
    assert!(dir.join("checkpoint/score.json").exists());
    let export = |extra: &[&str], out: &str| -> serde_json::Value {
        let mut c = aedge();
        c.args(["export", "--json"]).args(extra);
        data(&mut c);
        serde_json::from_str(&stdout(
            c.arg("--checkpoint")
                .arg(dir.join("checkpoint"))
                .arg("-o")
                .arg(dir.join(out)),
        ))
        .unwrap()
    };
    assert_eq!(export(&[], "latent.aedge")["metric"], "latent");
    assert_eq!(export(&["--metric", "mse"], "mse.aedge")["metric"], "mse");
    assert_eq!(
        export(&["--metric", "mse+latent"], "both.aedge")["metric"],
        "mse+latent"
    );
    let inspect = |file: &str| -> serde_json::Value {
        let mut c = aedge();
        c.args(["inspect", "--json"]).arg(dir.join(file));
        serde_json::from_str(&stdout(&mut c)).unwrap()
    };
    let info = inspect("latent.aedge");
    assert_eq!(info["latent_fit"]["components"], 32, "{info}");
    assert!(info["format_version"].as_u64().unwrap() >= 5);
    // Fewer principal directions: a smaller record (4 B per direction and code value).
    export(&["--latent-components", "8"], "small.aedge");
    let small = inspect("small.aedge");
    assert_eq!(small["latent_fit"]["components"], 8, "{small}");
    let saved = info["latent_fit"]["bytes"].as_u64().unwrap()
        - small["latent_fit"]["bytes"].as_u64().unwrap();
    assert_eq!(saved, 24 * 128 * 4 + 24 * 4, "{small}");
    let mut zero = aedge();
    zero.args(["export", "--latent-components", "0"]);
    data(&mut zero);
    let e = fails(
        zero.arg("--checkpoint")
            .arg(dir.join("checkpoint"))
            .arg("-o")
            .arg(dir.join("zero.aedge")),
    );
    assert!(e.contains("--latent-components"), "{e}");
    assert!(!dir.join("zero.aedge").exists());
    for m in ["latent.aedge", "both.aedge"] {
        let mut c = aedge();
        c.args(["eval", "--json", "--normal", "1"])
            .arg(dir.join(m))
            .arg(mnist())
            .arg("--labels")
            .arg(labels());
        let ev: serde_json::Value = serde_json::from_str(&stdout(&mut c)).unwrap();
        let au = ev["auroc"].as_f64().unwrap();
        assert!(au >= 0.9, "{m}: AUROC {au}");
    }
    // An import has no training codes to fit the Gaussian to: a one-line error, no file.
    let e = fails(
        aedge()
            .args(["import", "--metric", "latent", "-o"])
            .arg(dir.join("imported.aedge"))
            .arg(repo().join("data/tflite/ad01_int8.tflite")),
    );
    assert!(e.contains("aedge export"), "{e}");
    assert!(!dir.join("imported.aedge").exists());
}

/// `aedge import` on int8 TFLite: the MLPerf AD model imports (with a threshold from normal
/// samples, scored by the int8 model itself), inspects and scores; options that do not
/// apply to an already-quantized model and unsupported ops are one-line errors with no
/// output file.
#[test]
fn import_tflite() {
    let tfl = repo().join("data/tflite/ad01_int8.tflite");
    let out = tmp("ad01.aedge");
    let normal = tmp("ad01-normal.csv");
    let mut rng = aedge_runtime::rng::SplitMix(5);
    let rows: Vec<String> = (0..20)
        .map(|_| {
            let v: Vec<String> = rng
                .vec(640, -20.0, 20.0)
                .iter()
                .map(|x| x.to_string())
                .collect();
            v.join(",")
        })
        .collect();
    std::fs::write(&normal, rows.join("\n")).unwrap();
    let text = stdout(
        aedge()
            .args(["import"])
            .arg(&tfl)
            .arg("-o")
            .arg(&out)
            .arg("--normal")
            .arg(&normal),
    );
    assert!(
        text.contains("imported 10 TFLite operators as 10 int8 layers"),
        "{text}"
    );
    assert!(text.contains("threshold"), "{text}");
    let shown = stdout(aedge().arg("inspect").arg(&out));
    assert!(
        shown.contains("ad01_int8 (int8): input 1x1x640, code 1x1x8"),
        "{shown}"
    );
    assert!(shown.contains("MACs 264192"), "{shown}");
    let scored = stdout(aedge().arg("score").arg(&out).arg(&normal));
    assert!(scored.contains("20"), "{scored}");

    let bad = tmp("never-written.aedge");
    let _ = std::fs::remove_file(&bad);
    let e = fails(
        aedge()
            .args(["import"])
            .arg(&tfl)
            .arg("-o")
            .arg(&bad)
            .args(["--precision", "f32"]),
    );
    assert!(e.contains("imports as int8"), "{e}");
    let e = fails(
        aedge()
            .args(["import"])
            .arg(&tfl)
            .arg("-o")
            .arg(&bad)
            .arg("--calib")
            .arg(&normal),
    );
    assert!(e.contains("--calib does not apply"), "{e}");
    let softmax = repo().join("data/tflite/act/softmax_unsupported.tflite");
    let e = fails(aedge().args(["import"]).arg(&softmax).arg("-o").arg(&bad));
    assert!(e.contains("operator 1 (SOFTMAX)"), "{e}");
    assert!(!bad.exists());
}
