//! Reading a verified TFLite flatbuffer: tensors with their shapes, quantization and constant
//! data, and operators with their resolved op codes.

use super::schema::tflite as fb;
use super::Error;
use aedge_runtime::{Quant, Shape};

/// Largest file accepted; the flatbuffer verifier walks every table, so this also bounds the
/// time it takes.
const MAX_FILE: usize = 256 << 20;

/// A parsed and verified TFLite model (its only subgraph).
pub struct File<'a> {
    bytes: &'a [u8],
    model: fb::Model<'a>,
    graph: fb::SubGraph<'a>,
}

/// One tensor.
pub struct Tensor<'a> {
    /// Index in the subgraph.
    pub index: usize,
    /// Name, for messages.
    pub name: &'a str,
    /// Dimensions.
    pub dims: Vec<i32>,
    /// Element type.
    pub dtype: fb::TensorType,
    /// Scales (one, or one per channel).
    pub scales: Vec<f32>,
    /// Zero points (as many as scales).
    pub zero_points: Vec<i64>,
    /// The dimension the per-channel parameters run along.
    pub quant_dim: usize,
    /// Constant contents, if the tensor has any.
    pub data: Option<&'a [u8]>,
}

impl<'a> File<'a> {
    /// Verifies the flatbuffer and picks its subgraph.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, Error> {
        if bytes.len() > MAX_FILE {
            return Err(Error::Malformed(format!(
                "file is {} bytes; the limit is {MAX_FILE}",
                bytes.len()
            )));
        }
        if !super::is_tflite(bytes) {
            return Err(Error::Malformed(
                "not a TFLite file (the flatbuffer identifier \"TFL3\" is missing)".into(),
            ));
        }
        let opts = flatbuffers::VerifierOptions {
            max_tables: 10_000_000,
            max_apparent_size: 1 << 31,
            ..Default::default()
        };
        let model = fb::root_as_model_with_opts(&opts, bytes)
            .map_err(|e| Error::Malformed(format!("invalid flatbuffer: {e}")))?;
        let subgraphs = model
            .subgraphs()
            .ok_or_else(|| Error::Malformed("the model has no subgraph".into()))?;
        if subgraphs.len() != 1 {
            return Err(Error::Malformed(format!(
                "the model has {} subgraphs; only single-graph models (no control flow) import",
                subgraphs.len()
            )));
        }
        Ok(File {
            bytes,
            model,
            graph: subgraphs.get(0),
        })
    }

    /// Indices of the graph's inputs.
    pub fn inputs(&self) -> Vec<i32> {
        self.graph
            .inputs()
            .map(|v| v.iter().collect())
            .unwrap_or_default()
    }

    /// Indices of the graph's outputs.
    pub fn outputs(&self) -> Vec<i32> {
        self.graph
            .outputs()
            .map(|v| v.iter().collect())
            .unwrap_or_default()
    }

    /// The operators in execution order.
    pub fn operators(&self) -> Vec<fb::Operator<'a>> {
        self.graph
            .operators()
            .map(|v| v.iter().collect())
            .unwrap_or_default()
    }

    /// The builtin op of an operator (TFLite's `GetBuiltinCode`: the larger of the two fields,
    /// since old files only fill the deprecated one).
    pub fn opcode(&self, op: &fb::Operator) -> Result<fb::BuiltinOperator, Error> {
        let codes = self
            .model
            .operator_codes()
            .ok_or_else(|| Error::Malformed("the model has no operator codes".into()))?;
        let i = op.opcode_index() as usize;
        if i >= codes.len() {
            return Err(Error::Malformed(format!(
                "operator code {i} does not exist"
            )));
        }
        let c = codes.get(i);
        Ok(fb::BuiltinOperator(
            c.builtin_code().0.max(c.deprecated_builtin_code() as i32),
        ))
    }

    /// Tensor `index` (as an operator lists it).
    pub fn tensor(&self, index: i32) -> Result<Tensor<'a>, Error> {
        let tensors = self
            .graph
            .tensors()
            .ok_or_else(|| Error::Malformed("the subgraph has no tensors".into()))?;
        let i = usize::try_from(index)
            .ok()
            .filter(|&i| i < tensors.len())
            .ok_or_else(|| Error::Malformed(format!("tensor {index} does not exist")))?;
        let t = tensors.get(i);
        let (scales, zero_points, quant_dim) = match t.quantization() {
            Some(q) => (
                q.scale().map(|v| v.iter().collect()).unwrap_or_default(),
                q.zero_point()
                    .map(|v| v.iter().collect())
                    .unwrap_or_default(),
                q.quantized_dimension().max(0) as usize,
            ),
            None => (Vec::new(), Vec::new(), 0),
        };
        Ok(Tensor {
            index: i,
            name: t.name().unwrap_or(""),
            dims: t.shape().map(|v| v.iter().collect()).unwrap_or_default(),
            dtype: t.type_(),
            scales,
            zero_points,
            quant_dim,
            data: self.buffer(t.buffer() as usize)?,
        })
    }

    /// Contents of buffer `i`: inline, or (in files over 2 GB) at an offset in the file.
    fn buffer(&self, i: usize) -> Result<Option<&'a [u8]>, Error> {
        let Some(buffers) = self.model.buffers() else {
            return Ok(None);
        };
        if i == 0 || i >= buffers.len() {
            // Buffer 0 is the empty sentinel by convention.
            return Ok(None);
        }
        let b = buffers.get(i);
        if let Some(d) = b.data() {
            return Ok((!d.is_empty()).then(|| d.bytes()));
        }
        if b.offset() > 1 {
            let start = usize::try_from(b.offset()).unwrap_or(usize::MAX);
            let len = usize::try_from(b.size()).unwrap_or(usize::MAX);
            return start
                .checked_add(len)
                .and_then(|end| self.bytes.get(start..end))
                .map(Some)
                .ok_or_else(|| Error::Malformed(format!("buffer {i} lies outside the file")));
        }
        Ok(None)
    }
}

impl Tensor<'_> {
    /// A name for messages: `tensor 3 "dense/BiasAdd"`.
    pub fn label(&self) -> String {
        format!("tensor {} \"{}\"", self.index, self.name)
    }

    /// Number of elements (saturating: absurd shapes then fail the size checks).
    pub fn len(&self) -> usize {
        self.dims
            .iter()
            .fold(1usize, |n, &d| n.saturating_mul(d.max(0) as usize))
    }

    /// The runtime shape of an activation tensor with batch 1 (`[1,h,w,c]`, `[1,n]`, `[1,t,c]`
    /// or `[n]`).
    pub fn shape(&self) -> Result<Shape, Error> {
        let d: Vec<u16> = self
            .dims
            .iter()
            .map(|&v| u16::try_from(v).ok().filter(|&v| v > 0))
            .collect::<Option<_>>()
            .ok_or_else(|| self.bad("has a dimension that is not in 1..=65535"))?;
        let shape = match d.as_slice() {
            [n] => Shape::vector(*n),
            [1, n] => Shape::vector(*n),
            [1, t, c] => Shape::new(*t, 1, *c),
            [1, h, w, c] => Shape::new(*h, *w, *c),
            _ => return Err(self.bad("must have batch 1 and rank 1 to 4")),
        };
        if !shape.is_valid() {
            return Err(self.bad("is too large for the runtime"));
        }
        Ok(shape)
    }

    /// Per-tensor int8 quantization of an activation.
    pub fn quant(&self) -> Result<Quant, Error> {
        if self.dtype != fb::TensorType::INT8 {
            return Err(self.bad(&format!(
                "is {}; activations must be int8 (a fully int8-quantized model)",
                type_name(self.dtype)
            )));
        }
        match (self.scales.as_slice(), self.zero_points.as_slice()) {
            ([s], [z]) if s.is_finite() && *s > 0.0 && (-128..=127).contains(z) => Ok(Quant {
                scale: *s,
                zero_point: *z as i8,
            }),
            _ => Err(self.bad("needs one positive scale and an int8 zero point")),
        }
    }

    /// Constant int8 weights with symmetric scales (one, or one per channel along
    /// `channel_dim`); returns the values and the scale of each of `channels` channels.
    pub fn weights(
        &self,
        channel_dim: usize,
        channels: usize,
    ) -> Result<(Vec<i8>, Vec<f32>), Error> {
        if self.dtype != fb::TensorType::INT8 {
            return Err(self.bad(&format!(
                "is {}; weights must be int8",
                type_name(self.dtype)
            )));
        }
        let data = self
            .data
            .ok_or_else(|| self.bad("holds no constant weights"))?;
        if data.len() != self.len() {
            return Err(self.bad("has a buffer of the wrong size"));
        }
        if channels == 0 || channels > data.len() || data.len() % channels != 0 {
            return Err(self.bad(&format!("does not divide into {channels} output channels")));
        }
        if self.zero_points.iter().any(|&z| z != 0) {
            return Err(self.bad("has non-zero weight zero points (only symmetric weights import)"));
        }
        let scales = match self.scales.len() {
            1 => vec![self.scales[0]; channels],
            n if n == channels && self.quant_dim == channel_dim => self.scales.clone(),
            _ => {
                return Err(self.bad(&format!(
                    "needs one scale or one per output channel ({channels}) along dimension {channel_dim}"
                )))
            }
        };
        if scales.iter().any(|s| !(s.is_finite() && *s > 0.0)) {
            return Err(self.bad("has a scale that is not finite and positive"));
        }
        Ok((data.iter().map(|&b| b as i8).collect(), scales))
    }

    /// Constant int32 values (biases, shape operands).
    pub fn int32s(&self) -> Result<Vec<i32>, Error> {
        if self.dtype != fb::TensorType::INT32 {
            return Err(self.bad("must be int32"));
        }
        let data = self
            .data
            .ok_or_else(|| self.bad("holds no constant data"))?;
        if data.len() != self.len().saturating_mul(4) {
            return Err(self.bad("has a buffer of the wrong size"));
        }
        Ok(data
            .chunks_exact(4)
            .map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect())
    }

    fn bad(&self, what: &str) -> Error {
        Error::Malformed(format!("{} {what}", self.label()))
    }
}

/// The schema's name of a tensor type.
pub fn type_name(t: fb::TensorType) -> &'static str {
    t.variant_name().unwrap_or("an unknown type")
}
