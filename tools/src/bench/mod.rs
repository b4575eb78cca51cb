//! `aedge bench`: the same model measured on every target in one run — aedge-runtime on the
//! host CPU in f32, f16 and int8, tract-onnx on the exported ONNX as the peer, burn on the
//! wgpu GPU, and the firmware on a Cortex-M4F (QEMU, or a board through probe-rs) — written as
//! a markdown table, JSON and a PNG chart.

pub mod gpu;
pub mod host;
pub mod mcu;
pub mod report;
pub mod subject;
pub mod timing;

use aedge_runtime::Precision;
use serde::Serialize;
use std::path::Path;
pub use subject::Subject;
use timing::{Budget, Latency};

/// Which targets to run.
#[derive(Clone, Debug)]
pub struct Targets {
    /// aedge-runtime and tract on this CPU.
    pub host: bool,
    /// burn on wgpu.
    pub gpu: bool,
    /// The GPU adapter for `gpu` (`wgpu:N`; 0 is the best one).
    pub gpu_adapter: usize,
    /// The firmware in QEMU.
    pub mcu: bool,
    /// Also on this attached board (a feature of `firmware/`).
    pub board: Option<String>,
}

/// One host or GPU measurement.
#[derive(Clone, Debug, Serialize)]
pub struct Row {
    /// "CPU" or "GPU".
    pub target: String,
    /// The engine: "aedge-runtime", "tract-onnx", "burn-wgpu".
    pub engine: String,
    /// Number format.
    pub precision: String,
    /// Batch-1 latency.
    pub batch1: Latency,
    /// Samples per second at batch 32, if measured.
    pub batch32_per_s: Option<f64>,
    /// Batch-1 speed-up over tract (tract's median / this median).
    pub vs_tract: Option<f64>,
    /// aedge-runtime: the median batch-1 time of each layer (of [`ModelReport::layers`]),
    /// microseconds.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub layers_us: Vec<f64>,
}

/// One layer of the model, as the per-layer host times list it.
#[derive(Clone, Debug, Serialize)]
pub struct LayerShape {
    /// Operation, e.g. `Conv2d`.
    pub op: String,
    /// Output shape, `h×w×c`.
    pub output: String,
    /// Multiply-accumulates.
    pub macs: u64,
}

/// Everything measured for one model.
#[derive(Clone, Debug, Serialize)]
pub struct ModelReport {
    /// Model name.
    pub model: String,
    /// Where the weights come from.
    pub origin: String,
    /// Multiply-accumulates per inference.
    pub macs: u64,
    /// Host and GPU rows.
    pub rows: Vec<Row>,
    /// The model's layers (the f32 file's), for the rows' per-layer times.
    pub layers: Vec<LayerShape>,
    /// The GPU adapter, if the GPU ran.
    pub gpu_adapter: Option<String>,
    /// Firmware rows.
    pub mcu: Vec<mcu::McuRun>,
    /// Targets that were skipped or failed, with the reason.
    pub notes: Vec<String>,
}

/// The whole benchmark.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// This machine's CPU, as the OS names it.
    pub cpu: String,
    /// The instruction-set level aedge's host kernels ran at.
    pub kernels: String,
    /// Logical CPUs.
    pub threads: usize,
    /// Per model.
    pub models: Vec<ModelReport>,
}

/// This machine's CPU model name (Linux), else the architecture.
pub fn cpu_name() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| std::env::consts::ARCH.to_string())
}

fn per_second(batch: &Latency) -> f64 {
    host::BATCH as f64 / (batch.median_us * 1e-6)
}

/// Measures one subject on the chosen targets. Failures of one target become notes; the
/// others still run. `log` receives progress lines.
pub fn run(
    s: &Subject,
    targets: &Targets,
    budget: Budget,
    work: &Path,
    log: &mut dyn FnMut(&str),
) -> ModelReport {
    let mut r = ModelReport {
        model: s.name.clone(),
        origin: s.origin.clone(),
        macs: s.macs,
        rows: Vec::new(),
        layers: f32_layers(s),
        gpu_adapter: None,
        mcu: Vec::new(),
        notes: Vec::new(),
    };
    let f32_file = s.files.iter().find(|f| f.0 == Precision::F32).map(|f| &f.1);
    if targets.host {
        let mut tract_median = None;
        match (&s.onnx, f32_file) {
            (Some(onnx), Some(f)) => {
                log(&format!("{}: tract-onnx", s.name));
                match host::tract(onnx, &s.samples, f, budget) {
                    Ok((single, batch)) => {
                        tract_median = Some(single.median_us);
                        if batch.is_none() {
                            r.notes.push(
                                "tract batch 32: the ONNX graph has a fixed batch of 1".into(),
                            );
                        }
                        r.rows.push(Row {
                            target: "CPU".into(),
                            engine: "tract-onnx".into(),
                            precision: "f32".into(),
                            batch1: single,
                            batch32_per_s: batch.as_ref().map(per_second),
                            vs_tract: Some(1.0),
                            layers_us: Vec::new(),
                        });
                    }
                    Err(e) => r.notes.push(format!("tract-onnx failed: {e}")),
                }
            }
            _ => r.notes.push(
                "tract-onnx: no ONNX file for this model (bench a reference model or a checkpoint)"
                    .into(),
            ),
        }
        for (p, bytes) in &s.files {
            log(&format!("{}: aedge-runtime {p}", s.name));
            match host::runtime(bytes, &s.samples, budget) {
                Ok(t) => r.rows.push(Row {
                    target: "CPU".into(),
                    engine: "aedge-runtime".into(),
                    precision: p.to_string(),
                    vs_tract: tract_median.map(|m| m / t.single.median_us),
                    batch1: t.single,
                    batch32_per_s: Some(per_second(&t.batch)),
                    layers_us: t.layers_us,
                }),
                Err(e) => r.notes.push(format!("aedge-runtime {p} failed: {e}")),
            }
        }
    }
    if targets.gpu {
        match (&s.burn, f32_file) {
            (Some(model), Some(f)) => {
                log(&format!("{}: burn-wgpu", s.name));
                match model_units(f, &s.samples).and_then(|pre| gpu::run(model, &pre, budget, targets.gpu_adapter)) {
                    Ok(g) => {
                        let what = if g.software {
                            format!("{} — a software renderer on the CPU, not a GPU", g.adapter)
                        } else {
                            g.adapter.clone()
                        };
                        r.gpu_adapter = Some(what);
                        let tract = r.rows.iter().find(|x| x.engine == "tract-onnx");
                        r.rows.push(Row {
                            target: if g.software { "GPU (software)".into() } else { "GPU".into() },
                            engine: "burn-wgpu".into(),
                            precision: "f32".into(),
                            vs_tract: tract.map(|t| t.batch1.median_us / g.single.median_us),
                            layers_us: Vec::new(),
                            batch1: g.single,
                            batch32_per_s: Some(per_second(&g.batch)),
                        });
                    }
                    Err(e) => r.notes.push(format!("GPU skipped: {e}")),
                }
            }
            _ => r.notes.push("GPU: no burn model for a bare .aedge file (bench a reference model or a checkpoint)".into()),
        }
    }
    if targets.mcu {
        for (p, bytes) in &s.files {
            if *p == Precision::F16 {
                continue; // f16 computes in f32 on the M4F; its weights only save flash
            }
            log(&format!("{}: firmware {p} in QEMU", s.name));
            match mcu::run(
                &s.name,
                *p,
                bytes,
                &s.samples,
                s.macs,
                work,
                targets.board.as_deref(),
            ) {
                Ok(runs) => r.mcu.extend(runs),
                Err(e) => r.notes.push(format!("MCU {p} failed: {}", brief(&e))),
            }
        }
        if targets.board.is_none() {
            match crate::mcu::probes() {
                Ok(p) if !p.is_empty() => r.notes.push(format!(
                    "a debug probe is attached ({}); pass --board to measure cycles on it",
                    p.join("; ")
                )),
                Ok(_) => r.notes.push("no board: no debug probe attached".into()),
                Err(e) => r.notes.push(format!("no board: {e}")),
            }
        }
    }
    r
}

/// The layers of the subject's f32 file (every precision has the same layers), or none.
fn f32_layers(s: &Subject) -> Vec<LayerShape> {
    let Some((_, f)) = s.files.iter().find(|f| f.0 == Precision::F32) else {
        return Vec::new();
    };
    let file = aedge_runtime::AlignedBytes::from(f.clone());
    let Ok(m) = aedge_runtime::Model::parse(&file) else {
        return Vec::new();
    };
    m.layers()
        .map(|l| LayerShape {
            op: l.desc.op.name().to_string(),
            output: format!("{}×{}×{}", l.output.h, l.output.w, l.output.c),
            macs: l.macs,
        })
        .collect()
}

/// The first line and the last error line of a long message (a failed build's output).
fn brief(e: &str) -> String {
    let lines: Vec<&str> = e.lines().filter(|l| !l.trim().is_empty()).collect();
    match (
        lines.first(),
        lines.iter().rev().find(|l| l.contains("error")),
    ) {
        (Some(first), Some(last)) if lines.len() > 2 && first != last => {
            format!("{} … {}", first.trim(), last.trim())
        }
        _ => lines.join(" "),
    }
}

/// Preprocessed values of raw samples (what the burn model takes).
fn model_units(f32_file: &[u8], samples: &[Vec<f32>]) -> Result<Vec<Vec<f32>>, String> {
    let file = aedge_runtime::AlignedBytes::from(f32_file.to_vec());
    let m = aedge_runtime::Model::parse(&file).map_err(|e| e.to_string())?;
    samples
        .iter()
        .map(|x| {
            let mut out = vec![0.0; x.len()];
            m.preprocess(x, &mut out).map_err(|e| e.to_string())?;
            Ok(out)
        })
        .collect()
}
