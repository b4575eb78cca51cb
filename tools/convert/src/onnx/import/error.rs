//! Why an ONNX file could not be imported.

/// Why an ONNX file could not be imported.
#[derive(Debug, Clone, PartialEq)]
pub enum ImportError {
    /// The bytes are not an ONNX protobuf.
    Decode(String),
    /// An op with no runtime equivalent.
    UnsupportedOp {
        /// ONNX op type.
        op: String,
        /// Node name (or its first output when unnamed).
        node: String,
    },
    /// A supported op used in a way the runtime cannot express.
    Unsupported {
        /// Node name.
        node: String,
        /// What is not supported.
        reason: String,
    },
    /// The file is inconsistent (missing tensors, wrong sizes).
    Invalid(String),
}

impl std::fmt::Display for ImportError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ImportError::Decode(e) => write!(f, "not a valid ONNX file: {e}"),
            ImportError::UnsupportedOp { op, node } => write!(
                f,
                "ONNX op '{op}' (node '{node}') has no aedge runtime equivalent; supported: \
                 Gemm, MatMul+Add, Conv, ConvTranspose, MaxPool, Resize/Upsample (nearest), \
                 Relu, LeakyRelu, Sigmoid, Tanh, Flatten/Reshape, LSTM"
            ),
            ImportError::Unsupported { node, reason } => {
                write!(f, "node '{node}': {reason}")
            }
            ImportError::Invalid(e) => write!(f, "invalid ONNX model: {e}"),
        }
    }
}

impl std::error::Error for ImportError {}
