//! The layout map: each value on the chain is tracked as ONNX dims plus, for every ONNX
//! element, its position in the runtime (HWC) tensor, so transposes and reshapes only move
//! indices and no data is moved at run time.

use super::ImportError;
use aedge_runtime::Shape;

/// A value on the model's chain: ONNX dims (batch fixed to 1) and, for each ONNX element in
/// row-major order, its index in the runtime tensor.
#[derive(Clone, Debug)]
pub(super) struct View {
    pub(super) dims: Vec<usize>,
    pub(super) map: Vec<u32>,
}

impl View {
    pub(super) fn identity(dims: Vec<usize>) -> View {
        let n = dims.iter().product::<usize>();
        View {
            dims,
            map: (0..n as u32).collect(),
        }
    }

    pub(super) fn len(&self) -> usize {
        self.map.len()
    }
}

/// The ONNX `[1, C, H, W]` view of a runtime `H × W × C` tensor.
pub(super) fn nchw_view(s: Shape) -> View {
    let (c, h, w) = (s.c as usize, s.h as usize, s.w as usize);
    let mut map = Vec::with_capacity(s.len());
    for ci in 0..c {
        for y in 0..h {
            for x in 0..w {
                map.push(((y * w + x) * c + ci) as u32);
            }
        }
    }
    View {
        dims: vec![1, c, h, w],
        map,
    }
}

pub(super) fn strides(dims: &[usize]) -> Vec<usize> {
    let mut s = vec![1; dims.len()];
    for i in (0..dims.len().saturating_sub(1)).rev() {
        s[i] = s[i + 1] * dims[i + 1];
    }
    s
}

/// Maps a flat output index of `perm`-transposed `dims` back to the input's flat index.
pub(super) fn transpose_view(v: &View, perm: &[usize]) -> View {
    let out_dims: Vec<usize> = perm.iter().map(|&p| v.dims[p]).collect();
    let (is, os) = (strides(&v.dims), strides(&out_dims));
    let map = (0..v.len())
        .map(|k| {
            let src: usize = perm
                .iter()
                .enumerate()
                .map(|(a, &p)| (k / os[a]) % out_dims[a] * is[p])
                .sum();
            v.map[src]
        })
        .collect();
    View {
        dims: out_dims,
        map,
    }
}

/// Runtime input shape for ONNX input dims (batch first): `[N, n]`, `[N, steps, features]`
/// or `[N, C, H, W]`.
pub(super) fn input_shape(dims: &[usize]) -> Result<(Shape, View), ImportError> {
    let u = |v: usize| {
        u16::try_from(v)
            .map_err(|_| ImportError::Invalid(format!("input dimension {v} exceeds 65535")))
    };
    match dims {
        [_, n] => Ok((Shape::vector(u(*n)?), View::identity(vec![1, *n]))),
        [_, t, f] => Ok((
            Shape::new(u(*t)?, 1, u(*f)?),
            View::identity(vec![1, *t, *f]),
        )),
        [_, c, h, w] => {
            let s = Shape::new(u(*h)?, u(*w)?, u(*c)?);
            Ok((s, nchw_view(s)))
        }
        _ => Err(ImportError::Invalid(format!(
            "input of rank {} (expected [N, n], [N, steps, features] or [N, C, H, W])",
            dims.len()
        ))),
    }
}

/// Converts one sample from the ONNX layout of `onnx_dims` (NCHW for 4-D inputs) to the
/// runtime's (HWC). Other ranks have the same order in both.
pub fn to_runtime_order(onnx_dims: &[usize], onnx: &[f32]) -> Vec<f32> {
    let Ok((_, view)) = input_shape(onnx_dims) else {
        return onnx.to_vec();
    };
    let mut out = vec![0.0; onnx.len()];
    for (e, &m) in view.map.iter().enumerate() {
        if let (Some(d), Some(&v)) = (out.get_mut(m as usize), onnx.get(e)) {
            *d = v;
        }
    }
    out
}

/// The inverse of [`to_runtime_order`], for reconstructions.
pub fn to_onnx_order(onnx_dims: &[usize], runtime: &[f32]) -> Vec<f32> {
    let Ok((_, view)) = input_shape(onnx_dims) else {
        return runtime.to_vec();
    };
    view.map
        .iter()
        .map(|&m| runtime.get(m as usize).copied().unwrap_or(0.0))
        .collect()
}
