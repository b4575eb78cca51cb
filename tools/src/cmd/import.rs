//! `aedge import`: an ONNX autoencoder from another framework becomes a `.aedge` file, checked
//! against tract-onnx on the way.

use crate::{input, Out, Result};
use aedge_runtime::calibrate::{ranges, RangeMethod};
use aedge_runtime::{AlignedBytes, Metric, Model, Precision, ThresholdRule};
use aedge_trainer::import::{from_onnx, input_dims, to_onnx_order, verify, ImportOptions};
use aedge_trainer::parity::{export_precisions, RANGE_PERCENTILE};
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

#[derive(Clone, Copy, clap::ValueEnum)]
enum MetricArg {
    Mse,
    Mae,
    Bce,
}

/// Arguments of `aedge import`.
#[derive(clap::Args)]
pub struct Args {
    /// The ONNX file.
    onnx: PathBuf,
    /// The .aedge file to write.
    #[arg(short, long)]
    output: PathBuf,
    /// Number format.
    #[arg(long, value_enum, default_value = "f32")]
    precision: PrecisionArg,
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
    /// Reconstruction error metric for scoring.
    #[arg(long, value_enum, default_value = "mse")]
    metric: MetricArg,
    /// Held-out normal samples: the anomaly threshold is their error at --percentile.
    #[arg(long)]
    normal: Option<PathBuf>,
    /// Percentile of the normal errors used as the threshold.
    #[arg(long, default_value_t = 99.0)]
    percentile: f32,
    /// Layers in the encoder (default: up to the bottleneck).
    #[arg(long)]
    encoder_layers: Option<usize>,
    /// Model name (default: the ONNX graph name).
    #[arg(long)]
    name: Option<String>,
}

/// Runs the subcommand.
pub fn run(a: Args, out: Out) -> Result<()> {
    let bytes =
        std::fs::read(&a.onnx).map_err(|e| format!("cannot read {}: {e}", a.onnx.display()))?;
    for (what, v) in [("scale", &a.scale), ("offset", &a.offset)] {
        if v.is_empty() || v.iter().any(|x| !x.is_finite()) || (what == "scale" && v.contains(&0.0))
        {
            return Err(format!(
                "--{what} must be finite{}",
                if what == "scale" { " and non-zero" } else { "" }
            ));
        }
    }
    let opts = ImportOptions {
        name: a.name.clone(),
        encoder_layers: a.encoder_layers,
        metric: match a.metric {
            MetricArg::Mse => Metric::Mse,
            MetricArg::Mae => Metric::Mae,
            MetricArg::Bce => Metric::Bce,
        },
        preprocess_scale: a.scale.clone(),
        preprocess_offset: a.offset.clone(),
    };
    let mut g = from_onnx(&bytes, &opts).map_err(|e| format!("{}: {e}", a.onnx.display()))?;
    let c = g.input.c as usize;
    for (what, v) in [("scale", &a.scale), ("offset", &a.offset)] {
        if v.len() != 1 && v.len() != c {
            return Err(format!(
                "--{what} has {} values; give 1 or {c} (one per channel)",
                v.len()
            ));
        }
    }
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
        let rule = ThresholdRule::Percentile(a.percentile.clamp(0.0, 100.0));
        g.calibrate_threshold(normal.iter().map(Vec::as_slice), rule)
            .map_err(|e| format!("{}: {e}", p.display()))?;
    }
    let (file, ranges_used) = match a.precision {
        PrecisionArg::F32 => (g.to_aedge(Precision::F32).map_err(|e| e.to_string())?, None),
        PrecisionArg::F16 => (g.to_aedge(Precision::F16).map_err(|e| e.to_string())?, None),
        PrecisionArg::Int8 => {
            let calib = calib
                .as_ref()
                .ok_or("int8 needs representative samples: give --calib")?;
            match a.ranges {
                RangesArg::Auto => {
                    let e = export_precisions(&g, calib, calib)?;
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
