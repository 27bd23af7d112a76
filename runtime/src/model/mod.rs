//! Reading a model: [`protobuf`] (wire format) → [`onnx`] (borrowed views of
//! the ONNX messages) → [`lower`] (checks and lowering of the supported
//! QOperator/QDQ patterns to int8 [`program`] steps) → [`plan`] (arena).
//!
//! [`Model::parse`] does all of it once; nothing is copied out of the file
//! (weights stay `&[u8]` into it) and nothing is allocated.
//!
//! # Supported subset (standard ONNX domain, opsets 10–23)
//!
//! * One float graph input (static shape; a symbolic batch reads as 1) whose
//!   only consumer is a `QuantizeLinear` to int8, and one float output.
//! * QOperator: `QLinearConv` (2-D, regular/grouped/depthwise, strides,
//!   pads, `auto_pad`, dilations; per-tensor or per-channel int8 weights,
//!   int32 bias), `QLinearMatMul` (constant 2-D `B`, per-tensor or per-column).
//! * QDQ: `DequantizeLinear → Conv | MatMul | Gemm (constant, dequantised
//!   weights and bias) → [Relu | Clip] → QuantizeLinear`.
//! * Between a `DequantizeLinear` and the next `QuantizeLinear`, in float:
//!   `Relu`, `Clip`, `Reshape`, `Flatten`, `Identity`, `Add` (two dequantised
//!   tensors, or one and a constant), `AveragePool`, `GlobalAveragePool`; run
//!   as fused int8 steps whose results equal the float graph's (see each op).
//! * After the last `DequantizeLinear`: `Add` of a constant, `Relu`,
//!   `Sigmoid`, `Softmax` (last axis), shape-only ops.
//! * Activations are int8 with per-tensor scale and zero point; uint8 is
//!   rejected. Initialisers come from `raw_data` (weights must), `float_data`,
//!   or, for at most 64 elements, `int32_data`/`int64_data`.
//!
//! Fixed capacities: [`MAX_STEPS`] steps, [`MAX_TENSORS`] arena tensors, rank ≤ 4,
//! ≤ 2^24 elements per tensor.
//!
//! # Rounding
//!
//! Requantisation of `QLinearConv`/`QLinearMatMul` accumulators rounds
//! `acc · (w_scale · x_scale / y_scale)` (f32 scale, exact product) half to
//! even, as tract does ([`crate::fixed::RoundingScaler`]); ONNX leaves this
//! rounding to the implementation (onnxruntime and TFLite round half away
//! from zero after a fixed-point multiply, so they can differ by one at ties).
//! `QuantizeLinear` rounds half to even (ONNX) of `x · (1/scale)` (tract; ONNX
//! writes `x / scale`). Pooling and QDQ graphs are run in integers where the
//! float graph rounds in f32: equal except on f32 rounding ties.

pub mod lower;
pub mod onnx;
pub mod plan;
pub mod program;
pub mod protobuf;
pub mod shape;
pub mod tensor_data;

use core::mem::MaybeUninit;

use crate::Error;
pub use lower::{InputSpec, MAX_STEPS, MAX_TENSORS, OutputSpec};
pub use program::{Quant, Step, TailOp, TensorSlot};
pub use shape::Shape;

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
    lowered: lower::Lowered<'a>,
    arena_len: usize,
}

impl<'a> Model<'a> {
    /// Parses, validates and plans an ONNX model (see the [module docs](self)
    /// for the supported subset). Any malformed or unsupported input is an [`Error`].
    pub fn parse(bytes: &'a [u8]) -> Result<Self, Error> {
        crate::in_place::build(|slot| Self::parse_in(slot, bytes))
    }

    /// [`Self::parse`] built directly in `slot` (no copy of the model through the
    /// stack; for C callers and statics); returns it. On error `slot` stays
    /// uninitialised (partly written, never read).
    #[allow(unsafe_code)]
    pub fn parse_in<'s>(
        slot: &'s mut MaybeUninit<Self>,
        bytes: &'a [u8],
    ) -> Result<&'s mut Self, Error> {
        let proto = onnx::ModelProto::parse(bytes)?;
        let p = slot.as_mut_ptr();
        // SAFETY: `p` points to `slot`, valid and exclusively ours for writes. The
        // step and tensor lists are written (empty) through raw pointers before the
        // only references to them are made, which `lower` and `plan` fill; those
        // references end before the remaining fields are written once each through
        // raw pointers. Every field is written before `assume_init_mut`.
        unsafe {
            let lowered = &raw mut (*p).lowered;
            (&raw mut (*lowered).steps).write(heapless::Vec::new());
            (&raw mut (*lowered).tensors).write(heapless::Vec::new());
            let steps = &mut (*lowered).steps;
            let tensors = &mut (*lowered).tensors;
            let (input, output) = lower::lower(&proto, steps, tensors)?;
            let arena_len = plan::plan(tensors)?;
            (&raw mut (*lowered).input).write(input);
            (&raw mut (*lowered).output).write(output);
            (&raw mut (*p).proto).write(proto);
            (&raw mut (*p).arena_len).write(arena_len);
            let this = slot.assume_init_mut();
            // No `..`: a new field fails to compile here until it is written above.
            let Self {
                proto: _,
                lowered:
                    lower::Lowered {
                        steps: _,
                        tensors: _,
                        input: _,
                        output: _,
                    },
                arena_len: _,
            } = this;
            Ok(this)
        }
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
