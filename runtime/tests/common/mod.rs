//! Builds ONNX models in tests with prost (the `onnx.proto` messages the
//! runtime reads, field numbers as in onnx.proto).
#![allow(dead_code, missing_docs)]

pub mod models;
pub mod npy;

use prost::Message;

#[derive(Clone, PartialEq, Message)]
pub struct ModelProto {
    #[prost(int64, tag = "1")]
    pub ir_version: i64,
    #[prost(message, repeated, tag = "8")]
    pub opset_import: Vec<OperatorSetId>,
    #[prost(string, tag = "2")]
    pub producer_name: String,
    #[prost(message, optional, tag = "7")]
    pub graph: Option<GraphProto>,
    #[prost(message, repeated, tag = "14")]
    pub metadata_props: Vec<StringStringEntry>,
}

#[derive(Clone, PartialEq, Message)]
pub struct OperatorSetId {
    #[prost(string, tag = "1")]
    pub domain: String,
    #[prost(int64, tag = "2")]
    pub version: i64,
}

#[derive(Clone, PartialEq, Message)]
pub struct StringStringEntry {
    #[prost(string, tag = "1")]
    pub key: String,
    #[prost(string, tag = "2")]
    pub value: String,
}

#[derive(Clone, PartialEq, Message)]
pub struct GraphProto {
    #[prost(message, repeated, tag = "1")]
    pub node: Vec<NodeProto>,
    #[prost(string, tag = "2")]
    pub name: String,
    #[prost(message, repeated, tag = "5")]
    pub initializer: Vec<TensorProto>,
    #[prost(message, repeated, tag = "11")]
    pub input: Vec<ValueInfoProto>,
    #[prost(message, repeated, tag = "12")]
    pub output: Vec<ValueInfoProto>,
}

#[derive(Clone, PartialEq, Message)]
pub struct NodeProto {
    #[prost(string, repeated, tag = "1")]
    pub input: Vec<String>,
    #[prost(string, repeated, tag = "2")]
    pub output: Vec<String>,
    #[prost(string, tag = "3")]
    pub name: String,
    #[prost(string, tag = "4")]
    pub op_type: String,
    #[prost(string, tag = "7")]
    pub domain: String,
    #[prost(message, repeated, tag = "5")]
    pub attribute: Vec<AttributeProto>,
}

#[derive(Clone, PartialEq, Message)]
pub struct AttributeProto {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(int32, tag = "20")]
    pub r#type: i32,
    #[prost(float, optional, tag = "2")]
    pub f: Option<f32>,
    #[prost(int64, optional, tag = "3")]
    pub i: Option<i64>,
    #[prost(bytes = "vec", optional, tag = "4")]
    pub s: Option<Vec<u8>>,
    #[prost(message, optional, tag = "5")]
    pub t: Option<TensorProto>,
    // onnx.proto is proto2: repeated scalars are unpacked on the wire.
    #[prost(int64, repeated, packed = "false", tag = "8")]
    pub ints: Vec<i64>,
}

#[derive(Clone, PartialEq, Message)]
pub struct TensorProto {
    #[prost(int64, repeated, packed = "false", tag = "1")]
    pub dims: Vec<i64>,
    #[prost(int32, tag = "2")]
    pub data_type: i32,
    #[prost(float, repeated, tag = "4")]
    pub float_data: Vec<f32>,
    #[prost(int32, repeated, tag = "5")]
    pub int32_data: Vec<i32>,
    #[prost(int64, repeated, tag = "7")]
    pub int64_data: Vec<i64>,
    #[prost(string, tag = "8")]
    pub name: String,
    #[prost(bytes = "vec", tag = "9")]
    pub raw_data: Vec<u8>,
}

#[derive(Clone, PartialEq, Message)]
pub struct ValueInfoProto {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(message, optional, tag = "2")]
    pub r#type: Option<TypeProto>,
}

#[derive(Clone, PartialEq, Message)]
pub struct TypeProto {
    #[prost(message, optional, tag = "1")]
    pub tensor_type: Option<TypeTensor>,
}

#[derive(Clone, PartialEq, Message)]
pub struct TypeTensor {
    #[prost(int32, tag = "1")]
    pub elem_type: i32,
    #[prost(message, optional, tag = "2")]
    pub shape: Option<ShapeProto>,
}

#[derive(Clone, PartialEq, Message)]
pub struct ShapeProto {
    #[prost(message, repeated, tag = "1")]
    pub dim: Vec<Dimension>,
}

#[derive(Clone, PartialEq, Message)]
pub struct Dimension {
    #[prost(int64, optional, tag = "1")]
    pub dim_value: Option<i64>,
    #[prost(string, optional, tag = "2")]
    pub dim_param: Option<String>,
}

pub const FLOAT: i32 = 1;
pub const INT8: i32 = 3;
pub const UINT8: i32 = 2;
pub const INT32: i32 = 6;
pub const INT64: i32 = 7;

pub fn raw_tensor(name: &str, data_type: i32, dims: &[usize], raw: Vec<u8>) -> TensorProto {
    TensorProto {
        dims: dims.iter().map(|&d| d as i64).collect(),
        data_type,
        name: name.into(),
        raw_data: raw,
        ..Default::default()
    }
}

pub fn f32s(name: &str, dims: &[usize], v: &[f32]) -> TensorProto {
    raw_tensor(
        name,
        FLOAT,
        dims,
        v.iter().flat_map(|x| x.to_le_bytes()).collect(),
    )
}

pub fn i8s(name: &str, dims: &[usize], v: &[i8]) -> TensorProto {
    raw_tensor(name, INT8, dims, v.iter().map(|&x| x as u8).collect())
}

pub fn i32s(name: &str, dims: &[usize], v: &[i32]) -> TensorProto {
    raw_tensor(
        name,
        INT32,
        dims,
        v.iter().flat_map(|x| x.to_le_bytes()).collect(),
    )
}

pub fn i64s(name: &str, dims: &[usize], v: &[i64]) -> TensorProto {
    raw_tensor(
        name,
        INT64,
        dims,
        v.iter().flat_map(|x| x.to_le_bytes()).collect(),
    )
}

pub fn attr_i(name: &str, i: i64) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        r#type: 2,
        i: Some(i),
        ..Default::default()
    }
}

pub fn attr_f(name: &str, f: f32) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        r#type: 1,
        f: Some(f),
        ..Default::default()
    }
}

pub fn attr_ints(name: &str, v: &[i64]) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        r#type: 7,
        ints: v.to_vec(),
        ..Default::default()
    }
}

pub fn node(op: &str, inputs: &[&str], outputs: &[&str], attrs: Vec<AttributeProto>) -> NodeProto {
    NodeProto {
        input: inputs.iter().map(|s| s.to_string()).collect(),
        output: outputs.iter().map(|s| s.to_string()).collect(),
        name: format!("{op}_{}", outputs.first().unwrap_or(&"")),
        op_type: op.into(),
        attribute: attrs,
        ..Default::default()
    }
}

pub fn value_info(name: &str, elem_type: i32, dims: &[usize]) -> ValueInfoProto {
    ValueInfoProto {
        name: name.into(),
        r#type: Some(TypeProto {
            tensor_type: Some(TypeTensor {
                elem_type,
                shape: Some(ShapeProto {
                    dim: dims
                        .iter()
                        .map(|&d| Dimension {
                            dim_value: Some(d as i64),
                            dim_param: None,
                        })
                        .collect(),
                }),
            }),
        }),
    }
}

/// A graph under construction: nodes and initialisers, one float input "x",
/// one float output.
#[derive(Clone, Default)]
pub struct Builder {
    pub nodes: Vec<NodeProto>,
    pub inits: Vec<TensorProto>,
    pub input_dims: Vec<usize>,
    pub output: String,
    pub output_dims: Vec<usize>,
    pub opset: i64,
    pub metadata: Vec<(String, String)>,
    counter: usize,
}

impl Builder {
    pub fn new(input_dims: &[usize]) -> Self {
        Self {
            input_dims: input_dims.to_vec(),
            opset: 13,
            ..Default::default()
        }
    }

    pub fn fresh(&mut self, stem: &str) -> String {
        self.counter += 1;
        format!("{stem}{}", self.counter)
    }

    pub fn init(&mut self, t: TensorProto) -> String {
        let name = t.name.clone();
        self.inits.push(t);
        name
    }

    /// Adds scale (f32 scalar) and zero point (i8 scalar) initialisers.
    pub fn qparams(&mut self, scale: f32, zp: i8) -> (String, String) {
        let s = self.fresh("s");
        let z = self.fresh("z");
        self.init(f32s(&s, &[], &[scale]));
        self.init(i8s(&z, &[], &[zp]));
        (s, z)
    }

    pub fn op(&mut self, op: &str, inputs: &[&str], attrs: Vec<AttributeProto>) -> String {
        let out = self.fresh(&op.to_lowercase());
        self.nodes.push(node(op, inputs, &[&out], attrs));
        out
    }

    pub fn quantize(&mut self, x: &str, scale: f32, zp: i8) -> String {
        let (s, z) = self.qparams(scale, zp);
        self.op("QuantizeLinear", &[x, &s, &z], vec![])
    }

    pub fn dequantize(&mut self, x: &str, scale: f32, zp: i8) -> String {
        let (s, z) = self.qparams(scale, zp);
        self.op("DequantizeLinear", &[x, &s, &z], vec![])
    }

    pub fn finish(mut self, output: &str, output_dims: &[usize]) -> Vec<u8> {
        self.output = output.into();
        self.output_dims = output_dims.to_vec();
        self.encode()
    }

    pub fn encode(&self) -> Vec<u8> {
        let graph = GraphProto {
            node: self.nodes.clone(),
            name: "test".into(),
            initializer: self.inits.clone(),
            input: vec![value_info("x", FLOAT, &self.input_dims)],
            output: vec![value_info(&self.output, FLOAT, &self.output_dims)],
        };
        ModelProto {
            ir_version: 8,
            opset_import: vec![OperatorSetId {
                domain: String::new(),
                version: self.opset,
            }],
            producer_name: "matpac-runtime tests".into(),
            graph: Some(graph),
            metadata_props: self
                .metadata
                .iter()
                .map(|(k, v)| StringStringEntry {
                    key: k.clone(),
                    value: v.clone(),
                })
                .collect(),
        }
        .encode_to_vec()
    }
}

/// A small deterministic generator for test data (xorshift).
pub struct Rng(pub u64);

impl Rng {
    pub fn next_u32(&mut self) -> u32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 32) as u32
    }
    pub fn uniform(&mut self, lo: f32, hi: f32) -> f32 {
        lo + (hi - lo) * (self.next_u32() as f32 / u32::MAX as f32)
    }
    pub fn int(&mut self, lo: i32, hi: i32) -> i32 {
        lo + (self.next_u32() % ((hi - lo + 1) as u32)) as i32
    }
    pub fn i8s(&mut self, n: usize) -> Vec<i8> {
        (0..n).map(|_| self.int(-128, 127) as i8).collect()
    }
}
