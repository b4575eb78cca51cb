//! Reading ONNX node attributes and constant tensors.

use super::ImportError;
use tract_onnx::pb::{tensor_proto::DataType, AttributeProto, NodeProto, TensorProto};

/// A constant tensor (initializer, Constant node, or evaluated shape arithmetic).
#[derive(Clone, Debug)]
pub(super) struct Const {
    pub(super) dims: Vec<usize>,
    pub(super) data: Vec<f64>,
}

pub(super) fn attr<'a>(n: &'a NodeProto, name: &str) -> Option<&'a AttributeProto> {
    n.attribute.iter().find(|a| a.name == name)
}

pub(super) fn attr_i(n: &NodeProto, name: &str, default: i64) -> i64 {
    attr(n, name).map_or(default, |a| a.i)
}

/// A two-value ints attribute (strides, output_padding) of a 2-D op, or `default`.
pub(super) fn pair(n: &NodeProto, name: &str, default: [i64; 2]) -> Result<[i64; 2], ImportError> {
    match attr_ints(n, name) {
        None => Ok(default),
        Some(v) => <[i64; 2]>::try_from(v.as_slice())
            .map_err(|_| unsupported(n, format!("{name} must have two values (a 2-D op)"))),
    }
}

pub(super) fn attr_f(n: &NodeProto, name: &str, default: f32) -> f32 {
    attr(n, name).map_or(default, |a| a.f)
}

pub(super) fn attr_ints(n: &NodeProto, name: &str) -> Option<Vec<i64>> {
    attr(n, name).map(|a| a.ints.clone())
}

pub(super) fn attr_s(n: &NodeProto, name: &str) -> Option<String> {
    attr(n, name).map(|a| String::from_utf8_lossy(&a.s).into_owned())
}

pub(super) fn node_name(n: &NodeProto) -> String {
    if n.name.is_empty() {
        n.output.first().cloned().unwrap_or_default()
    } else {
        n.name.clone()
    }
}

pub(super) fn tensor_values(t: &TensorProto) -> Result<Const, ImportError> {
    let dims: Vec<usize> = t.dims.iter().map(|&d| d.max(0) as usize).collect();
    let n: usize = dims.iter().product();
    let raw = &t.raw_data;
    let bad = || ImportError::Invalid(format!("tensor '{}' has the wrong amount of data", t.name));
    let data: Vec<f64> = match DataType::try_from(t.data_type) {
        Ok(DataType::Float) if !raw.is_empty() => raw
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]) as f64)
            .collect(),
        Ok(DataType::Float) => t.float_data.iter().map(|&v| v as f64).collect(),
        Ok(DataType::Double) if !raw.is_empty() => raw
            .chunks_exact(8)
            .map(|b| f64::from_le_bytes(b.try_into().unwrap_or([0; 8])))
            .collect(),
        Ok(DataType::Double) => t.double_data.clone(),
        Ok(DataType::Int64) if !raw.is_empty() => raw
            .chunks_exact(8)
            .map(|b| i64::from_le_bytes(b.try_into().unwrap_or([0; 8])) as f64)
            .collect(),
        Ok(DataType::Int64) => t.int64_data.iter().map(|&v| v as f64).collect(),
        Ok(DataType::Int32) if !raw.is_empty() => raw
            .chunks_exact(4)
            .map(|b| i32::from_le_bytes([b[0], b[1], b[2], b[3]]) as f64)
            .collect(),
        Ok(DataType::Int32) => t.int32_data.iter().map(|&v| v as f64).collect(),
        _ => {
            return Err(ImportError::Invalid(format!(
                "tensor '{}' has data type {}, only float, double, int32 and int64 are read",
                t.name, t.data_type
            )))
        }
    };
    if data.len() != n {
        return Err(bad());
    }
    Ok(Const { dims, data })
}

pub(super) fn unsupported(n: &NodeProto, reason: impl Into<String>) -> ImportError {
    ImportError::Unsupported {
        node: node_name(n),
        reason: reason.into(),
    }
}

pub(super) fn u16_of(n: &NodeProto, v: usize, what: &str) -> Result<u16, ImportError> {
    u16::try_from(v).map_err(|_| unsupported(n, format!("{what} {v} exceeds 65535")))
}

pub(super) fn u8_of(n: &NodeProto, v: i64, what: &str) -> Result<u8, ImportError> {
    u8::try_from(v).map_err(|_| unsupported(n, format!("{what} {v} must lie in 0..=255")))
}
