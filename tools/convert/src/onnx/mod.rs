//! ONNX in both directions: [`to_onnx`] writes the graph IR as an ONNX file, [`from_onnx`]
//! reads one made elsewhere (PyTorch, Keras through tf2onnx, …) into it.

mod export;
mod import;

pub use export::{to_onnx, Part, OPSET};
pub use import::{
    from_onnx, input_dims, to_onnx_order, to_runtime_order, ImportError, ImportOptions,
};
