//! `aedge validate`: does the target compute what this host computes? The model on the
//! target and on the host, on the same inputs, layer by layer.

use crate::{input, Out, Result};
use aedge::mcu::cycles::Cycles;
use aedge::validate::{validate, Target, Validation};
use aedge_runtime::{Model, Precision};
use std::path::PathBuf;

/// Arguments of `aedge validate`.
#[derive(clap::Args)]
pub struct Args {
    /// The .aedge model.
    model: PathBuf,
    /// Inputs in sensor units: IDX images, .npy/.npz, an image or a folder of images, .f32 or
    /// CSV rows.
    #[arg(long)]
    inputs: PathBuf,
    /// Where to run it: qemu (the firmware on QEMU's Cortex-M4F), a board with a probe
    /// attached (nrf52840-dk, nucleo-l4r5zi), or host (this host's fastest kernels against
    /// the portable ones every target shares).
    #[arg(long, default_value = "qemu")]
    target: String,
    /// Validate the first N inputs (the device logs every layer of each).
    #[arg(long, default_value_t = 5)]
    count: usize,
    /// Where device builds and logs go.
    #[arg(long, default_value = "target/validate")]
    work: PathBuf,
}

/// Runs the subcommand. Fails when an int8 model is not bit-exact, or when any verdict
/// differs.
pub fn run(a: Args, out: Out) -> Result<()> {
    let target = Target::parse(&a.target)?;
    if a.count == 0 {
        return Err("--count must be at least 1".into());
    }
    let bytes = super::read_model(&a.model)?;
    let m = Model::parse(&bytes).map_err(|e| e.to_string())?;
    let s = m.input_shape();
    let read = input::read(
        &a.inputs,
        &input::Reading::for_model([s.h as usize, s.w as usize, s.c as usize]),
    )?;
    for n in &read.notes {
        out.line(n);
    }
    let mut samples = read.each();
    samples.truncate(a.count);
    if samples.is_empty() {
        return Err(format!("{}: no inputs", a.inputs.display()));
    }
    let v = validate(&bytes, &bytes, &samples, target, &a.work)?;
    out.json(serde_json::to_value(&v).map_err(|e| e.to_string())?);
    print(&v, &a, &out);
    let int8 = m.precision() == Precision::Int8;
    if let (true, Some(d)) = (int8, &v.first_divergence) {
        return Err(format!(
            "the target differs from the host: first at input {}, layer {} ({})",
            d.input, d.layer, d.op
        ));
    }
    if int8 && !v.bit_exact {
        return Err("the target's anomaly scores differ from the host's".into());
    }
    if v.verdicts_agree != v.inputs.len() {
        return Err(format!(
            "the target's verdicts differ from the host's on {} of {} inputs",
            v.inputs.len() - v.verdicts_agree,
            v.inputs.len()
        ));
    }
    Ok(())
}

fn print(v: &Validation, a: &Args, out: &Out) {
    let int8 = v.precision == "int8";
    out.line(format!(
        "{} ({}) on {} vs this host, {} input(s) from {}",
        v.model,
        v.precision,
        v.target,
        v.inputs.len(),
        a.inputs.display()
    ));
    let unit = if int8 { "steps" } else { "model units" };
    out.line(format!(
        "{:>5}  {:<16} {:>8}  {:>9}  max diff ({unit})",
        "layer", "op", "values", "differing"
    ));
    for (l, first) in v.inputs[0].layers.iter().enumerate() {
        // Over all inputs: how many values differ in total, and the largest difference.
        let differing: usize = v.inputs.iter().map(|i| i.layers[l].differing).sum();
        let max = v
            .inputs
            .iter()
            .map(|i| i.layers[l].max_diff)
            .fold(0.0, f64::max);
        out.line(format!(
            "{:>5}  {:<16} {:>8}  {:>9}  {}",
            l,
            first.op,
            first.values * v.inputs.len(),
            differing,
            if int8 {
                format!("{max}")
            } else {
                format!("{max:.3e}")
            }
        ));
    }
    out.line(match (&v.first_divergence, v.bit_exact) {
        (None, true) => "outputs and scores: bit-exact".to_string(),
        (None, false) => format!(
            "outputs: bit-exact; scores differ by up to {:.3e}",
            v.score_max_diff
        ),
        (Some(d), _) => format!(
            "first difference: input {}, layer {} ({}); outputs differ by up to {:.3e}, scores by up to {:.3e}",
            d.input, d.layer, d.op, v.output_max_diff, v.score_max_diff
        ),
    });
    out.line(format!(
        "verdicts agree on {} of {} inputs",
        v.verdicts_agree,
        v.inputs.len()
    ));
    if let (Some(unit), Some(stack), Some(sizes)) = (v.unit, v.stack, v.sizes) {
        let counts: Vec<u64> = v.inputs.iter().filter_map(|i| i.count).collect();
        let mean = counts.iter().sum::<u64>() as f64 / counts.len().max(1) as f64;
        out.line(format!(
            "device: {mean:.0} {unit} per inference ({:.2} per MAC), arena {} B, stack {stack} B, flash {} B, static RAM {} B",
            mean / v.macs.max(1) as f64,
            v.arena,
            sizes.flash,
            sizes.ram
        ));
    }
    let cycles: Vec<_> = v.inputs.iter().filter_map(|i| i.cycles).collect();
    if !cycles.is_empty() {
        // The mean over the inputs (they take the same path; a model with data-dependent
        // branches differs by a few cycles).
        let n = cycles.len() as u64;
        let mean = |f: fn(&Cycles) -> u64| (cycles.iter().map(f).sum::<u64>() + n / 2) / n;
        let c = Cycles {
            estimate: mean(|c| c.estimate),
            low: mean(|c| c.low),
            high: mean(|c| c.high),
            flash_data_lines: mean(|c| c.flash_data_lines),
            flash_code_lines: mean(|c| c.flash_code_lines),
        };
        out.line(format!(
            "estimated Cortex-M4 cycles (zero wait states): {} per inference ({}–{}), {:.2} per MAC; {}",
            c.estimate,
            c.low,
            c.high,
            c.estimate as f64 / v.macs.max(1) as f64,
            c.ms_at_clocks()
        ));
        out.line(format!(
            "with flash wait states ({} flash lines read as data, {} as code): {}",
            c.flash_data_lines,
            c.flash_code_lines,
            c.ms_with_wait_states_text()
        ));
    }
}
