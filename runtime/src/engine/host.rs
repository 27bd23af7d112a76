//! Host conveniences (feature `std`): one-shot runs for command-line tools
//! such as `matpac infer`.

extern crate std;

use super::{Engine, Interpreter};
use crate::{Error, Model};
use std::vec;
use std::vec::Vec;

/// Parses `onnx`, allocates its arena and runs it once on `input` (f32, the
/// model input's element count in NCHW order), returning the float output.
pub fn run_once(onnx: &[u8], input: &[f32]) -> Result<Vec<f32>, Error> {
    let model = Model::parse(onnx)?;
    let mut arena = vec![0u8; model.arena_len()];
    let mut engine = Interpreter::new(&model, &mut arena)?;
    let mut output = vec![0f32; engine.output_len()];
    engine.run(input, &mut output)?;
    Ok(output)
}
