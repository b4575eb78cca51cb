//! The MCU target: the firmware with the model embedded, in QEMU's Cortex-M4F (executed
//! instructions, exact and repeatable, and Cortex-M4 cycles estimated from them by the
//! `aedge-cycles` plugin) and, when a probe is attached, on a board (DWT cycles).

use crate::mcu::cycles::{Cycles, Reads};
use crate::mcu::{self, BenchRun, Sizes};
use aedge_runtime::Precision;
use serde::Serialize;
use std::path::Path;

/// One firmware measurement.
#[derive(Clone, Debug, Serialize)]
pub struct McuRun {
    /// Where it ran: "QEMU mps2-an386 (Cortex-M4F)" or the board.
    pub target: String,
    /// Model precision.
    pub precision: String,
    /// Instructions (QEMU) or cycles (board) of one bare inference.
    pub count: u64,
    /// `"instructions"` or `"cycles"`.
    pub unit: &'static str,
    /// Multiply-accumulates of one inference.
    pub macs: u64,
    /// `count` per multiply-accumulate.
    pub per_mac: f64,
    /// QEMU: the Cortex-M4 cycles the `aedge-cycles` plugin estimates for the same inference
    /// (zero wait states), with the bounds of the manual's ranges.
    pub cycles: Option<Cycles>,
    /// The arena, bytes.
    pub arena: usize,
    /// The runtime's state besides the arena (the `Model` value), bytes.
    pub state: usize,
    /// Stack used by the inference, bytes.
    pub stack: usize,
    /// Firmware flash and static RAM (the demo's buffers included).
    pub sizes: Sizes,
    /// The same inference layer by layer (each layer's count includes walking its record).
    pub layers: Vec<LayerCost>,
}

/// One layer's share of a device inference.
#[derive(Clone, Debug, Serialize)]
pub struct LayerCost {
    /// Position in the model.
    pub index: usize,
    /// Operation, e.g. `Conv2d`.
    pub op: String,
    /// Output shape, `h×w×c`.
    pub output: String,
    /// Multiply-accumulates.
    pub macs: u64,
    /// Instructions (QEMU) or cycles (board); layer 0 includes nothing but itself (the input
    /// is already in the arena).
    pub count: u64,
    /// QEMU: the estimated Cortex-M4 cycles of the same layer.
    pub cycles: Option<u64>,
}

/// Pairs the firmware's per-layer ticks with the model's layers (and, from QEMU with the
/// cycle plugin, each with its estimated cycles).
fn layer_costs(
    bytes: &[u8],
    ticks: &[u32],
    cycles: bool,
    mut reads: Option<&mut Reads>,
) -> Result<Vec<LayerCost>, String> {
    let file = aedge_runtime::AlignedBytes::from(bytes.to_vec());
    let model = aedge_runtime::Model::parse(&file).map_err(|e| e.to_string())?;
    let infos: Vec<_> = model.layers().collect();
    if !ticks.is_empty() && ticks.len() != infos.len() {
        return Err(format!(
            "the firmware profiled {} layers of a {}-layer model",
            ticks.len(),
            infos.len()
        ));
    }
    infos
        .iter()
        .zip(ticks)
        .map(|(l, &t)| {
            let count = if cycles {
                t as u64
            } else {
                mcu::instructions(t)
            };
            let cycles = match reads.as_deref_mut() {
                Some(r) => Some(r.take(count)?.estimate),
                None => None,
            };
            Ok(LayerCost {
                index: l.index as usize,
                op: l.desc.op.name().to_string(),
                output: format!("{}×{}×{}", l.output.h, l.output.w, l.output.c),
                macs: l.macs,
                count,
                cycles,
            })
        })
        .collect()
}

fn to_run(
    target: &str,
    precision: Precision,
    b: BenchRun,
    macs: u64,
    sizes: Sizes,
    layers: Vec<LayerCost>,
    cycles: Option<Cycles>,
) -> McuRun {
    let (count, unit) = if b.unit == "cycles" {
        (b.ticks as u64, "cycles")
    } else {
        (mcu::instructions(b.ticks), "instructions")
    };
    McuRun {
        target: target.to_string(),
        precision: precision.to_string(),
        count,
        unit,
        macs,
        per_mac: count as f64 / macs.max(1) as f64,
        cycles,
        arena: b.arena,
        state: b.state,
        stack: b.stack,
        sizes,
        layers,
    }
}

/// Builds and runs the firmware for one model file in QEMU; `board` additionally runs it on
/// an attached board (feature name from [`mcu::BOARDS`]).
pub fn run(
    name: &str,
    precision: Precision,
    bytes: &[u8],
    samples: &[Vec<f32>],
    macs: u64,
    work: &Path,
    board: Option<&str>,
) -> Result<Vec<McuRun>, String> {
    // The firmware build runs in firmware/: give it absolute paths.
    let work = &std::path::absolute(work).map_err(|e| format!("{}: {e}", work.display()))?;
    let model = work.join(format!("{name}-{precision}.aedge"));
    let sample_file = work.join(format!("{name}.f32"));
    aedge_runtime::fs::write_atomic(&model, bytes).map_err(|e| e.to_string())?;
    aedge_runtime::fs::write_atomic(&sample_file, &mcu::samples_bytes(&samples[..1]))
        .map_err(|e| e.to_string())?;
    let target = mcu::target_dir();
    let kept = work.join(format!("{name}-{precision}.elf"));
    mcu::build(mcu::CHECK, &model, &sample_file, None, &target, &kept)?;
    let (raw, mut reads) = mcu::run_qemu_maybe_cycles(&kept, 300)?;
    let lines = mcu::decode(&kept, &raw)?;
    let b = mcu::parse_bench(&lines)?;
    let cycles = match reads.as_mut() {
        Some(r) => Some(r.take(mcu::instructions(b.ticks))?),
        None => None,
    };
    let layers = layer_costs(bytes, &mcu::parse_layers(&lines)?, false, reads.as_mut())?;
    let mut runs = vec![to_run(
        "QEMU mps2-an386 (Cortex-M4F)",
        precision,
        b,
        macs,
        mcu::sizes(&kept)?,
        layers,
        cycles,
    )];
    if let Some(board) = board {
        let chip = mcu::BOARDS
            .iter()
            .find(|b| b.0 == board)
            .map(|b| b.1)
            .ok_or_else(|| format!("unknown board '{board}'"))?;
        let elf = work.join(format!("{name}-{precision}-{board}.elf"));
        mcu::build(mcu::CHECK, &model, &sample_file, Some(board), &target, &elf)?;
        let lines = mcu::run_board(&elf, chip, 120, "bench run ")?;
        let b = mcu::parse_bench(&lines)?;
        let layers = layer_costs(bytes, &mcu::parse_layers(&lines)?, true, None)?;
        runs.push(to_run(
            board,
            precision,
            b,
            macs,
            mcu::sizes(&elf)?,
            layers,
            None,
        ));
    }
    Ok(runs)
}
