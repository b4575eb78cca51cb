//! `aedge eval`'s protocols, reduced to the bundled MNIST sample (the full runs read
//! `../shared/data` and take minutes to an hour): each must still clear a real bar, not just
//! run, and write its report.

use aedge_trainer::data::{read_labels, Images};
use assert_cmd::Command;
use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn tmp(name: &str) -> PathBuf {
    let d = repo().join("target/eval-tests").join(name);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn idx_images(path: &Path, im: &Images, range: std::ops::Range<usize>) {
    let mut b = vec![0, 0, 8, 3];
    for v in [range.len(), im.height, im.width] {
        b.extend((v as u32).to_be_bytes());
    }
    for i in range {
        b.extend(im.image(i).iter().map(|&p| p as u8));
    }
    std::fs::write(path, b).unwrap();
}

fn idx_labels(path: &Path, l: &[u8]) {
    let mut b = vec![0, 0, 8, 1];
    b.extend((l.len() as u32).to_be_bytes());
    b.extend(l);
    std::fs::write(path, b).unwrap();
}

/// The bundled 1,000 digits laid out as a protocol's dataset folder `root/fashion-mnist/`:
/// the first 800 as `train-`, the last 200 as `t10k-` (uncompressed IDX). The protocols only
/// read the files; the digits stand in for clothes.
fn dataset_root(name: &str) -> PathBuf {
    let root = tmp(name);
    let dir = root.join("fashion-mnist");
    std::fs::create_dir_all(&dir).unwrap();
    let data = repo().join("data/mnist-sample");
    let im = Images::read(data.join("t1k-images-idx3-ubyte.gz")).unwrap();
    let l = read_labels(data.join("t1k-labels-idx1-ubyte.gz")).unwrap();
    idx_images(&dir.join("train-images-idx3-ubyte"), &im, 0..800);
    idx_labels(&dir.join("train-labels-idx1-ubyte"), &l[..800]);
    idx_images(&dir.join("t10k-images-idx3-ubyte"), &im, 800..1000);
    idx_labels(&dir.join("t10k-labels-idx1-ubyte"), &l[800..]);
    root
}

fn run_json(args: &[&str], data: &Path, out: &Path) -> serde_json::Value {
    let o = Command::cargo_bin("aedge")
        .unwrap()
        .arg("eval")
        .args(args)
        .arg("--json")
        .arg("--data")
        .arg(data)
        .arg("--out")
        .arg(out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&o.stdout).unwrap()
}

fn reports(out: &Path, figures: &[&str]) {
    for f in ["report.md", "report.html", "report.json"]
        .iter()
        .chain(figures)
    {
        assert!(out.join(f).is_file(), "{f} missing in {}", out.display());
    }
}

#[test]
fn one_class_digit_1_detects_the_other_digits() {
    let root = dataset_root("one-class");
    let out = root.join("report");
    let j = run_json(
        &[
            "one-class",
            "--classes",
            "1",
            "--seeds",
            "1",
            "--epochs",
            "30",
        ],
        &root,
        &out,
    );
    let r = &j["runs"][0];
    let (f, q) = (
        r["auroc_f32"].as_f64().unwrap(),
        r["auroc_int8"].as_f64().unwrap(),
    );
    assert!(q >= 0.9, "int8 AUROC {q}");
    assert!((f - q).abs() <= 0.005, "f32 {f} vs int8 {q}");
    // The threshold comes from held-out ones: most normal test digits stay below it.
    assert!(r["normal_flagged"].as_f64().unwrap() < 0.2, "{r}");
    assert!(j["footprint"]["weights_bytes"].as_u64().unwrap() <= 64 * 1024);
    reports(&out, &["roc.png", "errors.png", "extremes.png"]);
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(md.contains("GEOM") && md.contains("ARNet"), "{md}");
}

#[test]
fn denoising_beats_the_noise_and_int8_keeps_up() {
    let root = dataset_root("denoising");
    let out = root.join("report");
    // A recipe file of one's own: a small conv AE (the protocol adds its noise).
    let recipe = root.join("small.toml");
    std::fs::write(
        &recipe,
        "[model]\nkind = \"conv\"\nchannels = [16, 8]\n[train]\nloss = \"bce\"\n",
    )
    .unwrap();
    let j = run_json(
        &[
            "denoising",
            "--datasets",
            "fashion-mnist",
            "--config",
            recipe.to_str().unwrap(),
            "--epochs",
            "8",
            "--batch-size",
            "32",
        ],
        &root,
        &out,
    );
    assert!(j["recipe"].as_str().unwrap().contains("small.toml"), "{j}");
    let r = &j["results"][0];
    let db = |k: &str| r[k].as_f64().unwrap();
    assert!((db("noisy_db") - 9.4).abs() < 0.5, "{r}");
    assert!(db("f32_db") > db("noisy_db") + 3.0, "{r}");
    assert!((db("int8_db") - db("f32_db")).abs() <= 0.3, "{r}");
    reports(&out, &["fashion-mnist.png"]);
}

#[test]
fn recipes_report_their_validation_loss() {
    let root = dataset_root("recipes");
    let out = root.join("report");
    let j = run_json(
        &[
            "recipes",
            "--recipes",
            "keras-simple",
            "--max-epochs",
            "30",
            "--batch-size",
            "32",
        ],
        &root,
        &out,
    );
    let r = &j["results"][0];
    assert_eq!(r["epochs"], 30);
    assert_eq!(r["published_epochs"], 50);
    let v = r["validation_bce"].as_f64().unwrap();
    // Predicting the mean training digit scores 0.256 (BCE per pixel) on these 200.
    assert!(v > 0.03 && v < 0.2, "validation BCE {v}");
    reports(&out, &["validation.png"]);
}

#[test]
fn missing_data_is_a_one_line_error() {
    let root = tmp("missing");
    std::fs::create_dir_all(root.join("fashion-mnist")).unwrap();
    for p in ["one-class", "denoising", "recipes"] {
        let o = Command::cargo_bin("aedge")
            .unwrap()
            .args(["eval", p, "--data"])
            .arg(&root)
            .arg("--out")
            .arg(root.join("out"))
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{p}: {err}");
        assert!(
            err.starts_with("error: ") && err.trim_end().lines().count() == 1,
            "{err}"
        );
        assert!(err.contains("idx3-ubyte"), "{p}: {err}");
        assert!(!root.join("out/report.html").exists());
    }
}
