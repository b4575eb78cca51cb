//! tract-onnx as the reference: the one place an ONNX file is run outside aedge-runtime, for
//! checking imports and exports and for the bench's comparison.

use crate::onnx::{input_dims, to_onnx_order, to_runtime_order};
use aedge_runtime::ir::Graph;
use aedge_runtime::{AlignedBytes, Model, Precision};
use std::sync::Arc;
use tract_onnx::prelude::*;

/// An ONNX file planned by tract-onnx for one input shape.
pub struct Runner {
    plan: Arc<TypedRunnableModel>,
    dims: Vec<usize>,
}

impl Runner {
    /// Plans `onnx` for input `dims` (batch first) with tract's optimisations; when they
    /// fail, the unoptimised typed model is run instead (tract 0.23.9's declutter pass fails
    /// on PyTorch's LSTM-after-Tile graphs with "Trying to substitute ... EinSum", and the
    /// typed model runs them correctly).
    pub fn new(onnx: &[u8], dims: &[usize]) -> Result<Self, String> {
        let model = typed(onnx, dims).map_err(err)?;
        let plan = match model.clone().into_optimized() {
            Ok(m) => m.into_runnable(),
            Err(_) => model.into_runnable(),
        }
        .map_err(err)?;
        Ok(Runner {
            plan,
            dims: dims.to_vec(),
        })
    }

    /// Plans `onnx` with tract's optimisations only: what the bench times. An error when
    /// tract cannot optimise the graph for `dims` (say, a batch size the file fixes).
    pub fn optimized(onnx: &[u8], dims: &[usize]) -> Result<Self, String> {
        let plan = typed(onnx, dims)
            .and_then(|m| m.into_optimized())
            .and_then(|m| m.into_runnable())
            .map_err(err)?;
        Ok(Runner {
            plan,
            dims: dims.to_vec(),
        })
    }

    /// The input tensor for `x` (ONNX layout, `dims` elements), built once so that timed
    /// runs clone only a reference-counted handle.
    pub fn input(&self, x: Vec<f32>) -> Result<Input, String> {
        let t = Tensor::from_shape(&self.dims, &x).map_err(err)?;
        Ok(Input(t.into_tvalue()))
    }

    /// Runs the plan on a prepared input; returns the first output, flattened.
    pub fn run_input(&self, x: &Input) -> Result<Vec<f32>, String> {
        let out = self.plan.run(tvec!(x.0.clone())).map_err(err)?;
        Ok(out[0]
            .to_plain_array_view::<f32>()
            .map_err(err)?
            .iter()
            .copied()
            .collect())
    }

    /// Runs the plan on `x` (ONNX layout); returns the first output, flattened.
    pub fn run(&self, x: &[f32]) -> Result<Vec<f32>, String> {
        self.run_input(&self.input(x.to_vec())?)
    }
}

/// An input tensor prepared by [`Runner::input`].
#[derive(Clone)]
pub struct Input(TValue);

fn typed(onnx: &[u8], dims: &[usize]) -> TractResult<TypedModel> {
    tract_onnx::onnx()
        .model_for_read(&mut &onnx[..])?
        .with_input_fact(0, f32::fact(dims).into())?
        .into_typed()
}

fn err(e: TractError) -> String {
    format!("tract-onnx: {e:#}")
}

/// Runs `onnx` in tract-onnx on one input of `dims` (ONNX layout); the flat output.
pub fn run(onnx: &[u8], dims: &[usize], x: &[f32]) -> Result<Vec<f32>, String> {
    Runner::new(onnx, dims)?.run(x)
}

/// Runs the ONNX file in tract-onnx and `graph` in aedge-runtime (f32, without its
/// preprocessing, as ONNX files take model units) on the same sample (ONNX layout) and
/// returns the largest absolute difference of the reconstructions.
pub fn verify(onnx: &[u8], graph: &Graph, sample: &[f32]) -> Result<f32, String> {
    let dims = input_dims(onnx).map_err(|e| e.to_string())?;
    let expected = run(onnx, &dims, sample)?;
    let mut plain = graph.clone();
    plain.preprocess_scale = vec![1.0];
    plain.preprocess_offset = vec![0.0];
    let file = AlignedBytes::from(plain.to_aedge(Precision::F32).map_err(|e| e.to_string())?);
    let m = Model::parse(&file).map_err(|e| e.to_string())?;
    let mut arena = AlignedBytes::zeroed(m.arena_len());
    let x = to_runtime_order(&dims, sample);
    let mut y = vec![0.0; m.output_shape().len()];
    m.reconstruct(&x, &mut y, &mut arena)
        .map_err(|e| e.to_string())?;
    let got = to_onnx_order(&dims, &y);
    if got.len() != expected.len() {
        return Err(format!(
            "tract gives {} values, the runtime {}",
            expected.len(),
            got.len()
        ));
    }
    Ok(aedge_runtime::metrics::max_abs_diff(&got, &expected))
}
