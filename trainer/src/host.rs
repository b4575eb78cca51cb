//! Host-side numerics for the CPU backend: reading tensors back, writing them, flushing
//! values that would turn subnormal.
//!
//! On burn-flex a tensor's values are a plain copy away, so the trainer computes the loss and
//! the optimiser updates in single vectorised passes here instead of a chain of burn ops.

use burn::tensor::{Device, Shape, Tensor, TensorData};

/// Values below this are stored as zero by the host loss and the optimisers. Subnormal
/// operands make every later op over them take microcode assists (burn's Adam and RMSProp
/// slowed 8× once their moments decayed that far); a value of 1e-30 in a gradient or a moment
/// moves no weight by more than about 1e-22·lr (updates divide by `√v + ε` with `ε ≥ 1e-8`),
/// far below any weight's `f32` resolution. XLA and TensorFlow flush subnormals in the FPU
/// instead, which Rust code cannot soundly do.
pub const TINY: f32 = 1e-30;

/// Gradients whose square could fall below [`TINY`] (and be subnormal) add nothing to squared
/// running averages; their contribution to a square root is below 1e-15, against `ε`.
pub const SQRT_TINY: f32 = 1e-15;

/// Zero for magnitudes below `limit`. Comparisons cost nothing on subnormals.
#[inline(always)]
pub fn flush(x: f32, limit: f32) -> f32 {
    if x.abs() < limit {
        0.0
    } else {
        x
    }
}

/// A tensor's values as `f32`, or `None` if they do not convert.
pub fn read<const D: usize>(t: &Tensor<D>) -> Option<Vec<f32>> {
    t.clone()
        .into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .ok()
}

/// A tensor of `shape` on `device` from host values.
pub fn write<const D: usize>(values: Vec<f32>, shape: Shape, device: &Device) -> Tensor<D> {
    Tensor::from_data(TensorData::new(values, shape), device)
}

/// One optimiser step on the host: reads back a parameter, its gradient and the two running
/// averages of `state` (zeros before the first step), runs `update(param, grad, a, b)` on
/// them, and returns the new parameter and averages. `None` if a tensor does not read back as
/// `f32` or the sizes disagree.
pub fn step_two<const D: usize>(
    tensor: &Tensor<D>,
    grad: &Tensor<D>,
    state: Option<[&Tensor<D>; 2]>,
    update: impl FnOnce(&mut [f32], &[f32], &mut [f32], &mut [f32]),
) -> Option<(Tensor<D>, [Tensor<D>; 2])> {
    let (device, shape) = (tensor.device(), tensor.shape());
    let mut p = read(tensor)?;
    let g = read(grad)?;
    let (mut a, mut b) = match state {
        Some([a, b]) => (read(a)?, read(b)?),
        None => (vec![0.0; p.len()], vec![0.0; p.len()]),
    };
    if g.len() != p.len() || a.len() != p.len() || b.len() != p.len() {
        return None;
    }
    update(&mut p, &g, &mut a, &mut b);
    Some((
        write(p, shape.clone(), &device),
        [write(a, shape.clone(), &device), write(b, shape, &device)],
    ))
}
