//! Choosing where training runs. burn 0.22 picks the backend at run time from a `Device`.

use burn::tensor::Device;
use std::fmt;
use std::str::FromStr;

/// A training backend.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Backend {
    /// burn-flex: pure-Rust CPU backend (the default; faster than ndarray here, see README).
    Flex,
    /// burn-ndarray: the older CPU backend, deprecated in burn 0.22; kept for comparison.
    NdArray,
    /// burn-wgpu: Vulkan / Metal / DX12 GPUs (or Mesa's lavapipe on a CPU).
    Wgpu,
}

impl FromStr for Backend {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "flex" | "cpu" => Ok(Backend::Flex),
            "ndarray" => Ok(Backend::NdArray),
            "wgpu" | "gpu" => Ok(Backend::Wgpu),
            other => Err(format!(
                "unknown device '{other}' (expected cpu, ndarray or wgpu)"
            )),
        }
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Backend::Flex => "cpu (burn-flex)",
            Backend::NdArray => "cpu (burn-ndarray)",
            Backend::Wgpu => "wgpu",
        })
    }
}

/// The autodiff device for a backend, or why it is not available in this build.
pub fn device(backend: Backend) -> Result<Device, String> {
    let d = match backend {
        Backend::Flex => Device::flex(),
        #[allow(deprecated)] // measured against flex on purpose
        Backend::NdArray => Device::ndarray(),
        #[cfg(feature = "wgpu")]
        Backend::Wgpu => Device::wgpu(burn::tensor::DeviceKind::DefaultDevice),
        #[cfg(not(feature = "wgpu"))]
        Backend::Wgpu => {
            return Err("this build has no GPU support; rebuild with `--features wgpu`".into())
        }
    };
    Ok(d.autodiff())
}
