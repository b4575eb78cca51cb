//! `aedge import`: an autoencoder from another framework becomes a `.aedge` file. ONNX models
//! are checked against tract-onnx on the way and can be written in f32, f16 or int8; int8
//! TFLite models keep their quantization and compute what TensorFlow Lite Micro computes.

use super::{MetricArg, ThresholdArgs};
use crate::{input, Out, Result};
use aedge_convert::onnx::{from_onnx, input_dims, to_onnx_order, ImportOptions};
use aedge_convert::tflite;
use aedge_convert::tract::verify;
use aedge_runtime::calibrate::{ranges, threshold, RangeMethod};
use aedge_runtime::precisions::{export_precisions, RANGE_METHODS, RANGE_PERCENTILE};
use aedge_runtime::{AlignedBytes, Model, Precision};
use serde_json::json;
use std::path::PathBuf;

/// Number format of the output file.
#[derive(Clone, Copy, clap::ValueEnum)]
enum PrecisionArg {
    F32,
    F16,
    Int8,
}

/// How int8 activation ranges are chosen.
#[derive(Clone, Copy, clap::ValueEnum)]
enum RangesArg {
    /// Try min/max and percentile, keep the one closer to f32.
    Auto,
    Minmax,
    Percentile,
}

/// Arguments of `aedge import`.
#[derive(clap::Args)]
pub struct Args {
    /// The ONNX or int8 TFLite file (TFLite is recognised by its content).
    model: PathBuf,
    /// The .aedge file to write.
    #[arg(short, long)]
    output: PathBuf,
    /// Number format (ONNX: default f32; TFLite models are int8).
    #[arg(long, value_enum)]
    precision: Option<PrecisionArg>,
    /// Representative samples (sensor units) for the int8 activation ranges.
    #[arg(long)]
    calib: Option<PathBuf>,
    /// Use at most this many calibration samples.
    #[arg(long, default_value_t = 200)]
    calib_count: usize,
    /// int8 activation ranges.
    #[arg(long, value_enum, default_value = "auto")]
    ranges: RangesArg,
    /// Preprocessing scale, one value or one per channel: model input = raw × scale + offset.
    #[arg(long, value_delimiter = ',', default_value = "1")]
    scale: Vec<f32>,
    /// Preprocessing offset, one value or one per channel.
    #[arg(long, value_delimiter = ',', default_value = "0")]
    offset: Vec<f32>,
    /// The anomaly score the model file records.
    #[arg(long, value_enum, default_value = "mse")]
    metric: MetricArg,
    /// Held-out normal samples: the anomaly threshold follows from their errors.
    #[arg(long)]
    normal: Option<PathBuf>,
    #[command(flatten)]
    threshold: ThresholdArgs,
    /// Layers in the encoder (default: up to the bottleneck).
    #[arg(long)]
    encoder_layers: Option<usize>,
    /// Model name (default: the ONNX graph name, or the TFLite file's stem).
    #[arg(long)]
    name: Option<String>,
}

/// Runs the subcommand.
pub fn run(a: Args, out: Out) -> Result<()> {
    let bytes =
        std::fs::read(&a.model).map_err(|e| format!("cannot read {}: {e}", a.model.display()))?;
    for (what, v) in [("scale", &a.scale), ("offset", &a.offset)] {
        if v.is_empty() || v.iter().any(|x| !x.is_finite()) || (what == "scale" && v.contains(&0.0))
        {
            return Err(format!(
                "--{what} must be finite{}",
                if what == "scale" { " and non-zero" } else { "" }
            ));
        }
    }
    if aedge_runtime::Metric::from(a.metric).uses_latent() {
        return Err(format!(
            "--metric {}: the latent Gaussian is fitted by aedge export; import with mse, mae or bce",
            aedge_runtime::Metric::from(a.metric)
        ));
    }
    if tflite::is_tflite(&bytes) {
        return run_tflite(a, &bytes, out);
    }
    let opts = ImportOptions {
        name: a.name.clone(),
        encoder_layers: a.encoder_layers,
        metric: a.metric.into(),
        preprocess_scale: a.scale.clone(),
        preprocess_offset: a.offset.clone(),
    };
    let mut g = from_onnx(&bytes, &opts).map_err(|e| format!("{}: {e}", a.model.display()))?;
    check_channels(&a, g.input.c as usize)?;
    let c = g.input.c as usize;
    let len = g.input.len();
    let calib = match &a.calib {
        Some(p) => {
            let mut s = input::load(p, len)?;
            s.truncate(a.calib_count.max(1));
            Some(s)
        }
        None => None,
    };
    // Check the import against tract on one input in model units (a calibration sample, or
    // a fixed pattern).
    let dims = input_dims(&bytes).map_err(|e| e.to_string())?;
    let model_units: Vec<f32> = match calib.as_ref().and_then(|s| s.first()) {
        Some(x) => x
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let pick = |p: &[f32]| if p.len() == 1 { p[0] } else { p[i % c] };
                v * pick(&a.scale) + pick(&a.offset)
            })
            .collect(),
        None => (0..len).map(|i| ((i * 37) % 101) as f32 / 100.0).collect(),
    };
    let diff = verify(&bytes, &g, &to_onnx_order(&dims, &model_units))?;
    if diff.is_nan() || diff > 1e-4 {
        return Err(format!(
            "the imported model differs from tract-onnx's run of the file by {diff}; please report this"
        ));
    }
    if let Some(p) = &a.normal {
        let normal = input::load(p, len)?;
        let rule = a.threshold.rule()?;
        g.calibrate_threshold(normal.iter().map(Vec::as_slice), rule)
            .map_err(|e| format!("{}: {e}", p.display()))?;
    }
    let (file, ranges_used) = match a.precision.unwrap_or(PrecisionArg::F32) {
        PrecisionArg::F32 => (g.to_aedge(Precision::F32).map_err(|e| e.to_string())?, None),
        PrecisionArg::F16 => (g.to_aedge(Precision::F16).map_err(|e| e.to_string())?, None),
        PrecisionArg::Int8 => {
            let calib = calib
                .as_ref()
                .ok_or("int8 needs representative samples: give --calib")?;
            match a.ranges {
                RangesArg::Auto => {
                    let e = export_precisions(&g, calib, calib, &RANGE_METHODS)
                        .map_err(|e| e.to_string())?;
                    (e.int8, Some(format!("{:?}", e.int8_ranges)))
                }
                r => {
                    let method = match r {
                        RangesArg::Minmax => RangeMethod::MinMax,
                        _ => RangeMethod::Percentile(RANGE_PERCENTILE),
                    };
                    let rg = ranges(&g, calib.iter().map(|v| v.as_slice()), method)
                        .map_err(|e| e.to_string())?;
                    (
                        g.to_aedge_int8(&rg).map_err(|e| e.to_string())?,
                        Some(format!("{method:?}")),
                    )
                }
            }
        }
    };
    let aligned = AlignedBytes::from(file.clone());
    let m = Model::parse(&aligned).map_err(|e| e.to_string())?;
    aedge_runtime::fs::write_atomic(&a.output, &file)
        .map_err(|e| format!("{}: {e}", a.output.display()))?;
    out.json(json!({
        "output": a.output.display().to_string(),
        "layers": g.layers.iter().map(|l| l.op.name()).collect::<Vec<_>>(),
        "encoder_layers": g.encoder_layers,
        "tract_max_abs_diff": diff,
        "precision": m.precision().to_string(),
        "int8_ranges": ranges_used,
        "file_bytes": file.len(),
        "arena_bytes": m.arena_len(),
        "threshold": m.threshold(),
    }));
    out.line(format!(
        "imported {} layers ({}), encoder ends after layer {}; matches tract-onnx within {diff:.1e}",
        g.layers.len(),
        g.layers.iter().map(|l| l.op.name()).collect::<Vec<_>>().join(" "),
        g.encoder_layers
    ));
    out.line(format!(
        "wrote {}: {}, {} B, arena {} B{}{}",
        a.output.display(),
        m.precision(),
        file.len(),
        m.arena_len(),
        ranges_used
            .map(|r| format!(", int8 ranges {r}"))
            .unwrap_or_default(),
        if m.threshold().is_finite() {
            format!(", threshold {}", m.threshold())
        } else {
            String::new()
        }
    ));
    Ok(())
}

/// `--scale` / `--offset` give one value or one per input channel.
fn check_channels(a: &Args, c: usize) -> Result<()> {
    for (what, v) in [("scale", &a.scale), ("offset", &a.offset)] {
        if v.len() != 1 && v.len() != c {
            return Err(format!(
                "--{what} has {} values; give 1 or {c} (one per channel)",
                v.len()
            ));
        }
    }
    Ok(())
}

/// An int8 TFLite model: its quantization is kept, only the metadata comes from the options.
fn run_tflite(a: Args, bytes: &[u8], out: Out) -> Result<()> {
    let shown = a.model.display().to_string();
    if a.calib.is_some() {
        return Err(format!(
            "{shown} is an int8 TFLite model: its quantization is in the file, so --calib does not apply"
        ));
    }
    if matches!(a.precision, Some(PrecisionArg::F32 | PrecisionArg::F16)) {
        return Err(format!(
            "{shown} is an int8 TFLite model and imports as int8; drop --precision"
        ));
    }
    let name = a.name.clone().unwrap_or_else(|| {
        a.model
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "tflite".into())
    });
    let imported = tflite::import(bytes, &name).map_err(|e| format!("{shown}: {e}"))?;
    let mut g = imported.graph.clone();
    check_channels(&a, g.input.c as usize)?;
    g.preprocess_scale = a.scale.clone();
    g.preprocess_offset = a.offset.clone();
    g.metric = a.metric.into();
    if let Some(n) = a.encoder_layers {
        if n == 0 || n > g.layers.len() {
            return Err(format!(
                "--encoder-layers must be in 1..={} (the model has {} layers)",
                g.layers.len(),
                g.layers.len()
            ));
        }
        g.encoder_layers = n;
    }
    let mut file = g.to_aedge().map_err(|e| format!("{shown}: {e}"))?;
    if let Some(p) = &a.normal {
        // The threshold comes from the int8 model's own errors on normal data.
        let normal = input::load(p, g.input.len())?;
        let aligned = AlignedBytes::from(file.clone());
        let m = Model::parse(&aligned).map_err(|e| e.to_string())?;
        let mut arena = AlignedBytes::zeroed(m.arena_len());
        let errors = normal
            .iter()
            .map(|x| m.score(x, &mut arena).map(|s| s.error))
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| format!("{}: {e}", p.display()))?;
        let rule = a.threshold.rule()?;
        (g.threshold, g.errors) = threshold(&errors, rule).map_err(|e| e.to_string())?;
        g.threshold_rule = rule;
        file = g.to_aedge().map_err(|e| format!("{shown}: {e}"))?;
    }
    let aligned = AlignedBytes::from(file.clone());
    let m = Model::parse(&aligned).map_err(|e| e.to_string())?;
    aedge_runtime::fs::write_atomic(&a.output, &file)
        .map_err(|e| format!("{}: {e}", a.output.display()))?;
    out.json(json!({
        "output": a.output.display().to_string(),
        "format": "tflite",
        "operators": imported.ops.iter().map(|o| json!({
            "index": o.index, "op": o.op, "became": o.became,
        })).collect::<Vec<_>>(),
        "layers": g.layers.iter().map(|l| l.op.name()).collect::<Vec<_>>(),
        "encoder_layers": g.encoder_layers,
        "float_input": imported.float_input,
        "float_output": imported.float_output,
        "precision": m.precision().to_string(),
        "file_bytes": file.len(),
        "arena_bytes": m.arena_len(),
        "threshold": m.threshold(),
    }));
    for o in &imported.ops {
        out.line(format!("  op {:>3} {:<24} -> {}", o.index, o.op, o.became));
    }
    out.line(format!(
        "imported {} TFLite operators as {} int8 layers (TFLite Micro arithmetic), encoder ends after layer {}",
        imported.ops.len(),
        g.layers.len(),
        g.encoder_layers
    ));
    out.line(format!(
        "wrote {}: int8, {} B, arena {} B{}",
        a.output.display(),
        file.len(),
        m.arena_len(),
        if m.threshold().is_finite() {
            format!(", threshold {}", m.threshold())
        } else {
            String::new()
        }
    ));
    Ok(())
}
