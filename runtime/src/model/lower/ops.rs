//! Per-op lowering rules (the driver and its state are the parent module):
//! quantise / dequantise, shape-only ops, fused float ops and the float-tail
//! ops. Convolution, pooling and matrix products live in [`super::linear`],
//! scale and zero-point checks in [`super::quant`].
//!
//! Over 400 lines on purpose: one short rule per op kind, sharing the fused
//! float-expression helpers; a file per op would scatter them.

use super::linear;
use super::quant::{check_scales, scalar_quant};
use super::{FExpr, FKind, Lower, NO_CLAMP, Sym, UNBOUND};
use crate::Error;
use crate::fixed::quantize_f32;
use crate::model::onnx::{Const, Node};
use crate::model::program::*;
use crate::model::shape::Shape;
use crate::model::tensor_data::DataType;

/// Lowers one node.
pub(crate) fn lower_node<'a>(l: &mut Lower<'a, '_>, node: &Node<'a>) -> Result<(), Error> {
    match node.op {
        "QuantizeLinear" => quantize(l, node),
        "DequantizeLinear" => dequantize(l, node),
        "Relu" | "Clip" => clamp(l, node),
        "Reshape" | "Flatten" | "Identity" => reshape(l, node),
        "Add" => add(l, node),
        "Sigmoid" | "Softmax" => tail(l, node),
        "Constant" => {
            let t = node
                .attr("value")?
                .and_then(|a| a.t)
                .ok_or_else(|| l.err("Constant needs a tensor `value`"))?;
            let c = Const::parse(t)?;
            l.define(node, Sym::Const(c))
        }
        "QLinearConv" | "Conv" => linear::conv(l, node),
        "QLinearMatMul" | "MatMul" | "Gemm" => linear::matmul(l, node),
        "AveragePool" | "GlobalAveragePool" => linear::pool(l, node),
        _ => Err(l.err("operator not supported")),
    }
}

/// The int8 clamp equivalent to clamping the float value before quantising
/// with `q` (exact: quantisation is monotonic).
pub(crate) fn quant_clamp(clamp: (f32, f32), q: Quant) -> (i8, i8) {
    let inv = 1.0 / q.scale;
    let zp = i32::from(q.zero_point);
    let lo = if clamp.0 == f32::NEG_INFINITY {
        -128
    } else {
        quantize_f32(clamp.0, inv, zp)
    };
    let hi = if clamp.1 == f32::INFINITY {
        127
    } else {
        quantize_f32(clamp.1, inv, zp)
    };
    (lo, hi)
}

/// A float value's element-wise expression (not for pending integer results).
pub(crate) fn elementwise_of<'a>(
    l: &Lower<'a, '_>,
    f: &FExpr<'a>,
) -> Result<Elementwise<'a>, Error> {
    match f.kind {
        FKind::Deq { t, quant } => Ok(Elementwise {
            a: Operand::Tensor {
                tensor: t,
                shape: f.shape,
                quant,
                clamp: NO_CLAMP,
            },
            b: None,
            clamp: f.clamp,
            shape: f.shape,
        }),
        FKind::Add { a, b } => Ok(Elementwise {
            a,
            b: Some(b),
            clamp: f.clamp,
            shape: broadcast_shape(l, &a, &b)?,
        }),
        FKind::Pending { .. } => {
            Err(l.err("a float Conv/MatMul/pool result must be quantised before this use"))
        }
    }
}

fn quantize<'a>(l: &mut Lower<'a, '_>, node: &Node<'a>) -> Result<(), Error> {
    let scale = l.const_input(node, 1)?;
    let zp = l
        .opt_const_input(node, 2)?
        .ok_or_else(|| l.err("QuantizeLinear without a zero point outputs uint8"))?;
    if node.attr("saturate")?.and_then(|a| a.i) == Some(0) {
        return Err(l.err("saturate = 0 is not supported"));
    }
    let q = scalar_quant(l, &scale, Some(&zp))?;
    match l.input(node, 0)? {
        Sym::FloatInput(shape) => {
            if l.input.is_some() {
                return Err(l.err("the graph input is quantised twice"));
            }
            let t = l.new_tensor(shape.numel(), 0)?;
            l.input = Some(super::InputSpec {
                name: node.input(0).unwrap_or(""),
                shape,
                tensor: t,
                quant: q,
            });
            l.define(node, Sym::Q { t, shape })
        }
        Sym::F(f) => {
            if !f.tail.is_empty() {
                return Err(l.err("quantising after Sigmoid/Softmax is not supported"));
            }
            let t = match f.kind {
                FKind::Pending { step } => {
                    let t = l.new_tensor(f.shape.numel(), step + 1)?;
                    let out = Output {
                        tensor: t,
                        quant: q,
                        clamp: quant_clamp(f.clamp, q),
                    };
                    let slot = match l.steps.get_mut(step) {
                        Some(Step::Conv(s)) => &mut s.y,
                        Some(Step::MatMul(s)) => &mut s.y,
                        Some(Step::Pool(s)) => &mut s.y,
                        _ => return Err(l.err("internal: pending step missing")),
                    };
                    if slot.tensor != UNBOUND {
                        return Err(l.err("a float result is quantised twice"));
                    }
                    *slot = out;
                    t
                }
                FKind::Deq { .. } | FKind::Add { .. } => {
                    let expr = elementwise_of(l, &f)?;
                    let at = l.steps.len() + 1;
                    let t = l.new_tensor(f.shape.numel(), at)?;
                    l.use_operands(&expr, at);
                    l.push_step(Step::Elementwise(ElementwiseStep {
                        expr,
                        y: t,
                        y_quant: q,
                    }))?;
                    t
                }
            };
            l.define(node, Sym::Q { t, shape: f.shape })
        }
        _ => Err(l.err("QuantizeLinear input must be the graph input or a dequantised value")),
    }
}

fn dequantize<'a>(l: &mut Lower<'a, '_>, node: &Node<'a>) -> Result<(), Error> {
    let scale = l.const_input(node, 1)?;
    let zp = l.opt_const_input(node, 2)?;
    let axis = node.attr("axis")?.and_then(|a| a.i).unwrap_or(1);
    match l.input(node, 0)? {
        Sym::Q { t, shape } => {
            let quant = scalar_quant(l, &scale, zp.as_ref())?;
            let kind = FKind::Deq { t, quant };
            l.define(
                node,
                Sym::F(FExpr {
                    kind,
                    shape,
                    clamp: NO_CLAMP,
                    tail: heapless::Vec::new(),
                }),
            )
        }
        Sym::Const(c) => {
            check_scales(l, &scale)?;
            // `axis` only matters for per-axis scales (ONNX ignores it otherwise).
            let rank = c.shape.rank() as i64;
            let axis = if axis < 0 { axis + rank } else { axis };
            let axis = match usize::try_from(axis).ok().filter(|&a| a < c.shape.rank()) {
                Some(a) => a,
                None if scale.len() == 1 => 0,
                None => return Err(l.err("axis out of range")),
            };
            if !matches!(c.data.dtype, DataType::Int8 | DataType::Int32) {
                return Err(l.err("dequantised constants must be int8 or int32"));
            }
            if let Some(z) = &zp
                && (z.len() != scale.len()
                    || !matches!(z.data.dtype, DataType::Int8 | DataType::Int32))
            {
                return Err(l.err("zero point must match the scale's length and the data type"));
            }
            l.define(node, Sym::DeqConst { c, scale, zp, axis })
        }
        _ => Err(l.err("DequantizeLinear input must be an int8 tensor or an initialiser")),
    }
}

/// Float `F` input, with no tail unless the op may join the tail.
fn float_input<'a>(l: &Lower<'a, '_>, node: &Node<'a>) -> Result<FExpr<'a>, Error> {
    match l.input(node, 0)? {
        Sym::F(f) => Ok(f),
        _ => Err(l.err("input must be a dequantised (float) value")),
    }
}

fn scalar_f32(l: &Lower<'_, '_>, c: Option<Const<'_>>, default: f32) -> Result<f32, Error> {
    match c {
        None => Ok(default),
        Some(c) if c.len() == 1 && c.data.dtype == DataType::Float => c
            .data
            .f32_at(0)
            .filter(|v| !v.is_nan())
            .ok_or_else(|| l.err("Clip bound is NaN")),
        Some(_) => Err(l.err("Clip bounds must be float scalars")),
    }
}

fn clamp<'a>(l: &mut Lower<'a, '_>, node: &Node<'a>) -> Result<(), Error> {
    let mut f = float_input(l, node)?;
    let (lo, hi) = if node.op == "Relu" {
        (0.0, f32::INFINITY)
    } else if l.opset >= 11 {
        (
            scalar_f32(l, l.opt_const_input(node, 1)?, f32::NEG_INFINITY)?,
            scalar_f32(l, l.opt_const_input(node, 2)?, f32::INFINITY)?,
        )
    } else {
        let lo = node.attr("min")?.and_then(|a| a.f).unwrap_or(f32::MIN);
        let hi = node.attr("max")?.and_then(|a| a.f).unwrap_or(f32::MAX);
        (lo, hi)
    };
    if lo.is_nan() || hi.is_nan() || lo > hi {
        return Err(l.err("Clip needs min <= max"));
    }
    if f.tail.is_empty() {
        f.clamp = (f.clamp.0.max(lo), f.clamp.1.min(hi));
        if f.clamp.0 > f.clamp.1 {
            return Err(l.err("successive clamps leave an empty range"));
        }
    } else if node.op == "Relu" {
        f.tail
            .push(TailOp::Relu)
            .map_err(|_| l.err("too many float ops after the last DequantizeLinear"))?;
    } else {
        return Err(l.err("Clip after Sigmoid/Softmax is not supported"));
    }
    l.define(node, Sym::F(f))
}

fn reshape<'a>(l: &mut Lower<'a, '_>, node: &Node<'a>) -> Result<(), Error> {
    let x = l.input(node, 0)?;
    let shape = match &x {
        Sym::Q { shape, .. } => *shape,
        Sym::F(f) => f.shape,
        _ => return Err(l.err("input must be an activation")),
    };
    let new = match node.op {
        "Identity" => shape,
        "Flatten" => {
            let rank = shape.rank() as i64;
            let axis = node.attr("axis")?.and_then(|a| a.i).unwrap_or(1);
            let axis = if axis < 0 { axis + rank } else { axis };
            let axis = usize::try_from(axis)
                .ok()
                .filter(|&a| a <= shape.rank())
                .ok_or_else(|| l.err("axis out of range"))?;
            let outer: usize = shape.dims().get(..axis).unwrap_or(&[]).iter().product();
            Shape::new(&[outer, shape.numel() / outer.max(1)])?
        }
        _ => reshape_target(l, node, shape)?,
    };
    if new.numel() != shape.numel() {
        return Err(l.err("reshape changes the element count"));
    }
    let sym = match x {
        Sym::Q { t, .. } => Sym::Q { t, shape: new },
        Sym::F(mut f) => {
            f.shape = new;
            Sym::F(f)
        }
        _ => return Err(l.err("input must be an activation")),
    };
    l.define(node, sym)
}

fn reshape_target<'a>(l: &Lower<'a, '_>, node: &Node<'a>, from: Shape) -> Result<Shape, Error> {
    let c = l.const_input(node, 1)?;
    if c.data.dtype != DataType::Int64 || c.shape.rank() != 1 || c.len() > 4 {
        return Err(l.err("Reshape shape must be a constant int64 vector of length <= 4"));
    }
    if node.attr("allowzero")?.and_then(|a| a.i).unwrap_or(0) != 0 {
        return Err(l.err("allowzero = 1 is not supported"));
    }
    let mut dims = [1usize; 4];
    let mut infer = None;
    let mut known = 1usize;
    for i in 0..c.len() {
        let v = c.data.int_at(i).unwrap_or(0);
        let d = match v {
            -1 if infer.is_none() => {
                infer = Some(i);
                1
            }
            0 => from
                .dims()
                .get(i)
                .copied()
                .ok_or_else(|| l.err("Reshape 0 copies a missing dimension"))?,
            v => usize::try_from(v).map_err(|_| l.err("invalid Reshape dimension"))?,
        };
        known = known
            .checked_mul(d)
            .ok_or_else(|| l.err("Reshape dimensions overflow"))?;
        if let Some(slot) = dims.get_mut(i) {
            *slot = d;
        }
    }
    if let Some(i) = infer {
        if known == 0 || !from.numel().is_multiple_of(known) {
            return Err(l.err("Reshape -1 cannot be inferred"));
        }
        if let Some(slot) = dims.get_mut(i) {
            *slot = from.numel() / known;
        }
    }
    Shape::new(dims.get(..c.len()).unwrap_or(&[]))
}

fn operand<'a>(l: &Lower<'a, '_>, sym: Sym<'a>) -> Result<Operand<'a>, Error> {
    match sym {
        Sym::F(f) if f.tail.is_empty() => match f.kind {
            FKind::Deq { t, quant } => Ok(Operand::Tensor {
                tensor: t,
                shape: f.shape,
                quant,
                clamp: f.clamp,
            }),
            _ => Err(l.err("Add operands must be DequantizeLinear outputs or constants")),
        },
        Sym::Const(c) if c.data.dtype == DataType::Float => Ok(Operand::Const {
            data: c.data,
            shape: c.shape,
            quant: None,
        }),
        Sym::DeqConst { c, scale, zp, .. } if scale.len() == 1 => {
            let s = scale.data.f32_at(0).unwrap_or(1.0);
            let z = zp.and_then(|z| z.data.int_at(0)).unwrap_or(0) as i32;
            Ok(Operand::Const {
                data: c.data,
                shape: c.shape,
                quant: Some((s, z)),
            })
        }
        _ => Err(l.err("Add operands must be DequantizeLinear outputs or constants")),
    }
}

/// Numpy broadcast of two operand shapes.
pub(crate) fn broadcast_shape(
    l: &Lower<'_, '_>,
    a: &Operand<'_>,
    b: &Operand<'_>,
) -> Result<Shape, Error> {
    let sa = operand_shape(a);
    let sb = operand_shape(b);
    let rank = sa.rank().max(sb.rank());
    let mut dims = [1usize; 4];
    for (i, d) in dims.iter_mut().enumerate().take(rank) {
        let da = (i + sa.rank()).checked_sub(rank).map_or(1, |j| sa.dim(j));
        let db = (i + sb.rank()).checked_sub(rank).map_or(1, |j| sb.dim(j));
        *d = match (da, db) {
            (x, y) if x == y => x,
            (1, y) => y,
            (x, 1) => x,
            _ => return Err(l.err("Add shapes do not broadcast")),
        };
    }
    Shape::new(dims.get(..rank).unwrap_or(&[]))
}

fn operand_shape(o: &Operand<'_>) -> Shape {
    match o {
        Operand::Tensor { shape, .. } | Operand::Const { shape, .. } => *shape,
    }
}

fn add<'a>(l: &mut Lower<'a, '_>, node: &Node<'a>) -> Result<(), Error> {
    let a = operand(l, l.input(node, 0)?)?;
    let b = operand(l, l.input(node, 1)?)?;
    if matches!((a, b), (Operand::Const { .. }, Operand::Const { .. })) {
        return Err(l.err("Add of two constants is not supported (fold it)"));
    }
    let shape = broadcast_shape(l, &a, &b)?;
    let kind = FKind::Add { a, b };
    l.define(
        node,
        Sym::F(FExpr {
            kind,
            shape,
            clamp: NO_CLAMP,
            tail: heapless::Vec::new(),
        }),
    )
}

fn tail<'a>(l: &mut Lower<'a, '_>, node: &Node<'a>) -> Result<(), Error> {
    let mut f = float_input(l, node)?;
    if matches!(f.kind, FKind::Pending { .. }) {
        return Err(l.err("Sigmoid/Softmax input must be a DequantizeLinear output"));
    }
    let op = if node.op == "Sigmoid" {
        TailOp::Sigmoid
    } else {
        let rank = f.shape.rank() as i64;
        let default = if l.opset >= 13 { -1 } else { 1 };
        let axis = node.attr("axis")?.and_then(|a| a.i).unwrap_or(default);
        let axis = if axis < 0 { axis + rank } else { axis };
        let axis = usize::try_from(axis)
            .ok()
            .filter(|&a| a < f.shape.rank())
            .ok_or_else(|| l.err("axis out of range"))?;
        let row: usize = if l.opset >= 13 {
            if axis + 1 != f.shape.rank() {
                return Err(l.err("Softmax is supported over the last axis only"));
            }
            f.shape.dim(axis)
        } else {
            f.shape.dims().get(axis..).unwrap_or(&[]).iter().product()
        };
        TailOp::Softmax { row: row as u32 }
    };
    f.tail
        .push(op)
        .map_err(|_| l.err("too many float ops after the last DequantizeLinear"))?;
    l.define(node, Sym::F(f))
}
