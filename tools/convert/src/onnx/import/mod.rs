//! ONNX → graph IR: autoencoders trained elsewhere (PyTorch, Keras via tf2onnx, …) come in
//! here. The file is decoded with `tract_onnx::pb` (ONNX's protobuf types) and its nodes are
//! mapped onto runtime layers; [`crate::tract::verify`] then runs the original file in tract-onnx and the
//! imported model in aedge-runtime on the same input and reports the difference.
//!
//! Mapped ops: Gemm, MatMul (+ Add), Conv, ConvTranspose, MaxPool, Resize/Upsample
//! (nearest, integer factors), Relu, LeakyRelu, Sigmoid, Tanh, Flatten, Reshape, Transpose,
//! Squeeze, Unsqueeze, Tile, Expand, Gather (of a size-1 axis), Identity, Dropout and LSTM
//! (forward, zero initial state). Shape arithmetic on constants (Shape, Gather, Concat,
//! Unsqueeze, ConstantOfShape, Expand, Cast) is evaluated at import time. Any other op is an
//! [`ImportError::UnsupportedOp`] naming the op and the node.
//!
//! Layouts: the runtime is HWC, ONNX is NCHW. Every value on the model's chain is tracked as
//! ONNX dims plus a map from each ONNX element to its position in the runtime tensor;
//! transposes and reshapes only change the map, and dense layers absorb it into the order of
//! their weights, so no data is moved at run time.

mod attr;
mod error;
mod fold;
mod lower;
mod view;

pub use error::ImportError;
pub use view::{to_onnx_order, to_runtime_order};

use crate::boundary::encoder_end;
use aedge_runtime::ir::Graph;
use aedge_runtime::Metric;
use attr::{node_name, tensor_values, unsupported};
use fold::eval_const;
use lower::{chain_op, Importer};
use prost::Message;
use std::collections::HashMap;
use tract_onnx::pb::ModelProto;
use view::input_shape;

/// Settings the ONNX file does not carry.
#[derive(Clone, Debug)]
pub struct ImportOptions {
    /// Model name for reports (default: the ONNX graph name).
    pub name: Option<String>,
    /// Layers in the encoder; by default the encoder ends at the smallest layer output (the
    /// bottleneck).
    pub encoder_layers: Option<usize>,
    /// Reconstruction error metric.
    pub metric: Metric,
    /// Preprocessing scale (`model = raw * scale + offset`), one value or one per channel.
    pub preprocess_scale: Vec<f32>,
    /// Preprocessing offset.
    pub preprocess_offset: Vec<f32>,
}

impl Default for ImportOptions {
    fn default() -> Self {
        ImportOptions {
            name: None,
            encoder_layers: None,
            metric: Metric::Mse,
            preprocess_scale: vec![1.0],
            preprocess_offset: vec![0.0],
        }
    }
}

/// Decodes an ONNX file into the graph IR.
pub fn from_onnx(bytes: &[u8], options: &ImportOptions) -> Result<Graph, ImportError> {
    let model = ModelProto::decode(bytes).map_err(|e| ImportError::Decode(e.to_string()))?;
    let g = model
        .graph
        .ok_or_else(|| ImportError::Invalid("the model has no graph".into()))?;
    let mut consts = HashMap::new();
    for t in &g.initializer {
        consts.insert(t.name.clone(), tensor_values(t)?);
    }
    let dims = input_dims(bytes)?;
    let input_name = g
        .input
        .iter()
        .find(|i| !consts.contains_key(&i.name))
        .map(|i| i.name.clone())
        .unwrap_or_default();
    let (shape, view) = input_shape(&dims)?;
    let mut uses = HashMap::new();
    for n in &g.node {
        for i in &n.input {
            *uses.entry(i.clone()).or_insert(0) += 1;
        }
    }
    for o in &g.output {
        *uses.entry(o.name.clone()).or_insert(0) += 1;
    }
    let name = options.name.clone().unwrap_or_else(|| {
        if g.name.is_empty() {
            "onnx-import".into()
        } else {
            g.name.clone()
        }
    });
    let mut imp = Importer {
        consts,
        views: HashMap::from([(input_name.clone(), view.clone())]),
        graph: Graph::new(&name, shape),
        shape,
        last: None,
        uses,
        at: HashMap::from([(input_name.clone(), 0)]),
    };
    imp.graph.metric = options.metric;
    imp.graph.preprocess_scale = options.preprocess_scale.clone();
    imp.graph.preprocess_offset = options.preprocess_offset.clone();
    for n in &g.node {
        if let Some(c) = eval_const(&imp, n)? {
            for o in &n.output {
                imp.consts.insert(o.clone(), c.clone());
            }
            continue;
        }
        let on_chain = n.input.first().is_some_and(|i| imp.views.contains_key(i))
            || (n.op_type == "Add" && n.input.iter().any(|i| imp.views.contains_key(i)));
        if !on_chain {
            return Err(match n.op_type.as_str() {
                "Gemm" | "MatMul" | "Add" | "Conv" | "ConvTranspose" | "MaxPool"
                | "AveragePool" | "Clip" | "Resize" | "Upsample" | "Relu" | "LeakyRelu"
                | "Sigmoid" | "Tanh" | "Flatten" | "Reshape" | "LSTM" | "Transpose" | "Squeeze"
                | "Unsqueeze" | "Tile" | "Expand" | "Gather" => {
                    unsupported(n, "its data input does not come from the model input")
                }
                op => ImportError::UnsupportedOp {
                    op: op.into(),
                    node: node_name(n),
                },
            });
        }
        // Every op but a join reads the runtime tensor as it is now; an earlier value (a
        // branch) could only be a skip connection's.
        let branch = n
            .input
            .first()
            .filter(|i| imp.views.contains_key(*i) && !imp.is_current(i));
        if branch.is_some() && !matches!(n.op_type.as_str(), "Add" | "Concat") {
            return Err(unsupported(
                n,
                "reads a value from before the last layer: only Add and Concat may join an earlier value (a skip connection)",
            ));
        }
        chain_op(&mut imp, n, &g.node)?;
    }
    let out = g
        .output
        .first()
        .ok_or_else(|| ImportError::Invalid("the model has no output".into()))?;
    let v = imp.views.get(&out.name).cloned().ok_or_else(|| {
        ImportError::Invalid(format!(
            "output '{}' is not computed from the input",
            out.name
        ))
    })?;
    if v.len() != view.len() {
        return Err(ImportError::Invalid(format!(
            "the output has {} values, the input {}: not an autoencoder",
            v.len(),
            view.len()
        )));
    }
    // The reconstruction must come out in the input's layout.
    let last_node = g.node.last().cloned().unwrap_or_default();
    imp.arrange(&last_node, &v, &view)?;
    imp.reshape_to(&last_node, shape)?;
    let shapes = imp
        .graph
        .shapes()
        .map_err(|e| ImportError::Invalid(e.to_string()))?;
    imp.graph.encoder_layers = match options.encoder_layers {
        Some(k) if k <= imp.graph.layers.len() => k,
        Some(k) => {
            return Err(ImportError::Invalid(format!(
                "encoder_layers {k} exceeds the {} layers",
                imp.graph.layers.len()
            )))
        }
        None => encoder_end(
            imp.graph
                .layers
                .iter()
                .map(|l| &l.op)
                .zip(shapes.iter().map(|s| s.len())),
        ),
    };
    Ok(imp.graph)
}

/// The input dims of an ONNX file, batch (or any symbolic dimension) set to 1.
pub fn input_dims(bytes: &[u8]) -> Result<Vec<usize>, ImportError> {
    let model = ModelProto::decode(bytes).map_err(|e| ImportError::Decode(e.to_string()))?;
    let g = model
        .graph
        .ok_or_else(|| ImportError::Invalid("the model has no graph".into()))?;
    let inits: Vec<&str> = g.initializer.iter().map(|t| t.name.as_str()).collect();
    let inputs: Vec<_> = g
        .input
        .iter()
        .filter(|i| !inits.contains(&i.name.as_str()))
        .collect();
    let [input] = inputs[..] else {
        return Err(ImportError::Invalid(format!(
            "the model has {} inputs; an autoencoder has one",
            inputs.len()
        )));
    };
    match input.r#type.as_ref().and_then(|t| t.value.as_ref()) {
        Some(tract_onnx::pb::type_proto::Value::TensorType(t)) => {
            Ok(t.shape
                .as_ref()
                .map(|s| {
                    s.dim
                        .iter()
                        .map(|d| match d.value {
                            Some(
                                tract_onnx::pb::tensor_shape_proto::dimension::Value::DimValue(v),
                            ) if v > 0 => v as usize,
                            _ => 1,
                        })
                        .collect()
                })
                .unwrap_or_default())
        }
        _ => Err(ImportError::Invalid("the input is not a tensor".into())),
    }
}
