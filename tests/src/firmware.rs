//! Host side of the firmware checks: trains the two reference models, runs them through the
//! firmware in QEMU (with `aedge::mcu`, re-exported here) and compares the device with the host.

pub use aedge::mcu::log::{parse_run, DeviceRun, DeviceSample};
pub use aedge::mcu::{
    build, decode, firmware_dir, instructions, run_qemu, samples_bytes, sizes, target_dir, Sizes,
};
use aedge_runtime::precisions::{calibrate_thresholds, export_precisions, RANGE_METHODS};
use aedge_runtime::{AlignedBytes, Metric, Model, Precision, ThresholdRule};
use aedge_trainer::corrupt::Corruption;
use aedge_trainer::data::Dataset;
use aedge_trainer::export::to_graph;
use aedge_trainer::loss::Loss;
use aedge_trainer::model::{Act, Architecture, ModelSpec, Upsampling};
use aedge_trainer::{device, train, Backend, RunOptions, TrainConfig};
use std::path::Path;

/// A trained model in the precisions the firmware runs, with its sample inputs (raw units).
pub struct FirmwareModel {
    /// File stem, e.g. `dense-scorer`.
    pub name: &'static str,
    /// `.aedge` bytes by precision.
    pub files: Vec<(Precision, Vec<u8>)>,
    /// Sample inputs in sensor units.
    pub samples: Vec<Vec<f32>>,
}

fn mnist() -> Result<Dataset, String> {
    let images = crate::mnist_sample().map_err(|e| e.to_string())?;
    Ok(Dataset::from_images(&images, None))
}

fn noisy(d: &Dataset, i: usize, seed: u64) -> Vec<f32> {
    let mut x = d.sample(i).to_vec();
    let mut rng = aedge_runtime::rng::SplitMix(seed);
    Corruption::Gaussian {
        factor: 0.5,
        clip: true,
    }
    .apply(&mut x, &mut rng);
    x.iter().map(|m| (m - d.offset[0]) / d.scale[0]).collect()
}

fn build_model(
    name: &'static str,
    spec: ModelSpec,
    cfg: TrainConfig,
    metric: Metric,
    data: &Dataset,
    samples: Vec<Vec<f32>>,
) -> Result<FirmwareModel, String> {
    let (train_set, val) = data.split(0.2, 3);
    let opts = RunOptions::new(device(Backend::Flex).map_err(|e| e.to_string())?);
    let t = train(&spec, &cfg, &train_set, Some(&val), &opts).map_err(|e| e.to_string())?;
    let mut g = to_graph(name, &t.model, &spec, data, metric)?;
    let raw_val: Vec<Vec<f32>> = (0..val.len()).map(|i| val.raw(i)).collect();
    let raw_train: Vec<Vec<f32>> = (0..train_set.len()).map(|i| train_set.raw(i)).collect();
    let calib = &raw_train[..raw_train.len().min(200)];
    let mut files =
        export_precisions(&g, calib, &raw_val, &RANGE_METHODS).map_err(|e| e.to_string())?;
    // Each precision's threshold (and, for a latent metric, Gaussian) from its own outputs,
    // as `aedge export` makes them.
    calibrate_thresholds(
        &mut g,
        &mut files,
        calib,
        &raw_train,
        &raw_val,
        ThresholdRule::Percentile(99.0),
    )
    .map_err(|e| e.to_string())?;
    Ok(FirmwareModel {
        name,
        files: vec![(Precision::Int8, files.int8), (Precision::F32, files.f32)],
        samples,
    })
}

/// The two reference firmware models, trained on the bundled MNIST sample (seeded, so the
/// same on every machine with the same backend): a dense 784-32-784 anomaly scorer (scored
/// by MSE and the latent distance, `aedge export`'s default) and a
/// small convolutional denoiser (trained on gaussian-noised digits). Samples: three digits
/// and one noised digit for the scorer, three noised digits for the denoiser.
pub fn train_models() -> Result<Vec<FirmwareModel>, String> {
    let data = mnist()?;
    let base = |epochs, loss| TrainConfig {
        epochs,
        batch_size: 32,
        loss,
        ..TrainConfig::default()
    };
    let digits = |idx: &[usize]| idx.iter().map(|&i| data.raw(i)).collect::<Vec<_>>();
    let mut scorer_samples = digits(&[0, 1, 2]);
    scorer_samples.push(noisy(&data, 3, 5));
    let scorer = build_model(
        "dense-scorer",
        ModelSpec {
            input: data.shape,
            arch: Architecture::Dense {
                hidden: vec![],
                code: 32,
                code_act: Act::Relu,
            },
            out_act: Act::Sigmoid,
        },
        base(4, Loss::Bce),
        // The default score of `aedge export`, so the device checks the latent distance too.
        Metric::MseLatent,
        &data,
        scorer_samples,
    )?;
    let denoiser = build_model(
        "conv-denoiser",
        ModelSpec {
            input: data.shape,
            arch: Architecture::Conv {
                channels: vec![8, 4],
                upsampling: Upsampling::Nearest,
            },
            out_act: Act::Sigmoid,
        },
        TrainConfig {
            corruption: Some(Corruption::Gaussian {
                factor: 0.5,
                clip: true,
            }),
            ..base(3, Loss::Bce)
        },
        Metric::Mse,
        &data,
        (0..3).map(|i| noisy(&data, 10 + i, 9 + i as u64)).collect(),
    )?;
    Ok(vec![scorer, denoiser])
}

/// A small U-Net denoiser from a layer list (Conv8, save, pool, Conv8, save, pool; Conv8,
/// upsample, add, Conv8, upsample, concat, Conv1), trained two epochs on noised digits: both
/// kinds of skip connection from the trainer through the export to the device.
pub fn unet_model() -> Result<FirmwareModel, String> {
    use aedge_trainer::model::layers::{LayerSpec, Padding};
    let data = mnist()?;
    let conv = |filters| LayerSpec::Conv {
        filters,
        kernel: 3,
        stride: 1,
        padding: Padding::Same,
        act: Act::Relu,
    };
    let name = |n: &str| n.to_string();
    build_model(
        "unet-denoiser",
        ModelSpec {
            input: data.shape,
            arch: Architecture::Layers {
                encoder: vec![
                    conv(8),
                    LayerSpec::Save { name: name("full") },
                    LayerSpec::MaxPool { size: 2 },
                    conv(8),
                    LayerSpec::Save { name: name("half") },
                    LayerSpec::MaxPool { size: 2 },
                ],
                decoder: vec![
                    conv(8),
                    LayerSpec::Upsample { factor: 2 },
                    LayerSpec::Add { name: name("half") },
                    conv(8),
                    LayerSpec::Upsample { factor: 2 },
                    LayerSpec::Concat { name: name("full") },
                    conv(1),
                ],
            },
            out_act: Act::Sigmoid,
        },
        TrainConfig {
            epochs: 2,
            batch_size: 32,
            loss: Loss::Bce,
            corruption: Some(Corruption::Gaussian {
                factor: 0.5,
                clip: true,
            }),
            ..TrainConfig::default()
        },
        Metric::Mse,
        &data,
        (0..2)
            .map(|i| noisy(&data, 20 + i, 30 + i as u64))
            .collect(),
    )
}

/// The MLPerf Tiny anomaly-detection model itself (`data/tflite/ad01_int8.tflite`, int8
/// TFLite) imported as TFLite Micro computes it, with its README's check vector as the first
/// sample (the int8 vector dequantized: the firmware quantizes it back exactly).
pub fn mlperf_tflite_model() -> Result<FirmwareModel, String> {
    let path = crate::repo_root().join("data/tflite/ad01_int8.tflite");
    let bytes = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let imported = aedge_convert::tflite::import(&bytes, "ad01").map_err(|e| e.to_string())?;
    let q = imported.graph.input_quant;
    let check: Vec<f32> = mlperf_check_vector()
        .iter()
        .map(|&v| q.dequantize(v))
        .collect();
    let mut r = aedge_runtime::rng::SplitMix(17);
    let other: Vec<f32> = r.vec(640, -30.0, 30.0);
    Ok(FirmwareModel {
        name: "ad01-tflite",
        files: vec![(
            Precision::Int8,
            imported.graph.to_aedge().map_err(|e| e.to_string())?,
        )],
        samples: vec![check, other],
    })
}

/// The converter-made int8 conv autoencoder (`data/tflite/conv_ae_int8.tflite`: depthwise,
/// average pooling, transposed convolution, nearest resize, tanh and logistic tables) with
/// two of its reference inputs; returns the model and TFLite Micro's outputs for them.
pub fn tflite_conv_model() -> Result<(FirmwareModel, Vec<Vec<f32>>), String> {
    let dir = crate::repo_root().join("data/tflite");
    let read = |n: &str| std::fs::read(dir.join(n)).map_err(|e| format!("{n}: {e}"));
    let imported = aedge_convert::tflite::import(&read("conv_ae_int8.tflite")?, "conv-ae")
        .map_err(|e| e.to_string())?;
    let refs = read("conv_ae_ref.bin")?;
    let v: Vec<f32> = refs[8..]
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    let n = v.len() / 2 / 784;
    let (xs, ys) = v.split_at(n * 784);
    let pick = |a: &[f32], i: usize| a[i * 784..(i + 1) * 784].to_vec();
    Ok((
        FirmwareModel {
            name: "conv-ae-tflite",
            files: vec![(
                Precision::Int8,
                imported.graph.to_aedge().map_err(|e| e.to_string())?,
            )],
            samples: vec![pick(xs, 0), pick(xs, 4)],
        },
        vec![pick(ys, 0), pick(ys, 4)],
    ))
}

/// Random int8 dense layers with per-tensor requantization (TFLite's scheme), written through
/// the int8 graph IR so the device runs its per-tensor kernel: right shifts from 1 to 22,
/// zero points from -128 to 100, ReLU clamps above -128 and biases up to ±10^5, so the kernel's
/// rounding and clamping are compared with the host on many cases.
pub fn per_tensor_model() -> Result<FirmwareModel, String> {
    use aedge_runtime::qgraph::QLayer;
    use aedge_runtime::{Activation, Op, Quant, Shape};
    let mut r = aedge_runtime::rng::SplitMix(23);
    // (inputs, outputs, requant scale → right shift, output zero point, ReLU)
    let plan: [(usize, u16, f64, i8, bool); 6] = [
        (64, 48, 0.6, -128, true),    // shift -1
        (48, 32, 3.0e-3, -5, true),   // ReLU clamp above -128
        (32, 40, 2.0e-7, 100, false), // shift -22
        (40, 24, 1.3e-4, 7, false),
        (24, 16, 0.02, -60, true),
        (16, 64, 0.11, 3, false),
    ];
    let mut layers = Vec::new();
    for (k, n, scale, zp, relu) in plan {
        let weights: Vec<i8> = (0..k * n as usize)
            .map(|_| (r.next_u64() % 255) as i8)
            .collect();
        let bias: Vec<i32> = (0..n)
            .map(|_| (r.next_u64() % 200_001) as i32 - 100_000)
            .collect();
        let q = Quant {
            scale: 0.05,
            zero_point: zp,
        };
        layers.push(QLayer {
            op: Op::Dense { units: n },
            act: if relu {
                Activation::Relu
            } else {
                Activation::Identity
            },
            weights,
            bias,
            requant: vec![scale; n as usize],
            pre: q,
            output: q,
            lut: None,
        });
    }
    let input_quant = Quant {
        scale: 0.05,
        zero_point: -3,
    };
    let samples = (0..3).map(|_| r.vec(64, -7.0, 7.0)).collect();
    random_model(
        "per-tensor",
        Shape::vector(64),
        input_quant,
        5,
        layers,
        samples,
    )
}

/// A firmware model from hand-made int8 layers (no preprocessing, MSE, no threshold).
fn random_model(
    name: &'static str,
    input: aedge_runtime::Shape,
    input_quant: aedge_runtime::Quant,
    encoder_layers: usize,
    layers: Vec<aedge_runtime::qgraph::QLayer>,
    samples: Vec<Vec<f32>>,
) -> Result<FirmwareModel, String> {
    let g = aedge_runtime::qgraph::QGraph::chain(name, input, input_quant, encoder_layers, layers);
    Ok(FirmwareModel {
        name,
        files: vec![(Precision::Int8, g.to_aedge().map_err(|e| e.to_string())?)],
        samples,
    })
}

/// Random int8 convolutions of awkward geometry, written through the int8 graph IR, so the
/// device's convolution kernels are compared with the host's on shapes the trained models do
/// not have: 1, 3, 4, 5, 7, 8 and 12 input channels (whole-word rows read in place, and the
/// rest staged), odd output channel counts, 1×1, 2×2, 3×3 and 5×5 kernels, stride 2,
/// asymmetric padding, windows that are all padding at the edges, per-channel requantization
/// and varied zero points. The chain ends at the input's shape (9×9×3) so `score` runs too.
pub fn conv_shapes_model() -> Result<FirmwareModel, String> {
    use aedge_runtime::qgraph::QLayer;
    use aedge_runtime::{Activation, Op, Quant, Shape};
    let mut r = aedge_runtime::rng::SplitMix(41);
    // (out_c, kernel, stride, pad [t, l, b, r], output zero point, ReLU); None = upsample ×2.
    type Conv = (u16, u8, u8, [u8; 4], i8, bool);
    let plan: [Option<Conv>; 8] = [
        Some((5, 3, 1, [1, 1, 1, 1], -20, true)), // 9×9×3 → 9×9×5 (3 channels: staged)
        Some((8, 3, 2, [0, 0, 1, 1], 11, false)), // → 4×4×8, stride 2, padding bottom/right
        Some((7, 1, 1, [0; 4], -3, true)),        // 1×1, rows of 8 bytes read in place
        Some((4, 3, 1, [1, 1, 1, 1], 40, false)), // 7 channels: staged
        Some((12, 5, 1, [2, 2, 2, 2], -90, true)), // 5×5 on 4×4: every window padded
        Some((8, 3, 1, [1, 1, 1, 1], 0, false)),  // 12 channels: interior in place
        None,                                     // → 8×8×8
        Some((3, 2, 1, [1, 1, 1, 1], -5, false)), // 2×2 → 9×9×3, odd output channels
    ];
    let mut shape = Shape::new(9, 9, 3);
    let mut q = Quant {
        scale: 0.05,
        zero_point: -7,
    };
    let input_quant = q;
    let mut layers = Vec::new();
    for step in plan {
        let Some((out_c, k, stride, pad, zp, relu)) = step else {
            layers.push(QLayer::plain(Op::Upsample2d { factor: [2, 2] }, q));
            shape = Shape::new(shape.h * 2, shape.w * 2, shape.c);
            continue;
        };
        let taps = k as usize * k as usize * shape.c as usize;
        let weights: Vec<i8> = (0..taps * out_c as usize)
            .map(|_| (r.next_u64() % 255) as i8)
            .collect();
        let bias: Vec<i32> = (0..out_c)
            .map(|_| (r.next_u64() % 20_001) as i32 - 10_000)
            .collect();
        // Accumulators spread about 5,000·√taps; aim the outputs at roughly ±60.
        let base = 0.011 / (taps as f64).sqrt();
        let requant = (0..out_c)
            .map(|_| base * (0.5 + (r.next_u64() % 1000) as f64 / 1000.0))
            .collect();
        let out = Quant {
            scale: 0.05,
            zero_point: zp,
        };
        layers.push(QLayer {
            op: Op::Conv2d {
                out_c,
                kernel: [k, k],
                stride: [stride, stride],
                pad,
            },
            act: if relu {
                Activation::Relu
            } else {
                Activation::Identity
            },
            weights,
            bias,
            requant,
            pre: out,
            output: out,
            lut: None,
        });
        let span = |n: u16, a: u8, b: u8| {
            (n as usize + a as usize + b as usize - k as usize) / stride as usize + 1
        };
        shape = Shape::new(
            span(shape.h, pad[0], pad[2]) as u16,
            span(shape.w, pad[1], pad[3]) as u16,
            out_c,
        );
        q = out;
    }
    if shape != Shape::new(9, 9, 3) {
        return Err(format!(
            "conv-shapes ends at {shape:?}, not the input's 9x9x3"
        ));
    }
    let samples = (0..3).map(|_| r.vec(243, -6.0, 6.0)).collect();
    random_model(
        "conv-shapes",
        Shape::new(9, 9, 3),
        input_quant,
        3,
        layers,
        samples,
    )
}

/// The check vector of the MLPerf AD model's README: `x[i] = ((i·37 + 11) mod 256) − 128`.
pub fn mlperf_check_vector() -> Vec<i8> {
    (0..640)
        .map(|i| (((i * 37 + 11) % 256) - 128) as i8)
        .collect()
}

/// TFLite Micro's outputs for the check vector: `(sum, Σ y[i]·((i mod 7) + 1), y[0..8])`.
pub fn mlperf_check_summary(y: &[i8]) -> (i64, i64, Vec<i8>) {
    let sum = y.iter().map(|&v| v as i64).sum();
    let weighted = y
        .iter()
        .enumerate()
        .map(|(i, &v)| v as i64 * ((i % 7) as i64 + 1))
        .sum();
    (sum, weighted, y[..8.min(y.len())].to_vec())
}

/// The outcome of one model on the device.
#[derive(Clone, Debug)]
pub struct CheckReport {
    /// ELF sizes.
    pub sizes: Sizes,
    /// Stack high-water mark in bytes.
    pub stack: usize,
    /// Median instructions per `score`.
    pub score_insns: u64,
    /// Median instructions per `denoise`.
    pub denoise_insns: u64,
    /// Instructions of the bare inference (`Model::run`, input already in the arena).
    pub run_insns: u64,
    /// Stack that bare inference used, bytes.
    pub run_stack: usize,
    /// Instructions of each layer of the same inference (the firmware's profile).
    pub layer_insns: Vec<u64>,
    /// How the device matched the host: "bit-identical" (int8) or the largest difference.
    pub agreement: String,
    /// The device's reconstruction of the first sample.
    pub first_recon: Vec<f32>,
}

/// What a firmware run in QEMU left: the kept ELF, the decoded log lines and, when asked for
/// and the plugin loads, the cycle plugin's timer reads.
type Run = (
    std::path::PathBuf,
    Vec<String>,
    Option<aedge::mcu::cycles::Reads>,
);

/// Builds the firmware with one model file and `m`'s samples, runs it in QEMU (with the cycle
/// plugin if `cycles`).
fn build_and_run(
    m: &FirmwareModel,
    precision: Precision,
    bytes: &[u8],
    work: &Path,
    target: &Path,
    cycles: bool,
) -> Result<Run, String> {
    let model_path = work.join(format!("{}-{precision}.aedge", m.name));
    let samples_path = work.join(format!("{}.f32", m.name));
    aedge_runtime::fs::write_atomic(&model_path, bytes).map_err(|e| e.to_string())?;
    aedge_runtime::fs::write_atomic(&samples_path, &samples_bytes(&m.samples))
        .map_err(|e| e.to_string())?;
    // Keep this build's ELF: the next build reuses the target directory.
    let kept = work.join(format!("{}-{precision}.elf", m.name));
    build(
        aedge::mcu::CHECK,
        &model_path,
        &samples_path,
        None,
        target,
        &kept,
    )?;
    let (raw, reads) = if cycles {
        aedge::mcu::run_qemu_maybe_cycles(&kept, 120)?
    } else {
        (run_qemu(&kept, 120)?, None)
    };
    let lines = decode(&kept, &raw)?;
    Ok((kept, lines, reads))
}

/// Builds the firmware for one model file, runs it in QEMU, and compares every sample with
/// aedge-runtime on the host: int8 reconstructions, errors and verdicts must be
/// bit-identical; f32 within 1e-5 (scores above 1: relative to the score).
pub fn check(
    m: &FirmwareModel,
    precision: Precision,
    bytes: &[u8],
    work: &Path,
    target: &Path,
) -> Result<CheckReport, String> {
    let (kept, lines, _) = build_and_run(m, precision, bytes, work, target, false)?;
    let run = parse_run(&lines)?;
    let bench = aedge::mcu::parse_bench(&lines)?;
    if run.samples.len() != m.samples.len() {
        return Err(format!(
            "device reported {} samples, expected {}",
            run.samples.len(),
            m.samples.len()
        ));
    }
    let file = AlignedBytes::from(bytes.to_vec());
    let model = Model::parse(&file).map_err(|e| e.to_string())?;
    let mut arena = AlignedBytes::zeroed(model.arena_len());
    let mut worst = 0.0f32;
    let mut host_scores = Vec::new();
    for (i, (x, dev)) in m.samples.iter().zip(&run.samples).enumerate() {
        let mut y = vec![0.0; model.output_shape().len()];
        model
            .reconstruct(x, &mut y, &mut arena)
            .map_err(|e| e.to_string())?;
        let s = model.score(x, &mut arena).map_err(|e| e.to_string())?;
        host_scores.push(s.error);
        if dev.recon.len() != y.len() {
            return Err(format!(
                "sample {i}: device sent {} values",
                dev.recon.len()
            ));
        }
        // Reconstructions are in model units (about 0..1): absolute. Scores can be large
        // (`mse+latent` sums standardised distances), where f32's rounding is relative: their
        // difference is taken relative to the host's score above 1, as the threshold's below.
        let diff = aedge_runtime::metrics::max_abs_diff(&y, &dev.recon)
            .max((s.error - dev.error).abs() / s.error.abs().max(1.0));
        worst = worst.max(diff);
        if precision == Precision::Int8 {
            let same = y
                .iter()
                .zip(&dev.recon)
                .all(|(a, b)| a.to_bits() == b.to_bits())
                && s.error.to_bits() == dev.error.to_bits()
                && s.anomalous == dev.anomalous;
            if !same {
                return Err(format!(
                    "{} int8 sample {i}: device differs from host (max diff {diff})",
                    m.name
                ));
            }
        } else if diff > 1e-5 || s.anomalous != dev.anomalous {
            return Err(format!(
                "{} {precision} sample {i}: device differs from host by {diff} (score {} on the host, {} on the device)",
                m.name, s.error, dev.error
            ));
        }
    }
    // The threshold the device learned from the same samples (aedge_runtime::Learner, the
    // model's rule) against the host's calibration of its own scores.
    let host = aedge_runtime::calibrate::threshold(&host_scores, model.threshold_rule()).ok();
    let agree = match (host, run.learned) {
        (Some((h, _)), Some(d)) if precision == Precision::Int8 => h.to_bits() == d.to_bits(),
        (Some((h, _)), Some(d)) => (h - d).abs() <= 1e-5 * h.abs().max(1.0),
        (None, None) => true,
        _ => false,
    };
    if !agree {
        return Err(format!(
            "{} {precision}: the device learned the threshold {:?}, the host calibrates {:?}",
            m.name,
            run.learned,
            host.map(|h| h.0)
        ));
    }
    if run.stored.map(f32::to_bits) != run.learned.map(f32::to_bits) {
        return Err(format!(
            "{} {precision}: the device stored {:?} but learned {:?}",
            m.name, run.stored, run.learned
        ));
    }
    if precision == Precision::Int8 {
        // The bare inference the firmware timed: sample 0, quantized into the arena.
        let mut pre = vec![0.0; m.samples[0].len()];
        model
            .preprocess(&m.samples[0], &mut pre)
            .map_err(|e| e.to_string())?;
        let q = model.input_quant();
        let input = model.input_mut(&mut arena).map_err(|e| e.to_string())?;
        for (d, &v) in input.iter_mut().zip(&pre) {
            *d = q.quantize(v) as u8;
        }
        let fnv = aedge_runtime::fnv1a(
            model
                .run(&mut arena)
                .map_err(|e| e.to_string())?
                .iter()
                .copied(),
        );
        if fnv != bench.output_fnv {
            return Err(format!(
                "{}: the device's bare int8 inference differs from the host's",
                m.name
            ));
        }
    }
    // The per-layer profile must cover every layer and add up to the bare inference (it
    // differs only by the timer reads between layers).
    let layer_insns: Vec<u64> = aedge::mcu::parse_layers(&lines)?
        .into_iter()
        .map(instructions)
        .collect();
    let layers = model.layer_count();
    let summed: u64 = layer_insns.iter().sum();
    let run_insns = instructions(bench.ticks);
    if layer_insns.len() != layers || summed.abs_diff(run_insns) > run_insns / 100 + 50 {
        return Err(format!(
            "{}: the per-layer profile ({} layers, {summed} instructions) does not match the \
             inference ({layers} layers, {run_insns} instructions)",
            m.name,
            layer_insns.len()
        ));
    }
    let median = |f: fn(&DeviceSample) -> u32| {
        let mut v: Vec<u32> = run.samples.iter().map(f).collect();
        v.sort_unstable();
        instructions(v[v.len() / 2])
    };
    Ok(CheckReport {
        sizes: sizes(&kept)?,
        stack: run.stack,
        score_insns: median(|s| s.score_ticks),
        denoise_insns: median(|s| s.denoise_ticks),
        run_insns,
        run_stack: bench.stack,
        layer_insns,
        agreement: if precision == Precision::Int8 {
            "bit-identical".into()
        } else {
            format!("max diff {worst:.1e}")
        },
        first_recon: run.samples[0].recon.clone(),
    })
}

/// Rows of the bundled NAB sample streamed on the device: from its start (the pattern memory
/// learns the normal stretch's shapes on the device, as when deployed) into its labelled
/// anomaly (2014-04-10 16:15 onwards is row 2992).
pub const STREAM_ROWS: std::ops::Range<usize> = 0..3200;

/// A series model as `aedge train` and `aedge export` make one (the series-dense preset's
/// architecture, a 24-row window), trained on the bundled NAB sample's normal stretch (its
/// first 605 rows, standardised on them), its error statistics from the last 10 % of their
/// windows; samples are [`STREAM_ROWS`] of the series, one value per row.
pub fn series_model() -> Result<FirmwareModel, String> {
    let path = crate::repo_root().join("data/nab-sample/art_daily_jumpsup.csv");
    let s = aedge_trainer::data::Series::read(&path, &["value"]).map_err(|e| e.to_string())?;
    let (window, normal_rows) = (24, 605);
    let (mean, std) = s.stats(normal_rows);
    let normal = aedge_trainer::data::Series {
        columns: s.columns.clone(),
        values: s.values[..normal_rows].to_vec(),
        time: None,
    };
    let d = normal.windows(window, 1, &mean, &std)?;
    let n_val = d.len() / 10;
    let fit = d.select(&(0..d.len() - n_val - window + 1).collect::<Vec<_>>());
    let held = d.select(&(d.len() - n_val..d.len()).collect::<Vec<_>>());
    let (spec, mut cfg) = aedge_trainer::presets::preset("series-dense", d.shape)?;
    cfg.epochs = 10;
    let opts = RunOptions::new(device(Backend::Flex).map_err(|e| e.to_string())?);
    let t = train(&spec, &cfg, &fit, None, &opts).map_err(|e| e.to_string())?;
    let mut g = to_graph(
        "series-dense",
        &t.model,
        &spec,
        &d,
        aedge_runtime::Metric::Mse,
    )?;
    // The range check, the hold, the daily cycle and the pattern memory as `aedge train`
    // sets them (the streamed rows hold the series' jump beyond its normal range), so the
    // device runs all four.
    let period = s.cycle(normal_rows, window);
    assert!(period > 0, "the sample's daily cycle is not found");
    g.series = Some(aedge_runtime::ir::Series {
        columns: vec!["value".into()],
        stride: 1,
        tail: 1,
        likelihood: aedge_runtime::Likelihood {
            hold: (normal_rows / 8) as u16,
            novelty: 100.0,
            ..aedge_runtime::Likelihood::NAB
        },
        range: s.range(normal_rows),
        period: period as u16,
        seasonal: s.seasonal_moments(normal_rows, period, &std),
        pattern: Some(
            aedge_runtime::pattern::fit(&s.values[..normal_rows], aedge_runtime::pattern::LEVELS)
                .ok_or("the sample's normal stretch is too short for a pattern memory")?,
        ),
    });
    let calib: Vec<Vec<f32>> = (0..200).map(|i| fit.raw(i * fit.len() / 200)).collect();
    let mut files =
        export_precisions(&g, &calib, &calib, &RANGE_METHODS).map_err(|e| e.to_string())?;
    aedge_runtime::precisions::calibrate_thresholds(
        &mut g,
        &mut files,
        &calib,
        &calib,
        &held.raw_all(),
        ThresholdRule::Percentile(99.0),
    )
    .map_err(|e| e.to_string())?;
    Ok(FirmwareModel {
        name: "series-dense",
        files: vec![(Precision::Int8, files.int8), (Precision::F32, files.f32)],
        samples: s.values[STREAM_ROWS].iter().map(|&v| vec![v]).collect(),
    })
}

/// A series model's run on the device, checked against the host.
#[derive(Clone, Debug)]
pub struct StreamReport {
    /// ELF sizes.
    pub sizes: Sizes,
    /// Rows streamed and windows scored.
    pub rows: usize,
    /// Windows scored (every row once the window is full, at stride 1).
    pub scored: usize,
    /// Windows the device flagged.
    pub flagged: usize,
    /// Median instructions of a push that scores a window.
    pub push_insns: u64,
    /// Mean instructions of a push that scores a window (the pattern memory's matching
    /// runs on one push in `step`).
    pub mean_push_insns: u64,
    /// Most instructions of a push that scores a window.
    pub max_push_insns: u64,
    /// Estimated Cortex-M4 cycles of a push that scores a window, median, mean and most, at
    /// 120 MHz's 5 flash wait states (`None` without the cycle plugin).
    pub push_cycles: Option<(u64, u64, u64)>,
    /// Scored windows that carried a pattern report.
    pub patterns: usize,
    /// Categories the pattern memory held at the end (host).
    pub categories: usize,
    /// Most instructions of a push that only fills the window.
    pub fill_insns: u64,
    /// The window buffer plus the `Stream` value, bytes (beside the arena).
    pub stream_bytes: usize,
    /// Stack high-water mark in bytes.
    pub stack: usize,
    /// "bit-identical" (int8) or the largest score difference (f32).
    pub agreement: String,
}

/// Streams a series model's samples through the firmware in QEMU and compares every scored
/// window with `Stream` on the host: int8 errors, scores and verdicts bit-identical, f32
/// within 1e-5.
pub fn check_stream(
    m: &FirmwareModel,
    precision: Precision,
    bytes: &[u8],
    work: &Path,
    target: &Path,
) -> Result<StreamReport, String> {
    let (kept, lines, reads) = build_and_run(m, precision, bytes, work, target, true)?;
    let dev = aedge::mcu::log::parse_stream(&lines)?;
    let file = AlignedBytes::from(bytes.to_vec());
    let model = Model::parse(&file).map_err(|e| e.to_string())?;
    let mut arena = AlignedBytes::zeroed(model.arena_len());
    let mut buffer = vec![0.0; aedge_runtime::Stream::buffer_len(&model)];
    let mut s = aedge_runtime::Stream::new(model, &mut buffer).map_err(|e| e.to_string())?;
    let mut host = Vec::new();
    for (r, x) in m.samples.iter().enumerate() {
        if let Some(p) = s.push(x, &mut arena).map_err(|e| e.to_string())? {
            host.push((r, p));
        }
    }
    let categories = s.patterns().map_or(0, |p| p.categories());
    if dev.rows != m.samples.len() || dev.points.len() != host.len() {
        return Err(format!(
            "{} {precision}: the device scored {} windows of {} rows, the host {} of {}",
            m.name,
            dev.points.len(),
            dev.rows,
            host.len(),
            m.samples.len()
        ));
    }
    let mut worst = 0.0f32;
    for (d, (row, h)) in dev.points.iter().zip(&host) {
        let same_row = d.row == *row && d.anomalous == h.anomalous;
        let diff = (d.error - h.error).abs().max((d.score - h.score).abs());
        worst = worst.max(diff);
        let ok = match precision {
            Precision::Int8 => {
                d.error.to_bits() == h.error.to_bits() && d.score.to_bits() == h.score.to_bits()
            }
            _ => diff <= 1e-5,
        };
        if !(ok && same_row) {
            return Err(format!(
                "{} {precision} row {row}: device error {} score {} {}, host {} {} {}",
                m.name, d.error, d.score, d.anomalous, h.error, h.score, h.anomalous
            ));
        }
    }
    // Estimated cycles of every scoring push, in the order they ran (the plugin's reads pair
    // with the pushes in that order; the filling pushes between are skipped by their counts).
    let push_cycles = match reads {
        Some(mut r) => {
            let mut c = dev
                .points
                .iter()
                .map(|p| {
                    let (estimate, _) = r
                        .take(instructions(p.push_ticks))?
                        .with_wait_states(aedge::mcu::cycles::WAIT_STATES[1]);
                    Ok(estimate)
                })
                .collect::<Result<Vec<u64>, String>>()?;
            c.sort_unstable();
            let mean = c.iter().sum::<u64>() / c.len().max(1) as u64;
            Some((c[c.len() / 2], mean, c[c.len() - 1]))
        }
        None => None,
    };
    let mut pushes: Vec<u32> = dev.points.iter().map(|p| p.push_ticks).collect();
    pushes.sort_unstable();
    let mean = pushes.iter().map(|&t| t as u64).sum::<u64>() / pushes.len().max(1) as u64;
    Ok(StreamReport {
        sizes: sizes(&kept)?,
        rows: dev.rows,
        scored: dev.points.len(),
        flagged: dev.points.iter().filter(|p| p.anomalous).count(),
        push_insns: instructions(pushes[pushes.len() / 2]),
        mean_push_insns: instructions(mean as u32),
        max_push_insns: instructions(pushes[pushes.len() - 1]),
        push_cycles,
        patterns: host.iter().filter(|(_, p)| p.pattern > 0.0).count(),
        categories,
        fill_insns: instructions(dev.unscored_push_max),
        stream_bytes: dev.buffer_bytes + dev.state_bytes,
        stack: dev.stack,
        agreement: if precision == Precision::Int8 {
            "bit-identical".into()
        } else {
            format!("max diff {worst:.1e}")
        },
    })
}
