//! Adam (Kingma & Ba) with burn's update rule, computed in one host pass on burn-flex.
//!
//! burn's `Adam` stores its moments as they come. A weight whose gradient fades (the weights
//! into an always-black border pixel, whose sigmoid saturates) has its first moment decay
//! geometrically through the subnormal range, and every op over a subnormal operand takes a
//! microcode assist: seed-dense's optimiser step became 8× slower from epoch 10 on (training
//! 115k → 70k samples/s). This Adam stores moments below [`TINY`] as zero, which no update
//! can notice (see [`TINY`]), and on burn-flex does the whole update in one vectorised pass
//! instead of ten tensor ops. Its checkpoint record has burn's Adam layout.

use crate::device::reads_back_cheaply;
use burn::optim::{Optimizer, RecordState, StateSink, StateSource};
use burn::tensor::{Device, Tensor, TensorData};

/// Moments and gradients below this are stored as zero. An update is `m̂ / (√v̂ + ε)` with
/// `ε ≥ 1e-8` in practice, so a moment of 1e-30 moves a weight by about 1e-22·lr: far below
/// the `f32` resolution of any weight.
pub const TINY: f32 = 1e-30;

/// Gradients whose square would fall below [`TINY`] (and could be subnormal) add nothing to
/// the second moment; their contribution to `√v` is below 1e-15, against `ε`.
const SQRT_TINY: f32 = 1e-15;

/// Adam with bias correction, as burn computes it:
/// `m ← β1·m + (1−β1)·g`, `v ← β2·v + (1−β2)·g²`,
/// `θ ← θ − lr · m·c / (√v + ε·√(1−β2ᵗ))` with `c = √(1−β2ᵗ) / (1−β1ᵗ)`.
#[derive(Clone, Debug)]
pub struct Adam {
    beta_1: f32,
    beta_2: f32,
    epsilon: f32,
}

impl Adam {
    /// Adam with the given decays and ε (Keras uses 0.9, 0.999, 1e-7).
    pub fn new(beta_1: f32, beta_2: f32, epsilon: f32) -> Self {
        Adam {
            beta_1,
            beta_2,
            epsilon,
        }
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
        if reads_back_cheaply(&tensor.device()) {
            if let Some(done) = self.step_host(lr as f32, scale, eps, time, &tensor, &grad, &state)
            {
                return done;
            }
        }
        // Elsewhere (GPUs), burn's tensor ops; GPUs flush subnormals in their shaders.
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
        let device = tensor.device();
        let shape = tensor.shape();
        let read = |t: &Tensor<D>| {
            t.clone()
                .into_data()
                .convert::<f32>()
                .try_into_vec::<f32>()
                .ok()
        };
        let mut p = read(tensor)?;
        let g = read(grad)?;
        let (mut m, mut v) = match state {
            Some(s) => (read(&s.moment_1)?, read(&s.moment_2)?),
            None => (vec![0.0; p.len()], vec![0.0; p.len()]),
        };
        if g.len() != p.len() || m.len() != p.len() || v.len() != p.len() {
            return None;
        }
        let c = Coefficients {
            beta_1: self.beta_1,
            beta_2: self.beta_2,
            lr,
            scale,
            eps,
        };
        update(&c, &mut p, &g, &mut m, &mut v);
        let make = |x: Vec<f32>| Tensor::from_data(TensorData::new(x, shape.clone()), &device);
        Some((
            make(p),
            Some(AdamState {
                time,
                moment_1: make(m),
                moment_2: make(v),
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

/// One Adam step over a parameter on the best instruction set this CPU has.
fn update(c: &Coefficients, p: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avx512f") {
            // SAFETY: the features the function is compiled for were just detected.
            return unsafe { update_avx512(c, p, g, m, v) };
        }
        if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
            // SAFETY: as above.
            return unsafe { update_avx2(c, p, g, m, v) };
        }
    }
    update_loop(c, p, g, m, v)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx2,fma")]
fn update_avx512(c: &Coefficients, p: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32]) {
    update_loop(c, p, g, m, v)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn update_avx2(c: &Coefficients, p: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32]) {
    update_loop(c, p, g, m, v)
}

/// Zero for magnitudes below `limit` (compares do not touch subnormal arithmetic).
#[inline(always)]
fn flush(x: f32, limit: f32) -> f32 {
    if x.abs() < limit {
        0.0
    } else {
        x
    }
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

    fn tensor(x: &[f32], device: &Device) -> Tensor<1> {
        Tensor::from_data(TensorData::new(x.to_vec(), [x.len()]), device)
    }

    fn values(t: Tensor<1>) -> Vec<f32> {
        t.into_data().try_into_vec::<f32>().unwrap()
    }

    /// Ten steps of this Adam, on the host (burn-flex) and through tensor ops (burn-ndarray),
    /// against burn's own Adam: the same parameters to a few ulp. On the host, moments never
    /// hold a subnormal, even when the gradient fades to nothing.
    #[test]
    fn matches_burns_adam_and_keeps_moments_normal() {
        #[allow(deprecated)]
        let devices = [Device::flex(), Device::ndarray()];
        let n = 37;
        let start: Vec<f32> = (0..n).map(|i| (i as f32 - 18.0) * 0.05).collect();
        for device in devices {
            let ours = Adam::new(0.9, 0.999, 1e-7);
            let theirs = AdamConfig::new().with_epsilon(1e-7).build();
            let (mut a, mut b) = (tensor(&start, &device), tensor(&start, &device));
            let (mut sa, mut sb) = (None, None);
            for step in 0..10 {
                let grad: Vec<f32> = (0..n)
                    // Magnitudes down to where ε matters.
                    .map(|i| {
                        (((i * 7 + step * 3) % 11) as f32 * 0.1 - 0.5) * 0.01f32.powi(i as i32 % 4)
                    })
                    .collect();
                (a, sa) = ours.step(1e-2, a, tensor(&grad, &device), sa);
                (b, sb) = theirs.step(1e-2, b, tensor(&grad, &device), sb);
            }
            for (x, y) in values(a.clone()).iter().zip(values(b)) {
                assert!((x - y).abs() <= 4e-7 * y.abs().max(1e-3), "{x} vs burn {y}");
            }
            if !reads_back_cheaply(&device) {
                continue;
            }
            // The gradient fades: burn's first moment would decay into subnormals.
            for step in 0..900 {
                let g = if step < 5 { 1e-20 } else { 0.0 };
                (a, sa) = ours.step(1e-2, a, tensor(&vec![g; n], &device), sa);
            }
            let s = sa.clone().unwrap();
            assert_eq!(s.time, 910);
            for x in values(s.moment_1).into_iter().chain(values(s.moment_2)) {
                assert!(x == 0.0 || x.is_normal(), "{x} is subnormal");
            }
        }
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
