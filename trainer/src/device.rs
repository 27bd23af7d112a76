//! Where a command computes: `--device cpu|cuda` on every command that runs
//! an encoder or trains (`docs/gpu.md`). `cpu` is Burn's pure-Rust `flex`
//! backend (the default, and what CI tests); `cuda` is GPU 0 through Burn's
//! CUDA backend, present only in a build with the `cuda` feature.

use burn::tensor::Device;

/// A compute device kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Accelerator {
    /// Burn's CPU backend (`flex`).
    #[default]
    Cpu,
    /// CUDA device 0 (needs a build with `--features cuda`).
    Cuda,
}

/// The requested device is not in this build.
#[derive(Debug, thiserror::Error)]
pub enum DeviceError {
    /// CUDA was asked for in a CPU-only build.
    #[error(
        "--device cuda: this binary was built without CUDA; rebuild with \
         `cargo build --release --features cuda` (docs/gpu.md) or use --device cpu"
    )]
    NoCuda,
}

/// Command-line selection of the device (flattened into each command's arguments).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::Args)]
pub struct DeviceArgs {
    /// Compute device: `cpu` (Burn's flex backend) or `cuda` (GPU 0; needs a `--features cuda` build).
    #[arg(long, value_enum, default_value_t = Accelerator::Cpu)]
    pub device: Accelerator,
}

impl Accelerator {
    /// The Burn device (without autodiff).
    pub fn device(self) -> Result<Device, DeviceError> {
        match self {
            Self::Cpu => Ok(Device::flex()),
            #[cfg(feature = "cuda")]
            Self::Cuda => Ok(Device::cuda(0)),
            #[cfg(not(feature = "cuda"))]
            Self::Cuda => Err(DeviceError::NoCuda),
        }
    }
}

impl DeviceArgs {
    /// The selected Burn device (without autodiff).
    pub fn device(self) -> Result<Device, DeviceError> {
        self.device.device()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_is_the_default_and_always_available() {
        assert_eq!(DeviceArgs::default().device, Accelerator::Cpu);
        assert!(Accelerator::Cpu.device().is_ok());
    }

    #[cfg(not(feature = "cuda"))]
    #[test]
    fn cuda_in_a_cpu_build_is_a_one_line_error_saying_how_to_get_it() {
        let e = Accelerator::Cuda.device().unwrap_err().to_string();
        assert!(e.contains("--features cuda") && !e.contains('\n'), "{e}");
    }
}
