//! Lowering of the integer kernels' ops: `QLinearConv`/QDQ `Conv`,
//! `QLinearMatMul`/QDQ `MatMul`/`Gemm`, and average pooling of a dequantised
//! tensor.
//!
//! Over 400 lines on purpose: the three integer-kernel ops share the weight,
//! bias and requantisation checks that make up most of this file.

use super::quant::{check_scales, scalar_quant, weight_quant};
use super::{FExpr, FKind, Lower, NO_CLAMP, Sym, UNBOUND};
use crate::Error;
use crate::engine::kernels::layout::{PhasePlanes, PixelPairs};
use crate::model::onnx::{Const, Node};
use crate::model::program::*;
use crate::model::shape::Shape;
use crate::model::tensor_data::DataType;

const UNBOUND_OUTPUT: Output = Output {
    tensor: UNBOUND,
    quant: Quant {
        scale: 1.0,
        zero_point: 0,
    },
    clamp: (-128, 127),
};

/// An int8 activation: either an arena tensor (QOperator) or the
/// `DequantizeLinear` of one (QDQ), with its quantisation and shape.
fn activation<'a>(
    l: &Lower<'a, '_>,
    sym: Sym<'a>,
    qop: bool,
) -> Result<(Tid, Option<Quant>, Shape), Error> {
    match sym {
        Sym::Q { t, shape } if qop => Ok((t, None, shape)),
        Sym::F(f) if !qop && f.tail.is_empty() && f.clamp == NO_CLAMP => match f.kind {
            FKind::Deq { t, quant } => Ok((t, Some(quant), f.shape)),
            _ => Err(l.err("input must be the DequantizeLinear of an int8 tensor")),
        },
        _ if qop => Err(l.err("input must be an int8 tensor")),
        _ => Err(l.err("input must be a DequantizeLinear output without Relu/Clip")),
    }
}

/// Weights (int8, raw_data) and their quantisation along `out_axis`.
struct Weights<'a> {
    c: Const<'a>,
    quant: WeightQuant<'a>,
}

fn int8_raw<'a>(l: &Lower<'a, '_>, c: &Const<'a>) -> Result<&'a [u8], Error> {
    c.data
        .raw_i8()
        .ok_or_else(|| l.err("weights must be int8 stored as raw_data"))
}

fn qdq_weights<'a>(
    l: &Lower<'a, '_>,
    sym: Sym<'a>,
    out_axis: usize,
    channels: impl Fn(&Const<'a>) -> usize,
) -> Result<Weights<'a>, Error> {
    match sym {
        Sym::DeqConst { c, scale, zp, axis } => {
            let quant = weight_quant(l, &scale, zp.as_ref(), axis, out_axis, channels(&c))?;
            Ok(Weights { c, quant })
        }
        _ => Err(l.err("weights must be the DequantizeLinear of an int8 initialiser")),
    }
}

/// A bias of `n` elements: int32 in accumulator units (QOperator), or a
/// dequantised int32 / float constant (QDQ).
fn bias<'a>(
    l: &Lower<'a, '_>,
    sym: Option<Sym<'a>>,
    n: usize,
    qop: bool,
) -> Result<Bias<'a>, Error> {
    let check = |c: &Const<'a>| {
        if c.len() != n {
            return Err(l.err("bias length must equal the output channels"));
        }
        Ok(())
    };
    match sym {
        None => Ok(Bias::None),
        Some(Sym::Const(c)) if qop && c.data.dtype == DataType::Int32 => {
            check(&c)?;
            Ok(Bias::Acc(c.data))
        }
        Some(Sym::Const(c)) if !qop && c.data.dtype == DataType::Float => {
            check(&c)?;
            Ok(Bias::Float(c.data))
        }
        Some(Sym::DeqConst { c, scale, zp, .. }) if !qop && c.data.dtype == DataType::Int32 => {
            check(&c)?;
            if scale.len() != 1 && scale.len() != n {
                return Err(l.err("bias scale must be per tensor or per channel"));
            }
            check_scales(l, &scale)?;
            Ok(Bias::Scaled {
                q: c.data,
                scale: scale.data,
                zero_point: zp.map(|z| z.data),
            })
        }
        _ => Err(l.err("unsupported bias (QLinear ops: int32; QDQ: dequantised int32 or float)")),
    }
}

fn ints_attr<const N: usize>(
    l: &Lower<'_, '_>,
    node: &Node<'_>,
    name: &str,
    default: [usize; N],
) -> Result<[usize; N], Error> {
    let Some(a) = node.attr(name)? else {
        return Ok(default);
    };
    let v = a
        .ints::<N>()?
        .filter(|v| v.len() == N)
        .ok_or_else(|| l.err("2-D spatial attribute has the wrong length"))?;
    let mut out = default;
    for (o, &x) in out.iter_mut().zip(v.iter()) {
        *o = usize::try_from(x)
            .ok()
            .filter(|&x| x <= 1 << 16)
            .ok_or_else(|| l.err("attribute value out of range"))?;
    }
    Ok(out)
}

/// Spatial geometry shared by convolution and pooling: output size and
/// padding from `kernel_shape`, `strides`, `dilations`, `pads`, `auto_pad`.
fn geometry(
    l: &Lower<'_, '_>,
    node: &Node<'_>,
    in_chw: [usize; 3],
    kernel: [usize; 2],
    out_c: usize,
    group: usize,
) -> Result<ConvGeometry, Error> {
    let stride = ints_attr(l, node, "strides", [1, 1])?;
    let dilation = ints_attr(l, node, "dilations", [1, 1])?;
    let mut pads = ints_attr(l, node, "pads", [0, 0, 0, 0])?;
    if stride.contains(&0) || dilation.contains(&0) || kernel.contains(&0) {
        return Err(l.err("strides, dilations and kernel must be positive"));
    }
    let auto = node
        .attr("auto_pad")?
        .and_then(|a| a.s)
        .unwrap_or(b"NOTSET");
    let [_, h, w] = in_chw;
    let mut out = [0usize; 2];
    for i in 0..2 {
        let (size, k, s, d) = ([h, w][i], kernel[i], stride[i], dilation[i]);
        // Attributes are ≤ 2^16 and sizes ≤ 2^24: saturate so that 32-bit
        // targets cannot overflow (a saturated span is rejected below).
        let span = d.saturating_mul(k - 1).saturating_add(1);
        match auto {
            b"NOTSET" => {}
            b"VALID" => {
                pads[i] = 0;
                pads[i + 2] = 0;
            }
            b"SAME_UPPER" | b"SAME_LOWER" => {
                let o = size.div_ceil(s);
                let total = (o.saturating_sub(1).saturating_mul(s).saturating_add(span))
                    .saturating_sub(size);
                let small = total / 2;
                let (begin, end) = if auto == b"SAME_UPPER" {
                    (small, total - small)
                } else {
                    (total - small, small)
                };
                pads[i] = begin;
                pads[i + 2] = end;
            }
            _ => return Err(l.err("unknown auto_pad")),
        }
        let padded = size.saturating_add(pads[i]).saturating_add(pads[i + 2]);
        if padded < span {
            return Err(l.err("kernel larger than the padded input"));
        }
        out[i] = (padded - span) / s + 1;
    }
    Ok(ConvGeometry {
        in_chw,
        out_chw: [out_c, out[0], out[1]],
        kernel,
        stride,
        dilation,
        pads,
        group,
    })
}

fn nchw(l: &Lower<'_, '_>, shape: Shape) -> Result<[usize; 3], Error> {
    if shape.rank() != 4 || shape.dim(0) != 1 {
        return Err(l.err("expected an NCHW tensor with batch 1"));
    }
    Ok([shape.dim(1), shape.dim(2), shape.dim(3)])
}

/// `QLinearConv` (inputs x, x_scale, x_zp, w, w_scale, w_zp, y_scale, y_zp, B)
/// or QDQ `Conv` (x, w[, B], all dequantised).
pub(crate) fn conv<'a>(l: &mut Lower<'a, '_>, node: &Node<'a>) -> Result<(), Error> {
    let qop = node.op == "QLinearConv";
    let (x, x_quant, x_shape) = activation(l, l.input(node, 0)?, qop)?;
    let in_chw = nchw(l, x_shape)?;
    let (w, x_quant, bias_sym) = if qop {
        let x_quant = scalar_quant(
            l,
            &l.const_input(node, 1)?,
            l.opt_const_input(node, 2)?.as_ref(),
        )?;
        let c = l.const_input(node, 3)?;
        let m = c.shape.dim(0);
        let wq = weight_quant(
            l,
            &l.const_input(node, 4)?,
            l.opt_const_input(node, 5)?.as_ref(),
            0,
            0,
            m,
        )?;
        (Weights { c, quant: wq }, x_quant, l.opt_input(node, 8)?)
    } else {
        let w = qdq_weights(l, l.input(node, 1)?, 0, |c| c.shape.dim(0))?;
        (
            w,
            x_quant.unwrap_or(Quant {
                scale: 1.0,
                zero_point: 0,
            }),
            l.opt_input(node, 2)?,
        )
    };
    let wd = w.c.shape;
    if wd.rank() != 4 {
        return Err(l.err("only 2-D convolution (4-D weights) is supported"));
    }
    let group = node.attr("group")?.and_then(|a| a.i).unwrap_or(1);
    let group = usize::try_from(group)
        .ok()
        .filter(|&g| g > 0)
        .ok_or_else(|| l.err("group must be positive"))?;
    let m = wd.dim(0);
    if in_chw[0] % group != 0 || m % group != 0 || wd.dim(1) * group != in_chw[0] {
        return Err(l.err("weight shape does not match input channels and group"));
    }
    let kernel = ints_attr(l, node, "kernel_shape", [wd.dim(2), wd.dim(3)])?;
    if kernel != [wd.dim(2), wd.dim(3)] {
        return Err(l.err("kernel_shape does not match the weights"));
    }
    let geo = geometry(l, node, in_chw, kernel, m, group)?;
    let bias = bias(l, bias_sym, m, qop)?;
    let w_bytes = int8_raw(l, &w.c)?;
    // Convolutions with one input channel per group (depthwise layers, a
    // one-channel stem) get their padded, stride-phase-split input planes,
    // others with several outputs per group their windows packed in pixel
    // pairs, as an arena tensor alive during their own step only (planned on
    // every target, so that the arena a host plans is the one a Cortex-M4
    // needs).
    let scratch_len = match PhasePlanes::of(&geo) {
        Some(planes) => planes.len(),
        None => PixelPairs::of(&geo).map_or(0, |p| p.len()),
    };
    let scratch = match scratch_len {
        0 => None,
        len => Some(l.new_tensor(len, l.steps.len() + 1)?),
    };
    let mut step = ConvStep {
        x,
        x_quant,
        w: w_bytes,
        w_quant: w.quant,
        bias,
        geo,
        y: UNBOUND_OUTPUT,
        scratch,
    };
    let out_shape = Shape::new(&[1, geo.out_chw[0], geo.out_chw[1], geo.out_chw[2]])?;
    finish(l, node, qop, out_shape, x, |y| {
        step.y = y;
        Step::Conv(step)
    })
}

/// Emits the step; QOperator ops get their output tensor now (from the
/// `y_scale`, `y_zp` inputs 6 and 7 of both `QLinearConv` and
/// `QLinearMatMul`), QDQ ops stay pending until their `QuantizeLinear`.
fn finish<'a>(
    l: &mut Lower<'a, '_>,
    node: &Node<'a>,
    qop: bool,
    out_shape: Shape,
    x: Tid,
    make: impl FnOnce(Output) -> Step<'a>,
) -> Result<(), Error> {
    let at = l.steps.len() + 1;
    l.use_tensor(x, at);
    if qop {
        let yq = scalar_quant(
            l,
            &l.const_input(node, 6)?,
            l.opt_const_input(node, 7)?.as_ref(),
        )?;
        let t = l.new_tensor(out_shape.numel(), at)?;
        l.push_step(make(Output {
            tensor: t,
            quant: yq,
            clamp: (-128, 127),
        }))?;
        l.define(
            node,
            Sym::Q {
                t,
                shape: out_shape,
            },
        )
    } else {
        let step = l.push_step(make(UNBOUND_OUTPUT))?;
        let kind = FKind::Pending { step };
        l.define(
            node,
            Sym::F(FExpr {
                kind,
                shape: out_shape,
                clamp: NO_CLAMP,
                tail: heapless::Vec::new(),
            }),
        )
    }
}

/// `QLinearMatMul` (a, a_scale, a_zp, b, b_scale, b_zp, y_scale, y_zp), QDQ
/// `MatMul` (a, b) or QDQ `Gemm` (a, b[, c]) with a constant right-hand side.
pub(crate) fn matmul<'a>(l: &mut Lower<'a, '_>, node: &Node<'a>) -> Result<(), Error> {
    let qop = node.op == "QLinearMatMul";
    let gemm = node.op == "Gemm";
    let (a, a_quant, a_shape) = activation(l, l.input(node, 0)?, qop)?;
    let trans_b = gemm && node.attr("transB")?.and_then(|a| a.i).unwrap_or(0) != 0;
    if gemm {
        let trans_a = node.attr("transA")?.and_then(|a| a.i).unwrap_or(0);
        let alpha = node.attr("alpha")?.and_then(|a| a.f).unwrap_or(1.0);
        let beta = node.attr("beta")?.and_then(|a| a.f).unwrap_or(1.0);
        if trans_a != 0 || alpha != 1.0 || beta != 1.0 || a_shape.rank() != 2 {
            return Err(l.err("Gemm needs transA = 0, alpha = beta = 1 and a 2-D input"));
        }
    }
    let n_axis = if trans_b { 0 } else { 1 };
    let (w, a_quant, bias_sym) = if qop {
        let a_quant = scalar_quant(
            l,
            &l.const_input(node, 1)?,
            l.opt_const_input(node, 2)?.as_ref(),
        )?;
        let c = l.const_input(node, 3)?;
        let n = c.shape.dim(1);
        let wq = weight_quant(
            l,
            &l.const_input(node, 4)?,
            l.opt_const_input(node, 5)?.as_ref(),
            1,
            1,
            n,
        )?;
        (Weights { c, quant: wq }, a_quant, None)
    } else {
        let w = qdq_weights(l, l.input(node, 1)?, n_axis, |c| c.shape.dim(n_axis))?;
        let bias = if gemm { l.opt_input(node, 2)? } else { None };
        (
            w,
            a_quant.unwrap_or(Quant {
                scale: 1.0,
                zero_point: 0,
            }),
            bias,
        )
    };
    let bd = w.c.shape;
    if bd.rank() != 2 || a_shape.rank() == 0 {
        return Err(l.err("the constant operand must be 2-D"));
    }
    let (k, n) = if trans_b {
        (bd.dim(1), bd.dim(0))
    } else {
        (bd.dim(0), bd.dim(1))
    };
    let a_k = a_shape.dim(a_shape.rank() - 1);
    if a_k != k || k == 0 {
        return Err(l.err("inner dimensions do not match"));
    }
    let m = a_shape.numel() / k;
    let bias = bias(l, bias_sym, n, qop)?;
    let b = int8_raw(l, &w.c)?;
    let mut dims = [0usize; 4];
    let rank = a_shape.rank();
    for (i, d) in dims.iter_mut().enumerate().take(rank) {
        *d = if i + 1 == rank { n } else { a_shape.dim(i) };
    }
    let out_shape = Shape::new(dims.get(..rank).unwrap_or(&[]))?;
    let mut step = MatMulStep {
        a,
        a_quant,
        b,
        b_transposed: trans_b,
        b_quant: w.quant,
        bias,
        mkn: [m, k, n],
        y: UNBOUND_OUTPUT,
    };
    finish(l, node, qop, out_shape, a, |y| {
        step.y = y;
        Step::MatMul(step)
    })
}

/// `DequantizeLinear → [Relu/Clip on the grid] → AveragePool | GlobalAveragePool`.
pub(crate) fn pool<'a>(l: &mut Lower<'a, '_>, node: &Node<'a>) -> Result<(), Error> {
    let f = match l.input(node, 0)? {
        Sym::F(f) if f.tail.is_empty() => f,
        _ => return Err(l.err("pool input must be a DequantizeLinear output")),
    };
    let FKind::Deq { t, quant } = f.kind else {
        return Err(l.err("pool input must be a DequantizeLinear output"));
    };
    let in_chw = nchw(l, f.shape)?;
    let pre_clamp = grid_clamp(l, f.clamp, quant)?;
    let (geo, count_include_pad) = if node.op == "GlobalAveragePool" {
        let geo = ConvGeometry {
            in_chw,
            out_chw: [in_chw[0], 1, 1],
            kernel: [in_chw[1], in_chw[2]],
            stride: [1, 1],
            dilation: [1, 1],
            pads: [0; 4],
            group: 1,
        };
        (geo, false)
    } else {
        let kernel = ints_attr(l, node, "kernel_shape", [0, 0])?;
        if node.attr("ceil_mode")?.and_then(|a| a.i).unwrap_or(0) != 0 {
            return Err(l.err("ceil_mode = 1 is not supported"));
        }
        if ints_attr(l, node, "dilations", [1, 1])? != [1, 1] {
            return Err(l.err("dilated pooling is not supported"));
        }
        let cip = node
            .attr("count_include_pad")?
            .and_then(|a| a.i)
            .unwrap_or(0)
            != 0;
        (geometry(l, node, in_chw, kernel, in_chw[0], 1)?, cip)
    };
    let out_shape = Shape::new(&[1, geo.out_chw[0], geo.out_chw[1], geo.out_chw[2]])?;
    let mut step = PoolStep {
        x: t,
        x_quant: quant,
        pre_clamp,
        geo,
        count_include_pad,
        y: UNBOUND_OUTPUT,
    };
    finish(l, node, false, out_shape, t, |y| {
        step.y = y;
        Step::Pool(step)
    })
}

/// A float clamp of dequantised values expressed as an int8 clamp; exact only
/// when each finite bound is itself a dequantised grid value (0 always is).
fn grid_clamp(l: &Lower<'_, '_>, clamp: (f32, f32), q: Quant) -> Result<(i8, i8), Error> {
    let to_q = |v: f32, default: i8| -> Result<i8, Error> {
        if v.is_infinite() {
            return Ok(default);
        }
        let k = crate::fixed::quantize_f32(v, 1.0 / q.scale, i32::from(q.zero_point));
        if (i32::from(k) - i32::from(q.zero_point)) as f32 * q.scale != v {
            return Err(l.err("Clip bound before pooling is not on the quantisation grid"));
        }
        Ok(k)
    };
    Ok((to_q(clamp.0, -128)?, to_q(clamp.1, 127)?))
}
