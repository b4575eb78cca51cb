//! `aedge bench`: one model (or the built-in reference models) measured on the host CPU
//! (aedge-runtime f32/f16/int8 against tract-onnx), the GPU (burn-wgpu) and a Cortex-M4F
//! (firmware in QEMU, or a board through probe-rs); writes bench.md, bench.json, bench.png.

use crate::data::{self, DataArgs};
use crate::{Out, Result};
use aedge::bench::subject::{self, Subject, REFERENCES};
use aedge::bench::timing::Budget;
use aedge::bench::{self as b, report, Report, Targets};
use aedge_trainer::checkpoint::load_model;
use aedge_trainer::{device, Backend, DeviceChoice};
use std::path::PathBuf;
use std::time::Duration;

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Target {
    /// aedge-runtime and tract-onnx on this CPU.
    Cpu,
    /// burn on wgpu.
    Gpu,
    /// The firmware in QEMU (and on --board).
    Mcu,
}

/// Instruction-set levels of aedge's host kernels (each architecture has its own).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Isa {
    /// The portable builds (SSE2 on x86-64, compiler-vectorised NEON on aarch64).
    Portable,
    /// x86-64: AVX2 and FMA (e.g. AMD Zen 2/3, Intel before Ice Lake).
    Avx2,
    /// x86-64: AVX2 with VNNI int8 dot products.
    Vnni,
    /// x86-64: AVX-512.
    Avx512,
    /// aarch64: NEON int8 kernels without the dot-product extension (e.g. Cortex-A53/A72).
    Neon,
    /// aarch64: NEON with `sdot` (e.g. Cortex-A76, Apple M1 and later).
    Dotprod,
}

impl Isa {
    /// The runtime's level, if this CPU's architecture has it.
    fn level(self) -> Option<u8> {
        use aedge_runtime::kernels::isa;
        match self {
            Isa::Portable => Some(isa::PORTABLE),
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => Some(isa::AVX2),
            #[cfg(target_arch = "x86_64")]
            Isa::Vnni => Some(isa::VNNI),
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 => Some(isa::AVX512),
            #[cfg(target_arch = "aarch64")]
            Isa::Neon => Some(isa::NEON),
            #[cfg(target_arch = "aarch64")]
            Isa::Dotprod => Some(isa::DOTPROD),
            _ => None,
        }
    }

    /// The level, or an error line naming this architecture's levels.
    fn this_arch(self) -> Result<u8> {
        use clap::ValueEnum;
        let name = |v: &Isa| {
            v.to_possible_value()
                .map_or(String::new(), |p| p.get_name().to_string())
        };
        self.level().ok_or_else(|| {
            let levels: Vec<String> = Isa::value_variants()
                .iter()
                .filter(|v| v.level().is_some())
                .map(name)
                .collect();
            format!(
                "--isa {} is not a level of this CPU's architecture ({}); its levels: {}",
                name(&self),
                std::env::consts::ARCH,
                levels.join(", ")
            )
        })
    }
}

/// Arguments of `aedge bench`.
#[derive(clap::Args)]
pub struct Args {
    /// A .aedge or int8 .tflite file to measure (runtime and MCU only: it carries no ONNX or
    /// burn model).
    model: Option<PathBuf>,
    /// Built-in reference models (random weights): seed-dense, keras-conv, mlperf-ad. The
    /// default when no model or checkpoint is given is all three.
    #[arg(long, value_delimiter = ',')]
    reference: Vec<String>,
    /// A checkpoint written by `aedge train`: measured in every precision, on tract and on the
    /// GPU too. Needs --data for int8 calibration.
    #[arg(long, requires = "data")]
    checkpoint: Option<PathBuf>,
    /// The checkpoint's training data (IDX images or CSV series).
    #[arg(long)]
    data: Option<PathBuf>,
    /// Targets to run.
    #[arg(long, value_enum, value_delimiter = ',', default_value = "cpu,gpu,mcu")]
    targets: Vec<Target>,
    /// The GPU target's adapter: gpu (the best one) or wgpu:N. The GPU target needs a build
    /// with the wgpu feature.
    #[arg(long, default_value = "gpu", value_parser = clap::value_parser!(DeviceChoice))]
    device: DeviceChoice,
    /// Also run on this attached board through probe-rs (nrf52840-dk, nucleo-l4r5zi).
    #[arg(long)]
    board: Option<String>,
    /// Seconds of timed runs per measurement (after warm-up).
    #[arg(long, default_value_t = 1.0)]
    seconds: f64,
    /// Minimum timed runs per measurement.
    #[arg(long, default_value_t = 30)]
    min_runs: usize,
    /// Cap aedge's host kernels at this instruction-set level, to see how a CPU without the
    /// higher ones would run them (tract is not capped).
    #[arg(long, value_enum)]
    isa: Option<Isa>,
    /// Output directory for bench.md, bench.json, bench.png and the firmware builds.
    #[arg(short, long, default_value = "runs/bench")]
    out: PathBuf,
}

fn subjects(a: &Args) -> Result<Vec<Subject>> {
    let mut v = Vec::new();
    if let Some(p) = &a.model {
        let bytes = std::fs::read(p).map_err(|e| format!("{}: {e}", p.display()))?;
        let name = p
            .file_stem()
            .map_or("model".into(), |s| s.to_string_lossy().to_string());
        v.push(if aedge_convert::tflite::is_tflite(&bytes) {
            // An int8 TFLite model runs as imported (TFLite Micro's arithmetic).
            let imported = aedge_convert::tflite::import(&bytes, &name)
                .map_err(|e| format!("{}: {e}", p.display()))?;
            let file = imported.graph.to_aedge().map_err(|e| e.to_string())?;
            let mut s = subject::from_file(&name, file)?;
            s.origin = "int8 TFLite model, imported".into();
            s
        } else {
            subject::from_file(&name, bytes)?
        });
    }
    if let Some(dir) = &a.checkpoint {
        let dev = device(Backend::Flex)?;
        let (model, state) = load_model(dir, &dev)?;
        let data = a.data.clone().ok_or("--checkpoint needs --data")?;
        let d = match crate::series::Definition::load(dir)? {
            Some(def) => {
                let s = def.read(&data)?;
                def.check(&s, &data)?;
                def.normal(&s)?
            }
            None => {
                let args = DataArgs {
                    window: Some(state.spec.input[0]),
                    ..DataArgs::of(data)
                };
                data::load_noted(&args, data::folder_for(state.spec.input))?.0
            }
        };
        if d.shape != state.spec.input {
            return Err(format!(
                "the data's samples are {:?}, the checkpoint's model takes {:?}",
                d.shape, state.spec.input
            ));
        }
        let name = dir
            .file_name()
            .map_or("checkpoint".into(), |s| s.to_string_lossy().to_string());
        let sample = d.select(&(0..d.len().min(256)).collect::<Vec<_>>());
        v.push(subject::from_model(
            &name,
            model,
            &state.spec,
            &sample,
            state.config.loss,
            "trained checkpoint",
        )?);
    }
    let mut refs = a.reference.clone();
    if v.is_empty() && refs.is_empty() {
        refs = REFERENCES.iter().map(|r| r.0.to_string()).collect();
    }
    let mnist = crate::cmd::quickstart::bundled_mnist().ok();
    for r in &refs {
        v.push(subject::reference(r, mnist.as_ref())?);
    }
    Ok(v)
}

/// Runs the subcommand.
pub fn run(a: Args, out: Out) -> Result<()> {
    if !(a.seconds.is_finite() && a.seconds > 0.0 && a.seconds <= 600.0) {
        return Err("--seconds must be between 0 and 600".into());
    }
    if let Some(board) = &a.board {
        if !aedge::mcu::BOARDS.iter().any(|b| b.0 == board) {
            let names: Vec<&str> = aedge::mcu::BOARDS.iter().map(|b| b.0).collect();
            return Err(format!(
                "unknown board '{board}' (expected {})",
                names.join(" or ")
            ));
        }
    }
    // Capped before anything runs: kernels pick their level on every call.
    use aedge_runtime::kernels::isa;
    let detected = isa::best();
    if let Some(level) = a.isa {
        isa::cap(level.this_arch()?);
    }
    let kernels = match isa::best() {
        l if l == detected => isa::name(l).to_string(),
        l => format!(
            "{}, capped by --isa (this CPU has {}; tract is not capped)",
            isa::name(l),
            isa::name(detected)
        ),
    };
    let mut targets = Targets {
        host: a.targets.contains(&Target::Cpu),
        gpu: a.targets.contains(&Target::Gpu),
        gpu_adapter: match a.device {
            DeviceChoice::Wgpu(n) => n.unwrap_or(0),
            DeviceChoice::Auto => 0,
            DeviceChoice::Cpu => {
                return Err("--device names the GPU target's adapter (gpu or wgpu:N); leave gpu out of --targets to skip it".into())
            }
        },
        mcu: a.targets.contains(&Target::Mcu),
        board: a.board.clone(),
    };
    // Missing firmware sources are said once, up front; alone, the MCU target cannot run.
    if targets.mcu {
        if let Err(e) = aedge::mcu::check_firmware_dir() {
            if !(targets.host || targets.gpu) {
                return Err(e);
            }
            out.line(format!("note: {e}; the MCU columns are left out"));
            targets.mcu = false;
        }
    }
    let budget = Budget {
        time: Duration::from_secs_f64(a.seconds),
        min_runs: a.min_runs.max(1),
        max_runs: 1_000_000,
    };
    let subjects = subjects(&a)?;
    let work = a.out.join("firmware");
    std::fs::create_dir_all(&work).map_err(|e| format!("cannot create {}: {e}", work.display()))?;
    let mut log = |s: &str| out.line(format!("measuring {s}"));
    let models = subjects
        .iter()
        .map(|s| b::run(s, &targets, budget, &work, &mut log))
        .collect();
    let report = Report {
        cpu: b::cpu_name(),
        kernels,
        threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
        models,
    };
    report::write(&report, &a.out)?;
    if out.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?
        );
    } else {
        out.line(report::markdown(&report));
        out.line(format!(
            "wrote {0}/bench.md, {0}/bench.json, {0}/bench.png",
            a.out.display()
        ));
    }
    Ok(())
}
