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
        Backend::Wgpu => {
            return Err("this build has no GPU support; rebuild with `--features aedge-trainer/wgpu` (the trainer's `wgpu` feature)".into())
        }
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

/// The adapter burn-wgpu's default device picks (discrete, then integrated, virtual, CPU),
/// described as "name, backend, type", and whether it is a software renderer on the CPU
/// (Mesa's lavapipe on machines without a GPU).
#[cfg(feature = "wgpu")]
pub fn gpu_adapter() -> Result<(String, bool), String> {
    use std::future::Future;
    use std::task::{Context, Poll, Waker};
    let instance =
        wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle_from_env());
    let mut fut = std::pin::pin!(instance.enumerate_adapters(wgpu::Backends::all()));
    let mut cx = Context::from_waker(Waker::noop());
    // Native enumeration completes on the first poll; keep polling in case it does not.
    let adapters = loop {
        match fut.as_mut().poll(&mut cx) {
            Poll::Ready(a) => break a,
            Poll::Pending => std::thread::yield_now(),
        }
    };
    let rank = |t: wgpu::DeviceType| match t {
        wgpu::DeviceType::DiscreteGpu => 0,
        wgpu::DeviceType::IntegratedGpu => 1,
        wgpu::DeviceType::VirtualGpu => 2,
        wgpu::DeviceType::Cpu => 3,
        wgpu::DeviceType::Other => 4,
    };
    let info = adapters
        .iter()
        .map(|a| a.get_info())
        .min_by_key(|i| rank(i.device_type))
        .ok_or("no GPU adapter found (on a machine without a GPU, install Mesa's lavapipe: scripts/install-lavapipe.sh)")?;
    Ok((
        format!("{}, {:?}, {:?}", info.name, info.backend, info.device_type),
        info.device_type == wgpu::DeviceType::Cpu,
    ))
}

/// Without the `wgpu` feature there is no GPU support to describe.
#[cfg(not(feature = "wgpu"))]
pub fn gpu_adapter() -> Result<(String, bool), String> {
    Err("this build has no GPU support; rebuild with `--features aedge-trainer/wgpu` (the trainer's `wgpu` feature)".into())
}
