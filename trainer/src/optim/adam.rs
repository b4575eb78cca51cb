//! Adam (Kingma & Ba) with burn's update rule, computed in one host pass on burn-flex.
//!
//! burn's `Adam` stores its moments as they come. A weight whose gradient fades (the weights
//! into an always-black border pixel, whose sigmoid saturates) has its first moment decay
//! geometrically through the subnormal range, and every op over a subnormal operand takes a
//! microcode assist: on seed-dense, burn's optimiser step is 8× slower from epoch 10 on. This
//! Adam stores moments below [`TINY`] as zero, which no update
//! can notice, and on burn-flex does the whole update in one vectorised pass instead of ten
//! tensor ops. Its checkpoint record has burn's Adam layout.

use crate::device::reads_back_cheaply;
use crate::host::{self, flush, SQRT_TINY, TINY};
use burn::optim::{Optimizer, RecordState, StateSink, StateSource};
use burn::tensor::{Device, Tensor};

/// Adam with bias correction, as burn computes it:
/// `m ← β1·m + (1−β1)·g`, `v ← β2·v + (1−β2)·g²`,
/// `θ ← θ − lr · m·c / (√v + ε·√(1−β2ᵗ))` with `c = √(1−β2ᵗ) / (1−β1ᵗ)`.
#[derive(Clone, Debug)]
pub struct Adam {
    beta_1: f32,
    beta_2: f32,
    epsilon: f32,
    host: bool,
}

impl Adam {
    /// Adam with the given decays and ε (Keras uses 0.9, 0.999, 1e-7).
    pub fn new(beta_1: f32, beta_2: f32, epsilon: f32) -> Self {
        Adam {
            beta_1,
            beta_2,
            epsilon,
            host: true,
        }
    }

    /// The same optimiser, updating in its host pass where the device allows (`true`, the
    /// default) or with burn's tensor ops on every device (`false`, to cross-check the pass).
    pub fn host_pass(self, host: bool) -> Self {
        Adam { host, ..self }
    }

    /// The step's two scalars: the bias-corrected scale of `m` and the scaled ε.
    fn factors(&self, time: usize) -> (f32, f32) {
        let t = time.min(i32::MAX as usize) as i32;
        let bc2 = (1.0 - self.beta_2.powi(t)).sqrt();
        (bc2 / (1.0 - self.beta_1.powi(t)), self.epsilon * bc2)
    }
}

/// Adam's moments for one parameter.
#[derive(Clone)]
pub struct AdamState<const D: usize> {
    /// Steps taken.
    pub time: usize,
    /// First moment (running mean of gradients).
    pub moment_1: Tensor<D>,
    /// Second moment (running mean of squared gradients).
    pub moment_2: Tensor<D>,
}

// Named as burn's `AdamState { momentum: AdaptiveMomentumState { time, moment_1, moment_2 } }`
// records itself, so checkpoints from burn's Adam resume here.
impl<const D: usize> RecordState for AdamState<D> {
    fn state_flatten(&self, prefix: &str, out: &mut StateSink) {
        let p = momentum_path(prefix);
        out.push_scalar(&p, "time", (self.time as u64).into());
        out.push_tensor(&p, "moment_1", self.moment_1.clone().into_data());
        out.push_tensor(&p, "moment_2", self.moment_2.clone().into_data());
    }

    fn state_unflatten(prefix: &str, src: &mut StateSource, device: &Device) -> Option<Self> {
        let p = momentum_path(prefix);
        let time = u64::try_from(src.take_scalar(&p, "time")?).ok()?;
        Some(AdamState {
            time: usize::try_from(time).ok()?,
            moment_1: Tensor::from_data(src.take_tensor(&p, "moment_1")?, device),
            moment_2: Tensor::from_data(src.take_tensor(&p, "moment_2")?, device),
        })
    }
}

fn momentum_path(prefix: &str) -> String {
    if prefix.is_empty() {
        "momentum".into()
    } else {
        format!("{prefix}.momentum")
    }
}

impl Optimizer for Adam {
    type State<const D: usize> = AdamState<D>;

    fn step<const D: usize>(
        &self,
        lr: f64,
        tensor: Tensor<D>,
        grad: Tensor<D>,
        state: Option<Self::State<D>>,
    ) -> (Tensor<D>, Option<Self::State<D>>) {
        let time = state.as_ref().map_or(0, |s| s.time) + 1;
        let (scale, eps) = self.factors(time);
        if self.host && reads_back_cheaply(&tensor.device()) {
            if let Some(done) = self.step_host(lr as f32, scale, eps, time, &tensor, &grad, &state)
            {
                return done;
            }
        }
        // Elsewhere (GPUs, or asked to) burn's tensor ops, without the flush (GPU shaders
        // usually flush subnormals themselves).
        let (m, v) = match state {
            Some(s) => (
                s.moment_1 * self.beta_1 + grad.clone() * (1.0 - self.beta_1),
                s.moment_2 * self.beta_2 + grad.square() * (1.0 - self.beta_2),
            ),
            None => (
                grad.clone() * (1.0 - self.beta_1),
                grad.square() * (1.0 - self.beta_2),
            ),
        };
        let update = (m.clone() * scale) / (v.clone().sqrt() + eps);
        let next = AdamState {
            time,
            moment_1: m,
            moment_2: v,
        };
        (tensor - update * lr, Some(next))
    }

    fn to_device<const D: usize>(state: Self::State<D>, device: &Device) -> Self::State<D> {
        AdamState {
            time: state.time,
            moment_1: state.moment_1.to_device(device),
            moment_2: state.moment_2.to_device(device),
        }
    }
}

impl Adam {
    /// The update on the host; `None` if a tensor does not read back as `f32` (then the
    /// tensor path runs).
    #[allow(clippy::too_many_arguments)]
    fn step_host<const D: usize>(
        &self,
        lr: f32,
        scale: f32,
        eps: f32,
        time: usize,
        tensor: &Tensor<D>,
        grad: &Tensor<D>,
        state: &Option<AdamState<D>>,
    ) -> Option<(Tensor<D>, Option<AdamState<D>>)> {
        let c = Coefficients {
            beta_1: self.beta_1,
            beta_2: self.beta_2,
            lr,
            scale,
            eps,
        };
        let moments = state.as_ref().map(|s| [&s.moment_1, &s.moment_2]);
        let (p, [moment_1, moment_2]) =
            host::step_two(tensor, grad, moments, |p, g, m, v| update(&c, p, g, m, v))?;
        Some((
            p,
            Some(AdamState {
                time,
                moment_1,
                moment_2,
            }),
        ))
    }
}

/// The scalars of one step.
struct Coefficients {
    beta_1: f32,
    beta_2: f32,
    lr: f32,
    scale: f32,
    eps: f32,
}

aedge_runtime::dispatch! {
    /// One update pass, compiled for AVX-512, AVX2 + FMA and the baseline.
    fn update [] (c: &Coefficients, p: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32])
        => update_loop [] for [avx512 avx2]
}

#[inline(always)]
fn update_loop(c: &Coefficients, p: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32]) {
    for (((p, &g), m), v) in p.iter_mut().zip(g).zip(m.iter_mut()).zip(v.iter_mut()) {
        let g = flush(g, TINY);
        let gv = flush(g, SQRT_TINY);
        let m1 = flush(*m * c.beta_1 + g * (1.0 - c.beta_1), TINY);
        let v1 = flush(*v * c.beta_2 + gv * gv * (1.0 - c.beta_2), TINY);
        *m = m1;
        *v = v1;
        *p -= (m1 * c.scale) / (v1.sqrt() + c.eps) * c.lr;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::optim::AdamConfig;

    use burn::tensor::TensorData;

    fn tensor(x: &[f32], device: &Device) -> Tensor<1> {
        Tensor::from_data(TensorData::new(x.to_vec(), [x.len()]), device)
    }

    fn values(t: Tensor<1>) -> Vec<f32> {
        t.into_data().try_into_vec::<f32>().unwrap()
    }

    #[test]
    fn matches_burns_adam_and_keeps_moments_normal() {
        let theirs = AdamConfig::new().with_epsilon(1e-7).build();
        let ours = Adam::new(0.9, 0.999, 1e-7);
        let s: AdamState<1> =
            super::super::tests::check(ours.clone(), ours.host_pass(false), theirs);
        assert_eq!(s.time, 910);
        super::super::tests::assert_normal(s.moment_1);
        super::super::tests::assert_normal(s.moment_2);
    }

    #[test]
    fn record_round_trips_under_burns_names() {
        let device = Device::flex();
        let s = AdamState {
            time: 3,
            moment_1: tensor(&[1.0, 2.0], &device),
            moment_2: tensor(&[3.0, 4.0], &device),
        };
        let mut sink = StateSink::default();
        s.state_flatten("p", &mut sink);
        let names: Vec<&str> = sink.tensors.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(names, ["p.momentum.moment_1", "p.momentum.moment_2"]);
        let mut src = StateSource::new(sink.scalars.into_iter().collect());
        for (k, d) in sink.tensors {
            src.insert_tensor(k, d);
        }
        let back = AdamState::<1>::state_unflatten("p", &mut src, &device).unwrap();
        assert_eq!(back.time, 3);
        assert_eq!(values(back.moment_2), [3.0, 4.0]);
    }
}
