//! Choosing where training runs. burn 0.22 picks the backend at run time from a `Device`.

use burn::tensor::Device;
use std::fmt;
use std::str::FromStr;

/// A training backend.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Backend {
    /// burn-flex: pure-Rust CPU backend (the default).
    Flex,
    /// burn-wgpu: Vulkan / Metal / DX12 GPUs (or Mesa's lavapipe on a CPU).
    Wgpu,
}

impl FromStr for Backend {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "flex" | "cpu" => Ok(Backend::Flex),
            "wgpu" | "gpu" => Ok(Backend::Wgpu),
            other => Err(format!("unknown device '{other}' (expected cpu or wgpu)")),
        }
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Backend::Flex => "cpu (burn-flex)",
            Backend::Wgpu => "wgpu",
        })
    }
}

/// The autodiff device for a backend, or why it is not available in this build.
pub fn device(backend: Backend) -> Result<Device, String> {
    let d = match backend {
        Backend::Flex => Device::flex(),
        #[cfg(feature = "wgpu")]
        Backend::Wgpu => Device::wgpu(burn::tensor::DeviceKind::DefaultDevice),
        #[cfg(not(feature = "wgpu"))]
        Backend::Wgpu => return Err(NO_GPU.into()),
    };
    Ok(d.autodiff())
}

/// Whether reading a tensor back from `device` is a plain copy, so that a loss computed on
/// the host beats burn's element-wise ops. True for burn-flex; not for GPUs (a transfer
/// each step).
pub fn reads_back_cheaply(device: &Device) -> bool {
    use burn::backend::DispatchDevice as D;
    matches!(device.clone().without_autodiff().as_dispatch(), D::Flex(_))
}

/// Where to run, as `--device` names it: `cpu`, `gpu` / `wgpu` (burn-wgpu's default
/// adapter), `wgpu:N` (adapter N of [`gpu_adapters`]), or `auto` (a real GPU when there is
/// one, else the CPU: a software renderer is slower than burn-flex).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeviceChoice {
    /// burn-flex.
    Cpu,
    /// burn-wgpu: the default adapter, or adapter N.
    Wgpu(Option<usize>),
    /// A GPU when one is there, else the CPU.
    Auto,
}

impl FromStr for DeviceChoice {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim().to_ascii_lowercase();
        Ok(match s.as_str() {
            "cpu" | "flex" => DeviceChoice::Cpu,
            "gpu" | "wgpu" => DeviceChoice::Wgpu(None),
            "auto" => DeviceChoice::Auto,
            other => match other.strip_prefix("wgpu:") {
                Some(n) => DeviceChoice::Wgpu(Some(n.parse().map_err(|_| {
                    format!("'{other}': the adapter after wgpu: is a number, e.g. wgpu:0")
                })?)),
                None => {
                    return Err(format!(
                        "unknown device '{other}' (expected cpu, gpu, wgpu, wgpu:N or auto)"
                    ))
                }
            },
        })
    }
}

/// The autodiff device a choice names and a description of it for the user ("cpu
/// (burn-flex)", "wgpu: NAME, BACKEND, TYPE").
pub fn resolve(choice: DeviceChoice) -> Result<(Device, String), String> {
    let cpu = || Ok((Device::flex().autodiff(), Backend::Flex.to_string()));
    match choice {
        DeviceChoice::Cpu => cpu(),
        DeviceChoice::Auto => match gpu_adapters() {
            Ok(list) => match list.first() {
                Some(a) if !a.software => wgpu_at(0, &list),
                Some(a) => {
                    let (d, name) = cpu()?;
                    Ok((
                        d,
                        format!(
                            "{name}; the only GPU adapter is a software renderer ({})",
                            a.name
                        ),
                    ))
                }
                None => cpu(),
            },
            Err(why) => {
                let (d, name) = cpu()?;
                Ok((d, format!("{name}; no GPU: {why}")))
            }
        },
        DeviceChoice::Wgpu(n) => wgpu_at(n.unwrap_or(0), &gpu_adapters()?),
    }
}

/// One GPU adapter as wgpu reports it.
#[derive(Clone, Debug)]
pub struct Adapter {
    /// "name, backend, type".
    pub name: String,
    /// A software renderer on the CPU (Mesa's lavapipe).
    pub software: bool,
    /// Its kind and index among adapters of that kind: what burn-wgpu selects by.
    #[cfg(feature = "wgpu")]
    kind: burn::tensor::DeviceKind,
    /// The adapter itself and the instance that found it, to open a further device on it.
    #[cfg(feature = "wgpu")]
    handle: (wgpu::Instance, wgpu::Adapter),
}

/// The autodiff devices a `--devices` list names, in order, each with a description. The
/// first holds the model and the optimiser. An adapter listed twice gets a second device of
/// its own (its own queue and memory): no faster than one, but it runs a several-GPU recipe
/// on a one-GPU machine, and it is how the tests get two devices from Mesa's lavapipe.
pub fn resolve_all(choices: &[DeviceChoice]) -> Result<Vec<(Device, String)>, String> {
    if choices.is_empty() {
        return Err("no device listed; e.g. --devices wgpu:0,wgpu:1".into());
    }
    let mut out = Vec::with_capacity(choices.len());
    let mut opened: Vec<usize> = Vec::new();
    for &c in choices {
        match c {
            DeviceChoice::Auto if choices.len() > 1 => {
                return Err("auto picks one device; name each of several (cpu, wgpu:N)".into())
            }
            DeviceChoice::Cpu if choices.iter().filter(|&&d| d == c).count() > 1 => {
                return Err(
                    "cpu is listed twice: burn-flex is one device that already uses every core"
                        .into(),
                )
            }
            DeviceChoice::Wgpu(n) => {
                let n = n.unwrap_or(0);
                if opened.contains(&n) {
                    let (d, a) = another_device(n)?;
                    out.push((
                        d.autodiff(),
                        format!("wgpu:{n} ({}; another device on it)", a.name),
                    ));
                } else {
                    opened.push(n);
                    out.push(resolve(DeviceChoice::Wgpu(Some(n)))?);
                }
            }
            c => out.push(resolve(c)?),
        }
    }
    Ok(out)
}

/// A new device (without autodiff) on adapter `n`, apart from the one [`gpu_device`] gives:
/// burn registers it as a runtime of its own.
#[cfg(feature = "wgpu")]
fn another_device(n: usize) -> Result<(Device, Adapter), String> {
    let list = gpu_adapters()?;
    let a = pick(n, &list)?;
    Ok((open(n, a)?, a.clone()))
}

/// Opens a device on adapter `a` (number `n`) from its handle and registers it with burn.
#[cfg(feature = "wgpu")]
fn open(n: usize, a: &Adapter) -> Result<Device, String> {
    let (instance, adapter) = a.handle.clone();
    // What cubecl asks for when it opens the adapter itself (WGSL path; this build has no
    // SPIR-V compiler): everything the adapter offers but mappable primary buffers.
    let desc = wgpu::DeviceDescriptor {
        label: Some("aedge"),
        required_features: adapter
            .features()
            .difference(wgpu::Features::MAPPABLE_PRIMARY_BUFFERS),
        required_limits: adapter.limits(),
        memory_hints: wgpu::MemoryHints::MemoryUsage,
        ..Default::default()
    };
    let (device, queue) = block_on(adapter.request_device(&desc))
        .map_err(|e| format!("wgpu:{n} ({}): cannot open a device: {e}", a.name))?;
    let backend = adapter.get_info().backend;
    let setup = burn::tensor::wgpu::WgpuSetup {
        instance,
        adapter,
        device,
        queue,
        backend,
    };
    Device::wgpu_options()
        .setup(setup)
        .init()
        .map_err(|e| format!("wgpu:{n} ({}): burn cannot run on it: {e}", a.name))
}

#[cfg(not(feature = "wgpu"))]
fn another_device(_: usize) -> Result<(Device, Adapter), String> {
    Err(NO_GPU.into())
}

/// Runs a wgpu future to completion; native wgpu completes them on the first poll or soon.
#[cfg(feature = "wgpu")]
fn block_on<F: std::future::Future>(fut: F) -> F::Output {
    use std::task::{Context, Poll, Waker};
    let mut fut = std::pin::pin!(fut);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        match fut.as_mut().poll(&mut cx) {
            Poll::Ready(v) => break v,
            Poll::Pending => std::thread::yield_now(),
        }
    }
}

fn wgpu_at(n: usize, list: &[Adapter]) -> Result<(Device, String), String> {
    let (d, a) = adapter_device(n, list)?;
    Ok((d.autodiff(), format!("wgpu:{n} ({})", a.name)))
}

/// The device (without autodiff) of adapter `n` of [`gpu_adapters`], and the adapter.
pub fn gpu_device(n: usize) -> Result<(Device, Adapter), String> {
    adapter_device(n, &gpu_adapters()?)
}

#[cfg(feature = "wgpu")]
fn pick(n: usize, list: &[Adapter]) -> Result<&Adapter, String> {
    list.get(n).ok_or_else(|| {
        format!(
            "there is no GPU adapter {n}; adapters: {}",
            list.iter()
                .enumerate()
                .map(|(i, a)| format!("wgpu:{i} = {}", a.name))
                .collect::<Vec<_>>()
                .join("; ")
        )
    })
}

#[cfg(feature = "wgpu")]
fn adapter_device(n: usize, list: &[Adapter]) -> Result<(Device, Adapter), String> {
    let a = pick(n, list)?;
    // burn-wgpu selects an adapter by its kind (and index within the kind, but CPU adapters
    // have none): a later adapter of an earlier one's kind — Mesa's llvmpipe on GL after
    // lavapipe on Vulkan — would silently be the earlier one. Open it by its handle, once.
    if list[..n].iter().any(|b| b.kind == a.kind) {
        use std::sync::Mutex;
        static OPENED: Mutex<Vec<(usize, Device)>> = Mutex::new(Vec::new());
        let mut opened = OPENED.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, d)) = opened.iter().find(|(i, _)| *i == n) {
            return Ok((d.clone(), a.clone()));
        }
        let d = open(n, a)?;
        opened.push((n, d.clone()));
        return Ok((d, a.clone()));
    }
    Ok((Device::wgpu(a.kind.clone()), a.clone()))
}

#[cfg(not(feature = "wgpu"))]
fn adapter_device(_: usize, _: &[Adapter]) -> Result<(Device, Adapter), String> {
    Err(NO_GPU.into())
}

#[cfg(not(feature = "wgpu"))]
const NO_GPU: &str = "this build has no GPU support; rebuild with the wgpu feature (cargo install --path tools --features wgpu)";

/// Every GPU adapter wgpu sees, best first (discrete, integrated, virtual, CPU): `wgpu:N`
/// is the N-th.
#[cfg(feature = "wgpu")]
pub fn gpu_adapters() -> Result<Vec<Adapter>, String> {
    use burn::tensor::DeviceKind;
    let instance =
        wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle_from_env());
    let adapters = block_on(instance.enumerate_adapters(wgpu::Backends::all()));
    let rank = |t: wgpu::DeviceType| match t {
        wgpu::DeviceType::DiscreteGpu => 0,
        wgpu::DeviceType::IntegratedGpu => 1,
        wgpu::DeviceType::VirtualGpu => 2,
        wgpu::DeviceType::Cpu => 3,
        wgpu::DeviceType::Other => 4,
    };
    // burn-wgpu numbers adapters within their kind, in wgpu's order.
    let mut seen = [0usize; 5];
    let mut list: Vec<(usize, Adapter)> = Vec::new();
    for adapter in adapters {
        let info = adapter.get_info();
        let r = rank(info.device_type);
        let i = seen[r];
        seen[r] += 1;
        let kind = match info.device_type {
            wgpu::DeviceType::DiscreteGpu => DeviceKind::DiscreteGpu(i),
            wgpu::DeviceType::IntegratedGpu => DeviceKind::IntegratedGpu(i),
            wgpu::DeviceType::VirtualGpu => DeviceKind::VirtualGpu(i),
            wgpu::DeviceType::Cpu => DeviceKind::Cpu,
            wgpu::DeviceType::Other => continue,
        };
        list.push((
            r,
            Adapter {
                name: format!("{}, {:?}, {:?}", info.name, info.backend, info.device_type),
                software: info.device_type == wgpu::DeviceType::Cpu,
                kind,
                handle: (instance.clone(), adapter),
            },
        ));
    }
    list.sort_by_key(|(r, _)| *r);
    if list.is_empty() {
        return Err("no GPU adapter found (on a machine without a GPU, install Mesa's lavapipe: scripts/install-lavapipe.sh)".into());
    }
    Ok(list.into_iter().map(|(_, a)| a).collect())
}

/// Without the `wgpu` feature there are no adapters to list.
#[cfg(not(feature = "wgpu"))]
pub fn gpu_adapters() -> Result<Vec<Adapter>, String> {
    Err(NO_GPU.into())
}
