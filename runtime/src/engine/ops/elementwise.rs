//! Element-wise float expressions (`DequantizeLinear → [Relu/Clip] → [Add]`),
//! evaluated per element in f32 in the order the float graph specifies, so
//! the result equals the float graph's bit for bit.

use crate::fixed::quantize_f32;
use crate::model::program::{Elementwise, ElementwiseStep, Operand, Quant};
use crate::model::{Shape, TensorSlot};

/// Flat index into `src` of element `i` of `out` under numpy broadcasting.
#[inline]
pub fn broadcast_index(out: &Shape, src: &Shape, i: usize) -> usize {
    if out == src {
        return i;
    }
    let (ro, rs) = (out.rank(), src.rank());
    let mut rem = i;
    let mut idx = 0usize;
    let mut stride = 1usize;
    for axis in (0..ro).rev() {
        let d = out.dim(axis).max(1);
        let coord = rem % d;
        rem /= d;
        if let Some(sa) = (axis + rs).checked_sub(ro) {
            let sd = src.dim(sa);
            if sd != 1 {
                idx += coord * stride;
            }
            stride *= sd;
        }
    }
    idx
}

/// Reads arena tensors for an expression.
pub trait TensorSource {
    /// The bytes of `tensor`.
    fn tensor(&self, tensor: u8) -> Option<&[u8]>;
}

#[inline]
fn clamp(v: f32, c: (f32, f32)) -> f32 {
    // Not f32::clamp: that panics when lo > hi (never true after validation).
    let v = if v < c.0 { c.0 } else { v };
    if v > c.1 { c.1 } else { v }
}

/// An operand with its tensor bytes looked up once per step.
#[derive(Clone, Copy)]
enum View<'s, 'a> {
    Tensor {
        data: &'s [u8],
        shape: Shape,
        quant: Quant,
        clamp: (f32, f32),
    },
    Const(&'s Operand<'a>),
}

impl<'s, 'a> View<'s, 'a> {
    fn new(op: &'s Operand<'a>, src: &'s impl TensorSource) -> Self {
        match op {
            Operand::Tensor {
                tensor,
                shape,
                quant,
                clamp,
            } => View::Tensor {
                data: src.tensor(*tensor).unwrap_or(&[]),
                shape: *shape,
                quant: *quant,
                clamp: *clamp,
            },
            Operand::Const { .. } => View::Const(op),
        }
    }

    /// The value of a tensor operand holding byte `q`: `clamp(dequantize(q))`
    /// (0 for a constant).
    #[inline]
    fn byte_value(&self, q: u8) -> f32 {
        match self {
            View::Tensor {
                quant, clamp: c, ..
            } => clamp(dequantize(q as i8, *quant), *c),
            View::Const(_) => 0.0,
        }
    }

    #[inline]
    fn value(&self, out: &Shape, i: usize) -> f32 {
        match self {
            View::Tensor { data, shape, .. } => {
                let q = data
                    .get(broadcast_index(out, shape, i))
                    .copied()
                    .unwrap_or(0);
                self.byte_value(q)
            }
            View::Const(Operand::Const { data, shape, quant }) => {
                let j = broadcast_index(out, shape, i);
                match quant {
                    None => data.f32_at(j).unwrap_or(0.0),
                    Some((s, z)) => {
                        (data.int_at(j).unwrap_or(0) as i32).wrapping_sub(*z) as f32 * s
                    }
                }
            }
            View::Const(_) => 0.0,
        }
    }
}

/// An expression bound to the arena for one evaluation pass.
pub struct Bound<'s, 'a> {
    expr: &'s Elementwise<'a>,
    a: View<'s, 'a>,
    b: Option<View<'s, 'a>>,
}

impl<'s, 'a> Bound<'s, 'a> {
    /// Looks up the operands' tensors in `src`.
    pub fn new(expr: &'s Elementwise<'a>, src: &'s impl TensorSource) -> Self {
        Self {
            expr,
            a: View::new(&expr.a, src),
            b: expr.b.as_ref().map(|b| View::new(b, src)),
        }
    }

    /// Element `i` of the expression: `clamp(a [+ b])` in f32.
    #[inline]
    pub fn eval(&self, i: usize) -> f32 {
        let shape = &self.expr.shape;
        let a = self.a.value(shape, i);
        let v = match &self.b {
            Some(b) => a + b.value(shape, i),
            None => a,
        };
        clamp(v, self.expr.clamp)
    }
}

/// ONNX `DequantizeLinear`: `(q − zp) · scale` in f32.
#[inline]
pub fn dequantize(q: i8, quant: Quant) -> f32 {
    (i32::from(q) - i32::from(quant.zero_point)) as f32 * quant.scale
}

/// Entries of [`run`]'s table: one per int8 value.
const LUT_LEN: usize = 256;

/// Runs `step` into `y`. An expression of one tensor read element for
/// element (a requantisation, with a `Relu`/`Clip`) depends only on each
/// input byte: over more than [`LUT_LEN`] elements it is evaluated once per
/// byte value into a table, then looked up (the same f32 computation, so the
/// same result).
pub fn run(step: &ElementwiseStep<'_>, src: &impl TensorSource, y: &mut [u8]) {
    let inv = 1.0 / step.y_quant.scale;
    let zp = i32::from(step.y_quant.zero_point);
    let bound = Bound::new(&step.expr, src);
    if let (None, View::Tensor { data, shape, .. }) = (&bound.b, &bound.a)
        && *shape == step.expr.shape
        && data.len() >= y.len()
        && y.len() > LUT_LEN
    {
        let lut: [u8; LUT_LEN] = core::array::from_fn(|q| {
            let v = clamp(bound.a.byte_value(q as u8), step.expr.clamp);
            quantize_f32(v, inv, zp) as u8
        });
        for (out, &q) in y.iter_mut().zip(*data) {
            *out = lut[usize::from(q)];
        }
        return;
    }
    for (i, out) in y.iter_mut().enumerate() {
        *out = quantize_f32(bound.eval(i), inv, zp) as u8;
    }
}

/// A [`TensorSource`] over a whole, read-only arena.
pub struct WholeArena<'s> {
    /// The arena.
    pub arena: &'s [u8],
    /// The model's tensor table.
    pub slots: &'s [TensorSlot],
}

impl TensorSource for WholeArena<'_> {
    fn tensor(&self, tensor: u8) -> Option<&[u8]> {
        let s = self.slots.get(usize::from(tensor))?;
        self.arena.get(s.offset..s.offset.checked_add(s.len)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct One<'d>(&'d [u8]);

    impl TensorSource for One<'_> {
        fn tensor(&self, _: u8) -> Option<&[u8]> {
            Some(self.0)
        }
    }

    /// The table of a one-tensor expression equals evaluating each element.
    #[test]
    fn byte_table_equals_each_element() {
        let x: Vec<u8> = (0..=255)
            .chain((0..300).map(|i| (i * 97 % 256) as u8))
            .collect();
        let shape = Shape::new(&[1, x.len()]).unwrap();
        for (clamp_in, clamp_out, zp) in [
            ((f32::MIN, f32::MAX), (0.0, f32::MAX), -3),
            ((0.0, 6.0), (0.5, 4.0), 7),
        ] {
            let step = ElementwiseStep {
                expr: Elementwise {
                    a: Operand::Tensor {
                        tensor: 0,
                        shape,
                        quant: Quant {
                            scale: 0.037,
                            zero_point: 5,
                        },
                        clamp: clamp_in,
                    },
                    b: None,
                    clamp: clamp_out,
                    shape,
                },
                y: 1,
                y_quant: Quant {
                    scale: 0.021,
                    zero_point: zp,
                },
            };
            let src = One(&x);
            let mut got = vec![0u8; x.len()];
            run(&step, &src, &mut got);
            let bound = Bound::new(&step.expr, &src);
            let want: Vec<u8> = (0..x.len())
                .map(|i| quantize_f32(bound.eval(i), 1.0 / 0.021, i32::from(zp)) as u8)
                .collect();
            assert_eq!(got, want);
        }
    }

    #[test]
    fn broadcast_index_follows_numpy() {
        let out = Shape::new(&[1, 3, 2, 2]).unwrap();
        let bias = Shape::new(&[3, 1, 1]).unwrap();
        let idx: Vec<_> = (0..12).map(|i| broadcast_index(&out, &bias, i)).collect();
        assert_eq!(idx, [0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2]);
        let row = Shape::new(&[2]).unwrap();
        let idx: Vec<_> = (0..12).map(|i| broadcast_index(&out, &row, i)).collect();
        assert_eq!(idx, [0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1]);
    }
}
