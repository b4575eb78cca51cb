//! Constant folding: the shape arithmetic exporters emit (Shape, Gather, Concat, …) is
//! evaluated at import time.

use super::attr::*;
use super::lower::{axes_of, axis, Importer};
use super::ImportError;
use tract_onnx::pb::NodeProto;

/// Evaluates shape arithmetic on constants; `None` when `n` is not such a node.
pub(super) fn eval_const(imp: &Importer, n: &NodeProto) -> Result<Option<Const>, ImportError> {
    let c = |i: usize| n.input.get(i).and_then(|s| imp.constant(s));
    let all_const = n
        .input
        .iter()
        .filter(|s| !s.is_empty())
        .all(|s| imp.constant(s).is_some());
    let out = match n.op_type.as_str() {
        "Constant" => {
            let t = attr(n, "value")
                .and_then(|a| a.t.as_ref())
                .ok_or_else(|| unsupported(n, "Constant without a tensor value"))?;
            tensor_values(t)?
        }
        "Shape" => {
            let dims = if let Some(v) = imp.views.get(&n.input[0]) {
                v.dims.clone()
            } else if let Some(k) = c(0) {
                k.dims.clone()
            } else {
                return Ok(None);
            };
            Const {
                dims: vec![dims.len()],
                data: dims.iter().map(|&d| d as f64).collect(),
            }
        }
        _ if !all_const || n.input.is_empty() => return Ok(None),
        "Identity" | "Cast" => c(0).cloned().unwrap_or(Const {
            dims: vec![],
            data: vec![],
        }),
        "Gather" => {
            let (x, idx) = (c(0).cloned(), c(1).cloned());
            let (Some(x), Some(idx)) = (x, idx) else {
                return Ok(None);
            };
            if x.dims.len() != 1 || attr_i(n, "axis", 0) != 0 {
                return Err(unsupported(
                    n,
                    "Gather on constants only along a 1-D axis 0",
                ));
            }
            let len = x.data.len() as i64;
            let data = idx
                .data
                .iter()
                .map(|&i| {
                    let i = if i < 0.0 { i as i64 + len } else { i as i64 };
                    x.data
                        .get(i as usize)
                        .copied()
                        .ok_or_else(|| unsupported(n, "index out of range"))
                })
                .collect::<Result<Vec<_>, _>>()?;
            Const {
                dims: idx.dims.clone(),
                data,
            }
        }
        "Unsqueeze" | "Squeeze" => {
            let Some(x) = c(0).cloned() else {
                return Ok(None);
            };
            let mut dims = x.dims.clone();
            let axes = axes_of(imp, n).unwrap_or_default();
            if n.op_type == "Unsqueeze" {
                let rank = dims.len() + axes.len();
                let mut ax: Vec<usize> = axes.iter().filter_map(|&a| axis(a, rank)).collect();
                ax.sort_unstable();
                for a in ax {
                    dims.insert(a.min(dims.len()), 1);
                }
            } else {
                dims.retain(|&d| d != 1);
            }
            Const { dims, data: x.data }
        }
        "Concat" => {
            let mut data = Vec::new();
            for i in 0..n.input.len() {
                data.extend(c(i).map(|k| k.data.clone()).unwrap_or_default());
            }
            Const {
                dims: vec![data.len()],
                data,
            }
        }
        "ConstantOfShape" => {
            let shape: Vec<usize> = c(0)
                .map(|k| k.data.iter().map(|&d| d as usize).collect())
                .unwrap_or_default();
            let v = attr(n, "value")
                .and_then(|a| a.t.as_ref())
                .map(tensor_values)
                .transpose()?;
            let fill = v.and_then(|k| k.data.first().copied()).unwrap_or(0.0);
            let len: usize = shape.iter().product();
            if len > 1 << 24 {
                return Err(unsupported(n, "constant too large"));
            }
            Const {
                dims: shape,
                data: vec![fill; len],
            }
        }
        "Expand" => {
            let (Some(x), Some(s)) = (c(0).cloned(), c(1)) else {
                return Ok(None);
            };
            let shape: Vec<usize> = s.data.iter().map(|&d| d as usize).collect();
            if x.data
                .iter()
                .all(|&v| v == x.data.first().copied().unwrap_or(0.0))
            {
                // Uniform constants (the usual zero states) broadcast to any shape.
                let rank = shape.len().max(x.dims.len());
                let mut dims = vec![1; rank];
                for (i, d) in x.dims.iter().rev().enumerate() {
                    dims[rank - 1 - i] = *d;
                }
                for (i, d) in shape.iter().rev().enumerate() {
                    dims[rank - 1 - i] = dims[rank - 1 - i].max(*d);
                }
                let len: usize = dims.iter().product();
                if len > 1 << 24 {
                    return Err(unsupported(n, "constant too large"));
                }
                Const {
                    dims,
                    data: vec![x.data.first().copied().unwrap_or(0.0); len],
                }
            } else {
                return Err(unsupported(n, "Expand of a non-uniform constant"));
            }
        }
        _ => return Ok(None),
    };
    Ok(Some(out))
}
