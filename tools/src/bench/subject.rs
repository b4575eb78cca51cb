//! What `aedge bench` measures: the built-in reference models (seeded random weights, so
//! every machine measures the same network) or a model trained with `aedge train`. A subject
//! carries everything each target needs: `.aedge` files per precision, the ONNX file for
//! tract, the burn model for the GPU, and sample inputs.

use aedge_convert::onnx::{to_onnx, Part};
use aedge_runtime::precisions::{export_precisions, RANGE_METHODS};
use aedge_runtime::rng::SplitMix;
use aedge_runtime::Precision;
use aedge_trainer::data::Dataset;
use aedge_trainer::export::to_graph;
use aedge_trainer::model::{Act, AutoEncoder, ModelSpec};

/// The built-in reference models, (name, description): the presets (`aedge_trainer::presets`) the bench measures with seeded random weights.
pub const REFERENCES: &[(&str, &str)] = &[
    ("seed-dense", "the seed's dense AE, 784-36-784 (ReLU code, sigmoid output)"),
    ("keras-conv", "the Keras blog's conv AE: Conv16/8/8 + MaxPool to 4x4x8, Conv + Upsample back"),
    ("mlperf-ad", "MLPerf Tiny anomaly detection, 640-128-128-128-128-8-128-128-128-128-640 (ReLU, linear output), random weights"),
];

/// One model in every form the targets need.
pub struct Subject {
    /// Name in the report.
    pub name: String,
    /// Multiply-accumulates per inference.
    pub macs: u64,
    /// `.aedge` files by precision.
    pub files: Vec<(Precision, Vec<u8>)>,
    /// The whole autoencoder as ONNX (model units), for tract.
    pub onnx: Option<Vec<u8>>,
    /// The burn model (on the CPU device) for the GPU run.
    pub burn: Option<AutoEncoder>,
    /// Sample inputs in sensor units.
    pub samples: Vec<Vec<f32>>,
    /// Where the weights come from.
    pub origin: String,
}

/// The preset's architecture at the input the reference runs on.
fn spec_of(name: &str) -> Result<ModelSpec, String> {
    let input = match name {
        "mlperf-ad" => [1, 1, 640],
        "seed-dense" | "keras-conv" => [28, 28, 1],
        other => {
            let names: Vec<&str> = REFERENCES.iter().map(|r| r.0).collect();
            return Err(format!(
                "unknown reference model '{other}' (expected one of {})",
                names.join(", ")
            ));
        }
    };
    Ok(aedge_trainer::presets::preset(name, input)?.0)
}

/// Sample data for a reference model: the bundled MNIST digits for the image models (when
/// `mnist` is given), else seeded uniform values in `[0, 1)`.
fn reference_data(spec: &ModelSpec, mnist: Option<&Dataset>) -> Dataset {
    if let Some(d) = mnist.filter(|d| d.shape == spec.input) {
        return d.select(&(0..d.len().min(256)).collect::<Vec<_>>());
    }
    let n = spec.input_len();
    let mut r = SplitMix(0xbe7c);
    Dataset {
        shape: spec.input,
        x: r.vec(64 * n, 0.0, 1.0),
        labels: None,
        scale: vec![1.0],
        offset: vec![0.0],
    }
}

/// A reference model with seeded random weights (burn's initialisers), exported to every
/// precision (int8 calibrated on the sample data) and to ONNX.
pub fn reference(name: &str, mnist: Option<&Dataset>) -> Result<Subject, String> {
    let spec = spec_of(name)?;
    let device = burn::tensor::Device::flex();
    // Held until `from_model` has read the weights, where they are drawn.
    let _seeded = aedge_trainer::train::seeding();
    device.seed(7);
    let model = spec.build(&device)?;
    let data = reference_data(&spec, mnist);
    let loss = if spec.out_act == Act::Sigmoid {
        aedge_trainer::loss::Loss::Bce
    } else {
        aedge_trainer::loss::Loss::Mse
    };
    let origin = if data.scale != [1.0] {
        "random weights (seed 7); int8 calibrated on the bundled MNIST sample"
    } else {
        "random weights (seed 7); int8 calibrated on seeded uniform inputs"
    };
    from_model(name, model, &spec, &data, loss, origin)
}

/// Any burn autoencoder with its data: exports the `.aedge` files and ONNX.
pub fn from_model(
    name: &str,
    model: AutoEncoder,
    spec: &ModelSpec,
    data: &Dataset,
    loss: aedge_trainer::loss::Loss,
    origin: &str,
) -> Result<Subject, String> {
    let graph = to_graph(name, &model, spec, data, loss.metric())?;
    let samples: Vec<Vec<f32>> = (0..data.len().min(64)).map(|i| data.raw(i)).collect();
    let files =
        export_precisions(&graph, &samples, &samples, &RANGE_METHODS).map_err(|e| e.to_string())?;
    let onnx = to_onnx(&graph, Part::Whole)?;
    let macs = aedge_runtime::Model::parse(&aedge_runtime::AlignedBytes::from(files.f32.clone()))
        .map_err(|e| e.to_string())?
        .macs();
    Ok(Subject {
        name: name.to_string(),
        macs,
        files: vec![
            (Precision::F32, files.f32),
            (Precision::F16, files.f16),
            (Precision::Int8, files.int8),
        ],
        onnx: Some(onnx),
        burn: Some(model),
        samples,
        origin: origin.to_string(),
    })
}

/// A `.aedge` file on its own: the runtime and MCU rows only (no ONNX or burn model to
/// compare with). Samples are seeded uniform values in model units: [0, 1) for float models,
/// the whole int8 input range for int8 models.
pub fn from_file(name: &str, bytes: Vec<u8>) -> Result<Subject, String> {
    let file = aedge_runtime::AlignedBytes::from(bytes.clone());
    let m = aedge_runtime::Model::parse(&file).map_err(|e| format!("{name}: {e}"))?;
    let n = m.input_shape().len();
    let scaling = m.scaling();
    let (lo, hi) = match m.precision() {
        aedge_runtime::Precision::Int8 => {
            let q = m.input_quant();
            (q.dequantize(-128), q.dequantize(127))
        }
        _ => (0.0, 1.0),
    };
    // Uniform in model units, mapped back to sensor units.
    let mut r = SplitMix(0xbe7c);
    let samples = (0..8)
        .map(|_| {
            (0..n)
                .map(|i| scaling.to_raw(i, r.uniform(lo, hi)))
                .collect()
        })
        .collect();
    Ok(Subject {
        name: name.to_string(),
        macs: m.macs(),
        files: vec![(m.precision(), bytes)],
        onnx: None,
        burn: None,
        samples,
        origin: "model file".into(),
    })
}
