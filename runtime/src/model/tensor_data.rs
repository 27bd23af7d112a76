//! The element types and payloads of constant tensors, as they sit in the
//! model file: shared by the ONNX reader that finds them and the lowered
//! program that computes with them (data only, no parsing of messages).

use super::protobuf::PackedVarints;
use crate::Error;

/// ONNX `TensorProto.DataType` values the runtime knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum DataType {
    /// 1: IEEE f32.
    Float,
    /// 2: u8 (ONNX's default quantised type; not supported for activations).
    Uint8,
    /// 3: i8.
    Int8,
    /// 6: i32 (biases).
    Int32,
    /// 7: i64 (shapes).
    Int64,
    /// Anything else (the raw code).
    Other(i32),
}

impl DataType {
    /// The type of an ONNX `TensorProto.DataType` code.
    pub(crate) fn from_code(code: i64) -> Self {
        match code {
            1 => Self::Float,
            2 => Self::Uint8,
            3 => Self::Int8,
            6 => Self::Int32,
            7 => Self::Int64,
            c => Self::Other(c as i32),
        }
    }

    /// Bytes per element in `raw_data` (0 for unknown types).
    pub fn size(self) -> usize {
        match self {
            Self::Float | Self::Int32 => 4,
            Self::Uint8 | Self::Int8 => 1,
            Self::Int64 => 8,
            Self::Other(_) => 0,
        }
    }
}

/// Where an initialiser's elements are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TensorBytes<'a> {
    /// `raw_data`: little-endian, `dtype.size()` bytes per element.
    Raw(&'a [u8]),
    /// `float_data` (packed fixed32, same layout as raw f32).
    Float(&'a [u8]),
    /// `int32_data` (packed varints; also carries int8/uint8 values).
    Int32Varints(&'a [u8]),
    /// `int64_data` (packed varints).
    Int64Varints(&'a [u8]),
}

/// Varint-encoded constants are read by walking the varints; allow only small
/// ones (zero points, shapes) so that element access stays cheap.
pub const MAX_VARINT_CONST: usize = 64;

/// A constant's element type and payload (its length was validated).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ConstData<'a> {
    /// Element type.
    pub dtype: DataType,
    /// Payload.
    pub bytes: TensorBytes<'a>,
}

impl<'a> ConstData<'a> {
    /// Checks that the payload holds exactly `n` elements of the type.
    pub(crate) fn check(&self, n: usize) -> Result<(), Error> {
        let bad = |reason| Err(Error::InvalidModel { reason });
        if self.dtype.size() == 0 {
            return bad("initialiser has an unsupported data type");
        }
        match self.bytes {
            TensorBytes::Raw(b) => {
                if n.checked_mul(self.dtype.size()) != Some(b.len()) {
                    return bad("initialiser raw_data length does not match its shape");
                }
            }
            TensorBytes::Float(b) => {
                if self.dtype != DataType::Float || n.checked_mul(4) != Some(b.len()) {
                    return bad("initialiser float_data does not match its type or shape");
                }
            }
            TensorBytes::Int32Varints(b) | TensorBytes::Int64Varints(b) => {
                let int64 = matches!(self.bytes, TensorBytes::Int64Varints(_));
                if int64 != (self.dtype == DataType::Int64) || self.dtype == DataType::Float {
                    return bad("initialiser integer data does not match its type");
                }
                if n > MAX_VARINT_CONST {
                    return bad("large integer initialisers must be stored as raw_data");
                }
                let mut count = 0usize;
                for v in PackedVarints::new(b) {
                    v?;
                    count += 1;
                }
                if count != n {
                    return bad("initialiser integer data does not match its shape");
                }
            }
        }
        Ok(())
    }

    fn varint_at(b: &[u8], i: usize) -> Option<i64> {
        PackedVarints::new(b).nth(i)?.ok().map(|v| v as i64)
    }

    fn raw_at<const N: usize>(b: &[u8], i: usize) -> Option<[u8; N]> {
        let start = i.checked_mul(N)?;
        b.get(start..start.checked_add(N)?)?.try_into().ok()
    }

    /// Element `i` as f32 (float tensors only).
    pub fn f32_at(&self, i: usize) -> Option<f32> {
        match (self.dtype, self.bytes) {
            (DataType::Float, TensorBytes::Raw(b) | TensorBytes::Float(b)) => {
                Self::raw_at::<4>(b, i).map(f32::from_le_bytes)
            }
            _ => None,
        }
    }

    /// Element `i` of an integer tensor, widened to i64.
    pub fn int_at(&self, i: usize) -> Option<i64> {
        match self.bytes {
            TensorBytes::Raw(b) => match self.dtype {
                DataType::Int8 => b.get(i).map(|&v| i64::from(v as i8)),
                DataType::Uint8 => b.get(i).map(|&v| i64::from(v)),
                DataType::Int32 => {
                    Self::raw_at::<4>(b, i).map(|v| i64::from(i32::from_le_bytes(v)))
                }
                DataType::Int64 => Self::raw_at::<8>(b, i).map(i64::from_le_bytes),
                _ => None,
            },
            TensorBytes::Int32Varints(b) => {
                let v = Self::varint_at(b, i)?;
                // int32_data stores int32 as sign-extended varints; narrow it.
                Some(i64::from(v as i32))
            }
            TensorBytes::Int64Varints(b) => Self::varint_at(b, i),
            TensorBytes::Float(_) => None,
        }
    }

    /// The raw int8 payload, when stored as `raw_data` (weights).
    pub fn raw_i8(&self) -> Option<&'a [u8]> {
        match (self.dtype, self.bytes) {
            (DataType::Int8, TensorBytes::Raw(b)) => Some(b),
            _ => None,
        }
    }
}
