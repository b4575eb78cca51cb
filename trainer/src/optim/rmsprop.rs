//! RMSProp with burn's update rule and defaults (α 0.99, momentum 0.9, ε 1e-5, not
//! centred); on burn-flex one host pass per parameter, with running averages below [`TINY`]
//! stored as zero. burn's own RMSProp slowed 8× from epoch 11 of seed-dense once its momentum
//! buffer decayed into subnormals (see [`crate::host`]).

use crate::device::reads_back_cheaply;
use crate::host::{self, flush, SQRT_TINY, TINY};
use burn::optim::{Optimizer, RecordState, StateSink, StateSource};
use burn::tensor::{Device, Tensor};

/// RMSProp: `s ← α·s + (1−α)·g²`, `b ← μ·b + g / (√s + ε)`, `θ ← θ − lr·b`.
#[derive(Clone, Debug)]
pub struct RmsProp {
    alpha: f32,
    momentum: f32,
    epsilon: f32,
    host: bool,
}

impl RmsProp {
    /// RMSProp with decay `alpha`, `momentum` and `epsilon` (burn: 0.99, 0.9, 1e-5).
    pub fn new(alpha: f32, momentum: f32, epsilon: f32) -> Self {
        RmsProp {
            alpha,
            momentum,
            epsilon,
            host: true,
        }
    }

    /// The same optimiser, updating in its host pass where the device allows (`true`, the
    /// default) or with burn's tensor ops on every device (`false`, to cross-check the pass).
    pub fn host_pass(self, host: bool) -> Self {
        RmsProp { host, ..self }
    }
}

/// RMSProp's running averages for one parameter.
#[derive(Clone)]
pub struct RmsPropState<const D: usize> {
    /// Running mean of squared gradients.
    pub square_avg: Tensor<D>,
    /// Momentum buffer (the last step when momentum is 0).
    pub buf: Tensor<D>,
}

// Named as burn's RMSProp records them (`square_avg.square_avg`, `momentum.buf`), so
// checkpoints from burn's RMSProp resume here.
impl<const D: usize> RecordState for RmsPropState<D> {
    fn state_flatten(&self, prefix: &str, out: &mut StateSink) {
        let (s, m) = paths(prefix);
        out.push_tensor(&s, "square_avg", self.square_avg.clone().into_data());
        out.push_tensor(&m, "buf", self.buf.clone().into_data());
    }

    fn state_unflatten(prefix: &str, src: &mut StateSource, device: &Device) -> Option<Self> {
        let (s, m) = paths(prefix);
        let square_avg = Tensor::from_data(src.take_tensor(&s, "square_avg")?, device);
        let buf = Tensor::from_data(src.take_tensor(&m, "buf")?, device);
        Some(RmsPropState { square_avg, buf })
    }
}

fn paths(prefix: &str) -> (String, String) {
    let join = |leaf: &str| {
        if prefix.is_empty() {
            leaf.to_string()
        } else {
            format!("{prefix}.{leaf}")
        }
    };
    (join("square_avg"), join("momentum"))
}

impl Optimizer for RmsProp {
    type State<const D: usize> = RmsPropState<D>;

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
        let sq = grad.clone().square() * (1.0 - self.alpha);
        let sq = match &state {
            Some(s) => s.square_avg.clone() * self.alpha + sq,
            None => sq,
        };
        let step = grad / (sq.clone().sqrt() + self.epsilon);
        let buf = match state {
            Some(s) if self.momentum > 0.0 => s.buf * self.momentum + step,
            _ => step,
        };
        let next = RmsPropState {
            square_avg: sq,
            buf: buf.clone(),
        };
        (tensor - buf * lr, Some(next))
    }

    fn to_device<const D: usize>(state: Self::State<D>, device: &Device) -> Self::State<D> {
        RmsPropState {
            square_avg: state.square_avg.to_device(device),
            buf: state.buf.to_device(device),
        }
    }
}

impl RmsProp {
    /// The update on the host; `None` if a tensor does not read back as `f32`.
    fn step_host<const D: usize>(
        &self,
        lr: f32,
        tensor: &Tensor<D>,
        grad: &Tensor<D>,
        state: &Option<RmsPropState<D>>,
    ) -> Option<(Tensor<D>, Option<RmsPropState<D>>)> {
        // The first step has no momentum to carry (as burn's RMSProp).
        let momentum = if state.is_some() { self.momentum } else { 0.0 };
        let c = [self.alpha, momentum, self.epsilon, lr];
        let averages = state.as_ref().map(|s| [&s.square_avg, &s.buf]);
        let (p, [square_avg, buf]) =
            host::step_two(tensor, grad, averages, |p, g, a, b| update(c, p, g, a, b))?;
        Some((p, Some(RmsPropState { square_avg, buf })))
    }
}

aedge_runtime::dispatch! {
    /// One update pass, compiled for AVX-512, AVX2 + FMA and the baseline.
    fn update [] (c: [f32; 4], p: &mut [f32], g: &[f32], sq: &mut [f32], buf: &mut [f32])
        => update_loop [] for [avx512 avx2]
}

#[inline(always)]
fn update_loop(c: [f32; 4], p: &mut [f32], g: &[f32], sq: &mut [f32], buf: &mut [f32]) {
    let [alpha, momentum, eps, lr] = c;
    for (((p, &g), sq), buf) in p.iter_mut().zip(g).zip(sq.iter_mut()).zip(buf.iter_mut()) {
        let g = flush(g, TINY);
        let gs = flush(g, SQRT_TINY);
        let s = flush(*sq * alpha + gs * gs * (1.0 - alpha), TINY);
        let b = flush(*buf * momentum + g / (s.sqrt() + eps), TINY);
        *sq = s;
        *buf = b;
        *p -= b * lr;
    }
}
