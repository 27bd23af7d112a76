//! A minimal, zero-copy protobuf wire reader: varints, fixed32/64 and
//! length-delimited fields over a borrowed `&[u8]`, skipping unknown fields.
//!
//! Why not a crate: `micropb` decodes into owned containers (heapless/arrayvec
//! vectors with fixed capacities), so every `bytes` field (an initialiser's
//! `raw_data`, hundreds of KB) would be copied into a container sized for the
//! largest tensor: not zero-copy. `femtopb` is zero-copy and no-alloc (its
//! `Repeated` re-scans the parent buffer lazily), but it needs every message
//! type declared through its derive macros (a proc-macro dependency tree), its
//! decode walks and materialises every declared field of the large ONNX
//! messages up front, and its errors carry no location. ONNX needs only ~30
//! fields of 8 messages; the reader below is ~150 lines, allocation-free,
//! panic-free on any input, and lets the graph view report which node and
//! which field was malformed.

use crate::Error;

/// Protobuf wire types (the low three bits of a field key).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WireType {
    /// 0: base-128 varint.
    Varint,
    /// 1: little-endian 8 bytes.
    Fixed64,
    /// 2: varint length then that many bytes.
    Len,
    /// 5: little-endian 4 bytes.
    Fixed32,
}

/// One decoded field: its number and value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field<'a> {
    /// Field number from the `.proto` file.
    pub number: u32,
    /// The value as stored on the wire.
    pub value: Value<'a>,
}

/// A field value, undecoded beyond the wire format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Value<'a> {
    /// A varint (int32/int64/uint64/bool/enum; zig-zag is not used by ONNX).
    Varint(u64),
    /// Eight raw bytes (double, fixed64).
    Fixed64(u64),
    /// Four raw bytes (float, fixed32).
    Fixed32(u32),
    /// A length-delimited payload: bytes, string, sub-message or packed repeated scalars.
    Len(&'a [u8]),
}

impl<'a> Value<'a> {
    /// The varint, or an error naming `what` when the wire type differs.
    pub fn varint(self, what: &'static str) -> Result<u64, Error> {
        match self {
            Value::Varint(v) => Ok(v),
            _ => Err(Error::Protobuf {
                offset: 0,
                reason: what,
            }),
        }
    }

    /// The varint as an `i64` (two's complement, as protobuf `int64`).
    pub fn int64(self, what: &'static str) -> Result<i64, Error> {
        self.varint(what).map(|v| v as i64)
    }

    /// The payload of a length-delimited field.
    pub fn bytes(self, what: &'static str) -> Result<&'a [u8], Error> {
        match self {
            Value::Len(b) => Ok(b),
            _ => Err(Error::Protobuf {
                offset: 0,
                reason: what,
            }),
        }
    }

    /// A `float` stored as fixed32.
    pub fn float(self, what: &'static str) -> Result<f32, Error> {
        match self {
            Value::Fixed32(b) => Ok(f32::from_bits(b)),
            _ => Err(Error::Protobuf {
                offset: 0,
                reason: what,
            }),
        }
    }
}

/// Iterator over the fields of one message. Yields `Err` once on malformed
/// input, then stops.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    failed: bool,
}

impl<'a> Reader<'a> {
    /// Reads the fields of the message encoded in `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Self {
            buf,
            pos: 0,
            failed: false,
        }
    }

    /// Byte offset of the next field within this message.
    pub fn offset(&self) -> usize {
        self.pos
    }

    fn fail(&mut self, reason: &'static str) -> Option<Result<Field<'a>, Error>> {
        self.failed = true;
        Some(Err(Error::Protobuf {
            offset: self.pos,
            reason,
        }))
    }

    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.pos.checked_add(n)?;
        let s = self.buf.get(self.pos..end)?;
        self.pos = end;
        Some(s)
    }
}

/// Decodes a varint at the start of `buf`: `(value, bytes used)`.
pub fn read_varint(buf: &[u8]) -> Option<(u64, usize)> {
    let mut value = 0u64;
    for (i, &b) in buf.iter().enumerate().take(10) {
        let bits = u64::from(b & 0x7f);
        // The tenth byte may only contribute the top bit.
        if i == 9 && b > 1 {
            return None;
        }
        value |= bits << (7 * i);
        if b & 0x80 == 0 {
            return Some((value, i + 1));
        }
    }
    None
}

impl<'a> Iterator for Reader<'a> {
    type Item = Result<Field<'a>, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.pos >= self.buf.len() {
            return None;
        }
        let rest = self.buf.get(self.pos..).unwrap_or(&[]);
        let Some((key, n)) = read_varint(rest) else {
            return self.fail("truncated or overlong field key");
        };
        self.pos += n;
        let number = key >> 3;
        if number == 0 || number > u64::from(u32::MAX >> 3) {
            return self.fail("invalid field number");
        }
        let number = number as u32;
        let value = match key & 7 {
            0 => {
                let rest = self.buf.get(self.pos..).unwrap_or(&[]);
                let Some((v, n)) = read_varint(rest) else {
                    return self.fail("truncated varint");
                };
                self.pos += n;
                Value::Varint(v)
            }
            1 => match self.take(8) {
                Some(b) => Value::Fixed64(u64::from_le_bytes(b.try_into().unwrap_or([0; 8]))),
                None => return self.fail("truncated fixed64"),
            },
            2 => {
                let rest = self.buf.get(self.pos..).unwrap_or(&[]);
                let Some((len, n)) = read_varint(rest) else {
                    return self.fail("truncated length");
                };
                self.pos += n;
                let Ok(len) = usize::try_from(len) else {
                    return self.fail("length exceeds address space");
                };
                match self.take(len) {
                    Some(b) => Value::Len(b),
                    None => return self.fail("length-delimited field runs past the end"),
                }
            }
            5 => match self.take(4) {
                Some(b) => Value::Fixed32(u32::from_le_bytes(b.try_into().unwrap_or([0; 4]))),
                None => return self.fail("truncated fixed32"),
            },
            _ => return self.fail("unsupported wire type (groups are not used by ONNX)"),
        };
        Some(Ok(Field { number, value }))
    }
}

/// Iterator over a packed repeated varint field (or a single unpacked one).
#[derive(Debug, Clone)]
pub struct PackedVarints<'a> {
    buf: &'a [u8],
}

impl<'a> PackedVarints<'a> {
    /// Reads the varints packed in `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Self { buf }
    }
}

impl Iterator for PackedVarints<'_> {
    type Item = Result<u64, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.buf.is_empty() {
            return None;
        }
        match read_varint(self.buf) {
            Some((v, n)) => {
                self.buf = self.buf.get(n..).unwrap_or(&[]);
                Some(Ok(v))
            }
            None => {
                self.buf = &[];
                Some(Err(Error::Protobuf {
                    offset: 0,
                    reason: "truncated packed varint",
                }))
            }
        }
    }
}

/// Calls `f` for every element of a repeated int64 field `number` of `msg`,
/// packed or not.
pub(crate) fn for_each_int64(
    msg: &[u8],
    number: u32,
    mut f: impl FnMut(i64) -> Result<(), Error>,
) -> Result<(), Error> {
    for field in Reader::new(msg) {
        let field = field?;
        if field.number != number {
            continue;
        }
        match field.value {
            Value::Varint(v) => f(v as i64)?,
            Value::Len(packed) => {
                for v in PackedVarints::new(packed) {
                    f(v? as i64)?;
                }
            }
            _ => {
                return Err(Error::Protobuf {
                    offset: 0,
                    reason: "repeated int64 has wrong wire type",
                });
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_decode_and_reject_overlong() {
        assert_eq!(read_varint(&[0x96, 0x01]), Some((150, 2)));
        assert_eq!(read_varint(&[0x7f]), Some((127, 1)));
        assert_eq!(read_varint(&[0x80]), None);
        assert_eq!(read_varint(&[0xff; 11]), None);
        // −1 as int64 takes ten bytes, the last being 0x01.
        let mut m1 = [0xffu8; 10];
        m1[9] = 0x01;
        assert_eq!(read_varint(&m1), Some((u64::MAX, 10)));
    }

    #[test]
    fn reader_walks_all_wire_types() {
        // field 1 varint 150; field 2 bytes "hi"; field 3 fixed32 1.0f; field 4 fixed64 7
        let mut buf = vec![0x08, 0x96, 0x01, 0x12, 0x02, b'h', b'i', 0x1d];
        buf.extend_from_slice(&1.0f32.to_le_bytes());
        buf.push(0x21);
        buf.extend_from_slice(&7u64.to_le_bytes());
        let fields: Vec<_> = Reader::new(&buf).collect::<Result<_, _>>().unwrap();
        assert_eq!(fields.len(), 4);
        assert_eq!(
            fields[0],
            Field {
                number: 1,
                value: Value::Varint(150)
            }
        );
        assert_eq!(fields[1].value.bytes("x").unwrap(), b"hi");
        assert_eq!(fields[2].value.float("x").unwrap(), 1.0);
        assert_eq!(fields[3].value, Value::Fixed64(7));
    }

    #[test]
    fn truncation_is_an_error_at_every_cut() {
        let buf = [
            0x08, 0x96, 0x01, 0x12, 0x02, b'h', b'i', 0x1d, 0, 0, 0x80, 0x3f,
        ];
        for cut in 1..buf.len() {
            let results: Vec<_> = Reader::new(&buf[..cut]).collect();
            let ok_fields = results.iter().filter(|r| r.is_ok()).count();
            let complete = [3usize, 7, 12].iter().filter(|&&e| e <= cut).count();
            assert_eq!(ok_fields, complete, "cut {cut}");
            if ![3usize, 7].contains(&cut) {
                assert!(
                    results.last().unwrap().is_err(),
                    "cut {cut} should end in an error"
                );
            }
        }
    }

    #[test]
    fn groups_and_field_zero_are_rejected() {
        assert!(Reader::new(&[0x0b]).next().unwrap().is_err()); // wire type 3
        assert!(Reader::new(&[0x00, 0x00]).next().unwrap().is_err()); // field 0
    }

    #[test]
    fn packed_varints() {
        let v: Vec<_> = PackedVarints::new(&[1, 0x96, 0x01, 3])
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(v, [1, 150, 3]);
        assert!(PackedVarints::new(&[0x80]).next().unwrap().is_err());
    }
}
