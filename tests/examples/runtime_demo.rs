//! The main job until the `aedge` CLI lands: builds the reference autoencoders (random
//! weights), exports each as f32, f16 and int8 `.aedge` files into `runs/demo/`, runs them on
//! the bundled MNIST digits, and prints sizes, arena, host latency and f16/int8 parity.
//!
//! `cargo run --release -p aedge-tests --example runtime_demo`

use aedge_runtime::{fs, zoo, AlignedBytes, Model, Precision};
use aedge_tests::{export_all, mnist_sample, psnr, reconstruct, repo_root};
use std::time::Instant;

fn median_us(m: &Model, x: &[f32], runs: usize) -> (f64, f64) {
    let mut arena = AlignedBytes::zeroed(m.arena_len());
    let mut y = vec![0.0; m.output_shape().len()];
    let mut t = Vec::with_capacity(runs);
    for _ in 0..runs {
        let s = Instant::now();
        m.reconstruct(x, &mut y, &mut arena).expect("inference");
        t.push(s.elapsed().as_secs_f64() * 1e6);
    }
    t.sort_by(f64::total_cmp);
    (t[runs / 2], t[runs * 95 / 100])
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let images = mnist_sample()?;
    let out = repo_root().join("runs/demo");
    std::fs::create_dir_all(&out)?;
    let mnist: Vec<&[f32]> = (0..images.count).map(|i| images.image(i)).collect();
    let (calib, test) = (&mnist[..100], &mnist[900..1000]);
    let mut rng = aedge_runtime::rng::SplitMix(7);
    let vectors: Vec<Vec<f32>> = (0..200).map(|_| rng.vec(640, -1.0, 1.0)).collect();
    let vec_refs: Vec<&[f32]> = vectors.iter().map(|v| v.as_slice()).collect();

    println!(
        "aedge-runtime demo: reference autoencoders (random weights), {} MNIST digits from data/",
        images.count
    );
    println!("models written to {}\n", out.display());
    println!(
        "| model | precision | file B | weights B | arena B | MACs | median µs | p95 µs | PSNR vs f32 dB |"
    );
    println!("|---|---|---:|---:|---:|---:|---:|---:|---:|");
    let models = [
        (zoo::mnist_dense(32, 1), calib, test),
        (zoo::conv_transpose(1), calib, test),
        (zoo::keras_conv(1), calib, test),
        (zoo::mlperf_ad(1), &vec_refs[..100], &vec_refs[100..]),
    ];
    for (g, calib, test) in models {
        let files = export_all(&g, calib.iter().copied())?;
        let mut reference: Vec<Vec<f32>> = Vec::new();
        for (p, bytes) in files {
            let path = out.join(format!("{}-{p}.aedge", g.name));
            fs::write_atomic(&path, &bytes)?;
            let bytes = AlignedBytes::from(bytes);
            let m = Model::parse(&bytes)?;
            let outputs: Vec<Vec<f32>> = test
                .iter()
                .map(|x| reconstruct(&m, x))
                .collect::<Result<_, _>>()?;
            let parity = if p == Precision::F32 {
                reference = outputs;
                "reference".to_string()
            } else {
                let peak = if g.name == "mlperf-ad" { 2.0 } else { 1.0 };
                let worst = reference
                    .iter()
                    .zip(&outputs)
                    .map(|(a, b)| psnr(a, b, peak))
                    .fold(f64::INFINITY, f64::min);
                format!("{worst:.1} (worst of {})", test.len())
            };
            let (med, p95) = median_us(&m, test[0], 200);
            println!(
                "| {} | {p} | {} | {} | {} | {} | {med:.1} | {p95:.1} | {parity} |",
                g.name,
                m.file_len(),
                m.weights_len(),
                m.arena_len(),
                m.macs()
            );
        }
    }
    println!("\nLatency is batch-1 `reconstruct` on this machine's CPU; PSNR compares each precision's reconstructions with f32 (peak 1 for images, 2 for the ±1 vectors).");
    Ok(())
}
