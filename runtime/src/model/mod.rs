//! Reading a model: [`protobuf`] (wire format) → [`onnx`] (borrowed views of
//! the ONNX messages) → [`validate`] (checks and lowering of the supported
//! QOperator/QDQ patterns to int8 [`program`] steps) → [`plan`] (arena).
//!
//! [`Model::parse`] does all of it once; nothing is copied out of the file
//! (weights stay `&[u8]` into it) and nothing is allocated.

mod lower_linear;
mod lower_ops;
pub mod onnx;
pub mod plan;
pub mod program;
pub mod protobuf;
pub mod shape;
pub mod validate;

use crate::Error;
pub use program::{Quant, Step, TailOp, TensorSlot};
pub use shape::Shape;
pub use validate::{InputSpec, MAX_STEPS, MAX_TENSORS, OutputSpec};

/// An op name inside an [`Error`] (`Copy`, no lifetime): the first 24 bytes
/// of the node's `op_type`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct OpName {
    bytes: [u8; 24],
    len: u8,
}

impl OpName {
    /// Keeps the first 24 bytes of `name` (cut at a character boundary).
    pub fn new(name: &str) -> Self {
        let mut end = name.len().min(24);
        while !name.is_char_boundary(end) {
            end -= 1;
        }
        let mut bytes = [0u8; 24];
        let src = name.as_bytes().get(..end).unwrap_or(&[]);
        if let Some(dst) = bytes.get_mut(..src.len()) {
            dst.copy_from_slice(src);
        }
        Self {
            bytes,
            len: end as u8,
        }
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        core::str::from_utf8(self.bytes.get(..usize::from(self.len)).unwrap_or(&[])).unwrap_or("")
    }
}

impl core::fmt::Debug for OpName {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        core::fmt::Debug::fmt(self.as_str(), f)
    }
}

impl core::fmt::Display for OpName {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(feature = "defmt")]
impl defmt::Format for OpName {
    fn format(&self, f: defmt::Formatter<'_>) {
        defmt::write!(f, "{=str}", self.as_str())
    }
}

/// A validated int8 model borrowed from its ONNX bytes.
///
/// ```no_run
/// # fn demo(onnx: &[u8], features: &[f32]) -> Result<(), matpac_runtime::Error> {
/// use matpac_runtime::engine::{Engine, Interpreter};
/// use matpac_runtime::model::Model;
///
/// let model = Model::parse(onnx)?;
/// let mut arena = [0u8; 32 * 1024];
/// let mut engine = Interpreter::new(&model, &mut arena)?; // errors if arena < model.arena_len()
/// let mut scores = [0f32; 10];
/// engine.run(features, &mut scores)?;
/// let classes = model.metadata("class_names"); // metadata_props lookup
/// # let _ = classes; Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Model<'a> {
    proto: onnx::ModelProto<'a>,
    lowered: validate::Lowered<'a>,
    arena_len: usize,
}

impl<'a> Model<'a> {
    /// Parses, validates and plans an ONNX model (see the crate docs for the
    /// supported subset). Any malformed or unsupported input is an [`Error`].
    pub fn parse(bytes: &'a [u8]) -> Result<Self, Error> {
        let proto = onnx::ModelProto::parse(bytes)?;
        let mut lowered = validate::lower(&proto)?;
        let arena_len = plan::plan(&mut lowered.tensors)?;
        Ok(Self {
            proto,
            lowered,
            arena_len,
        })
    }

    /// Bytes of scratch memory [`crate::engine::Interpreter::new`] needs.
    pub fn arena_len(&self) -> usize {
        self.arena_len
    }

    /// The graph input (float; its shape and the quantisation applied to it).
    pub fn input(&self) -> &InputSpec<'a> {
        &self.lowered.input
    }

    /// Number of f32 values [`crate::engine::Engine::run`] takes.
    pub fn input_len(&self) -> usize {
        self.lowered.input.shape.numel()
    }

    /// Shape of the float output.
    pub fn output_shape(&self) -> Shape {
        self.lowered.output.expr.shape
    }

    /// Number of f32 values [`crate::engine::Engine::run`] writes.
    pub fn output_len(&self) -> usize {
        self.output_shape().numel()
    }

    /// The output description (expression and float tail).
    pub fn output(&self) -> &OutputSpec<'a> {
        &self.lowered.output
    }

    /// The lowered steps, in execution order.
    pub fn steps(&self) -> &[Step<'a>] {
        &self.lowered.steps
    }

    /// The arena tensors with their planned offsets.
    pub fn tensors(&self) -> &[TensorSlot] {
        &self.lowered.tensors
    }

    /// `metadata_props[key]` (e.g. class names, thresholds, front-end config
    /// written by the exporter), borrowed from the file.
    pub fn metadata(&self, key: &str) -> Option<&'a str> {
        self.proto.metadata(key)
    }

    /// Every `metadata_props` entry as `(key, value)`, in file order.
    pub fn metadata_iter(&self) -> impl Iterator<Item = (&'a str, &'a str)> + 'a {
        self.proto.metadata_iter()
    }

    /// ONNX `ir_version` and standard-domain opset.
    pub fn versions(&self) -> (i64, i64) {
        (self.proto.ir_version, self.proto.opset)
    }
}
