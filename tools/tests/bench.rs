//! `aedge bench` end to end on the host targets (the GPU and MCU targets have their own
//! tests: trainer/tests/gpu.rs and tests/tests/firmware.rs, which run the same code paths).

use assert_cmd::Command;
use std::path::{Path, PathBuf};

fn out_dir(name: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../target/bench-tests")
        .join(name);
    let _ = std::fs::remove_dir_all(&d);
    d
}

#[test]
fn bench_writes_markdown_json_and_chart_with_tract_ratios() {
    let out = out_dir("host");
    let run = Command::cargo_bin("aedge")
        .unwrap()
        .args(["bench", "--reference", "seed-dense", "--targets", "cpu"])
        .args([
            "--seconds",
            "0.05",
            "--min-runs",
            "5",
            "--quiet",
            "--isa",
            "portable",
        ])
        .arg("-o")
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("bench.json")).unwrap()).unwrap();
    // The report says which kernels ran: the portable ones, as --isa asked.
    let kernels = json["kernels"].as_str().unwrap();
    assert!(kernels.starts_with("portable"), "{kernels}");
    let m = &json["models"][0];
    assert_eq!(m["model"], "seed-dense");
    assert_eq!(m["macs"], 784 * 36 * 2);
    let rows = m["rows"].as_array().unwrap();
    let engines: Vec<String> = rows
        .iter()
        .map(|r| {
            format!(
                "{} {}",
                r["engine"].as_str().unwrap(),
                r["precision"].as_str().unwrap()
            )
        })
        .collect();
    for want in [
        "tract-onnx f32",
        "aedge-runtime f32",
        "aedge-runtime f16",
        "aedge-runtime int8",
    ] {
        assert!(
            engines.iter().any(|e| e == want),
            "{want} missing from {engines:?}"
        );
    }
    for r in rows {
        let b1 = &r["batch1"];
        let (median, p95) = (
            b1["median_us"].as_f64().unwrap(),
            b1["p95_us"].as_f64().unwrap(),
        );
        assert!(median > 0.0 && p95 >= median, "{r}");
        assert!(b1["runs"].as_u64().unwrap() >= 5);
        // The ratio is tract's median over this row's median.
        let tract = rows.iter().find(|x| x["engine"] == "tract-onnx").unwrap();
        let want = tract["batch1"]["median_us"].as_f64().unwrap() / median;
        assert!((r["vs_tract"].as_f64().unwrap() - want).abs() < 1e-9);
    }
    // Per-layer host times: one per layer of the model (784-36-784: two dense layers and the
    // reshape back to 28×28) for every aedge-runtime row, positive, and not more than twice
    // the whole inference's p95.
    let layers = m["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 3, "{layers:?}");
    assert_eq!(layers[0]["op"], "Dense");
    assert_eq!(layers[0]["macs"], 784 * 36);
    for r in rows.iter().filter(|r| r["engine"] == "aedge-runtime") {
        let t: Vec<f64> = r["layers_us"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        assert_eq!(t.len(), 3, "{r}");
        let whole = r["batch1"]["p95_us"].as_f64().unwrap();
        assert!(
            t.iter().all(|&v| v > 0.0 && v <= whole * 2.0),
            "{t:?} vs {whole}"
        );
    }
    let md = std::fs::read_to_string(out.join("bench.md")).unwrap();
    assert!(md.contains("Per layer on the CPU"), "{md}");
    assert!(md.contains("than tract-onnx at batch 1"), "{md}");
    assert!(md.contains("aedge kernels: portable"), "{md}");
    let png = image::open(out.join("bench.png")).unwrap();
    assert!(png.width() > 400 && png.height() > 100);
}

#[test]
fn bench_rejects_bad_arguments() {
    let out = out_dir("bad");
    for args in [
        vec!["--reference", "no-such-model"],
        vec!["--seconds=-1"],
        vec!["--seconds", "0"],
        vec!["--board", "no-such-board"],
    ] {
        let run = Command::cargo_bin("aedge")
            .unwrap()
            .arg("bench")
            .args(&args)
            .args(["--targets", "cpu", "-o"])
            .arg(&out)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&run.stderr);
        assert_eq!(run.status.code(), Some(1), "{args:?}: {err}");
        assert!(
            err.starts_with("error: ") && !err.contains("panicked"),
            "{err}"
        );
    }
    let missing = Command::cargo_bin("aedge")
        .unwrap()
        .args([
            "bench",
            "/nonexistent/model.aedge",
            "--targets",
            "cpu",
            "-o",
        ])
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(1));
}

/// A level of another architecture is one line naming this one's levels, and nothing written.
#[test]
fn bench_refuses_another_architectures_level() {
    let out = out_dir("other-isa");
    let other = if cfg!(target_arch = "aarch64") {
        "avx2"
    } else {
        "neon"
    };
    let run = Command::cargo_bin("aedge")
        .unwrap()
        .args(["bench", "--reference", "seed-dense", "--targets", "cpu"])
        .args(["--isa", other, "-o"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(!run.status.success());
    let err = String::from_utf8_lossy(&run.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(
        err.contains(&format!("--isa {other} is not a level")) && err.contains("portable"),
        "{err}"
    );
    assert!(!out.exists(), "{} was written", out.display());
}
