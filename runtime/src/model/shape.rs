//! Static tensor shapes: rank ≤ 4, element counts checked against overflow.

use super::protobuf::{Reader, for_each_int64};
use crate::Error;

/// Highest rank the runtime handles (NCHW).
pub const MAX_RANK: usize = 4;

/// Largest element count of any one tensor (16 Mi elements): bounds every
/// index computation well inside `usize` on 32-bit targets.
pub const MAX_NUMEL: usize = 1 << 24;

/// A static shape, row-major (last dimension fastest).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Shape {
    dims: [usize; MAX_RANK],
    rank: u8,
}

fn giant() -> Error {
    Error::InvalidModel {
        reason: "tensor dimensions too large or negative",
    }
}

impl Shape {
    /// A shape from dimensions; errors on rank > 4, a zero dimension, or more
    /// than [`MAX_NUMEL`] elements.
    pub fn new(dims: &[usize]) -> Result<Self, Error> {
        if dims.len() > MAX_RANK {
            return Err(Error::InvalidModel {
                reason: "tensor rank above 4",
            });
        }
        let mut s = Self {
            dims: [1; MAX_RANK],
            rank: dims.len() as u8,
        };
        let mut n = 1usize;
        for (d, &v) in s.dims.iter_mut().zip(dims) {
            if v == 0 {
                return Err(Error::InvalidModel {
                    reason: "zero-sized tensor dimension",
                });
            }
            *d = v;
            n = n
                .checked_mul(v)
                .filter(|&n| n <= MAX_NUMEL)
                .ok_or_else(giant)?;
        }
        Ok(s)
    }

    /// Reads repeated int64 `dims` (field `number`) of a message.
    pub(crate) fn from_dims(msg: &[u8], number: u32) -> Result<Self, Error> {
        let mut dims: heapless::Vec<usize, MAX_RANK> = heapless::Vec::new();
        for_each_int64(msg, number, |d| {
            let d = usize::try_from(d)
                .ok()
                .filter(|&d| d <= MAX_NUMEL)
                .ok_or_else(giant)?;
            dims.push(d).map_err(|_| Error::InvalidModel {
                reason: "tensor rank above 4",
            })
        })?;
        Self::new(&dims)
    }

    /// Reads a `TensorShapeProto`; a symbolic leading dimension is taken as 1.
    pub(crate) fn from_shape_proto(msg: &[u8]) -> Result<Self, Error> {
        let mut dims: heapless::Vec<usize, MAX_RANK> = heapless::Vec::new();
        for field in Reader::new(msg) {
            let field = field?;
            if field.number != 1 {
                continue;
            }
            let mut value = None;
            for f in Reader::new(field.value.bytes("Dimension")?) {
                let f = f?;
                if f.number == 1 {
                    value = Some(f.value.int64("dim_value")?);
                }
            }
            let d = match value {
                Some(v) => usize::try_from(v)
                    .ok()
                    .filter(|&d| d <= MAX_NUMEL)
                    .ok_or_else(giant)?,
                None if dims.is_empty() => 1,
                None => {
                    return Err(Error::InvalidModel {
                        reason: "symbolic dimension other than batch",
                    });
                }
            };
            dims.push(d).map_err(|_| Error::InvalidModel {
                reason: "tensor rank above 4",
            })?;
        }
        Self::new(&dims)
    }

    /// Number of dimensions.
    pub fn rank(&self) -> usize {
        usize::from(self.rank)
    }

    /// The dimensions.
    pub fn dims(&self) -> &[usize] {
        self.dims.get(..self.rank()).unwrap_or(&[])
    }

    /// Dimension `i`, or 1 past the rank.
    pub fn dim(&self, i: usize) -> usize {
        self.dims().get(i).copied().unwrap_or(1)
    }

    /// Element count (≤ [`MAX_NUMEL`] by construction).
    pub fn numel(&self) -> usize {
        self.dims().iter().product()
    }
}
