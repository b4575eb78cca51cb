//! The GPU target: the same burn model on burn-wgpu (Vulkan, Metal or DX12), batch 1 and 32.
//! Each timed call includes reading the result back, so the GPU work is finished.

use super::host::BATCH;
use super::timing::{measure, Budget, Latency};
use aedge_trainer::model::AutoEncoder;
use burn::module::Module;
use burn::tensor::{Tensor, TensorData};
use std::hint::black_box;

/// What the GPU run measured, and on which adapter.
pub struct GpuRun {
    /// The adapter, e.g. "llvmpipe (LLVM 19.1.7, 256 bits), Vulkan, Cpu".
    pub adapter: String,
    /// Whether it is a software rasteriser on the CPU (Mesa's lavapipe and the like).
    pub software: bool,
    /// Batch-1 latency.
    pub single: Latency,
    /// Time of one batch of 32.
    pub batch: Latency,
}

/// Runs the model on GPU adapter `adapter` (`wgpu:N`; 0 is the best one). `samples` are
/// model-unit inputs.
pub fn run(
    model: &AutoEncoder,
    samples: &[Vec<f32>],
    budget: Budget,
    adapter: usize,
) -> Result<GpuRun, String> {
    let (dev, a) = aedge_trainer::device::gpu_device(adapter)?;
    let (adapter, software) = (a.name, a.software);
    let m = model.clone().valid().to_device(&dev);
    let d = samples.first().map_or(0, Vec::len);
    let input = |n: usize| {
        let flat: Vec<f32> = (0..n)
            .flat_map(|i| samples[i % samples.len()].iter().copied())
            .collect();
        Tensor::<2>::from_data(TensorData::new(flat, [n, d]), &dev)
    };
    let time = |n: usize| {
        let x = input(n);
        measure(budget, || {
            let y = m.reconstruct(x.clone()).into_data();
            black_box(y);
            Ok(())
        })
    };
    let single = time(1)?;
    let batch = time(BATCH)?;
    Ok(GpuRun {
        adapter,
        software,
        single,
        batch,
    })
}
