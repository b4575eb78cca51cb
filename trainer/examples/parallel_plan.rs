//! On paper: what data-parallel training (`aedge train --devices`) can give on N GPUs for the
//! presets, from their parameter counts and multiply-accumulates. A step on N devices costs
//! compute `6 · MACs · batch / N / FLOP rate` (forward 2 FLOPs a MAC, backward about twice
//! the forward) plus moving the model to each other device and its gradients back, through
//! the host: `2 · (N − 1) · params · 4` bytes over the main device's link, plus a fixed
//! latency per step. NCCL's ring all-reduce (burn's DDP, CUDA only) would move
//! `2 · (N − 1)/N · params · 4` bytes per device instead. The machine is an assumption, given
//! on the command line; nothing here is measured.
//!
//! `cargo run --release -p aedge-trainer --example parallel_plan -- [TFLOPS] [GB/S] [LATENCY_US]`
//! (defaults: 10 TFLOP/s sustained, 16 GB/s host link, 100 µs per step for launches and
//! synchronisation).

use aedge_runtime::{Model, Precision};
use aedge_trainer::data::Dataset;
use aedge_trainer::export::to_graph;
use aedge_trainer::presets::preset;
use burn::module::Module;
use burn::tensor::Device;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<f64> = std::env::args()
        .skip(1)
        .map(|a| a.parse::<f64>())
        .collect::<Result<_, _>>()?;
    let tflops = args.first().copied().unwrap_or(10.0);
    let gbs = args.get(1).copied().unwrap_or(16.0);
    let latency = args.get(2).copied().unwrap_or(100.0) * 1e-6;
    println!(
        "assumed: {tflops} TFLOP/s sustained per GPU, {gbs} GB/s host link, {:.0} µs fixed per step\n",
        latency * 1e6
    );
    println!("| preset | params | MACs/sample | batch | compute/step, 1 GPU | bytes/step/extra GPU | 2 GPUs | 4 GPUs | 8 GPUs | batch where 2 GPUs give 1.5× |");
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    let presets = [
        ("seed-dense", [28, 28, 1]),
        ("keras-deep", [28, 28, 1]),
        ("keras-conv", [28, 28, 1]),
        ("keras-denoise", [28, 28, 1]),
        ("mlperf-ad", [1, 1, 640]),
    ];
    for (name, input) in presets {
        let (spec, cfg) = preset(name, input)?;
        let model = spec.build(&Device::flex())?;
        let params = model.num_params() as f64;
        let data = Dataset {
            shape: input,
            x: Vec::new(),
            labels: None,
            scale: vec![1.0],
            offset: vec![0.0],
        };
        let graph = to_graph(name, &model, &spec, &data, Default::default())?;
        let bytes = graph.to_aedge(Precision::F32).map_err(|e| e.to_string())?;
        let macs = Model::parse(&bytes).map_err(|e| e.to_string())?.macs() as f64;
        let batch = cfg.batch_size as f64;
        // Seconds of one step on n GPUs at batch b.
        let step = |n: f64, b: f64| {
            let compute = 6.0 * macs * b / n / (tflops * 1e12);
            let moved = 2.0 * (n - 1.0) * params * 4.0 / (gbs * 1e9);
            compute + moved + latency
        };
        let speedup = |n: f64| step(1.0, batch) / step(n, batch);
        // The batch from which two GPUs beat one by 1.5×, if any below 2^20.
        let breakeven = (0..=20)
            .map(|p| (1u64 << p) as f64)
            .find(|&b| step(1.0, b) / step(2.0, b) >= 1.5)
            .map_or("–".to_string(), |b| format!("{b}"));
        println!(
            "| {name} | {params:.0} | {macs:.0} | {batch} | {:.1} µs | {:.0} KB | {:.2}× | {:.2}× | {:.2}× | {breakeven} |",
            6.0 * macs * batch / (tflops * 1e12) * 1e6,
            2.0 * params * 4.0 / 1e3,
            speedup(2.0),
            speedup(4.0),
            speedup(8.0),
        );
    }
    Ok(())
}
