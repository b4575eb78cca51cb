//! IR → ONNX: tract-onnx loads every exported file (whole model, encoder, decoder) and its
//! outputs match burn's within 1e-5.

mod common;

use aedge_convert::onnx::{to_onnx, Part};
use aedge_runtime::Shape;
use aedge_trainer::data::Dataset;
use aedge_trainer::export::to_graph;
use aedge_trainer::model::{Act, Architecture, ModelSpec, Upsampling};
use aedge_trainer::{TrainConfig, Trained};
use common::{burn_run, every_layer, max_diff, mnist, nab, trained, trained_lstm};

mod tract_side {
    /// Runs an ONNX model on one input of the given shape with tract's optimisations (an
    /// export they cannot plan is a failure); returns the flat output.
    pub fn run(bytes: &[u8], shape: &[usize], x: &[f32]) -> Result<Vec<f32>, String> {
        aedge_convert::tract::Runner::optimized(bytes, shape)?.run(x)
    }
}

/// ONNX input dims of a sample of `s` (NCHW for images, `[1, n]` for vectors).
fn dims(s: Shape) -> Vec<usize> {
    if s.h != 1 || s.w != 1 {
        vec![1, s.c as usize, s.h as usize, s.w as usize]
    } else {
        vec![1, s.len()]
    }
}

fn check(arch: Architecture) {
    let data = mnist(64);
    let (spec, cfg, t) = trained(arch, &data);
    check_trained(&spec, &cfg, &t, &data);
}

fn check_trained(spec: &ModelSpec, cfg: &TrainConfig, t: &Trained, data: &Dataset) {
    let g = to_graph("onnx-test", &t.model, spec, data, cfg.loss.metric()).unwrap();
    let latent = g.shapes().unwrap()[g.encoder_layers - 1];
    let latent_in = dims(latent);
    let input = dims(g.input);
    for i in 0..3 {
        // One channel, so HWC and CHW flatten alike.
        let x = data.sample(i);
        let y = tract_side::run(&to_onnx(&g, Part::Whole).unwrap(), &input, x).unwrap();
        let d = max_diff(&y, &burn_run(&t.model, x, |m, x| m.reconstruct(x)));
        assert!(d <= 1e-5, "{:?}: |tract - burn| = {d}", spec.arch);
        let z_burn = burn_run(&t.model, x, |m, x| m.encode(x));
        let z = tract_side::run(&to_onnx(&g, Part::Encoder).unwrap(), &input, x).unwrap();
        // tract's latent is NCHW, burn's HWC: compare as sets of values in HWC order.
        let z_hwc: Vec<f32> = if latent_in.len() == 4 {
            let (c, h, w) = (latent.c as usize, latent.h as usize, latent.w as usize);
            (0..h * w * c).map(|k| z[(k % c) * h * w + k / c]).collect()
        } else {
            z.clone()
        };
        assert!(
            max_diff(&z_hwc, &z_burn) <= 1e-5,
            "{:?}: encoder differs",
            spec.arch
        );
        if let Err(e) = to_onnx(&g, Part::Decoder) {
            // Skips that cross the code leave the decoder without a graph of its own.
            assert!(e.contains("cross the code"), "{e}");
            continue;
        }
        let y2 = tract_side::run(&to_onnx(&g, Part::Decoder).unwrap(), &latent_in, &z).unwrap();
        assert!(
            max_diff(&y2, &y) <= 1e-5,
            "{:?}: decoder(encoder(x)) differs",
            spec.arch
        );
    }
}

#[test]
fn dense_onnx_runs_in_tract() {
    check(Architecture::Dense {
        hidden: vec![32],
        code: 8,
        code_act: Act::Relu,
    });
}

#[test]
fn vae_onnx_runs_in_tract() {
    check(Architecture::Vae {
        hidden: vec![32],
        latent: 2,
    });
}

#[test]
fn conv_nearest_onnx_runs_in_tract() {
    check(Architecture::Conv {
        channels: vec![8, 4, 4],
        upsampling: Upsampling::Nearest,
    });
}

#[test]
fn conv_transpose_onnx_runs_in_tract() {
    check(Architecture::Conv {
        channels: vec![8, 4],
        upsampling: Upsampling::Transpose,
    });
}

#[test]
fn lstm_onnx_runs_in_tract() {
    let data = nab(24);
    let (spec, cfg, t) = trained_lstm(&data, 8);
    check_trained(&spec, &cfg, &t, &data);
}

#[test]
fn layer_list_onnx_runs_in_tract() {
    check(every_layer());
}

#[test]
fn unet_onnx_runs_in_tract() {
    check(common::unet());
}
