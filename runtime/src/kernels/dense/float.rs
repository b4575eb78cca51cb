//! The f32 fully connected layer.

use crate::desc::Activation;
use crate::dispatch;
use crate::kernels::dot::float::dot;
use crate::kernels::Weight;

#[inline(always)]
fn dense_impl<W: Weight>(x: &[f32], w: &[W], b: &[f32], act: Activation, y: &mut [f32]) {
    let n = x.len();
    for (o, (yo, bo)) in y.iter_mut().zip(b).enumerate() {
        *yo = act.apply(bo + dot(x, &w[o * n..][..n]));
    }
}

dispatch! {
    /// Fully connected layer: `y[o] = act(b[o] + w[o] · x)`, weights `[outputs][inputs]`.
    pub fn dense [W: Weight] (x: &[f32], w: &[W], b: &[f32], act: Activation, y: &mut [f32]) => dense_impl [W] for [avx2]
}
