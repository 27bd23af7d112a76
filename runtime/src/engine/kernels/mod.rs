//! Kernels: [`generic`] is the portable scalar reference (int32 accumulation,
//! wrapping like tract's); [`dsp`] holds the Cortex-M4 DSP-extension versions
//! of the hot ones (portable stand-ins off Arm), property-tested against it.

pub mod dsp;
pub mod generic;
