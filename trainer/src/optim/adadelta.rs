//! Adadelta (Zeiler 2012), which burn does not ship; on burn-flex one host pass per
//! parameter, with running averages below [`TINY`] stored as zero (see [`crate::host`]).

use crate::device::reads_back_cheaply;
use crate::host::{self, flush, SQRT_TINY, TINY};
use burn::optim::{Optimizer, RecordState, StateSink, StateSource};
use burn::tensor::{Device, Tensor};

/// Adadelta: per-parameter step sizes from running averages of squared gradients and squared
/// updates.
#[derive(Clone, Debug)]
pub struct Adadelta {
    rho: f32,
    epsilon: f32,
    host: bool,
}

/// Adadelta's running averages for one parameter.
#[derive(Clone)]
pub struct AdadeltaState<const D: usize> {
    /// Running mean of squared gradients.
    pub grad_sq: Tensor<D>,
    /// Running mean of squared updates.
    pub update_sq: Tensor<D>,
}

// burn's `RecordState` derive only works inside burn-optim, so the two tensors are
// flattened by hand (what checkpoints save and resume restores).
impl<const D: usize> RecordState for AdadeltaState<D> {
    fn state_flatten(&self, prefix: &str, out: &mut StateSink) {
        out.push_tensor(prefix, "grad_sq", self.grad_sq.clone().into_data());
        out.push_tensor(prefix, "update_sq", self.update_sq.clone().into_data());
    }

    fn state_unflatten(prefix: &str, src: &mut StateSource, device: &Device) -> Option<Self> {
        let grad_sq = Tensor::from_data(src.take_tensor(prefix, "grad_sq")?, device);
        let update_sq = Tensor::from_data(src.take_tensor(prefix, "update_sq")?, device);
        Some(AdadeltaState { grad_sq, update_sq })
    }
}

impl Adadelta {
    /// Adadelta with decay `rho` and `epsilon` inside both square roots.
    pub fn new(rho: f32, epsilon: f32) -> Self {
        Adadelta {
            rho,
            epsilon,
            host: true,
        }
    }

    /// The same optimiser, updating in its host pass where the device allows (`true`, the
    /// default) or with burn's tensor ops on every device (`false`, to cross-check the pass).
    pub fn host_pass(self, host: bool) -> Self {
        Adadelta { host, ..self }
    }
}

impl Optimizer for Adadelta {
    type State<const D: usize> = AdadeltaState<D>;

    fn step<const D: usize>(
        &self,
        lr: f64,
        tensor: Tensor<D>,
        grad: Tensor<D>,
        state: Option<Self::State<D>>,
    ) -> (Tensor<D>, Option<Self::State<D>>) {
        if self.host && reads_back_cheaply(&tensor.device()) {
            if let Some(done) = self.step_host(lr as f32, &tensor, &grad, &state) {
                return done;
            }
        }
        self.step_tensor(lr, tensor, grad, state)
    }

    fn to_device<const D: usize>(state: Self::State<D>, device: &Device) -> Self::State<D> {
        AdadeltaState {
            grad_sq: state.grad_sq.to_device(device),
            update_sq: state.update_sq.to_device(device),
        }
    }
}

impl Adadelta {
    /// The update as burn tensor ops (GPUs, or when asked to).
    pub(crate) fn step_tensor<const D: usize>(
        &self,
        lr: f64,
        tensor: Tensor<D>,
        grad: Tensor<D>,
        state: Option<AdadeltaState<D>>,
    ) -> (Tensor<D>, Option<AdadeltaState<D>>) {
        let (g2, u2) = match state {
            Some(s) => (s.grad_sq, s.update_sq),
            None => (grad.zeros_like(), grad.zeros_like()),
        };
        let g2 = g2 * self.rho + grad.clone().square() * (1.0 - self.rho);
        let update =
            ((u2.clone() + self.epsilon).sqrt() / (g2.clone() + self.epsilon).sqrt()) * grad;
        let u2 = u2 * self.rho + update.clone().square() * (1.0 - self.rho);
        (
            tensor - update * lr,
            Some(AdadeltaState {
                grad_sq: g2,
                update_sq: u2,
            }),
        )
    }
}

impl Adadelta {
    /// The update on the host; `None` if a tensor does not read back as `f32`.
    fn step_host<const D: usize>(
        &self,
        lr: f32,
        tensor: &Tensor<D>,
        grad: &Tensor<D>,
        state: &Option<AdadeltaState<D>>,
    ) -> Option<(Tensor<D>, Option<AdadeltaState<D>>)> {
        let c = [self.rho, self.epsilon, lr];
        let averages = state.as_ref().map(|s| [&s.grad_sq, &s.update_sq]);
        let (p, [grad_sq, update_sq]) =
            host::step_two(tensor, grad, averages, |p, g, a, b| update(c, p, g, a, b))?;
        Some((p, Some(AdadeltaState { grad_sq, update_sq })))
    }
}

aedge_runtime::dispatch! {
    /// One update pass, compiled for AVX-512, AVX2 + FMA and the baseline.
    fn update [] (c: [f32; 3], p: &mut [f32], g: &[f32], g2: &mut [f32], u2: &mut [f32])
        => update_loop [] for [avx512 avx2]
}

#[inline(always)]
fn update_loop(c: [f32; 3], p: &mut [f32], g: &[f32], g2: &mut [f32], u2: &mut [f32]) {
    let [rho, eps, lr] = c;
    for (((p, &g), g2), u2) in p.iter_mut().zip(g).zip(g2.iter_mut()).zip(u2.iter_mut()) {
        let g = flush(g, TINY);
        let gs = flush(g, SQRT_TINY);
        let a = flush(*g2 * rho + gs * gs * (1.0 - rho), TINY);
        let update = ((*u2 + eps).sqrt() / (a + eps).sqrt()) * g;
        let us = flush(update, SQRT_TINY);
        *u2 = flush(*u2 * rho + us * us * (1.0 - rho), TINY);
        *g2 = a;
        *p -= update * lr;
    }
}
