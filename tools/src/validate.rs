//! `aedge validate`: one model on a target and on this host, input by input and layer by
//! layer. int8 models must match bit for bit; f32 and f16 ones are reported by their largest
//! difference. The device side is the firmware's validate demo, built and run by the same
//! machinery as the bench ([`crate::mcu`]).

use crate::mcu::cycles::{Cycles, Reads};
use crate::mcu::{self, Sizes};
use aedge_runtime::{Activations, AlignedBytes, Model, Precision};
use serde::Serialize;
use std::path::Path;

/// Where the model runs to be compared with this host.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// This host with every kernel capped at the portable level: the host's fastest
    /// kernels (AVX2, VNNI, AVX-512) checked against the code path every target shares.
    Host,
    /// The firmware on QEMU's mps2-an386 (Cortex-M4F): instruction counts.
    Qemu,
    /// The firmware on an attached board through probe-rs: cycle counts.
    Board {
        /// The firmware's board feature.
        feature: &'static str,
        /// probe-rs's chip name.
        chip: &'static str,
    },
}

impl Target {
    /// `host`, `qemu` or a board of [`mcu::BOARDS`].
    pub fn parse(s: &str) -> Result<Target, String> {
        match s {
            "host" => Ok(Target::Host),
            "qemu" => Ok(Target::Qemu),
            _ => mcu::BOARDS
                .iter()
                .find(|b| b.0 == s)
                .map(|&(feature, chip)| Target::Board { feature, chip })
                .ok_or_else(|| {
                    let boards: Vec<&str> = mcu::BOARDS.iter().map(|b| b.0).collect();
                    format!(
                        "unknown target '{s}': use host, qemu or a board ({})",
                        boards.join(", ")
                    )
                }),
        }
    }

    /// How reports name it.
    pub fn describe(&self) -> String {
        match self {
            Target::Host => "this host, portable kernels".into(),
            Target::Qemu => "QEMU mps2-an386 (Cortex-M4F)".into(),
            Target::Board { feature, .. } => (*feature).into(),
        }
    }
}

/// One layer's output on the target against the host's.
#[derive(Clone, Debug, Serialize)]
pub struct LayerCheck {
    /// Position in the model.
    pub index: usize,
    /// Operation, e.g. `Conv2d`.
    pub op: String,
    /// Output values.
    pub values: usize,
    /// Values that differ in any bit.
    pub differing: usize,
    /// Largest absolute difference: in quantization steps for int8, in model units for f32
    /// and f16.
    pub max_diff: f64,
}

/// One input on the target against the host.
#[derive(Clone, Debug, Serialize)]
pub struct InputCheck {
    /// Position in the inputs.
    pub index: usize,
    /// Every layer, in order.
    pub layers: Vec<LayerCheck>,
    /// The anomaly score on the host.
    pub host_error: f32,
    /// The anomaly score on the target.
    pub target_error: f32,
    /// The verdicts agree.
    pub verdict_agrees: bool,
    /// Instructions (QEMU) or cycles (board) of the bare inference; none on the host.
    pub count: Option<u64>,
    /// QEMU: the Cortex-M4 cycles the `aedge-cycles` plugin estimates for the same inference.
    pub cycles: Option<Cycles>,
}

/// The first layer where the target parts from the host.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Divergence {
    /// The input.
    pub input: usize,
    /// The layer.
    pub layer: usize,
    /// Its operation.
    pub op: String,
}

/// The whole comparison.
#[derive(Clone, Debug, Serialize)]
pub struct Validation {
    /// The model's name.
    pub model: String,
    /// Its precision.
    pub precision: String,
    /// Where it ran.
    pub target: String,
    /// Every input.
    pub inputs: Vec<InputCheck>,
    /// Every layer of every input identical in every bit.
    pub bit_exact: bool,
    /// The first layer (of the first input) that differs in any bit.
    pub first_divergence: Option<Divergence>,
    /// Largest difference of the final outputs, as in [`LayerCheck::max_diff`].
    pub output_max_diff: f64,
    /// Largest difference of the anomaly scores.
    pub score_max_diff: f64,
    /// Inputs whose verdicts agree.
    pub verdicts_agree: usize,
    /// `"instructions"` or `"cycles"` for [`InputCheck::count`]; none on the host.
    pub unit: Option<&'static str>,
    /// Multiply-accumulates per inference.
    pub macs: u64,
    /// The arena, bytes.
    pub arena: usize,
    /// Stack the bare inference used on the device, bytes.
    pub stack: Option<usize>,
    /// Firmware flash and static RAM on the device.
    pub sizes: Option<Sizes>,
}

/// Every layer's output bytes, the anomaly score and the verdict of each input.
type Outputs = Vec<(Vec<Vec<u8>>, f32, bool)>;

fn host_outputs(m: &Model, inputs: &[Vec<f32>]) -> Result<Outputs, String> {
    let mut arena = AlignedBytes::zeroed(m.arena_len());
    inputs
        .iter()
        .enumerate()
        .map(|(i, x)| {
            let mut layers = Vec::new();
            m.trace(x, &mut arena, &mut |_, out| {
                layers.push(match out {
                    Activations::F32(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
                    Activations::Int8(v, _) => v.iter().map(|&x| x as u8).collect(),
                })
            })
            .map_err(|e| format!("input {i}: {e}"))?;
            let s = m
                .score(x, &mut arena)
                .map_err(|e| format!("input {i}: {e}"))?;
            Ok((layers, s.error, s.anomalous))
        })
        .collect()
}

fn values(bytes: &[u8], int8: bool) -> Vec<f64> {
    if int8 {
        bytes.iter().map(|&b| b as i8 as f64).collect()
    } else {
        bytes
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]) as f64)
            .collect()
    }
}

fn compare(index: usize, op: &str, host: &[u8], target: &[u8], int8: bool) -> LayerCheck {
    let (h, t) = (values(host, int8), values(target, int8));
    let width = if int8 { 1 } else { 4 };
    let differing = host
        .chunks(width)
        .zip(target.chunks(width))
        .filter(|(a, b)| a != b)
        .count()
        + h.len().abs_diff(t.len());
    let max_diff = h
        .iter()
        .zip(&t)
        .map(|(a, b)| if a == b { 0.0 } else { (a - b).abs() })
        .fold(
            if h.len() == t.len() {
                0.0
            } else {
                f64::INFINITY
            },
            f64::max,
        );
    LayerCheck {
        index,
        op: op.to_string(),
        values: h.len(),
        differing,
        max_diff,
    }
}

/// Runs `on_target` (normally the same bytes as `reference`; a test may change a weight) on
/// `target` and `reference` on this host, on the same raw `inputs`, and compares them. Device
/// builds go under `work`.
pub fn validate(
    reference: &[u8],
    on_target: &[u8],
    inputs: &[Vec<f32>],
    target: Target,
    work: &Path,
) -> Result<Validation, String> {
    let file = AlignedBytes::from(reference.to_vec());
    let m = Model::parse(&file).map_err(|e| e.to_string())?;
    if m.series().is_some() {
        return Err("validate runs whole inputs; a series model streams (aedge bench --targets mcu and the firmware tests check its stream)".into());
    }
    if inputs.is_empty() {
        return Err("no inputs to validate with".into());
    }
    let target_file = AlignedBytes::from(on_target.to_vec());
    let tm = Model::parse(&target_file).map_err(|e| format!("the target's model: {e}"))?;
    let host = host_outputs(&m, inputs)?;
    let (device, unit, stack, sizes): (Outputs, _, _, _) = match target {
        Target::Host => {
            aedge_runtime::kernels::isa::cap(aedge_runtime::kernels::isa::PORTABLE);
            let r = host_outputs(&tm, inputs);
            aedge_runtime::kernels::isa::cap(u8::MAX);
            (r?, None, None, None)
        }
        Target::Qemu | Target::Board { .. } => {
            let (run, sizes, mut reads) = run_device(on_target, inputs, target, work)?;
            let unit = if run.inputs.first().map(|i| i.unit) == Some("cycles") {
                "cycles"
            } else {
                "instructions"
            };
            let counts: Vec<u64> = run
                .inputs
                .iter()
                .map(|i| match i.unit {
                    "cycles" => i.ticks as u64,
                    _ => mcu::instructions(i.ticks),
                })
                .collect();
            let cycles = match reads.as_mut() {
                Some(r) => Some(
                    counts
                        .iter()
                        .map(|&c| r.take(c))
                        .collect::<Result<Vec<_>, _>>()?,
                ),
                None => None,
            };
            let outs = run
                .inputs
                .into_iter()
                .map(|i| (i.outputs, i.error, i.anomalous))
                .collect();
            return finish(
                &m,
                host,
                outs,
                Some(counts),
                cycles,
                Some(unit),
                Some(run.stack),
                Some(sizes),
                target,
            );
        }
    };
    finish(&m, host, device, None, None, unit, stack, sizes, target)
}

#[allow(clippy::too_many_arguments)]
fn finish(
    m: &Model,
    host: Outputs,
    device: Outputs,
    counts: Option<Vec<u64>>,
    cycles: Option<Vec<Cycles>>,
    unit: Option<&'static str>,
    stack: Option<usize>,
    sizes: Option<Sizes>,
    target: Target,
) -> Result<Validation, String> {
    if device.len() != host.len() {
        return Err(format!(
            "the target ran {} of {} inputs",
            device.len(),
            host.len()
        ));
    }
    let int8 = m.precision() == Precision::Int8;
    let layers: Vec<_> = m.layers().collect();
    let mut checks = Vec::new();
    let mut first = None;
    let (mut out_diff, mut score_diff, mut agree) = (0.0f64, 0.0f64, 0);
    for (i, ((h, he, ha), (d, de, da))) in host.iter().zip(&device).enumerate() {
        if d.len() != layers.len() {
            return Err(format!(
                "input {i}: the target traced {} layers of a {}-layer model",
                d.len(),
                layers.len()
            ));
        }
        let lc: Vec<LayerCheck> = layers
            .iter()
            .enumerate()
            .map(|(l, info)| compare(l, info.desc.op.name(), &h[l], &d[l], int8))
            .collect();
        if first.is_none() {
            first = lc.iter().find(|c| c.differing > 0).map(|c| Divergence {
                input: i,
                layer: c.index,
                op: c.op.clone(),
            });
        }
        out_diff = out_diff.max(lc.last().map_or(0.0, |c| c.max_diff));
        let sd = if he.to_bits() == de.to_bits() {
            0.0
        } else {
            (*he as f64 - *de as f64).abs()
        };
        score_diff = score_diff.max(if sd.is_nan() { f64::INFINITY } else { sd });
        agree += (ha == da) as usize;
        checks.push(InputCheck {
            index: i,
            layers: lc,
            host_error: *he,
            target_error: *de,
            verdict_agrees: ha == da,
            count: counts.as_ref().map(|c| c[i]),
            cycles: cycles.as_ref().map(|c| c[i]),
        });
    }
    Ok(Validation {
        model: m.name().to_string(),
        precision: m.precision().to_string(),
        target: target.describe(),
        bit_exact: first.is_none() && score_diff == 0.0,
        first_divergence: first,
        output_max_diff: out_diff,
        score_max_diff: score_diff,
        verdicts_agree: agree,
        inputs: checks,
        unit,
        macs: layers.iter().map(|l| l.macs).sum(),
        arena: m.arena_len(),
        stack,
        sizes,
    })
}

/// Builds the validate demo with the model and inputs embedded and runs it on the device.
fn run_device(
    bytes: &[u8],
    inputs: &[Vec<f32>],
    target: Target,
    work: &Path,
) -> Result<(mcu::ValidateRun, Sizes, Option<Reads>), String> {
    std::fs::create_dir_all(work).map_err(|e| format!("{}: {e}", work.display()))?;
    // The firmware build runs in firmware/: give it absolute paths.
    let work = &std::path::absolute(work).map_err(|e| format!("{}: {e}", work.display()))?;
    let model = work.join("validate.aedge");
    let samples = work.join("validate.f32");
    aedge_runtime::fs::write_atomic(&model, bytes).map_err(|e| e.to_string())?;
    aedge_runtime::fs::write_atomic(&samples, &mcu::samples_bytes(inputs))
        .map_err(|e| e.to_string())?;
    let board = match target {
        Target::Board { feature, .. } => Some(feature),
        _ => None,
    };
    let kept = work.join("validate.elf");
    mcu::build(
        mcu::VALIDATE,
        &model,
        &samples,
        board,
        &mcu::target_dir(),
        &kept,
    )?;
    let (lines, reads) = match target {
        Target::Board { chip, .. } => (mcu::run_board(&kept, chip, 600, "validate stack ")?, None),
        _ => {
            let (raw, reads) = mcu::run_qemu_maybe_cycles(&kept, 600)?;
            (mcu::decode(&kept, &raw)?, reads)
        }
    };
    Ok((mcu::parse_validate(&lines)?, mcu::sizes(&kept)?, reads))
}
