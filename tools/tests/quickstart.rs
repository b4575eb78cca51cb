//! `aedge quickstart` end to end (few epochs, to stay quick): its int8 models validated on
//! QEMU's Cortex-M4 (`aedge validate`), and its report page opened in a real headless browser
//! (Debian's chromium): it renders, and logs no console errors.

use assert_cmd::Command;
use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn chromium() -> PathBuf {
    for b in ["chromium", "chromium-browser"] {
        for dir in std::env::var("PATH").unwrap_or_default().split(':') {
            let p = Path::new(dir).join(b);
            if p.exists() {
                return p;
            }
        }
    }
    panic!("chromium not found: run scripts/install-chromium.sh (scripts/test.sh does)");
}

#[test]
fn quickstart_writes_models_and_a_report_that_renders() {
    let out = repo().join("target/quickstart-test");
    let _ = std::fs::remove_dir_all(&out);
    let run = Command::cargo_bin("aedge")
        .unwrap()
        .args(["quickstart", "--quiet", "--json", "--epochs", "2", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
    for k in ["noisy", "median3", "ae_f32", "ae_int8"] {
        assert!(json["denoising_psnr_db"][k].as_f64().unwrap() > 5.0, "{k}");
    }
    assert_eq!(json["anomaly_auroc"].as_array().unwrap().len(), 2);
    for f in [
        "denoiser-f32.aedge",
        "denoiser-int8.aedge",
        "anomaly-int8.aedge",
        "anomaly.onnx",
        "anomaly-encoder.onnx",
        "denoiser-decoder.onnx",
        "denoising.png",
        "report.html",
    ] {
        assert!(out.join(f).exists(), "{f} missing");
    }
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    for needle in [
        "3×3 median filter",
        "AUROC",
        "arena B",
        "median µs",
        "Produced by <code>aedge quickstart --quiet --json --epochs 2",
        "data:image/png;base64,",
    ] {
        assert!(html.contains(needle), "report lacks {needle}");
    }

    // Its int8 models compute on the Cortex-M4 (QEMU) what they compute here, bit for bit.
    for m in ["denoiser-int8.aedge", "anomaly-int8.aedge"] {
        let v = Command::cargo_bin("aedge")
            .unwrap()
            .args(["validate", "--json", "--count", "2", "--inputs"])
            .arg(repo().join("data/mnist-sample/t1k-images-idx3-ubyte.gz"))
            .arg("--work")
            .arg(out.join("validate"))
            .arg(out.join(m))
            .output()
            .unwrap();
        assert!(
            v.status.success(),
            "{m}: {}",
            String::from_utf8_lossy(&v.stderr)
        );
        let json: serde_json::Value = serde_json::from_slice(&v.stdout).unwrap();
        assert_eq!(json["bit_exact"], true, "{m}");
        assert_eq!(json["verdicts_agree"], 2, "{m}");
    }

    // Render it headless; console messages go to stderr with verbose logging.
    let shot = out.join("report.png");
    let profile = out.join("chromium-profile");
    let page = format!(
        "file://{}",
        out.join("report.html").canonicalize().unwrap().display()
    );
    let r = std::process::Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--enable-logging=stderr",
            "--v=0",
            "--window-size=1200,1800",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("--screenshot={}", shot.display()))
        .arg(&page)
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&r.stderr);
    assert!(r.status.success(), "chromium failed: {log}");
    let console: Vec<&str> = log.lines().filter(|l| l.contains("CONSOLE")).collect();
    assert!(console.is_empty(), "console messages: {console:?}");
    let png = image::open(&shot).unwrap().to_rgb8();
    assert_eq!(png.width(), 1200);
    // Not a blank page: the tables and the figure put dark pixels on it.
    let dark = png
        .pixels()
        .filter(|p| p.0.iter().all(|&c| c < 100))
        .count();
    assert!(
        dark > 5_000,
        "the screenshot looks blank ({dark} dark pixels)"
    );
}

#[test]
fn an_installed_binary_needs_no_checkout_for_the_quickstart() {
    // The binary copied elsewhere and run from an empty directory: the sample it trains on
    // is compiled in.
    let root = std::env::temp_dir().join(format!("aedge-installed-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(root.join("bin")).unwrap();
    std::fs::create_dir_all(root.join("work")).unwrap();
    let bin = root.join("bin/aedge");
    std::fs::copy(assert_cmd::cargo::cargo_bin("aedge"), &bin).unwrap();
    let run = Command::new(&bin)
        .current_dir(root.join("work"))
        .args(["quickstart", "--quiet", "--json", "--epochs", "1"])
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(root.join("work/runs/quickstart/report.html").exists());

    // The MCU target alone fails, saying where it looked for the firmware and how to point
    // at it; nothing is written.
    let bench = Command::new(&bin)
        .current_dir(root.join("work"))
        .env("AEDGE_FIRMWARE_DIR", root.join("nowhere"))
        .args([
            "bench",
            "--json",
            "--targets",
            "mcu",
            "--reference",
            "seed-dense",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&bench.stderr);
    assert_eq!(bench.status.code(), Some(1), "{text}");
    assert!(
        text.contains("nowhere")
            && text.contains("AEDGE_FIRMWARE_DIR")
            && text.lines().count() == 1,
        "{text}"
    );
    assert!(!root.join("work/runs/bench").exists());
    std::fs::remove_dir_all(&root).unwrap();
}
