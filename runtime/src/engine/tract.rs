//! [`TractEngine`]: the same [`Engine`] trait on tract-onnx (feature `tract`,
//! std), for parity checks and Linux-class devices. tract evaluates the ONNX
//! graph as written (QLinear ops as integer kernels, float segments in f32).

extern crate std;

use super::Engine;
use crate::Error;
use std::vec;
use std::vec::Vec;
use tract_onnx::prelude::*;

/// A tract-optimised plan of one ONNX model.
pub struct TractEngine {
    plan: Arc<TypedRunnableModel>,
    input_shape: Vec<usize>,
    output_len: usize,
}

impl core::fmt::Debug for TractEngine {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("TractEngine")
            .field("input_shape", &self.input_shape)
            .finish()
    }
}

impl TractEngine {
    /// Loads and optimises `onnx` with tract. The input shape must be static.
    pub fn from_bytes(onnx: &[u8]) -> TractResult<Self> {
        let model = tract_onnx::onnx().model_for_read(&mut &onnx[..])?;
        let model = model.into_optimized()?;
        let input_fact = model.input_fact(0)?;
        let input_shape: Vec<usize> = input_fact
            .shape
            .as_concrete()
            .ok_or_else(|| TractError::msg("tract: input shape is not static"))?
            .to_vec();
        let output_fact = model.output_fact(0)?;
        let output_len = output_fact
            .shape
            .as_concrete()
            .ok_or_else(|| TractError::msg("tract: output shape is not static"))?
            .iter()
            .product();
        let plan = model.into_runnable()?;
        Ok(Self {
            plan,
            input_shape,
            output_len,
        })
    }

    /// Runs and returns tract's error on failure (the trait maps it to [`Error`]).
    pub fn try_run(&self, input: &[f32]) -> TractResult<Vec<f32>> {
        let x = Tensor::from_shape(&self.input_shape, input)?;
        let out = self.plan.run(tvec!(x.into()))?;
        let y = out
            .first()
            .ok_or_else(|| TractError::msg("tract: no output"))?;
        let y = y.cast_to::<f32>()?;
        Ok(y.try_as_plain_ram()?.as_slice::<f32>()?.to_vec())
    }
}

impl Engine for TractEngine {
    fn input_len(&self) -> usize {
        self.input_shape.iter().product()
    }

    fn output_len(&self) -> usize {
        self.output_len
    }

    fn run(&mut self, input: &[f32], output: &mut [f32]) -> Result<(), Error> {
        if input.len() != self.input_len() {
            return Err(Error::BufferLength {
                expected: self.input_len(),
                actual: input.len(),
            });
        }
        if output.len() != self.output_len {
            return Err(Error::BufferLength {
                expected: self.output_len,
                actual: output.len(),
            });
        }
        let y = self.try_run(input).map_err(|_| Error::InvalidModel {
            reason: "tract failed to run the model",
        })?;
        if y.len() != output.len() {
            return Err(Error::BufferLength {
                expected: output.len(),
                actual: y.len(),
            });
        }
        output.copy_from_slice(&y);
        Ok(())
    }
}
