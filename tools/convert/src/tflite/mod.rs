//! Importing int8 TFLite models: the flatbuffer is verified and read with code `flatc`
//! generated from TFLite's `schema.fbs`, each operator becomes a runtime layer, and the
//! quantization parameters are turned into the runtime's the way TensorFlow Lite Micro
//! prepares them, so an imported model computes the same bits as TFLM.
//!
//! Supported: FULLY_CONNECTED, CONV_2D, DEPTHWISE_CONV_2D, TRANSPOSE_CONV, MAX_POOL_2D,
//! AVERAGE_POOL_2D, RESIZE_NEAREST_NEIGHBOR (integer factors), RESHAPE, SQUEEZE, LOGISTIC,
//! TANH, RELU, RELU6, fused NONE / RELU / RELU6 / RELU_N1_TO_1, and QUANTIZE / DEQUANTIZE at the
//! model's edges. The graph must be a chain (each op reads the previous op's output).
//!
//! `schema.fbs` is TFLite's (`tensorflow/compiler/mlir/lite/schema/schema.fbs` in
//! tensorflow/tflite-micro at 90b983c2b3f1480642e040bbd2ddb37b998f3424), and
//! `schema_generated.rs` was made from it with flatc 25.12.19 (built from the flatbuffers
//! v25.12.19 tag, matching the `flatbuffers` crate version):
//!
//! ```text
//! flatc --rust -o tools/convert/src/tflite tools/convert/src/tflite/schema.fbs
//! ```

mod convert;
mod reader;
mod tables;
#[rustfmt::skip]
#[allow(clippy::all, unused_imports, dead_code, deprecated, non_camel_case_types, missing_docs, unsafe_op_in_unsafe_fn, mismatched_lifetime_syntaxes)]
#[path = "schema_generated.rs"]
mod schema;

use aedge_runtime::qgraph::QGraph;

/// Why a TFLite file did not import.
#[derive(Debug)]
pub enum Error {
    /// The file is not a valid TFLite model, or a tensor is inconsistent.
    Malformed(String),
    /// An operator aedge cannot run (named, with its index in the file).
    Unsupported {
        /// Operator index in the subgraph.
        index: usize,
        /// TFLite's name of the op.
        op: String,
        /// What is missing.
        reason: String,
    },
    /// The converted model was rejected by the runtime.
    Runtime(aedge_runtime::Error),
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Malformed(m) => write!(f, "malformed TFLite model: {m}"),
            Error::Unsupported { index, op, reason } => {
                write!(f, "operator {index} ({op}): {reason}")
            }
            Error::Runtime(e) => write!(f, "the converted model does not load: {e}"),
        }
    }
}

impl std::error::Error for Error {}

impl From<aedge_runtime::Error> for Error {
    fn from(e: aedge_runtime::Error) -> Self {
        Error::Runtime(e)
    }
}

/// One imported operator, for reports.
#[derive(Clone, Debug, PartialEq)]
pub struct OpReport {
    /// Index in the TFLite subgraph.
    pub index: usize,
    /// TFLite's op name.
    pub op: String,
    /// What it became (runtime layer names, or "input quantization" / "output
    /// dequantization").
    pub became: String,
}

/// An imported model.
#[derive(Clone, Debug)]
pub struct Imported {
    /// The int8 graph; [`QGraph::to_aedge`] writes it.
    pub graph: QGraph,
    /// Whether the TFLite model takes float input (through QUANTIZE).
    pub float_input: bool,
    /// Whether it returns float output (through DEQUANTIZE).
    pub float_output: bool,
    /// What became of each operator.
    pub ops: Vec<OpReport>,
}

/// Converts a TFLite model to the runtime's int8 graph. `name` names the model in reports.
pub fn import(bytes: &[u8], name: &str) -> Result<Imported, Error> {
    let file = reader::File::parse(bytes)?;
    convert::convert(&file, name)
}

/// Whether `bytes` look like a TFLite flatbuffer (identifier "TFL3").
pub fn is_tflite(bytes: &[u8]) -> bool {
    // The flatbuffers check asserts (panics) on buffers shorter than offset + identifier.
    bytes.len() >= 8 && schema::tflite::model_buffer_has_identifier(bytes)
}
