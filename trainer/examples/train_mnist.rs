//! From data to deployable files: trains a preset on MNIST digits (the bundled sample, or an
//! IDX file you give), then writes to `runs/<preset>/` the metrics, a checkpoint, ONNX files
//! (whole, encoder, decoder), `.aedge` files in f32, f16 and int8 with a calibrated anomaly
//! threshold (int8 with min/max or percentile ranges, whichever reproduces f32 better),
//! `parity.json` (every hop: f32 vs burn, f16/int8 vs f32), and PNG image grids.
//!
//! `cargo run --release -p aedge-trainer --example train_mnist -- [PRESET] [EPOCHS] [IDX_IMAGES]`

use aedge_convert::onnx::{to_onnx, Part};
use aedge_runtime::calibrate::threshold;
use aedge_runtime::{fs, AlignedBytes, Model, Precision, ThresholdRule};
use aedge_trainer::corrupt::Corruption;
use aedge_trainer::data::{Dataset, Images};
use aedge_trainer::export::to_graph;
use aedge_trainer::parity;
use aedge_trainer::plot::{image_grid, Grid};
use aedge_trainer::presets::preset;
use aedge_trainer::{device, train, Backend, RunOptions};
use std::path::PathBuf;

// Training allocates and frees a tensor per operation; glibc serves blocks this large with
// mmap/munmap, and the page faults and TLB shootdowns cost about a quarter of a dense AE's
// training time. mimalloc keeps them (about a third more samples/s on seed-dense).
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let args: Vec<String> = std::env::args().skip(1).collect();
    let name = args.first().map_or("seed-dense", String::as_str);
    let epochs: Option<usize> = args.get(1).map(|s| s.parse()).transpose()?;
    let images = args
        .get(2)
        .map(PathBuf::from)
        .unwrap_or_else(|| repo.join("data/mnist-sample/t1k-images-idx3-ubyte.gz"));
    let out = repo.join("runs").join(name);
    std::fs::create_dir_all(&out)?;

    // Labels (for the latent scatter) when training on the bundled sample.
    let labels = match args.get(2) {
        None => Some(aedge_trainer::data::read_labels(
            repo.join("data/mnist-sample/t1k-labels-idx1-ubyte.gz"),
        )?),
        Some(_) => None,
    };
    let data = Dataset::from_images(&Images::read(&images)?, labels);
    let (train_set, val) = data.split(0.1, 1);
    let (spec, mut cfg) = preset(name, data.shape)?;
    cfg.epochs = epochs.unwrap_or(3);
    println!(
        "training {name} on {} images ({} validation) for {} epochs",
        train_set.len(),
        val.len(),
        cfg.epochs
    );
    let mut opts = RunOptions::new(device(Backend::Flex)?);
    opts.progress = true;
    opts.metrics = Some(out.join("metrics.csv"));
    opts.checkpoint_dir = Some(out.join("checkpoint"));
    let trained = train(&spec, &cfg, &train_set, Some(&val), &opts)?;

    let mut graph = to_graph(name, &trained.model, &spec, &data, cfg.loss.metric())?;
    // Threshold: 99th percentile of the f32 reconstruction errors on held-out digits.
    let f32_bytes = AlignedBytes::from(graph.to_aedge(Precision::F32)?);
    let f32_model = Model::parse(&f32_bytes)?;
    let mut arena = AlignedBytes::zeroed(f32_model.arena_len());
    let raw_val: Vec<Vec<f32>> = (0..val.len()).map(|i| val.raw(i)).collect();
    let errors: Vec<f32> = raw_val
        .iter()
        .map(|x| f32_model.score(x, &mut arena).map(|s| s.error))
        .collect::<Result<_, _>>()?;
    let rule = ThresholdRule::Percentile(99.0);
    (graph.threshold, graph.errors) = threshold(&errors, rule)?;
    graph.threshold_rule = rule;

    let calib: Vec<Vec<f32>> = (0..train_set.len().min(200))
        .map(|i| train_set.raw(i))
        .collect();
    // int8 with min/max or percentile ranges, whichever reproduces f32 better.
    let files = aedge_runtime::precisions::export_precisions(
        &graph,
        &calib,
        &raw_val,
        &aedge_runtime::precisions::RANGE_METHODS,
    )?;
    for (p, bytes) in [
        (Precision::F32, &files.f32),
        (Precision::F16, &files.f16),
        (Precision::Int8, &files.int8),
    ] {
        let path = out.join(format!("{name}-{p}.aedge"));
        fs::write_atomic(&path, bytes)?;
        let aligned = AlignedBytes::from(bytes.clone());
        let m = Model::parse(&aligned)?;
        println!(
            "{}: {} bytes, arena {} bytes",
            path.display(),
            bytes.len(),
            m.arena_len()
        );
    }
    // Parity on the validation digits; anomaly labels from a synthetic set: the same digits,
    // normal, and with gaussian noise (factor 0.5, clipped), anomalous.
    let val_idx: Vec<usize> = (0..val.len()).collect();
    let burn = parity::burn_reconstructions(&trained.model, &val, &val_idx, &opts.device);
    let mut rng = aedge_runtime::rng::SplitMix(7);
    let noise = Corruption::Gaussian {
        factor: 0.5,
        clip: true,
    };
    let mut labelled = raw_val.clone();
    let mut labels = vec![false; raw_val.len()];
    for i in 0..val.len() {
        let mut x = val.sample(i).to_vec();
        noise.apply(&mut x, &mut rng);
        labelled.push(
            x.iter()
                .map(|m| (m - data.offset[0]) / data.scale[0])
                .collect(),
        );
        labels.push(true);
    }
    let report = parity::report(
        name,
        &files,
        &raw_val,
        &burn,
        Some(parity::Labelled {
            samples: &labelled,
            anomalous: &labels,
            source: "synthetic: validation digits clean vs gaussian noise 0.5",
        }),
    )?;
    println!("{}", report.summary());
    fs::write_atomic(
        out.join("parity.json"),
        serde_json::to_string_pretty(&report)?.as_bytes(),
    )?;
    for (part, file) in [
        (Part::Whole, "model.onnx"),
        (Part::Encoder, "encoder.onnx"),
        (Part::Decoder, "decoder.onnx"),
    ] {
        fs::write_atomic(out.join(file), &to_onnx(&graph, part)?)?;
    }

    // Inputs (top) against int8 reconstructions (bottom), as in the seed's figure.
    let q = fs::read(out.join(format!("{name}-int8.aedge")))?;
    let qm = Model::parse(&q)?;
    let mut qa = AlignedBytes::zeroed(qm.arena_len());
    let n = val.len().min(10);
    let recon: Vec<Vec<f32>> = (0..n)
        .map(|i| {
            let mut y = vec![0.0; qm.output_shape().len()];
            qm.reconstruct(&raw_val[i], &mut y, &mut qa).map(|_| y)
        })
        .collect::<Result<_, _>>()?;
    let inputs: Vec<&[f32]> = (0..n).map(|i| val.sample(i)).collect();
    image_grid(
        &out.join("reconstructions.png"),
        &[inputs, recon.iter().map(Vec::as_slice).collect()],
        data.shape,
        Grid::figure(3),
    )?;
    // Denoising presets: noisy (top), clean (middle), denoised by the int8 model (bottom).
    if let Some(c) = cfg.corruption {
        let mut rng = aedge_runtime::rng::SplitMix(99);
        let mut noisy: Vec<Vec<f32>> = Vec::new();
        let mut denoised: Vec<Vec<f32>> = Vec::new();
        for i in 0..n {
            let mut x = val.sample(i).to_vec();
            c.apply(&mut x, &mut rng);
            let raw: Vec<f32> = x
                .iter()
                .map(|m| (m - data.offset[0]) / data.scale[0])
                .collect();
            let mut y = vec![0.0; qm.output_shape().len()];
            qm.reconstruct(&raw, &mut y, &mut qa)?;
            noisy.push(x);
            denoised.push(y);
        }
        let clean: Vec<&[f32]> = (0..n).map(|i| val.sample(i)).collect();
        let rows = [
            noisy.iter().map(Vec::as_slice).collect(),
            clean,
            denoised.iter().map(Vec::as_slice).collect(),
        ];
        image_grid(
            &out.join("denoising.png"),
            &rows,
            data.shape,
            Grid::figure(3),
        )?;
    }
    // Two-dimensional latent spaces (keras-vae): the codes of the validation digits with their
    // labels, and the decoded manifold over [-3, 3]².
    if f32_model.latent_shape().len() == 2 {
        // As CSV: charts are drawn by the CLI (`aedge train` writes loss.png).
        if let Some(labels) = &val.labels {
            let mut csv = String::from("z0,z1,label\n");
            for (i, label) in labels.iter().enumerate().take(val.len()) {
                let mut z = [0.0f32; 2];
                f32_model.encode(&val.raw(i), &mut z, &mut arena)?;
                csv.push_str(&format!("{},{},{label}\n", z[0], z[1]));
            }
            fs::write_atomic(out.join("latent.csv"), csv.as_bytes())?;
        }
        let g = 15;
        let points = aedge_trainer::plot::latent_grid(g, 3.0);
        let digits: Vec<Vec<f32>> = points
            .iter()
            .map(|z| {
                let mut y = vec![0.0; f32_model.output_shape().len()];
                f32_model.decode(z, &mut y, &mut arena).map(|_| y)
            })
            .collect::<Result<_, _>>()?;
        let rows: Vec<Vec<&[f32]>> = digits
            .chunks(g)
            .map(|r| r.iter().map(Vec::as_slice).collect())
            .collect();
        image_grid(
            &out.join("manifold.png"),
            &rows,
            data.shape,
            Grid::figure(1),
        )?;
    }
    let last = trained.history.last().ok_or("no epochs")?;
    println!(
        "final train loss {:.4}, val loss {:.4}; threshold {:.4} (p99 of {} val errors); files in {}",
        last.train_loss,
        last.val_loss.unwrap_or(f64::NAN),
        graph.threshold,
        errors.len(),
        out.display()
    );
    Ok(())
}
