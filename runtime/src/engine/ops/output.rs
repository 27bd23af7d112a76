//! The float output: the last element-wise expression (dequantisation,
//! optional bias `Add`), then the float tail (`Sigmoid`, `Softmax`, `Relu`).

use super::elementwise::{Bound, TensorSource};
use crate::model::{OutputSpec, TailOp};

/// Writes the output expression and applies the tail in place.
pub fn run(spec: &OutputSpec<'_>, src: &impl TensorSource, out: &mut [f32]) {
    let bound = Bound::new(&spec.expr, src);
    for (i, o) in out.iter_mut().enumerate() {
        *o = bound.eval(i);
    }
    for op in &spec.tail {
        match *op {
            TailOp::Sigmoid => out.iter_mut().for_each(|v| *v = sigmoid(*v)),
            TailOp::Relu => out.iter_mut().for_each(|v| *v = v.max(0.0)),
            TailOp::Softmax { row } => {
                for r in out.chunks_mut((row as usize).max(1)) {
                    softmax(r);
                }
            }
        }
    }
}

/// `1 / (1 + e^−x)`.
#[inline]
pub fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + libm::expf(-x))
}

/// Softmax of one row, max-subtracted for range.
pub fn softmax(row: &mut [f32]) {
    let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut sum = 0.0f32;
    for v in row.iter_mut() {
        *v = libm::expf(*v - max);
        sum += *v;
    }
    if sum > 0.0 {
        row.iter_mut().for_each(|v| *v /= sum);
    }
}
