//! The benchmark's outputs: a markdown table (with the ratios against tract spelled out), the
//! JSON of every figure, and a PNG bar chart of batch-1 latencies.

use super::{ModelReport, Report};
use std::fmt::Write as _;
use std::path::Path;

fn us(v: f64) -> String {
    if v >= 1000.0 {
        format!("{:.2} ms", v / 1000.0)
    } else {
        format!("{v:.1} µs")
    }
}

fn model_md(m: &ModelReport, s: &mut String) {
    let _ = writeln!(
        s,
        "### {} — {} MACs\n\n{}.\n",
        m.model,
        thousands(m.macs),
        m.origin
    );
    if !m.rows.is_empty() {
        s.push_str("| target | engine | precision | batch-1 median | batch-1 p95 | runs | batch-32 samples/s | batch-1 vs tract |\n");
        s.push_str("|---|---|---|---:|---:|---:|---:|---:|\n");
        for r in &m.rows {
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} | {} | {} | {} |",
                r.target,
                r.engine,
                r.precision,
                us(r.batch1.median_us),
                us(r.batch1.p95_us),
                r.batch1.runs,
                r.batch32_per_s
                    .map_or("–".into(), |v| thousands(v.round() as u64)),
                r.vs_tract.map_or("–".into(), |v| format!("{v:.2}×")),
            );
        }
        s.push('\n');
        for r in m.rows.iter().filter(|r| r.engine != "tract-onnx") {
            if let Some(v) = r.vs_tract {
                let word = if v >= 1.0 { "faster" } else { "slower" };
                let f = if v >= 1.0 { v } else { 1.0 / v };
                let _ = writeln!(
                    s,
                    "- {} {} on {}: **{f:.2}× {word}** than tract-onnx at batch 1.",
                    r.engine, r.precision, r.target
                );
            }
        }
        let median = |p: &str| {
            m.rows
                .iter()
                .find(|r| r.engine == "aedge-runtime" && r.precision == p)
                .map(|r| r.batch1.median_us)
        };
        if let (Some(f), Some(q)) = (median("f32"), median("int8")) {
            let _ = writeln!(
                s,
                "- aedge-runtime int8 vs f32 on the CPU: **{:.2}×**.",
                f / q
            );
        }
        if let Some(a) = &m.gpu_adapter {
            let _ = writeln!(s, "- GPU adapter: {a}.");
        }
        s.push('\n');
        host_layer_table(m, s);
    }
    if !m.mcu.is_empty() {
        let ws = crate::mcu::cycles::WAIT_STATES
            .map(|w| w.to_string())
            .join(" / ");
        let _ = writeln!(s, "| MCU | precision | per inference | per MAC | est. Cortex-M4 cycles (range) | cycles/MAC | ms at 80 / 120 / 168 MHz | ms with {ws} flash wait states (no-accelerator bound) | arena B | runtime state B | arena + state B | inference stack B | firmware flash B | firmware static RAM B |");
        s.push_str("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
        for r in &m.mcu {
            let (cycles, per_mac, ms, ms_ws) = match (r.cycles, r.unit) {
                (Some(c), _) => (
                    format!(
                        "{} ({}–{})",
                        thousands(c.estimate),
                        thousands(c.low),
                        thousands(c.high)
                    ),
                    format!("{:.2}", c.estimate as f64 / r.macs.max(1) as f64),
                    crate::mcu::cycles::CLOCKS_MHZ
                        .iter()
                        .map(|&f| format!("{:.3}", c.ms(f)))
                        .collect::<Vec<_>>()
                        .join(" / "),
                    c.ms_with_wait_states()
                        .iter()
                        .map(|(e, h)| format!("{e:.3} ({h:.3})"))
                        .collect::<Vec<_>>()
                        .join(" / "),
                ),
                (None, "cycles") => (
                    format!("{} (measured)", thousands(r.count)),
                    format!("{:.2}", r.per_mac),
                    "–".into(),
                    "–".into(),
                ),
                _ => ("–".into(), "–".into(), "–".into(), "–".into()),
            };
            let _ = writeln!(
                s,
                "| {} | {} | {} {} | {:.3} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                r.target,
                r.precision,
                thousands(r.count),
                r.unit,
                r.per_mac,
                cycles,
                per_mac,
                ms,
                ms_ws,
                r.arena,
                r.state,
                r.arena + r.state,
                r.stack,
                thousands(r.sizes.flash),
                thousands(r.sizes.ram),
            );
        }
        s.push('\n');
        for r in m.mcu.iter().filter(|r| !r.layers.is_empty()) {
            layer_table(s, r);
        }
    }
    for n in &m.notes {
        let _ = writeln!(s, "- note: {n}");
    }
    if !m.notes.is_empty() {
        s.push('\n');
    }
}

/// Where one host inference goes, layer by layer, in each precision aedge-runtime ran.
fn host_layer_table(m: &ModelReport, s: &mut String) {
    let rows: Vec<_> = m
        .rows
        .iter()
        .filter(|r| r.layers_us.len() == m.layers.len() && !m.layers.is_empty())
        .collect();
    if rows.is_empty() {
        return;
    }
    s.push_str("Per layer on the CPU, aedge-runtime batch-1 medians (each from the previous layer's output to its own):\n\n| # | op | output | MACs |");
    for r in &rows {
        let _ = write!(s, " {} |", r.precision);
    }
    let column = |p: &str| rows.iter().position(|r| r.precision == p);
    let ratio = column("f32").zip(column("int8"));
    if ratio.is_some() {
        s.push_str(" int8 vs f32 |");
    }
    s.push_str("\n|---:|---|---|---:|");
    for _ in 0..rows.len() + ratio.is_some() as usize {
        s.push_str("---:|");
    }
    s.push('\n');
    for (i, l) in m.layers.iter().enumerate() {
        let _ = write!(
            s,
            "| {i} | {} | {} | {} |",
            l.op,
            l.output,
            thousands(l.macs)
        );
        for r in &rows {
            let _ = write!(s, " {} |", us(r.layers_us[i]));
        }
        if let Some((f, q)) = ratio {
            let _ = write!(s, " {:.2}× |", rows[f].layers_us[i] / rows[q].layers_us[i]);
        }
        s.push('\n');
    }
    s.push('\n');
}

/// Where one device inference goes, layer by layer.
fn layer_table(s: &mut String, r: &super::mcu::McuRun) {
    let total: u64 = r.layers.iter().map(|l| l.count).sum();
    let _ = writeln!(
        s,
        "Per layer, {} {} ({} {} summed over the layers; each includes walking its record):\n",
        r.target,
        r.precision,
        thousands(total),
        r.unit
    );
    let _ = writeln!(
        s,
        "| # | op | output | MACs | {} | per MAC | share | est. cycles | cycles/MAC |",
        r.unit
    );
    s.push_str("|---:|---|---|---:|---:|---:|---:|---:|---:|\n");
    for l in &r.layers {
        let per_mac = if l.macs > 0 {
            format!("{:.2}", l.count as f64 / l.macs as f64)
        } else {
            "–".to_string()
        };
        let (cycles, cycles_per_mac) = match l.cycles {
            Some(c) if l.macs > 0 => (thousands(c), format!("{:.2}", c as f64 / l.macs as f64)),
            Some(c) => (thousands(c), "–".into()),
            None => ("–".into(), "–".into()),
        };
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} | {:.1} % | {} | {} |",
            l.index,
            l.op,
            l.output,
            thousands(l.macs),
            thousands(l.count),
            per_mac,
            100.0 * l.count as f64 / total.max(1) as f64,
            cycles,
            cycles_per_mac
        );
    }
    s.push('\n');
}

/// `1234567` as `1,234,567`.
pub fn thousands(v: u64) -> String {
    let d = v.to_string();
    let mut out = String::new();
    for (i, ch) in d.chars().enumerate() {
        if i > 0 && (d.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// The markdown report.
pub fn markdown(r: &Report) -> String {
    let mut s = format!(
        "## aedge bench\n\nHost: {} ({} threads; aedge kernels: {}). Latencies are wall-clock \
         medians of the bare network on preprocessed inputs; aedge-runtime's batch 32 is 32 \
         batch-1 inferences in a row. MCU figures are QEMU's executed instructions of the \
         second inference, input already in the arena, and the Cortex-M4 cycles they are \
         estimated to take.\n\n",
        r.cpu, r.threads, r.kernels
    );
    for m in &r.models {
        model_md(m, &mut s);
    }
    s
}

/// Writes `bench.md`, `bench.json` and `bench.png` into `dir` (each atomically).
pub fn write(r: &Report, dir: &Path) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let w = |name: &str, bytes: &[u8]| {
        aedge_runtime::fs::write_atomic(dir.join(name), bytes).map_err(|e| e.to_string())
    };
    w("bench.md", markdown(r).as_bytes())?;
    w(
        "bench.json",
        &serde_json::to_vec_pretty(r).map_err(|e| e.to_string())?,
    )?;
    let groups: Vec<crate::chart::BarGroup> = r
        .models
        .iter()
        .map(|m| {
            (
                m.model.clone(),
                m.rows
                    .iter()
                    .map(|x| {
                        (
                            format!("{} {} {}", x.target, x.engine, x.precision),
                            x.batch1.median_us,
                        )
                    })
                    .collect(),
            )
        })
        .filter(|g: &crate::chart::BarGroup| !g.1.is_empty())
        .collect();
    if !groups.is_empty() {
        crate::chart::bar_chart(
            &dir.join("bench.png"),
            "aedge bench: batch-1 latency (median, lower is better)",
            "microseconds (log scale)",
            &groups,
        )?;
    }
    Ok(())
}
