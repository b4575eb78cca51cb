//! `aedge inspect`: what a model costs on a device, like `stedgeai analyze`.

use crate::{Out, Result};
use aedge_runtime::{Model, Op};
use serde_json::json;
use std::path::PathBuf;

/// Arguments of `aedge inspect`.
#[derive(clap::Args)]
pub struct Args {
    /// The .aedge model.
    model: PathBuf,
    /// Also measure it on a device, so "will it fit" is one command: qemu (the firmware on
    /// QEMU's Cortex-M4F) or a board with a probe (nrf52840-dk, nucleo-l4r5zi): the stack an
    /// inference needs, its instructions (cycles on a board), and the flash and RAM of a
    /// firmware that holds it.
    #[arg(long)]
    device: Option<String>,
    /// Where device builds go.
    #[arg(long, default_value = "target/inspect")]
    work: PathBuf,
}

fn op_text(op: &Op) -> String {
    match *op {
        Op::Dense { units } => format!("Dense {units}"),
        Op::Conv2d {
            out_c,
            kernel,
            stride,
            ..
        } => {
            format!("Conv2d {out_c} {}x{} /{}", kernel[0], kernel[1], stride[0])
        }
        Op::ConvTranspose2d {
            out_c,
            kernel,
            stride,
            ..
        } => {
            format!(
                "ConvTranspose2d {out_c} {}x{} x{}",
                kernel[0], kernel[1], stride[0]
            )
        }
        Op::MaxPool2d { kernel, .. } => format!("MaxPool2d {}x{}", kernel[0], kernel[1]),
        Op::AvgPool2d { kernel, .. } => format!("AvgPool2d {}x{}", kernel[0], kernel[1]),
        Op::DepthwiseConv2d {
            multiplier,
            kernel,
            stride,
            ..
        } => format!(
            "DepthwiseConv2d x{multiplier} {}x{} /{}",
            kernel[0], kernel[1], stride[0]
        ),
        Op::Upsample2d { factor } => format!("Upsample2d x{}", factor[0]),
        Op::Reshape { .. } => "Reshape".into(),
        Op::Activation => "Activation".into(),
        Op::Lstm {
            units,
            return_sequences,
        } => {
            format!(
                "Lstm {units}{}",
                if return_sequences { " (sequence)" } else { "" }
            )
        }
        Op::Repeat { times } => format!("Repeat x{times}"),
        Op::Save => "Save (for a skip)".into(),
        Op::Add => "Add (the saved tensor)".into(),
        Op::Concat {
            channels,
            saved_first,
        } => format!(
            "Concat {} {channels} saved channels",
            if saved_first { "after" } else { "before" }
        ),
    }
}

/// The model in the firmware on `device`: one measurement per target it ran on.
fn measure(
    m: &Model,
    bytes: &[u8],
    device: &str,
    work: &std::path::Path,
) -> Result<Vec<aedge::bench::mcu::McuRun>> {
    let board = match aedge::validate::Target::parse(device)? {
        aedge::validate::Target::Qemu => None,
        aedge::validate::Target::Board { feature, .. } => Some(feature),
        aedge::validate::Target::Host => {
            return Err("--device takes qemu or a board; the host needs no measuring".into())
        }
    };
    if m.series().is_some() {
        return Err("--device measures whole-input models; a series model's per-sample cost is in the firmware test (it streams)".into());
    }
    std::fs::create_dir_all(work).map_err(|e| format!("{}: {e}", work.display()))?;
    // The stack and the instruction count do not depend on the input's values.
    let input = vec![vec![0.0f32; m.input_shape().len()]];
    aedge::bench::mcu::run(
        "inspect",
        m.precision(),
        bytes,
        &input,
        m.macs(),
        work,
        board,
    )
}

/// Runs the subcommand.
pub fn run(a: Args, out: Out) -> Result<()> {
    let bytes = super::read_model(&a.model)?;
    let m = Model::parse(&bytes).map_err(|e| e.to_string())?;
    let device = match &a.device {
        Some(d) => measure(&m, &bytes, d, &a.work)?,
        None => Vec::new(),
    };
    let shape = |s: aedge_runtime::Shape| format!("{}x{}x{}", s.h, s.w, s.c);
    let layers: Vec<_> = m.layers().collect();
    let stats = m.error_stats();
    out.json(json!({
        "name": m.name(),
        "precision": m.precision().to_string(),
        "input": [m.input_shape().h, m.input_shape().w, m.input_shape().c],
        "latent": [m.latent_shape().h, m.latent_shape().w, m.latent_shape().c],
        "file_bytes": m.file_len(),
        "weights_bytes": m.weights_len(),
        "arena_bytes": m.arena_len(),
        "params": m.param_count(),
        "macs": m.macs(),
        "metric": m.metric().to_string(),
        "threshold": m.threshold(),
        "threshold_rule": format!("{:?}", m.threshold_rule()),
        "format_version": m.format_version(),
        "series": m.series().map(|s| json!({
            "columns": s.columns.split(',').collect::<Vec<_>>(),
            "window": m.input_shape().h,
            "stride": s.stride,
            "memory": s.likelihood.memory,
            "short": s.likelihood.short,
            "alarm": s.likelihood.alarm,
            "hold": s.likelihood.hold,
            "period": s.period,
            "novelty": s.likelihood.novelty,
            "range": m.series_range().chunks_exact(2).map(|p| [p[0], p[1]]).collect::<Vec<_>>(),
            "pattern": m.pattern().map(|p| {
                // The stored description's own fields, and what it takes of the buffer.
                let mut v = json!(p);
                v["buffer_bytes"] = json!(4 * aedge_runtime::pattern::buffer_len(p));
                v
            }),
        })),
        "latent_fit": m.latent_fit().map(|l| json!({
            "components": l.components(),
            "bytes": l.bytes(),
        })),
        "calibration_errors": {
            "count": stats.count, "mean": stats.mean, "std": stats.std, "min": stats.min,
            "p50": stats.p50, "p95": stats.p95, "p99": stats.p99, "max": stats.max,
        },
        "device": device,
        "layers": layers.iter().map(|l| json!({
            "index": l.index,
            "op": op_text(&l.desc.op),
            "activation": format!("{:?}", l.desc.act),
            "input": [l.input.h, l.input.w, l.input.c],
            "output": [l.output.h, l.output.w, l.output.c],
            "params": l.params,
            "macs": l.macs,
        })).collect::<Vec<_>>(),
    }));
    out.line(format!(
        "{} ({}): input {}, code {}, {} layers",
        m.name(),
        m.precision(),
        shape(m.input_shape()),
        shape(m.latent_shape()),
        layers.len()
    ));
    out.line(format!(
        "{:>3}  {:<28} {:<12} {:>12} {:>10} {:>12}",
        "#", "op", "act", "output", "params", "MACs"
    ));
    for l in &layers {
        out.line(format!(
            "{:>3}  {:<28} {:<12} {:>12} {:>10} {:>12}",
            l.index,
            op_text(&l.desc.op),
            format!("{:?}", l.desc.act)
                .split_whitespace()
                .next()
                .unwrap_or(""),
            shape(l.output),
            l.params,
            l.macs
        ));
    }
    out.line(format!(
        "params {}, MACs {}, flash {} B (weights {} B), arena {} B",
        m.param_count(),
        m.macs(),
        m.file_len(),
        m.weights_len(),
        m.arena_len()
    ));
    out.line(format!(
        "metric {}, threshold {} ({:?}; calibration errors: n {}, mean {:.4}, p99 {:.4}, max {:.4})",
        m.metric(),
        m.threshold(),
        m.threshold_rule(),
        stats.count,
        stats.mean,
        stats.p99,
        stats.max
    ));
    if let Some(l) = m.latent_fit() {
        out.line(format!(
            "latent Gaussian of the normal codes: {} principal directions of {} values, {} B of the weights",
            l.components(),
            m.latent_shape().len(),
            l.bytes()
        ));
    }
    for d in &device {
        out.line(format!(
            "on {}: inference {} {} ({:.2} per MAC), stack {} B, arena {} B + state {} B; a firmware that holds it (the check demo): flash {} B, static RAM {} B",
            d.target,
            d.count,
            d.unit,
            d.per_mac,
            d.stack,
            d.arena,
            d.state,
            d.sizes.flash,
            d.sizes.ram
        ));
        if let Some(c) = d.cycles {
            out.line(format!(
                "  estimated Cortex-M4 cycles (zero wait states): {} ({}–{}), {:.2} per MAC; {}",
                c.estimate,
                c.low,
                c.high,
                c.estimate as f64 / d.macs.max(1) as f64,
                c.ms_at_clocks()
            ));
            out.line(format!(
                "  with flash wait states ({} flash lines read as data, {} as code): {}",
                c.flash_data_lines,
                c.flash_code_lines,
                c.ms_with_wait_states_text()
            ));
        }
    }
    if let Some(s) = m.series() {
        out.line(format!(
            "series: columns {}, windows of {} rows scored every {}{}; score from a running error estimate over {} windows, recent mean over {}, {}, {}, flagged at {}",
            s.columns,
            m.input_shape().h,
            s.stride,
            if s.period > 0 {
                format!(", each row compared with the row {} earlier", s.period)
            } else {
                String::new()
            },
            s.likelihood.memory,
            s.likelihood.short,
            if s.likelihood.novelty > 0.0 {
                format!(
                    "+{} for a value outside the range seen ({})",
                    s.likelihood.novelty,
                    if m.series_range().is_empty() { "learned from the stream" } else { "from the normal stretch on" }
                )
            } else {
                "no range check".into()
            },
            if s.likelihood.hold > 0 {
                format!("reported when above the last {} windows' levels", s.likelihood.hold)
            } else {
                "every score reported".into()
            },
            s.likelihood.alarm
        ));
    }
    if let Some(p) = m.pattern() {
        out.line(format!(
            "pattern memory: a point per {} rows, patterns of {} points on {} levels of {}..{}, up to {} categories, vigilance from {:.3}, reports after {} points; {} B of the stream buffer",
            p.step,
            p.window,
            p.levels,
            p.low,
            p.high,
            p.capacity,
            p.vigilance,
            p.warmup,
            4 * aedge_runtime::pattern::buffer_len(p)
        ));
    }
    Ok(())
}
