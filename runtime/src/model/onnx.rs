//! A borrowed view of the ONNX messages the runtime reads (`onnx.proto`,
//! proto2 syntax: repeated scalars may arrive packed or unpacked, both are
//! accepted). Nothing is copied: names are `&str` and tensor payloads `&[u8]`
//! into the model file.

use super::protobuf::{Reader, for_each_int64};
use super::shape::Shape;
use super::tensor_data::{ConstData, DataType, TensorBytes};
use crate::Error;

/// Utf-8 text of a `string` field, or a protobuf error.
pub(crate) fn text<'a>(bytes: &'a [u8], what: &'static str) -> Result<&'a str, Error> {
    core::str::from_utf8(bytes).map_err(|_| Error::Protobuf {
        offset: 0,
        reason: what,
    })
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
