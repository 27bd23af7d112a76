//! A borrowed view of the ONNX messages the runtime reads (`onnx.proto`,
//! proto2 syntax: repeated scalars may arrive packed or unpacked, both are
//! accepted). Nothing is copied: names are `&str` and tensor payloads `&[u8]`
//! into the model file.

use super::program::ConstData;
use super::protobuf::{PackedVarints, Reader, Value};
use super::shape::Shape;
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
    fn from_code(code: i64) -> Self {
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

/// Utf-8 text of a `string` field, or a protobuf error.
pub(crate) fn text<'a>(bytes: &'a [u8], what: &'static str) -> Result<&'a str, Error> {
    core::str::from_utf8(bytes).map_err(|_| Error::Protobuf {
        offset: 0,
        reason: what,
    })
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

/// A constant tensor (initialiser or `Constant` node value), zero-copy.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Const<'a> {
    /// `TensorProto.name`.
    pub name: &'a str,
    /// Dimensions (row-major).
    pub shape: Shape,
    /// Element type and payload.
    pub data: ConstData<'a>,
}

/// Varint-encoded constants are read by walking the varints; allow only small
/// ones (zero points, shapes) so that element access stays cheap.
pub const MAX_VARINT_CONST: usize = 64;

impl<'a> Const<'a> {
    /// Parses a `TensorProto` and checks that its payload holds exactly
    /// `shape.numel()` elements of its type.
    pub fn parse(msg: &'a [u8]) -> Result<Self, Error> {
        let mut name = "";
        let mut dtype = DataType::Other(0);
        let mut bytes = None;
        let mut external = false;
        for field in Reader::new(msg) {
            let field = field?;
            let v = field.value;
            match field.number {
                2 => dtype = DataType::from_code(v.int64("tensor data_type")?),
                8 => name = text(v.bytes("tensor name")?, "tensor name is not utf-8")?,
                9 => bytes = Some(TensorBytes::Raw(v.bytes("raw_data must be bytes")?)),
                4 => bytes = Some(TensorBytes::Float(v.bytes("float_data must be packed")?)),
                5 => {
                    bytes = Some(TensorBytes::Int32Varints(
                        v.bytes("int32_data must be packed")?,
                    ))
                }
                7 => {
                    bytes = Some(TensorBytes::Int64Varints(
                        v.bytes("int64_data must be packed")?,
                    ))
                }
                14 => external = v.varint("data_location")? == 1,
                13 => external = true,
                _ => {}
            }
        }
        if external {
            return Err(Error::InvalidModel {
                reason: "external tensor data is not supported",
            });
        }
        let shape = Shape::from_dims(msg, 1)?;
        let data = ConstData {
            dtype,
            bytes: bytes.unwrap_or(TensorBytes::Raw(&[])),
        };
        data.check(shape.numel())?;
        Ok(Self { name, shape, data })
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.shape.numel()
    }

    /// True for a tensor with no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl<'a> ConstData<'a> {
    fn check(&self, n: usize) -> Result<(), Error> {
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

/// `NodeProto` fields the runtime reads.
#[derive(Debug, Clone)]
pub struct Node<'a> {
    /// `op_type`.
    pub op: &'a str,
    /// `domain` ("" or "ai.onnx" for the standard domain).
    pub domain: &'a str,
    /// Input names; "" marks an omitted optional input.
    pub inputs: heapless::Vec<&'a str, MAX_NODE_IO>,
    /// Output names.
    pub outputs: heapless::Vec<&'a str, MAX_NODE_IO>,
    /// The encoded node, for attribute look-ups.
    pub msg: &'a [u8],
}

/// Most inputs of any supported op (`QLinearConv` has 9).
pub const MAX_NODE_IO: usize = 9;

/// A decoded `AttributeProto`.
#[derive(Debug, Clone, Copy)]
pub struct Attribute<'a> {
    /// `f`.
    pub f: Option<f32>,
    /// `i`.
    pub i: Option<i64>,
    /// `s`.
    pub s: Option<&'a [u8]>,
    /// `t` (encoded `TensorProto`).
    pub t: Option<&'a [u8]>,
    /// The encoded attribute, for `ints` look-ups.
    pub msg: &'a [u8],
}

impl<'a> Node<'a> {
    /// Parses a `NodeProto`.
    pub fn parse(msg: &'a [u8]) -> Result<Self, Error> {
        let mut node = Self {
            op: "",
            domain: "",
            inputs: heapless::Vec::new(),
            outputs: heapless::Vec::new(),
            msg,
        };
        for field in Reader::new(msg) {
            let field = field?;
            let v = field.value;
            match field.number {
                1 => node
                    .inputs
                    .push(text(v.bytes("node input")?, "node input is not utf-8")?)
                    .map_err(|_| Error::Capacity {
                        what: "node inputs",
                        limit: MAX_NODE_IO,
                    })?,
                2 => node
                    .outputs
                    .push(text(v.bytes("node output")?, "node output is not utf-8")?)
                    .map_err(|_| Error::Capacity {
                        what: "node outputs",
                        limit: MAX_NODE_IO,
                    })?,
                4 => node.op = text(v.bytes("op_type")?, "op_type is not utf-8")?,
                7 => node.domain = text(v.bytes("domain")?, "domain is not utf-8")?,
                _ => {}
            }
        }
        Ok(node)
    }

    /// Input `i`, `None` when absent or empty (omitted optional input).
    pub fn input(&self, i: usize) -> Option<&'a str> {
        self.inputs.get(i).copied().filter(|s| !s.is_empty())
    }

    /// The attribute called `name`, if present.
    pub fn attr(&self, name: &str) -> Result<Option<Attribute<'a>>, Error> {
        for field in Reader::new(self.msg) {
            let field = field?;
            if field.number != 5 {
                continue;
            }
            let msg = field.value.bytes("attribute")?;
            let mut a = Attribute {
                f: None,
                i: None,
                s: None,
                t: None,
                msg,
            };
            let mut attr_name = "";
            for f in Reader::new(msg) {
                let f = f?;
                match f.number {
                    1 => {
                        attr_name = text(
                            f.value.bytes("attribute name")?,
                            "attribute name is not utf-8",
                        )?
                    }
                    2 => a.f = Some(f.value.float("attribute f")?),
                    3 => a.i = Some(f.value.int64("attribute i")?),
                    4 => a.s = Some(f.value.bytes("attribute s")?),
                    5 => a.t = Some(f.value.bytes("attribute t")?),
                    _ => {}
                }
            }
            if attr_name == name {
                return Ok(Some(a));
            }
        }
        Ok(None)
    }
}

impl Attribute<'_> {
    /// The `ints` list, at most `N` values (`None` when longer).
    pub fn ints<const N: usize>(&self) -> Result<Option<heapless::Vec<i64, N>>, Error> {
        let mut out = heapless::Vec::new();
        let mut overflow = false;
        for_each_int64(self.msg, 8, |v| {
            overflow |= out.push(v).is_err();
            Ok(())
        })?;
        Ok((!overflow).then_some(out))
    }
}

/// `ValueInfoProto` of a graph input or output: name, element type, shape.
#[derive(Debug, Clone, Copy)]
pub struct ValueInfo<'a> {
    /// Tensor name.
    pub name: &'a str,
    /// Element type (`Other(0)` when not given).
    pub dtype: DataType,
    /// Shape; a symbolic (`dim_param`) leading dimension reads as 1 (batch).
    pub shape: Option<Shape>,
}

impl<'a> ValueInfo<'a> {
    /// Parses a `ValueInfoProto`.
    pub fn parse(msg: &'a [u8]) -> Result<Self, Error> {
        let mut vi = Self {
            name: "",
            dtype: DataType::Other(0),
            shape: None,
        };
        for field in Reader::new(msg) {
            let field = field?;
            match field.number {
                1 => {
                    vi.name = text(
                        field.value.bytes("value_info name")?,
                        "value_info name is not utf-8",
                    )?
                }
                2 => {
                    // TypeProto.tensor_type (1) → elem_type (1), shape (2)
                    for t in Reader::new(field.value.bytes("TypeProto")?) {
                        let t = t?;
                        if t.number != 1 {
                            continue;
                        }
                        for tt in Reader::new(t.value.bytes("TypeProto.Tensor")?) {
                            let tt = tt?;
                            match tt.number {
                                1 => vi.dtype = DataType::from_code(tt.value.int64("elem_type")?),
                                2 => {
                                    vi.shape = Some(Shape::from_shape_proto(
                                        tt.value.bytes("TensorShapeProto")?,
                                    )?)
                                }
                                _ => {}
                            }
                        }
                    }
                }
                _ => {}
            }
        }
        Ok(vi)
    }
}

/// The `GraphProto` of a model.
#[derive(Debug, Clone, Copy)]
pub struct Graph<'a> {
    /// The encoded graph.
    pub msg: &'a [u8],
}

impl<'a> Graph<'a> {
    /// Calls `f` on the payload of every field `number` (nodes: 1,
    /// initialisers: 5, inputs: 11, outputs: 12).
    pub fn for_each(
        &self,
        number: u32,
        mut f: impl FnMut(&'a [u8]) -> Result<(), Error>,
    ) -> Result<(), Error> {
        for field in Reader::new(self.msg) {
            let field = field?;
            if field.number == number {
                f(field.value.bytes("graph field must be a message")?)?;
            }
        }
        Ok(())
    }

    /// The initialiser called `name`, if any.
    pub fn initializer(&self, name: &str) -> Result<Option<Const<'a>>, Error> {
        let mut found = None;
        self.for_each(5, |msg| {
            if found.is_none() {
                // Cheap name check before the full parse.
                for field in Reader::new(msg) {
                    let field = field?;
                    if field.number == 8 && field.value.bytes("tensor name")? == name.as_bytes() {
                        found = Some(Const::parse(msg)?);
                        break;
                    }
                }
            }
            Ok(())
        })?;
        Ok(found)
    }
}

/// The top-level `ModelProto`.
#[derive(Debug, Clone, Copy)]
pub struct ModelProto<'a> {
    /// `ir_version`.
    pub ir_version: i64,
    /// Version of the standard ("" / "ai.onnx") opset imported.
    pub opset: i64,
    /// The graph.
    pub graph: Graph<'a>,
    /// The encoded model, for `metadata_props` look-ups.
    pub msg: &'a [u8],
}

impl<'a> ModelProto<'a> {
    /// Parses the top level of an ONNX file.
    pub fn parse(msg: &'a [u8]) -> Result<Self, Error> {
        let mut ir_version = 0;
        let mut opset = 0;
        let mut graph = None;
        for field in Reader::new(msg) {
            let field = field?;
            match field.number {
                1 => ir_version = field.value.int64("ir_version")?,
                7 => {
                    graph = Some(Graph {
                        msg: field.value.bytes("graph")?,
                    })
                }
                8 => {
                    let mut domain = "";
                    let mut version = 0;
                    for f in Reader::new(field.value.bytes("opset_import")?) {
                        let f = f?;
                        match f.number {
                            1 => {
                                domain = text(
                                    f.value.bytes("opset domain")?,
                                    "opset domain is not utf-8",
                                )?
                            }
                            2 => version = f.value.int64("opset version")?,
                            _ => {}
                        }
                    }
                    if domain.is_empty() || domain == "ai.onnx" {
                        opset = version;
                    }
                }
                _ => {}
            }
        }
        let graph = graph.ok_or(Error::InvalidModel { reason: "no graph" })?;
        Ok(Self {
            ir_version,
            opset,
            graph,
            msg,
        })
    }

    /// The value of `metadata_props[key]`, if present.
    pub fn metadata(&self, key: &str) -> Option<&'a str> {
        self.metadata_iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v)
    }

    /// All `metadata_props` entries (key, value), in file order; entries that
    /// are not valid UTF-8 are skipped.
    pub fn metadata_iter(&self) -> impl Iterator<Item = (&'a str, &'a str)> + 'a {
        Reader::new(self.msg).filter_map(|f| {
            let f = f.ok()?;
            if f.number != 14 {
                return None;
            }
            let entry = f.value.bytes("metadata").ok()?;
            let (mut k, mut v) = ("", "");
            for e in Reader::new(entry) {
                let e = e.ok()?;
                match e.number {
                    1 => k = core::str::from_utf8(e.value.bytes("key").ok()?).ok()?,
                    2 => v = core::str::from_utf8(e.value.bytes("value").ok()?).ok()?,
                    _ => {}
                }
            }
            Some((k, v))
        })
    }
}
