//! Your data, your model: a recipe file trained on a folder of PNGs labelled by folder names,
//! scored on `.npy` inputs, reconstructions and codes written as `.npy`, `.npz` and CSV; the MVTec AD
//! layout; and one clear error, with nothing written, for each bad input.

mod common;

use aedge_trainer::data::{npy_bytes, read_array, Images};
use common::{aedge, fails, repo, stdout};
use std::path::{Path, PathBuf};

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("aedge-formats-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// The bundled digits and their labels.
fn digits() -> (Images, Vec<u8>) {
    let dir = repo().join("data/mnist-sample");
    let im = Images::read(dir.join("t1k-images-idx3-ubyte.gz")).unwrap();
    let l = aedge_trainer::data::read_labels(dir.join("t1k-labels-idx1-ubyte.gz")).unwrap();
    (im, l)
}

fn png(path: &Path, pixels: &[f32]) {
    let bytes: Vec<u8> = pixels.iter().map(|&p| p as u8).collect();
    image::GrayImage::from_raw(28, 28, bytes)
        .unwrap()
        .save(path)
        .unwrap();
}

/// Writes images `range` whose label is in `classes` into `dir/<name of the class>/`.
fn write_pngs(dir: &Path, range: std::ops::Range<usize>, classes: &[(u8, &str)]) {
    let (im, l) = digits();
    for i in range {
        if let Some((_, name)) = classes.iter().find(|c| c.0 == l[i]) {
            std::fs::create_dir_all(dir.join(name)).unwrap();
            png(&dir.join(name).join(format!("{i:04}.png")), im.image(i));
        }
    }
}

const RECIPE: &str = r#"
description = "a small dense AE for the test"
[model]
kind = "dense"
hidden = [64]
code = 16
output = "sigmoid"
[train]
epochs = 40
batch-size = 32
loss = "mse"
optimizer = { name = "adam", lr = 2e-3 }
seed = 7
[data]
validation = 0.2
"#;

#[test]
fn recipe_file_on_png_folders_then_npy_in_and_out() {
    let dir = tmp("folders");
    let train = dir.join("train");
    write_pngs(&train, 0..700, &[(1, "one"), (7, "seven")]);
    let recipe = dir.join("small.toml");
    std::fs::write(&recipe, RECIPE).unwrap();
    let run = dir.join("run");
    let log = stdout(
        aedge()
            .args(["train", "--normal", "one", "--config"])
            .arg(&recipe)
            .arg("--data")
            .arg(&train)
            .arg("--out")
            .arg(&run),
    );
    assert!(log.contains("scaling: pixels / 255"), "{log}");
    assert!(log.contains("training small on"), "{log}");
    let model = dir.join("ones.aedge");
    stdout(
        aedge()
            .args(["export", "--normal", "one", "--checkpoint"])
            .arg(run.join("checkpoint"))
            .arg("--data")
            .arg(&train)
            .arg("-o")
            .arg(&model),
    );

    // Held-out digits as a float .npy (n, 28, 28) in pixels, labels as .npy.
    let (im, l) = digits();
    let test: Vec<usize> = (700..1000).collect();
    let x: Vec<f32> = test.iter().flat_map(|&i| im.image(i).to_vec()).collect();
    let y: Vec<f32> = test.iter().map(|&i| l[i] as f32).collect();
    let (xs, ys) = (dir.join("x.npy"), dir.join("y.npy"));
    std::fs::write(&xs, npy_bytes(&[test.len(), 28, 28], &x).unwrap()).unwrap();
    std::fs::write(&ys, npy_bytes(&[test.len()], &y).unwrap()).unwrap();
    let scores = dir.join("scores.csv");
    let json: serde_json::Value = serde_json::from_str(&stdout(
        aedge()
            .args(["score", "--json", "--normal", "1"])
            .arg(&model)
            .arg(&xs)
            .arg("--labels")
            .arg(&ys)
            .arg("-o")
            .arg(&scores),
    ))
    .unwrap();
    let auroc = json["auroc"].as_f64().unwrap();
    assert!(auroc >= 0.9, "AUROC {auroc}");
    let csv = std::fs::read_to_string(&scores).unwrap();
    assert_eq!(csv.lines().count(), test.len() + 1);
    assert!(csv.starts_with("sample,file,class,error,anomalous"));

    // Inputs of another shape than the model's.
    let small = dir.join("small.npy");
    std::fs::write(&small, npy_bytes(&[2, 20, 20], &[0.0; 800]).unwrap()).unwrap();
    let e = fails(aedge().arg("score").arg(&model).arg(&small));
    assert!(
        e.contains("small.npy") && e.contains("the model takes"),
        "{e}"
    );

    let rec = dir.join("rec.npy");
    stdout(
        aedge()
            .arg("reconstruct")
            .arg(&model)
            .arg(&xs)
            .arg("-o")
            .arg(&rec),
    );
    let r = read_array(&rec).unwrap();
    assert_eq!(r.shape, vec![test.len(), 28, 28, 1]);
    // Reconstructions are in pixels, like the inputs, and near them for a one.
    let one = test.iter().position(|&i| l[i] == 1).unwrap();
    let err: f32 = (0..784)
        .map(|j| (r.values[one * 784 + j] - x[one * 784 + j]).abs())
        .sum::<f32>()
        / 784.0;
    assert!(
        err < 40.0,
        "mean |reconstruction - input| of a one: {err} pixels"
    );
    let codes = dir.join("codes.csv");
    stdout(
        aedge()
            .arg("encode")
            .arg(&model)
            .arg(&xs)
            .arg("-o")
            .arg(&codes),
    );
    let text = std::fs::read_to_string(&codes).unwrap();
    assert_eq!(text.lines().count(), test.len());
    assert!(text.lines().all(|r| r.split(',').count() == 16));
    // The same codes as an .npz archive, array `codes`, as numpy's np.load(...)["codes"].
    let npz = dir.join("codes.npz");
    stdout(
        aedge()
            .arg("encode")
            .arg(&model)
            .arg(&xs)
            .arg("-o")
            .arg(&npz),
    );
    let z = aedge_trainer::data::npy::read_npz(&npz, Some("codes")).unwrap();
    assert_eq!(z.shape, vec![test.len(), 16]);
    let first: Vec<f32> = text
        .lines()
        .next()
        .unwrap()
        .split(',')
        .map(|v| v.parse().unwrap())
        .collect();
    assert_eq!(&z.values[..16], first.as_slice());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn mvtec_layout_trains_on_good_and_scores_the_test_folders() {
    let dir = tmp("mvtec");
    let cat = dir.join("digit");
    write_pngs(&cat.join("train"), 0..600, &[(0, "good")]);
    write_pngs(&cat.join("test"), 600..1000, &[(0, "good"), (6, "six")]);
    let recipe = dir.join("r.toml");
    std::fs::write(&recipe, RECIPE).unwrap();
    let run = dir.join("run");
    let log = stdout(
        aedge()
            .args(["train", "--config"])
            .arg(&recipe)
            .arg("--data")
            .arg(&cat)
            .arg("--out")
            .arg(&run),
    );
    assert!(log.contains("MVTec AD layout: read train/good"), "{log}");
    let model = dir.join("m.aedge");
    stdout(
        aedge()
            .arg("export")
            .arg("--checkpoint")
            .arg(run.join("checkpoint"))
            .arg("--data")
            .arg(&cat)
            .arg("-o")
            .arg(&model),
    );
    let json: serde_json::Value = serde_json::from_str(&stdout(
        aedge().args(["score", "--json"]).arg(&model).arg(&cat),
    ))
    .unwrap();
    // test/good is normal without being told; the sixes are the anomalies.
    let auroc = json["auroc"]
        .as_f64()
        .expect("an AUROC from the folder names");
    assert!(auroc > 0.8, "AUROC {auroc}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bad_inputs_get_one_line_and_nothing_written() {
    let dir = tmp("bad");
    let (im, _) = digits();
    let recipe = dir.join("r.toml");
    std::fs::write(&recipe, RECIPE).unwrap();
    let out = dir.join("run");
    let train = |data: &Path, extra: &[&str]| {
        let mut c = aedge();
        c.args(["train", "--config"])
            .arg(&recipe)
            .arg("--data")
            .arg(data)
            .arg("--out")
            .arg(&out)
            .args(extra);
        c
    };

    std::fs::create_dir_all(dir.join("empty")).unwrap();
    let e = fails(&mut train(&dir.join("empty"), &[]));
    assert!(e.contains("holds no"), "{e}");

    let mixed = dir.join("mixed");
    std::fs::create_dir_all(&mixed).unwrap();
    png(&mixed.join("a.png"), im.image(0));
    image::GrayImage::new(20, 20)
        .save(mixed.join("b.png"))
        .unwrap();
    let e = fails(&mut train(&mixed, &["--resize", "error"]));
    assert!(e.contains("b.png") && e.contains("20x20"), "{e}");

    let corrupt = dir.join("corrupt");
    std::fs::create_dir_all(&corrupt).unwrap();
    png(&corrupt.join("a.png"), im.image(0));
    std::fs::write(corrupt.join("b.png"), b"\x89PNG not really").unwrap();
    let e = fails(&mut train(&corrupt, &[]));
    assert!(e.contains("b.png"), "{e}");

    let bad_npy = dir.join("bad.npy");
    std::fs::write(&bad_npy, b"\x93NUMPY\x01\x00garbage").unwrap();
    let e = fails(&mut train(&bad_npy, &[]));
    assert!(e.contains("bad.npy"), "{e}");

    let x = dir.join("x.npy");
    std::fs::write(&x, npy_bytes(&[3, 28, 28], &[0.0; 3 * 784]).unwrap()).unwrap();
    let labels = dir.join("l.csv");
    std::fs::write(&labels, "label\n1\n7\n").unwrap();
    let e = fails(&mut train(&x, &["--labels", labels.to_str().unwrap()]));
    assert!(e.contains("2 labels for 3 samples"), "{e}");

    let e = fails(&mut train(&mixed, &["--normal", "cats"]));
    assert!(e.contains("--normal needs labels"), "{e}");

    let typo = dir.join("typo.toml");
    std::fs::write(&typo, RECIPE.replace("code = 16", "code = 16\nlayers = 3")).unwrap();
    let e = fails(
        aedge()
            .args(["train", "--config"])
            .arg(&typo)
            .arg("--data")
            .arg(&x)
            .arg("--out")
            .arg(&out),
    );
    assert!(e.contains("typo.toml:") && e.contains("layers"), "{e}");
    let e = fails(
        aedge()
            .args(["train", "--preset", "seed-dense", "--lr=-1", "--data"])
            .arg(&x)
            .arg("--out")
            .arg(&out),
    );
    assert!(e.contains("--lr"), "{e}");
    // A layer list whose decoder does not lead back to the data's shape.
    let short = dir.join("short.toml");
    std::fs::write(
        &short,
        "[model]\nkind = \"layers\"\nencoder = [{ conv = 4, kernel = 3 }, { maxpool = 2 }]\ndecoder = [{ conv = 1, kernel = 3 }]\n",
    )
    .unwrap();
    let e = fails(
        aedge()
            .args(["train", "--config"])
            .arg(&short)
            .arg("--data")
            .arg(&x)
            .arg("--out")
            .arg(&out),
    );
    assert!(e.contains("ends at 14x14x1"), "{e}");
    assert!(!out.exists(), "a failed run wrote {}", out.display());

    std::fs::remove_dir_all(&dir).unwrap();
}
