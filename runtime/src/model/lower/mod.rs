//! Validation and lowering: walks `graph.node` in file order (ONNX requires a
//! topological order, so an input that no earlier node produced is a cycle or
//! a missing initialiser) and turns the supported QOperator and QDQ patterns
//! into int8 [`Step`]s. Every check happens here, once; the interpreter then
//! trusts the program.
//!
//! Float values between a `DequantizeLinear` and the next `QuantizeLinear`
//! are never materialised: they are tracked symbolically (`FExpr`) and the
//! `QuantizeLinear` emits the fused int8 step.
//!
//! This module owns the lowering state ([`Lower`]) and the driver; the rules
//! per op are its children: [`ops`] (quantise/dequantise, shape-only, fused
//! float and tail ops), [`linear`] (convolution, pooling, matrix products) and
//! [`quant`] (scale and zero-point checks both use).

mod linear;
mod ops;
mod quant;

use super::OpName;
use super::onnx::{Const, Graph, ModelProto, Node, ValueInfo};
use super::program::*;
use super::shape::Shape;
use super::tensor_data::DataType;
use crate::Error;

/// Most steps in a program: room for a DS-CNN of ten depthwise-separable
/// blocks (the default student uses 12 steps; onnxruntime's fixtures fit too;
/// each step costs ≈ 210 B of the `Model` on Cortex-M4, so this is RAM).
pub const MAX_STEPS: usize = 24;
/// Most arena tensors.
pub const MAX_TENSORS: usize = 32;
/// Most named values alive during lowering.
const MAX_SYMBOLS: usize = 64;
/// Marks an output not yet bound to a tensor (a pending float result).
pub(crate) const UNBOUND: Tid = Tid::MAX;

/// The model's one (float) input.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct InputSpec<'a> {
    /// Graph input name.
    pub name: &'a str,
    /// Its shape.
    pub shape: Shape,
    /// Arena tensor holding it quantised.
    pub tensor: Tid,
    /// The quantisation of the first `QuantizeLinear`.
    pub quant: Quant,
}

/// The model's one (float) output: an element-wise expression of int8
/// tensors followed by float tail ops.
#[derive(Debug, Clone, PartialEq)]
pub struct OutputSpec<'a> {
    /// Graph output name.
    pub name: &'a str,
    /// Expression (its `shape` is the output shape).
    pub expr: Elementwise<'a>,
    /// Float ops after it, in order.
    pub tail: heapless::Vec<TailOp, MAX_TAIL>,
}

/// A lowered program before planning.
#[derive(Debug, Clone)]
pub struct Lowered<'a> {
    /// Steps in execution order.
    pub steps: heapless::Vec<Step<'a>, MAX_STEPS>,
    /// Arena tensors (offsets unset).
    pub tensors: heapless::Vec<TensorSlot, MAX_TENSORS>,
    /// Input.
    pub input: InputSpec<'a>,
    /// Output.
    pub output: OutputSpec<'a>,
}

/// A float value that exists only symbolically.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct FExpr<'a> {
    pub kind: FKind<'a>,
    pub shape: Shape,
    /// Float clamp applied after `kind` (fused Relu/Clip).
    pub clamp: (f32, f32),
    pub tail: heapless::Vec<TailOp, MAX_TAIL>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum FKind<'a> {
    /// `DequantizeLinear` of an arena tensor.
    Deq { t: Tid, quant: Quant },
    /// Sum of two operands.
    Add { a: Operand<'a>, b: Operand<'a> },
    /// Result of an integer step whose output quantisation is not known yet.
    Pending { step: usize },
}

/// What a name refers to during lowering.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Sym<'a> {
    FloatInput(Shape),
    Const(Const<'a>),
    /// `DequantizeLinear` of an initialiser (QDQ weights and biases).
    DeqConst {
        c: Const<'a>,
        scale: Const<'a>,
        zp: Option<Const<'a>>,
        axis: usize,
    },
    Q {
        t: Tid,
        shape: Shape,
    },
    F(FExpr<'a>),
}

pub(crate) const NO_CLAMP: (f32, f32) = (f32::NEG_INFINITY, f32::INFINITY);

/// Lowering state.
pub(crate) struct Lower<'a, 'l> {
    pub graph: Graph<'a>,
    pub opset: i64,
    syms: heapless::Vec<(&'a str, Sym<'a>), MAX_SYMBOLS>,
    /// The model's steps, written in place ([`lower`]).
    pub steps: &'l mut heapless::Vec<Step<'a>, MAX_STEPS>,
    /// The model's arena tensors, written in place.
    pub tensors: &'l mut heapless::Vec<TensorSlot, MAX_TENSORS>,
    pub input: Option<InputSpec<'a>>,
    input_name: &'a str,
    pub node_index: usize,
    pub op: &'a str,
}

impl<'a> Lower<'a, '_> {
    /// An error naming the current node.
    pub fn err(&self, reason: &'static str) -> Error {
        Error::UnsupportedNode {
            node: self.node_index,
            op: OpName::new(self.op),
            reason,
        }
    }

    /// Looks up a value by name: node outputs first, then initialisers.
    pub fn get(&self, name: &str) -> Result<Sym<'a>, Error> {
        if let Some((_, s)) = self.syms.iter().rev().find(|(n, _)| *n == name) {
            return Ok(s.clone());
        }
        match self.graph.initializer(name)? {
            Some(c) => Ok(Sym::Const(c)),
            None => {
                Err(self
                    .err("input not produced by an earlier node (missing initialiser or cycle)"))
            }
        }
    }

    /// Input `i` of `node`, which must be present.
    pub fn input(&self, node: &Node<'a>, i: usize) -> Result<Sym<'a>, Error> {
        let name = node
            .input(i)
            .ok_or_else(|| self.err("missing required input"))?;
        self.get(name)
    }

    /// Optional input `i`.
    pub fn opt_input(&self, node: &Node<'a>, i: usize) -> Result<Option<Sym<'a>>, Error> {
        node.input(i).map(|n| self.get(n)).transpose()
    }

    /// Input `i`, which must be a constant.
    pub fn const_input(&self, node: &Node<'a>, i: usize) -> Result<Const<'a>, Error> {
        match self.input(node, i)? {
            Sym::Const(c) => Ok(c),
            _ => Err(self.err("expected a constant initialiser input")),
        }
    }

    /// Optional constant input `i`.
    pub fn opt_const_input(&self, node: &Node<'a>, i: usize) -> Result<Option<Const<'a>>, Error> {
        match self.opt_input(node, i)? {
            None => Ok(None),
            Some(Sym::Const(c)) => Ok(Some(c)),
            Some(_) => Err(self.err("expected a constant initialiser input")),
        }
    }

    /// Binds the node's first output name to `sym`.
    pub fn define(&mut self, node: &Node<'a>, sym: Sym<'a>) -> Result<(), Error> {
        if node.outputs.len() != 1 {
            return Err(self.err("expected exactly one output"));
        }
        let name = node.outputs.first().copied().unwrap_or("");
        if name.is_empty() || self.syms.iter().any(|(n, _)| *n == name) || name == self.input_name {
            return Err(self.err("output name empty or defined twice"));
        }
        self.syms.push((name, sym)).map_err(|_| Error::Capacity {
            what: "named values",
            limit: MAX_SYMBOLS,
        })
    }

    /// A new arena tensor of `len` elements written by the next step.
    pub fn new_tensor(&mut self, len: usize, first: usize) -> Result<Tid, Error> {
        let t = self.tensors.len();
        self.tensors
            .push(TensorSlot {
                len,
                offset: 0,
                first,
                last: first,
            })
            .map_err(|_| Error::Capacity {
                what: "tensors",
                limit: MAX_TENSORS,
            })?;
        Ok(t as Tid)
    }

    /// Records that step index `at` (1-based; 0 is input quantisation) reads `t`.
    pub fn use_tensor(&mut self, t: Tid, at: usize) {
        if let Some(s) = self.tensors.get_mut(usize::from(t)) {
            s.last = s.last.max(at);
        }
    }

    /// Appends a step, returning its index in `steps`.
    pub fn push_step(&mut self, step: Step<'a>) -> Result<usize, Error> {
        let i = self.steps.len();
        self.steps.push(step).map_err(|_| Error::Capacity {
            what: "steps",
            limit: MAX_STEPS,
        })?;
        Ok(i)
    }

    /// Marks the operands of an element-wise expression as read at `at`.
    pub fn use_operands(&mut self, e: &Elementwise<'a>, at: usize) {
        for op in [Some(e.a), e.b].into_iter().flatten() {
            if let Operand::Tensor { tensor, .. } = op {
                self.use_tensor(tensor, at);
            }
        }
    }
}

/// Validates and lowers a parsed model: its steps and arena tensors into `steps`
/// and `tensors` (emptied first; the model's own, so that they are built in place);
/// returns its input and output.
pub(crate) fn lower<'a>(
    proto: &ModelProto<'a>,
    steps: &mut heapless::Vec<Step<'a>, MAX_STEPS>,
    tensors: &mut heapless::Vec<TensorSlot, MAX_TENSORS>,
) -> Result<(InputSpec<'a>, OutputSpec<'a>), Error> {
    steps.clear();
    tensors.clear();
    let graph = proto.graph;
    if proto.opset != 0 && !(10..=23).contains(&proto.opset) {
        return Err(Error::InvalidModel {
            reason: "standard opset must be between 10 and 23",
        });
    }
    // The one graph input that is not an initialiser.
    let mut input: Option<ValueInfo<'a>> = None;
    let mut extra_input = false;
    graph.for_each(11, |msg| {
        let vi = ValueInfo::parse(msg)?;
        if graph.initializer(vi.name)?.is_none() {
            extra_input |= input.is_some();
            input = Some(vi);
        }
        Ok(())
    })?;
    let input = input.ok_or(Error::InvalidModel {
        reason: "graph has no input",
    })?;
    if extra_input {
        return Err(Error::InvalidModel {
            reason: "graph must have exactly one input",
        });
    }
    if input.dtype != DataType::Float {
        return Err(Error::InvalidModel {
            reason: "graph input must be float",
        });
    }
    let in_shape = input.shape.ok_or(Error::InvalidModel {
        reason: "graph input needs a static shape",
    })?;
    let mut output_name = None;
    let mut outputs = 0;
    graph.for_each(12, |msg| {
        outputs += 1;
        output_name = Some(ValueInfo::parse(msg)?.name);
        Ok(())
    })?;
    let output_name = match (outputs, output_name) {
        (1, Some(n)) => n,
        _ => {
            return Err(Error::InvalidModel {
                reason: "graph must have exactly one output",
            });
        }
    };

    let mut l = Lower {
        graph,
        opset: if proto.opset == 0 { 13 } else { proto.opset },
        syms: heapless::Vec::new(),
        steps,
        tensors,
        input: None,
        input_name: input.name,
        node_index: 0,
        op: "",
    };
    l.syms
        .push((input.name, Sym::FloatInput(in_shape)))
        .map_err(|_| Error::Capacity {
            what: "named values",
            limit: MAX_SYMBOLS,
        })?;
    let mut index = 0usize;
    graph.for_each(1, |msg| {
        let node = Node::parse(msg)?;
        l.node_index = index;
        l.op = node.op;
        index += 1;
        if !(node.domain.is_empty() || node.domain == "ai.onnx") {
            return Err(l.err("only the standard ONNX domain is supported"));
        }
        ops::lower_node(&mut l, &node)
    })?;
    l.node_index = index;
    l.op = "graph output";

    let out = l.get(output_name)?;
    let Sym::F(f) = out else {
        return Err(l.err("graph output must be a float value after DequantizeLinear"));
    };
    let expr = ops::elementwise_of(&l, &f)?;
    let at = l.steps.len() + 1;
    l.use_operands(&expr, at);
    for step in l.steps.iter() {
        let bound = match step {
            Step::Conv(s) => s.y.tensor,
            Step::MatMul(s) => s.y.tensor,
            Step::Pool(s) => s.y.tensor,
            Step::Elementwise(s) => s.y,
        };
        if bound == UNBOUND {
            return Err(Error::InvalidModel {
                reason: "a Conv/MatMul/pool result is never quantised",
            });
        }
    }
    let input = l.input.ok_or(Error::InvalidModel {
        reason: "graph input is never quantised",
    })?;
    let output = OutputSpec {
        name: output_name,
        expr,
        tail: f.tail,
    };
    Ok((input, output))
}
