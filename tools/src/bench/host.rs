//! Host CPU targets: aedge-runtime in each precision, and tract-onnx on the exported ONNX as
//! the peer. Both run the bare network on preprocessed inputs (no scoring), batch 1 and 32.

use super::timing::{measure, Budget, Latency};
use aedge_runtime::{AlignedBytes, Model, Precision};
use std::hint::black_box;
use std::time::Instant;

/// Samples in the throughput measurement.
pub const BATCH: usize = 32;

/// Model-unit (preprocessed) values of raw `x`, as the runtime computes them.
fn preprocess(m: &Model, x: &[f32]) -> Result<Vec<f32>, String> {
    let mut out = vec![0.0; x.len()];
    m.preprocess(x, &mut out).map_err(|e| e.to_string())?;
    Ok(out)
}

/// The bytes `Model::input_mut` expects for one sample.
fn input_bytes(m: &Model, x: &[f32]) -> Result<Vec<u8>, String> {
    let pre = preprocess(m, x)?;
    Ok(match m.precision() {
        Precision::Int8 => {
            let q = m.input_quant();
            pre.iter().map(|&v| q.quantize(v) as u8).collect()
        }
        _ => pre.iter().flat_map(|v| v.to_ne_bytes()).collect(),
    })
}

/// What [`runtime`] measures.
pub struct Runtime {
    /// Batch-1 latency.
    pub single: Latency,
    /// Time of a batch of 32.
    pub batch: Latency,
    /// Median batch-1 time of each layer, microseconds.
    pub layers_us: Vec<f64>,
}

/// Batch-1 latency, batch-32 time and per-layer times of aedge-runtime on one `.aedge` file.
/// A batch is 32 inferences one after the other (the runtime is built for batch 1).
pub fn runtime(bytes: &[u8], samples: &[Vec<f32>], budget: Budget) -> Result<Runtime, String> {
    let file = AlignedBytes::from(bytes.to_vec());
    let m = Model::parse(&file).map_err(|e| e.to_string())?;
    let mut arena = AlignedBytes::zeroed(m.arena_len());
    let inputs: Vec<Vec<u8>> = samples
        .iter()
        .map(|x| input_bytes(&m, x))
        .collect::<Result<_, _>>()?;
    let mut k = 0;
    let mut one = |arena: &mut [u8]| -> Result<(), String> {
        let x = &inputs[k % inputs.len()];
        k += 1;
        m.input_mut(arena)
            .map_err(|e| e.to_string())?
            .copy_from_slice(x);
        black_box(m.run(arena).map_err(|e| e.to_string())?);
        Ok(())
    };
    let single = measure(budget, || one(&mut arena))?;
    let batch = measure(budget, || {
        for _ in 0..BATCH {
            one(&mut arena)?;
        }
        Ok(())
    })?;
    let layers_us = layer_times(&m, &inputs, &mut arena, budget)?;
    Ok(Runtime {
        single,
        batch,
        layers_us,
    })
}

/// The median time of each layer over batch-1 runs: the clock is read in
/// `Model::run_traced`'s per-layer callback, so each layer's time runs from the previous
/// layer's output to its own (about 20 ns of clock reading each, included).
fn layer_times(
    m: &Model,
    inputs: &[Vec<u8>],
    arena: &mut [u8],
    budget: Budget,
) -> Result<Vec<f64>, String> {
    let n = m.layers().count();
    let mut per: Vec<Vec<f64>> = vec![Vec::new(); n];
    let start = Instant::now();
    let mut k = 0;
    while k < budget.max_runs && (k < budget.min_runs || start.elapsed() < budget.time) {
        m.input_mut(arena)
            .map_err(|e| e.to_string())?
            .copy_from_slice(&inputs[k % inputs.len()]);
        let mut last = Instant::now();
        m.run_traced(arena, &mut |i, _| {
            let now = Instant::now();
            if let Some(t) = per.get_mut(i) {
                t.push((now - last).as_secs_f64() * 1e6);
            }
            last = now;
        })
        .map_err(|e| e.to_string())?;
        k += 1;
    }
    Ok(per
        .iter_mut()
        .map(|t| {
            t.sort_by(f64::total_cmp);
            aedge_runtime::metrics::percentile(t, 50.0).unwrap_or(f64::NAN)
        })
        .collect())
}

/// Batch-1 latency and batch-32 time of tract-onnx (optimized plan) on the ONNX file.
/// Batch 32 is `None` when the graph has a fixed batch size of 1.
pub fn tract(
    onnx_bytes: &[u8],
    samples: &[Vec<f32>],
    f32_model: &[u8],
    budget: Budget,
) -> Result<(Latency, Option<Latency>), String> {
    use aedge_convert::tract::Runner;
    let file = AlignedBytes::from(f32_model.to_vec());
    let m = Model::parse(&file).map_err(|e| e.to_string())?;
    let dims = aedge_convert::onnx::input_dims(onnx_bytes).map_err(|e| e.to_string())?;
    let with_batch = |batch: usize| {
        let mut d = dims.clone();
        d[0] = batch;
        d
    };
    // The input is built once; each timed run clones only a reference-counted handle, so
    // tract is not charged for copying it.
    let input = |r: &Runner, batch: usize| {
        let mut data = Vec::new();
        for i in 0..batch {
            let x = preprocess(&m, &samples[i % samples.len()])?;
            data.extend(aedge_convert::onnx::to_onnx_order(&dims, &x));
        }
        r.input(data)
    };
    let p1 = Runner::optimized(onnx_bytes, &with_batch(1))?;
    let x1 = input(&p1, 1)?;
    let single = measure(budget, || {
        black_box(p1.run_input(&x1)?);
        Ok(())
    })?;
    let batch = match Runner::optimized(onnx_bytes, &with_batch(BATCH)) {
        Ok(p) => {
            let xb = input(&p, BATCH)?;
            Some(measure(budget, || {
                black_box(p.run_input(&xb)?);
                Ok(())
            })?)
        }
        Err(_) => None,
    };
    Ok((single, batch))
}
