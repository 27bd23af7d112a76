//! The `onnx.proto` messages the exporter writes, as hand-written prost
//! structs (field numbers as in onnx.proto, IR version 8). Only the fields
//! an int8 CNN tagger and the float encoder need; onnx.proto is proto2, so repeated scalars are
//! written unpacked.
//!
//! The runtime's tests (`runtime/tests/common/mod.rs`) build their models
//! from these same definitions: they compile this file in with `#[path]`
//! (the runtime cannot depend on the trainer), so it must use nothing but
//! prost.

use prost::Message;

/// `onnx.TensorProto.DataType.FLOAT`.
pub const FLOAT: i32 = 1;
/// `onnx.TensorProto.DataType.INT8`.
pub const INT8: i32 = 3;
/// `onnx.TensorProto.DataType.INT32`.
pub const INT32: i32 = 6;
/// `onnx.TensorProto.DataType.INT64`.
pub const INT64: i32 = 7;

/// `AttributeProto.AttributeType.FLOAT`.
pub const ATTR_FLOAT: i32 = 1;
/// `AttributeProto.AttributeType.INT`.
pub const ATTR_INT: i32 = 2;
/// `AttributeProto.AttributeType.INTS`.
pub const ATTR_INTS: i32 = 7;

/// `onnx.ModelProto`.
#[derive(Clone, PartialEq, Message)]
pub struct ModelProto {
    /// IR version.
    #[prost(int64, tag = "1")]
    pub ir_version: i64,
    /// Operator sets used.
    #[prost(message, repeated, tag = "8")]
    pub opset_import: Vec<OperatorSetId>,
    /// Tool that wrote the file.
    #[prost(string, tag = "2")]
    pub producer_name: String,
    /// Its version.
    #[prost(string, tag = "3")]
    pub producer_version: String,
    /// Free text.
    #[prost(string, tag = "6")]
    pub doc_string: String,
    /// The graph.
    #[prost(message, optional, tag = "7")]
    pub graph: Option<GraphProto>,
    /// Key/value metadata.
    #[prost(message, repeated, tag = "14")]
    pub metadata_props: Vec<StringStringEntry>,
}

/// `onnx.OperatorSetIdProto`.
#[derive(Clone, PartialEq, Message)]
pub struct OperatorSetId {
    /// Domain ("" = standard).
    #[prost(string, tag = "1")]
    pub domain: String,
    /// Opset version.
    #[prost(int64, tag = "2")]
    pub version: i64,
}

/// `onnx.StringStringEntryProto`.
#[derive(Clone, PartialEq, Message)]
pub struct StringStringEntry {
    /// Key.
    #[prost(string, tag = "1")]
    pub key: String,
    /// Value.
    #[prost(string, tag = "2")]
    pub value: String,
}

/// `onnx.GraphProto`.
#[derive(Clone, PartialEq, Message)]
pub struct GraphProto {
    /// Nodes in topological order.
    #[prost(message, repeated, tag = "1")]
    pub node: Vec<NodeProto>,
    /// Graph name.
    #[prost(string, tag = "2")]
    pub name: String,
    /// Constant tensors.
    #[prost(message, repeated, tag = "5")]
    pub initializer: Vec<TensorProto>,
    /// Inputs.
    #[prost(message, repeated, tag = "11")]
    pub input: Vec<ValueInfoProto>,
    /// Outputs.
    #[prost(message, repeated, tag = "12")]
    pub output: Vec<ValueInfoProto>,
}

/// `onnx.NodeProto`.
#[derive(Clone, PartialEq, Message)]
pub struct NodeProto {
    /// Input names ("" = absent optional input).
    #[prost(string, repeated, tag = "1")]
    pub input: Vec<String>,
    /// Output names.
    #[prost(string, repeated, tag = "2")]
    pub output: Vec<String>,
    /// Node name.
    #[prost(string, tag = "3")]
    pub name: String,
    /// Operator.
    #[prost(string, tag = "4")]
    pub op_type: String,
    /// Domain ("" = standard).
    #[prost(string, tag = "7")]
    pub domain: String,
    /// Attributes.
    #[prost(message, repeated, tag = "5")]
    pub attribute: Vec<AttributeProto>,
}

/// `onnx.AttributeProto` (float, int and ints attributes).
#[derive(Clone, PartialEq, Message)]
pub struct AttributeProto {
    /// Name.
    #[prost(string, tag = "1")]
    pub name: String,
    /// `AttributeType`.
    #[prost(int32, tag = "20")]
    pub r#type: i32,
    /// FLOAT value.
    #[prost(float, optional, tag = "2")]
    pub f: Option<f32>,
    /// INT value.
    #[prost(int64, optional, tag = "3")]
    pub i: Option<i64>,
    /// INTS value.
    #[prost(int64, repeated, packed = "false", tag = "8")]
    pub ints: Vec<i64>,
}

/// `onnx.TensorProto` (payload in `raw_data`, little endian).
#[derive(Clone, PartialEq, Message)]
pub struct TensorProto {
    /// Shape.
    #[prost(int64, repeated, packed = "false", tag = "1")]
    pub dims: Vec<i64>,
    /// Element type.
    #[prost(int32, tag = "2")]
    pub data_type: i32,
    /// Name.
    #[prost(string, tag = "8")]
    pub name: String,
    /// Payload.
    #[prost(bytes = "vec", tag = "9")]
    pub raw_data: Vec<u8>,
}

/// `onnx.ValueInfoProto`.
#[derive(Clone, PartialEq, Message)]
pub struct ValueInfoProto {
    /// Name.
    #[prost(string, tag = "1")]
    pub name: String,
    /// Type.
    #[prost(message, optional, tag = "2")]
    pub r#type: Option<TypeProto>,
}

/// `onnx.TypeProto` (tensor types only).
#[derive(Clone, PartialEq, Message)]
pub struct TypeProto {
    /// Tensor type.
    #[prost(message, optional, tag = "1")]
    pub tensor_type: Option<TypeTensor>,
}

/// `onnx.TypeProto.Tensor`.
#[derive(Clone, PartialEq, Message)]
pub struct TypeTensor {
    /// Element type.
    #[prost(int32, tag = "1")]
    pub elem_type: i32,
    /// Shape.
    #[prost(message, optional, tag = "2")]
    pub shape: Option<ShapeProto>,
}

/// `onnx.TensorShapeProto`.
#[derive(Clone, PartialEq, Message)]
pub struct ShapeProto {
    /// Dimensions.
    #[prost(message, repeated, tag = "1")]
    pub dim: Vec<Dimension>,
}

/// `onnx.TensorShapeProto.Dimension`: a size, or a symbolic name.
#[derive(Clone, PartialEq, Message)]
pub struct Dimension {
    /// Size.
    #[prost(int64, optional, tag = "1")]
    pub dim_value: Option<i64>,
    /// Symbolic name of a size chosen at run time (`"batch"`).
    #[prost(string, optional, tag = "2")]
    pub dim_param: Option<String>,
}

/// A tensor from its element type, shape and little-endian payload.
pub fn raw_tensor(name: &str, data_type: i32, dims: &[usize], raw: Vec<u8>) -> TensorProto {
    TensorProto {
        dims: dims.iter().map(|&d| d as i64).collect(),
        data_type,
        name: name.into(),
        raw_data: raw,
    }
}

/// An f32 tensor.
pub fn f32_tensor(name: &str, dims: &[usize], v: &[f32]) -> TensorProto {
    raw_tensor(
        name,
        FLOAT,
        dims,
        v.iter().flat_map(|x| x.to_le_bytes()).collect(),
    )
}

/// An int8 tensor.
pub fn i8_tensor(name: &str, dims: &[usize], v: &[i8]) -> TensorProto {
    raw_tensor(name, INT8, dims, v.iter().map(|&x| x as u8).collect())
}

/// An int32 tensor.
pub fn i32_tensor(name: &str, dims: &[usize], v: &[i32]) -> TensorProto {
    raw_tensor(
        name,
        INT32,
        dims,
        v.iter().flat_map(|x| x.to_le_bytes()).collect(),
    )
}

/// An int64 tensor.
pub fn i64_tensor(name: &str, dims: &[usize], v: &[i64]) -> TensorProto {
    raw_tensor(
        name,
        INT64,
        dims,
        v.iter().flat_map(|x| x.to_le_bytes()).collect(),
    )
}

/// An INT attribute.
pub fn attr_int(name: &str, i: i64) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        r#type: ATTR_INT,
        i: Some(i),
        ..Default::default()
    }
}

/// An INTS attribute.
pub fn attr_ints(name: &str, v: &[i64]) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        r#type: ATTR_INTS,
        ints: v.to_vec(),
        ..Default::default()
    }
}

/// A tensor value description with a static shape.
pub fn value_info(name: &str, elem_type: i32, dims: &[usize]) -> ValueInfoProto {
    let dims: Vec<Option<usize>> = dims.iter().copied().map(Some).collect();
    value_info_dims(name, elem_type, &dims)
}

/// A tensor value description; `None` dimensions are the symbolic `"batch"`.
pub fn value_info_dims(name: &str, elem_type: i32, dims: &[Option<usize>]) -> ValueInfoProto {
    ValueInfoProto {
        name: name.into(),
        r#type: Some(TypeProto {
            tensor_type: Some(TypeTensor {
                elem_type,
                shape: Some(ShapeProto {
                    dim: dims
                        .iter()
                        .map(|d| Dimension {
                            dim_value: d.map(|d| d as i64),
                            dim_param: d.is_none().then(|| "batch".into()),
                        })
                        .collect(),
                }),
            }),
        }),
    }
}
