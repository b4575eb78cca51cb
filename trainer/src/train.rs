//! The training loop: seeded shuffling and corruption, per-epoch train/validation metrics,
//! progress bars, a checkpoint every epoch, and exact resume.

use crate::checkpoint::{self, State};
use crate::corrupt::{normal, Corruption};
use crate::data::{shuffled, Dataset};
use crate::device::reads_back_cheaply;
use crate::host;
use crate::host_loss::{self, HostLoss};
use crate::loss::Loss;
use crate::model::{act::Act, vae::Vae, AutoEncoder, Code, ModelSpec};
use crate::optim::{LrSchedule, OptimizerSpec};
use crate::parallel::{self, DeviceWork};
use aedge_runtime::rng::SplitMix;
use burn::module::Module;
use burn::tensor::{Device, Tensor, TensorData};
use indicatif::{ProgressBar, ProgressStyle};
use serde::{Deserialize, Serialize};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// How to train. In a recipe file it is the `[train]` table (kebab-case keys; any key left
/// out keeps its default).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct TrainConfig {
    /// Passes over the training set.
    pub epochs: usize,
    /// Samples per step.
    pub batch_size: usize,
    /// Optimiser and learning rate.
    pub optimizer: OptimizerSpec,
    /// How the learning rate moves over the run (`constant` or `cosine`).
    #[serde(skip_serializing_if = "is_constant")]
    pub lr_schedule: LrSchedule,
    /// Reconstruction loss.
    pub loss: Loss,
    /// L1 penalty on the code (sparse autoencoder), per sample.
    pub l1_code: f32,
    /// Weight of the KL term (variational autoencoder).
    pub beta: f32,
    /// Input corruption (denoising autoencoder): inputs are corrupted, targets stay clean.
    pub corruption: Option<Corruption>,
    /// Seed for weights, shuffling and noise.
    pub seed: u64,
    /// Stop when the validation loss stops improving (needs a validation split).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub early_stopping: Option<EarlyStopping>,
}

// A checkpoint of a constant-rate run reads the same as before the schedule existed.
fn is_constant(s: &LrSchedule) -> bool {
    *s == LrSchedule::Constant
}

/// Stop training once the validation loss has not improved on its best by more than
/// `min_delta` for `patience` epochs in a row. The model of the last epoch run is kept (as
/// Keras does by default), so the checkpoint and an exact resume stay one thing.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct EarlyStopping {
    /// Epochs without improvement before stopping.
    pub patience: usize,
    /// The smallest decrease that counts as an improvement.
    #[serde(default)]
    pub min_delta: f64,
}

impl EarlyStopping {
    /// Whether a run with these validation losses (one per epoch, in order) should stop.
    /// Derived from the history alone, so a resumed run decides as the uninterrupted one.
    pub fn reached(&self, history: &[EpochMetrics]) -> bool {
        let mut best = f64::INFINITY;
        let mut since = 0;
        for v in history.iter().filter_map(|m| m.val_loss) {
            if v < best - self.min_delta {
                best = v;
                since = 0;
            } else {
                since += 1;
            }
        }
        since >= self.patience.max(1)
    }
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            epochs: 10,
            batch_size: 256,
            optimizer: OptimizerSpec::Adam { lr: 1e-3 },
            lr_schedule: LrSchedule::Constant,
            loss: Loss::Bce,
            l1_code: 0.0,
            beta: 1.0,
            corruption: None,
            seed: 42,
            early_stopping: None,
        }
    }
}

/// Metrics of one epoch.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EpochMetrics {
    /// 1-based epoch.
    pub epoch: usize,
    /// Mean training objective.
    pub train_loss: f64,
    /// Mean validation objective.
    pub val_loss: Option<f64>,
    /// Mean validation reconstruction loss alone (without L1 / KL terms).
    pub val_recon: Option<f64>,
    /// Wall time of the epoch's training steps.
    pub seconds: f64,
    /// Training throughput.
    pub samples_per_sec: f64,
}

/// Where and how a run executes.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// Training device (with autodiff).
    pub device: Device,
    /// Checkpoint directory (a checkpoint after every epoch), if any.
    pub checkpoint_dir: Option<PathBuf>,
    /// Continue from the checkpoint in `checkpoint_dir`.
    pub resume: bool,
    /// Show progress bars.
    pub progress: bool,
    /// Stop after this many epochs of this call (to test resuming); `None` runs to the end.
    pub stop_after: Option<usize>,
    /// Per-epoch metrics file, rewritten after every epoch: CSV for `.csv`, else JSON.
    pub metrics: Option<PathBuf>,
    /// Compute the loss and the optimiser updates in aedge's host passes where the device
    /// reads back cheaply (burn-flex). `false` keeps burn's tensor ops on every device: the
    /// same maths, for cross-checking the host passes and measuring what they buy.
    pub host_passes: bool,
    /// Further devices for data-parallel training: each step's batch is split across
    /// `device` and these, the model forked onto each, and the gradients summed on `device`,
    /// which keeps the model and the optimiser (see [`crate::parallel`]).
    pub replicas: Vec<Device>,
}

impl RunOptions {
    /// Quiet, no checkpoints.
    pub fn new(device: Device) -> Self {
        RunOptions {
            device,
            checkpoint_dir: None,
            resume: false,
            progress: false,
            stop_after: None,
            metrics: None,
            host_passes: true,
            replicas: Vec::new(),
        }
    }
}

/// A trained model and its history.
pub struct Trained {
    /// The model (training mode; call `.valid()` for inference).
    pub model: AutoEncoder,
    /// Metrics per epoch.
    pub history: Vec<EpochMetrics>,
    /// What each device did in this call: the main device, then the replicas.
    pub work: Vec<DeviceWork>,
}

/// One batch: the model's input (a corrupted copy for denoising runs) and the clean samples
/// it should reconstruct, kept on the host for losses computed there.
pub(crate) struct Batch {
    input: Tensor<2>,
    clean: Vec<f32>,
    shape: [usize; 2],
}

/// One batch on the host, before it goes to a device (or is split across several).
pub(crate) struct HostBatch {
    input: Vec<f32>,
    clean: Vec<f32>,
    rows: usize,
    cols: usize,
}

impl HostBatch {
    /// Samples in the batch.
    pub(crate) fn rows(&self) -> usize {
        self.rows
    }

    /// The whole batch on `device`.
    pub(crate) fn into_device(self, device: &Device) -> Batch {
        let shape = [self.rows, self.cols];
        Batch {
            input: Tensor::from_data(TensorData::new(self.input, shape), device),
            clean: self.clean,
            shape,
        }
    }

    /// Samples `rows` of the batch on `device`.
    pub(crate) fn slice(&self, rows: std::ops::Range<usize>, device: &Device) -> Batch {
        let span = rows.start * self.cols..rows.end * self.cols;
        HostBatch {
            input: self.input[span.clone()].to_vec(),
            clean: self.clean[span].to_vec(),
            rows: rows.len(),
            cols: self.cols,
        }
        .into_device(device)
    }
}

/// Epochs of an unchanged training loss after which a run is called stuck.
const STALL_EPOCHS: usize = 3;

/// Whether the last [`STALL_EPOCHS`] training losses are equal to five significant digits: a
/// network that learns moves its loss more than that between epochs, one whose units are all
/// dead or whose output is saturated does not move it at all.
fn stalled(history: &[EpochMetrics]) -> bool {
    let Some(last) = history
        .len()
        .checked_sub(STALL_EPOCHS)
        .map(|i| &history[i..])
    else {
        return false;
    };
    let first = last[0].train_loss;
    last.iter()
        .all(|m| (m.train_loss - first).abs() <= 1e-5 * first.abs().max(1e-12))
}

/// Builds one batch from the samples `idx` on the host; corruption noise is seeded by `seed`.
pub(crate) fn host_batch(data: &Dataset, idx: &[usize], cfg: &TrainConfig, seed: u64) -> HostBatch {
    let mut clean = Vec::with_capacity(idx.len() * data.dim());
    for &i in idx {
        clean.extend_from_slice(data.sample(i));
    }
    let mut input = clean.clone();
    if let Some(c) = cfg.corruption {
        c.apply(&mut input, &mut SplitMix(seed));
    }
    HostBatch {
        input,
        clean,
        rows: idx.len(),
        cols: data.dim(),
    }
}

/// Builds one batch from the samples `idx` on `device`.
fn batch(data: &Dataset, idx: &[usize], cfg: &TrainConfig, seed: u64, device: &Device) -> Batch {
    host_batch(data, idx, cfg, seed).into_device(device)
}

/// The VAE's sampling noise for a batch: drawn from `seed` for the whole batch, of which this
/// part starts at sample `row0`, so a batch split across devices draws what it would whole.
#[derive(Clone, Copy)]
pub(crate) struct Noise {
    /// Seed of the whole batch's draws.
    pub seed: u64,
    /// The first sample of this part.
    pub row0: usize,
}

impl Noise {
    /// Noise for a whole batch.
    pub(crate) fn whole(seed: u64) -> Self {
        Noise { seed, row0: 0 }
    }
}

/// Seed for one step's noise, independent of how the run was split into calls.
fn step_seed(seed: u64, epoch: usize, step: usize, stream: u64) -> u64 {
    seed ^ (epoch as u64).wrapping_mul(0x9E37_79B9)
        ^ (step as u64).wrapping_mul(0x85EB_CA6B)
        ^ stream.wrapping_mul(0xC2B2_AE35)
}

/// One batch's objective: reconstruction (× features for the VAE) + L1 on the code + β·KL.
pub(crate) struct Objective {
    /// A scalar whose gradient is the objective's: the objective itself, or, when the
    /// reconstruction loss was computed on the host, a surrogate with the same gradient.
    /// `None` when no gradient was asked for.
    pub root: Option<Tensor<1>>,
    /// Mean objective.
    pub total: f64,
    /// Mean reconstruction loss alone (`NaN` on the tensor path when a gradient was asked
    /// for: training does not need it, and reading it back costs a sync).
    recon: f64,
}

/// The reconstruction loss `host_loss` computes for this loss and output activation, if any.
fn host_kind(loss: Loss, act: Act) -> Option<HostLoss> {
    match (loss, act) {
        (Loss::Bce, Act::Sigmoid) => Some(HostLoss::BceLogits),
        (Loss::Mse, _) => Some(HostLoss::Mse),
        (Loss::Mae, _) => Some(HostLoss::Mae),
        (Loss::Bce, _) => None,
    }
}

/// What an objective is computed for.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Purpose {
    /// Build the tensor to differentiate.
    Train,
    /// Read the reconstruction value back too.
    Evaluate,
}

/// Where the reconstruction loss is computed.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum LossPath {
    /// On the host (burn-flex), in one vectorised pass, when the loss has a host kernel.
    Host,
    /// As burn tensor ops.
    Tensor,
}

/// The host path when allowed and the device's tensors read back cheaply.
pub(crate) fn loss_path(host_passes: bool, device: &Device) -> LossPath {
    if host_passes && reads_back_cheaply(device) {
        LossPath::Host
    } else {
        LossPath::Tensor
    }
}

/// A batch's forward pass up to the loss.
struct Forward {
    /// The output, or its logits when BCE follows a sigmoid.
    pred: Tensor<2>,
    /// Whether `pred` holds logits.
    logits: bool,
    /// The output activation.
    act: Act,
    /// The terms besides the reconstruction: β·KL and the L1 penalty on the code.
    extra: Option<Tensor<1>>,
    /// The reconstruction's weight (the VAE's objective is per sample: summed over features).
    rec_scale: f32,
}

/// Computes one batch's objective, its reconstruction loss on `path` for `purpose`.
pub(crate) fn objective(
    model: &AutoEncoder,
    cfg: &TrainConfig,
    batch: Batch,
    noise: Noise,
    path: LossPath,
    purpose: Purpose,
) -> Objective {
    let Batch {
        input,
        clean,
        shape,
    } = batch;
    let device = input.device();
    // Without corruption the target is the input: keep its tensor rather than build another.
    let same = cfg.corruption.is_none().then(|| input.clone());
    let f = forward(model, cfg, input, noise);
    let kind = host_kind(cfg.loss, f.act).filter(|_| path == LossPath::Host);
    if let Some((kind, values)) = kind.and_then(|k| Some((k, host::read(&f.pred)?))) {
        return host_objective(f, kind, &values, &clean, shape, purpose);
    }
    let target = same.unwrap_or_else(|| Tensor::from_data(TensorData::new(clean, shape), &device));
    tensor_objective(f, cfg.loss, target, purpose)
}

/// The forward pass: encode (sampling the VAE's code with ε from the host RNG, which keeps
/// the run reproducible across resumes and backends), add the code's penalties, decode.
fn forward(model: &AutoEncoder, cfg: &TrainConfig, input: Tensor<2>, noise: Noise) -> Forward {
    let device = input.device();
    let features = input.dims()[1];
    let (code, kl) = match model {
        AutoEncoder::Vae(v) => {
            let (mean, log_var) = v.encode(input);
            let [b, k] = mean.dims();
            let mut r = SplitMix(noise.seed);
            // The draws of the samples before this part are skipped, not reused.
            for _ in 0..noise.row0 * k {
                normal(&mut r);
            }
            let eps: Vec<f32> = (0..b * k).map(|_| normal(&mut r)).collect();
            let eps = Tensor::from_data(TensorData::new(eps, [b, k]), &device);
            let (z, kl) = Vae::sample_with(mean, log_var, eps);
            (Code::plain(z), Some(kl))
        }
        m => (m.encode_keeping(input), None),
    };
    let rec_scale = if kl.is_some() { features as f32 } else { 1.0 };
    let mut extra: Option<Tensor<1>> = kl.map(|kl| kl * cfg.beta);
    if cfg.l1_code > 0.0 {
        let l1 = code.z.clone().abs().sum_dim(1).mean() * cfg.l1_code;
        extra = Some(match extra {
            Some(e) => e + l1,
            None => l1,
        });
    }
    let (out, act) = model.decode_pre_act(code);
    // BCE after a sigmoid works on the logits (the sigmoid folded into the loss).
    let logits = cfg.loss == Loss::Bce && act == Act::Sigmoid;
    let pred = if logits { out } else { act.apply(out) };
    Forward {
        pred,
        logits,
        act,
        extra,
        rec_scale,
    }
}

/// The objective with the reconstruction loss and its gradient computed on the host from
/// `values` (the read-back `pred`); for training, a surrogate `Σ pred·grad` carries that
/// gradient back into the graph.
fn host_objective(
    f: Forward,
    kind: HostLoss,
    values: &[f32],
    clean: &[f32],
    shape: [usize; 2],
    purpose: Purpose,
) -> Objective {
    let device = f.pred.device();
    let n = clean.len().max(1);
    let mut g = vec![0.0f32; clean.len()];
    let scale = f.rec_scale / n as f32;
    let rec = host_loss::value_and_grad(kind, values, clean, scale, &mut g) / n as f64;
    let extra_value = f.extra.clone().map_or(0.0, scalar);
    let root = (purpose == Purpose::Train).then(|| {
        let surrogate = (f.pred * host::write(g, shape.into(), &device)).sum();
        match f.extra {
            Some(e) => surrogate + e,
            None => surrogate,
        }
    });
    Objective {
        root,
        total: rec * f.rec_scale as f64 + extra_value,
        recon: rec,
    }
}

/// The objective as burn tensor ops.
fn tensor_objective(f: Forward, loss: Loss, target: Tensor<2>, purpose: Purpose) -> Objective {
    let rec = if f.logits {
        Loss::bce_with_logits(f.pred, target)
    } else {
        loss.forward(f.pred, target)
    };
    let total = match f.extra {
        Some(e) => rec.clone() * f.rec_scale + e,
        None => rec.clone(),
    };
    let train = purpose == Purpose::Train;
    Objective {
        total: scalar(total.clone()),
        recon: if train { f64::NAN } else { scalar(rec) },
        root: train.then_some(total),
    }
}

fn scalar(t: Tensor<1>) -> f64 {
    t.into_scalar::<f32>() as f64
}

/// Mean objective and reconstruction loss over `data` (inference mode, no shuffling);
/// `host_passes` as in [`RunOptions::host_passes`].
pub fn evaluate(
    model: &AutoEncoder,
    cfg: &TrainConfig,
    data: &Dataset,
    device: &Device,
    epoch: usize,
    host_passes: bool,
) -> (f64, f64) {
    let plain = device.clone().without_autodiff();
    let path = loss_path(host_passes, &plain);
    let m = model.valid();
    let (mut tot, mut rec, mut n) = (0.0, 0.0, 0usize);
    let idx: Vec<usize> = (0..data.len()).collect();
    for (step, chunk) in idx.chunks(cfg.batch_size.max(1)).enumerate() {
        let b = batch(
            data,
            chunk,
            cfg,
            step_seed(cfg.seed, epoch, step, 3),
            &plain,
        );
        let seed = step_seed(cfg.seed, epoch, step, 4);
        let o = objective(&m, cfg, b, Noise::whole(seed), path, Purpose::Evaluate);
        tot += o.total * chunk.len() as f64;
        rec += o.recon * chunk.len() as f64;
        n += chunk.len();
    }
    (tot / n.max(1) as f64, rec / n.max(1) as f64)
}

/// Writes per-epoch metrics atomically: CSV when `path` ends in `.csv`, JSON otherwise.
pub fn write_metrics(path: &Path, history: &[EpochMetrics]) -> Result<(), String> {
    let bytes = if path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("csv"))
    {
        let opt = |v: Option<f64>| v.map(|v| v.to_string()).unwrap_or_default();
        let mut s = String::from("epoch,train_loss,val_loss,val_recon,seconds,samples_per_sec\n");
        for m in history {
            s += &format!(
                "{},{},{},{},{},{}\n",
                m.epoch,
                m.train_loss,
                opt(m.val_loss),
                opt(m.val_recon),
                m.seconds,
                m.samples_per_sec
            );
        }
        s.into_bytes()
    } else {
        serde_json::to_vec_pretty(history).map_err(|e| e.to_string())?
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    aedge_runtime::fs::write_atomic(path, &bytes).map_err(|e| e.to_string())
}

/// Holds burn's generator for one seeded draw. The generator is one per process and a model's
/// parameters are drawn lazily, on first use, so another run seeding or drawing in between
/// (training in threads, tests in parallel) would change them: hold this from `seed` until
/// the parameters are drawn (a training run's first step, an export's read of the weights),
/// and a seed gives the same weights however many runs share the process.
pub fn seeding() -> std::sync::MutexGuard<'static, ()> {
    static SEEDING: std::sync::Mutex<()> = std::sync::Mutex::new(());
    SEEDING.lock().unwrap_or_else(|e| e.into_inner())
}

/// Trains `spec` on `data`, validating on `val` after every epoch.
pub fn train(
    spec: &ModelSpec,
    cfg: &TrainConfig,
    data: &Dataset,
    val: Option<&Dataset>,
    opts: &RunOptions,
) -> Result<Trained, String> {
    if data.dim() != spec.input_len() {
        return Err(format!(
            "data samples have {} values but the model expects {}",
            data.dim(),
            spec.input_len()
        ));
    }
    if data.is_empty() {
        return Err("the training set is empty".into());
    }
    if cfg.batch_size == 0 || cfg.epochs == 0 {
        return Err("epochs and batch size must be at least 1".into());
    }
    if cfg.early_stopping.is_some() && val.is_none_or(|v| v.is_empty()) {
        return Err(
            "early stopping watches the validation loss; give the run a validation split".into(),
        );
    }
    let device = &opts.device;
    // Seeding and the first step, where the parameters are drawn, hold the generator.
    let mut seeded = Some(seeding());
    device.seed(cfg.seed);
    let devices: Vec<Device> = std::iter::once(device.clone())
        .chain(opts.replicas.iter().cloned())
        .collect();
    let mut work = vec![DeviceWork::default(); devices.len()];
    let mut model = spec.build(device)?;
    let mut optim = cfg.optimizer.init(opts.host_passes);
    let mut history = Vec::new();
    let mut start = 0;
    if opts.resume {
        let dir = opts
            .checkpoint_dir
            .as_ref()
            .ok_or("--resume needs a checkpoint directory")?;
        let (m, o, state) = checkpoint::load(dir, model, optim)?;
        if state.spec != *spec || state.config != *cfg {
            return Err(format!(
                "the checkpoint in {} was made with a different model or configuration",
                dir.display()
            ));
        }
        (model, optim, history, start) = (m, o, state.history, state.epoch);
    }
    let steps = data.len().div_ceil(cfg.batch_size);
    let end = match opts.stop_after {
        Some(n) => (start + n).min(cfg.epochs),
        None => cfg.epochs,
    };
    // The stuck-run note is said once.
    let mut warned = false;
    for epoch in start + 1..=end {
        if cfg
            .early_stopping
            .is_some_and(|es| val.is_some() && es.reached(&history))
        {
            break;
        }
        let bar = if opts.progress {
            ProgressBar::new(steps as u64)
        } else {
            ProgressBar::hidden()
        };
        bar.set_style(
            ProgressStyle::with_template("epoch {prefix} [{bar:30}] {pos}/{len} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        bar.set_prefix(format!("{epoch}/{}", cfg.epochs));
        let order = shuffled(data.len(), step_seed(cfg.seed, epoch, 0, 1));
        let t0 = Instant::now();
        let (mut sum, mut n) = (0.0f64, 0usize);
        for (step, chunk) in order.chunks(cfg.batch_size).enumerate() {
            let b = host_batch(data, chunk, cfg, step_seed(cfg.seed, epoch, step, 2));
            let seed = step_seed(cfg.seed, epoch, step, 5);
            let (grads, value) =
                parallel::step(&model, cfg, b, seed, &devices, opts.host_passes, &mut work)?;
            // Every parameter has been drawn by now.
            seeded.take();
            if !value.is_finite() {
                return Err(format!("the loss became {value} at epoch {epoch}, step {step}; lower the learning rate"));
            }
            let lr = cfg.lr_schedule.at(
                cfg.optimizer.lr(),
                (epoch - 1) * steps + step,
                cfg.epochs * steps,
            );
            model = optim.step(lr, model, grads);
            sum += value * chunk.len() as f64;
            n += chunk.len();
            bar.inc(1);
            let rate = n as f64 / t0.elapsed().as_secs_f64().max(1e-9);
            bar.set_message(format!("loss {:.4} {:.0} samples/s", sum / n as f64, rate));
        }
        let seconds = t0.elapsed().as_secs_f64();
        let (val_loss, val_recon) = match val.filter(|v| !v.is_empty()) {
            Some(v) => {
                let (t, r) = evaluate(&model, cfg, v, device, epoch, opts.host_passes);
                (Some(t), Some(r))
            }
            None => (None, None),
        };
        let m = EpochMetrics {
            epoch,
            train_loss: sum / n as f64,
            val_loss,
            val_recon,
            seconds,
            samples_per_sec: n as f64 / seconds.max(1e-9),
        };
        let summary = format!(
            "loss {:.4}{} {:.0} samples/s",
            m.train_loss,
            m.val_loss
                .map(|v| format!(" val {v:.4}"))
                .unwrap_or_default(),
            m.samples_per_sec
        );
        // Bars draw only on a terminal; a log (CI, `> file`) gets one line per epoch.
        if opts.progress && !std::io::stderr().is_terminal() {
            eprintln!("epoch {epoch}/{}: {summary}", cfg.epochs);
        }
        bar.finish_with_message(summary);
        history.push(m);
        if opts.progress && !warned && stalled(&history) {
            warned = true;
            eprintln!(
                "note: the training loss has not moved for {STALL_EPOCHS} epochs ({:.4}): the network looks stuck (dead ReLUs or a saturated output); try another --seed, a lower --lr, or loss = \"bce\" with a sigmoid output",
                history[history.len() - 1].train_loss
            );
        }
        if let Some(path) = &opts.metrics {
            write_metrics(path, &history)?;
        }
        if let Some(dir) = &opts.checkpoint_dir {
            let state = State {
                epoch,
                spec: spec.clone(),
                config: cfg.clone(),
                history: history.clone(),
            };
            checkpoint::save(dir, &model, &optim, &state)?;
        }
    }
    Ok(Trained {
        model,
        history,
        work,
    })
}

#[cfg(test)]
mod tests {
    use super::{stalled, EpochMetrics};

    fn history(losses: &[f64]) -> Vec<EpochMetrics> {
        losses
            .iter()
            .enumerate()
            .map(|(i, &l)| EpochMetrics {
                epoch: i + 1,
                train_loss: l,
                val_loss: None,
                val_recon: None,
                seconds: 1.0,
                samples_per_sec: 1.0,
            })
            .collect()
    }

    #[test]
    fn a_loss_that_stops_moving_is_a_stuck_run() {
        // A conv AE with MSE and a sigmoid output that died at once (seen on MNIST).
        assert!(!stalled(&history(&[0.1205, 0.111_600_1, 0.111_600_2])));
        assert!(stalled(&history(&[
            0.1205,
            0.111_600_1,
            0.111_600_2,
            0.111_600_1
        ])));
        // A slow but learning run is not.
        assert!(!stalled(&history(&[0.1010, 0.1009, 0.1004])));
        assert!(!stalled(&history(&[0.1, 0.1])));
    }
}
