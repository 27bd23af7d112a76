//! The `no_std` interpreter: runs a [`Model`]'s steps over a caller-provided
//! arena. No allocation, no panics; every buffer length is checked.

use super::Engine;
use super::arena::{Inputs, split};
use super::ops;
use super::ops::elementwise::{TensorSource, WholeArena};
use crate::Error;
use crate::fixed::quantize_f32;
use crate::model::{Model, Step, TensorSlot};

/// Runs one model with `model.arena_len()` bytes of scratch memory.
#[derive(Debug)]
pub struct Interpreter<'m, 'a, 'r> {
    model: &'m Model<'a>,
    arena: &'r mut [u8],
}

struct SplitSource<'s, 'x> {
    inputs: Inputs<'s>,
    slots: &'x [TensorSlot],
}

impl TensorSource for SplitSource<'_, '_> {
    fn tensor(&self, tensor: u8) -> Option<&[u8]> {
        self.inputs.get(self.slots.get(usize::from(tensor))?)
    }
}

fn internal() -> Error {
    Error::InvalidModel {
        reason: "internal: tensor outside the arena plan",
    }
}

impl<'m, 'a, 'r> Interpreter<'m, 'a, 'r> {
    /// Binds `model` to `arena`; errors when `arena.len() < model.arena_len()`.
    pub fn new(model: &'m Model<'a>, arena: &'r mut [u8]) -> Result<Self, Error> {
        if arena.len() < model.arena_len() {
            return Err(Error::ArenaTooSmall {
                needed: model.arena_len(),
                given: arena.len(),
            });
        }
        Ok(Self { model, arena })
    }

    /// The model.
    pub fn model(&self) -> &'m Model<'a> {
        self.model
    }

    /// Runs on input already quantised with `model.input().quant` (the
    /// front end's int8 features), writing the float output.
    pub fn run_quantized(&mut self, input: &[i8], output: &mut [f32]) -> Result<(), Error> {
        self.run_quantized_observed(input, output, |_, _| {})
    }

    /// [`Self::run_quantized`], calling `after_step(index, step)` after each
    /// step of `model.steps()`: a hook for per-layer timing (the QEMU
    /// firmware's instruction counts per layer).
    pub fn run_quantized_observed(
        &mut self,
        input: &[i8],
        output: &mut [f32],
        after_step: impl FnMut(usize, &Step<'a>),
    ) -> Result<(), Error> {
        let slot = self.input_slot(input.len(), output.len())?;
        let dst = self
            .arena
            .get_mut(slot.offset..slot.offset + slot.len)
            .ok_or_else(internal)?;
        for (d, &s) in dst.iter_mut().zip(input) {
            *d = s as u8;
        }
        self.run_steps(output, after_step)
    }

    fn input_slot(&self, input_len: usize, output_len: usize) -> Result<TensorSlot, Error> {
        if input_len != self.model.input_len() {
            return Err(Error::BufferLength {
                expected: self.model.input_len(),
                actual: input_len,
            });
        }
        if output_len != self.model.output_len() {
            return Err(Error::BufferLength {
                expected: self.model.output_len(),
                actual: output_len,
            });
        }
        self.model
            .tensors()
            .get(usize::from(self.model.input().tensor))
            .copied()
            .ok_or_else(internal)
    }

    fn run_steps(
        &mut self,
        output: &mut [f32],
        mut after_step: impl FnMut(usize, &Step<'a>),
    ) -> Result<(), Error> {
        let slots = self.model.tensors();
        for (index, step) in self.model.steps().iter().enumerate() {
            let out_t = match step {
                Step::Conv(s) => s.y.tensor,
                Step::MatMul(s) => s.y.tensor,
                Step::Pool(s) => s.y.tensor,
                Step::Elementwise(s) => s.y,
            };
            let out_slot = slots.get(usize::from(out_t)).ok_or_else(internal)?;
            let scratch = match step {
                Step::Conv(s) => s.scratch,
                _ => None,
            };
            let scratch_slot = match scratch {
                Some(t) => Some(slots.get(usize::from(t)).ok_or_else(internal)?),
                None => None,
            };
            // The output (and scratch) are the disjoint mutable parts; inputs
            // are shared borrows.
            let (inputs, y, scratch) =
                split(self.arena, out_slot, scratch_slot).ok_or_else(internal)?;
            let src = SplitSource { inputs, slots };
            let read = |t: u8| src.tensor(t).ok_or_else(internal);
            match step {
                Step::Conv(s) => ops::conv::run(s, read(s.x)?, y, scratch),
                Step::MatMul(s) => ops::matmul::run(s, read(s.a)?, y),
                Step::Pool(s) => ops::pool::run(s, read(s.x)?, y),
                Step::Elementwise(s) => ops::elementwise::run(s, &src, y),
            }
            after_step(index, step);
        }
        let src = WholeArena {
            arena: self.arena,
            slots,
        };
        ops::output::run(self.model.output(), &src, output);
        Ok(())
    }
}

impl Engine for Interpreter<'_, '_, '_> {
    fn input_len(&self) -> usize {
        self.model.input_len()
    }

    fn output_len(&self) -> usize {
        self.model.output_len()
    }

    fn run(&mut self, input: &[f32], output: &mut [f32]) -> Result<(), Error> {
        let slot = self.input_slot(input.len(), output.len())?;
        let q = self.model.input().quant;
        let inv = 1.0 / q.scale;
        let dst = self
            .arena
            .get_mut(slot.offset..slot.offset + slot.len)
            .ok_or_else(internal)?;
        for (d, &x) in dst.iter_mut().zip(input) {
            *d = quantize_f32(x, inv, i32::from(q.zero_point)) as u8;
        }
        self.run_steps(output, |_, _| {})
    }
}
