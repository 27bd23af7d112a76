//! Quantisation parameters read from a node's constant inputs (scales and
//! zero points), checked: shared by the per-op rules and the linear ops.

use super::Lower;
use crate::Error;
use crate::model::onnx::Const;
use crate::model::program::{Quant, WeightQuant};
use crate::model::tensor_data::DataType;

/// Checks that every element of `c` is a finite, positive f32 scale.
pub(crate) fn check_scales(l: &Lower<'_, '_>, c: &Const<'_>) -> Result<(), Error> {
    if c.data.dtype != DataType::Float || c.is_empty() {
        return Err(l.err("scale must be a non-empty float tensor"));
    }
    for i in 0..c.len() {
        let s = c.data.f32_at(i).unwrap_or(f32::NAN);
        if !(s.is_finite() && s > 0.0) {
            return Err(l.err("scale must be finite and positive"));
        }
    }
    Ok(())
}

/// Checks an int8 zero-point tensor of `len` elements.
fn check_zero_points(l: &Lower<'_, '_>, c: &Const<'_>, len: usize) -> Result<(), Error> {
    match c.data.dtype {
        DataType::Int8 if c.len() == len => Ok(()),
        DataType::Int8 => Err(l.err("zero point has the wrong number of elements")),
        DataType::Uint8 => Err(l.err("uint8 quantisation is not supported: quantise to int8")),
        _ => Err(l.err("zero point must be int8")),
    }
}

/// Per-tensor quantisation from a scale and an optional zero point.
pub(crate) fn scalar_quant(
    l: &Lower<'_, '_>,
    scale: &Const<'_>,
    zp: Option<&Const<'_>>,
) -> Result<Quant, Error> {
    check_scales(l, scale)?;
    if scale.len() != 1 {
        return Err(l.err("activation quantisation must be per tensor"));
    }
    let zero_point = match zp {
        Some(z) => {
            check_zero_points(l, z, 1)?;
            z.data.int_at(0).unwrap_or(0) as i8
        }
        None => 0,
    };
    Ok(Quant {
        scale: scale.data.f32_at(0).unwrap_or(1.0),
        zero_point,
    })
}

/// Weight quantisation with 1 or `channels` entries along `axis` (checked
/// against `expected_axis` when per channel).
pub(crate) fn weight_quant<'a>(
    l: &Lower<'a, '_>,
    scale: &Const<'a>,
    zp: Option<&Const<'a>>,
    axis: usize,
    expected_axis: usize,
    channels: usize,
) -> Result<WeightQuant<'a>, Error> {
    check_scales(l, scale)?;
    let len = scale.len();
    if len != 1 && (len != channels || axis != expected_axis) {
        return Err(l.err("per-channel scales must run along the output-channel axis"));
    }
    if let Some(z) = zp {
        check_zero_points(l, z, len)?;
    }
    Ok(WeightQuant {
        scale: scale.data,
        zero_point: zp.map(|z| z.data),
        len,
    })
}
