//! Kernels: [`generic`] is the portable scalar reference (int32 accumulation,
//! wrapping like tract's); [`select`] is what the ops call: per kernel the
//! fastest version this target and CPU have (AVX2 on x86_64, NEON on aarch64),
//! bit-identical to the generic one and property-tested against it; [`dsp`]
//! holds the Cortex-M4 DSP-extension versions of the hot ones (portable
//! stand-ins off Arm), property-tested against it.

pub mod dsp;
pub mod generic;
pub mod layout;
#[cfg(target_arch = "aarch64")]
mod neon;
pub mod select;
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
mod vector;
#[cfg(target_arch = "x86_64")]
mod x86;
