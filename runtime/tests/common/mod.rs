//! Builds ONNX models in tests with prost (the `onnx.proto` messages the
//! runtime reads, field numbers as in onnx.proto).
#![allow(dead_code, missing_docs)]

pub mod models;
pub mod npy;

use prost::Message;

// The trainer's exporter and these tests build models from the same message
// definitions. The runtime cannot depend on the trainer (the trainer depends
// on it), and the file needs nothing but prost, so it is compiled in here.
#[path = "../../../trainer/src/edge/onnx_proto.rs"]
mod onnx_proto;
pub use onnx_proto::*;

/// `onnx.TensorProto.DataType.UINT8` (the runtime rejects it).
pub const UINT8: i32 = 2;

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
        self.init(f32_tensor(&s, &[], &[scale]));
        self.init(i8_tensor(&z, &[], &[zp]));
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
            ..Default::default()
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
