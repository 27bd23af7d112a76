//! Running a model: the [`Engine`] trait, the allocation-free
//! [`Interpreter`], one file per op family under [`ops`], and the kernels
//! under [`kernels`] (scalar reference; Cortex-M4 DSP-extension versions).
//!
//! Host tools (`matpac infer MODEL.onnx --input X.npy --out Y.npy --engine
//! runtime|tract`) call `host::run_once` (feature `std`) or build a
//! `TractEngine::from_bytes` (feature `tract`) and call [`Engine::run`] on the
//! flattened NCHW f32 input; both return the flattened float output.

mod arena;
#[cfg(feature = "std")]
pub mod host;
pub mod interpreter;
pub mod kernels;
pub mod ops;
#[cfg(feature = "tract")]
pub mod tract;

pub use interpreter::Interpreter;
#[cfg(feature = "tract")]
pub use tract::TractEngine;

use crate::Error;

/// Something that runs one model on float input and writes float output, so
/// callers and tests can swap the `no_std` interpreter for tract.
pub trait Engine {
    /// Number of f32 input values (the model input's element count, NCHW order).
    fn input_len(&self) -> usize;

    /// Number of f32 output values.
    fn output_len(&self) -> usize;

    /// Runs the model: `input.len() == input_len()`, `output.len() == output_len()`.
    /// The interpreter allocates nothing here.
    fn run(&mut self, input: &[f32], output: &mut [f32]) -> Result<(), Error>;
}
