//! The validated, lowered form of a model: a straight list of int8 steps over
//! arena tensors, each step carrying borrowed weights and its quantisation.
//!
//! Layout: activations are NCHW (batch 1), row-major, int8, one contiguous
//! region of the arena per tensor; `Reshape`/`Flatten` therefore move no data
//! and only change the shape a consumer reads with.
//!
//! One file on purpose (over 400 lines): the step types are one data model,
//! written by the lowering and read by the interpreter and the kernels.

use super::shape::Shape;
use super::tensor_data::ConstData;

/// Index of an activation tensor in [`super::Model`]'s tensor table.
pub type Tid = u8;

/// Per-tensor affine quantisation: `real = scale · (q − zero_point)`.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Quant {
    /// Scale (finite, > 0).
    pub scale: f32,
    /// Zero point (int8).
    pub zero_point: i8,
}

/// An arena tensor: its size and where the plan put it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TensorSlot {
    /// Elements (= bytes, int8).
    pub len: usize,
    /// Byte offset in the arena (set by the plan).
    pub offset: usize,
    /// Index of the step that writes it (0 = input quantisation).
    pub first: usize,
    /// Index of the last step that reads it.
    pub last: usize,
}

/// How a bias reaches the int32 accumulator.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Bias<'a> {
    /// No bias.
    None,
    /// int32 values already in accumulator units (`QLinearConv` `B`).
    Acc(ConstData<'a>),
    /// `DequantizeLinear(int32 q, scale[, zp])` (QDQ form): rescaled per channel
    /// to accumulator units, `round_half_even((q − zp)·scale / (x_scale·w_scale))`.
    Scaled {
        /// int32 values.
        q: ConstData<'a>,
        /// f32 scales (1 or one per output channel).
        scale: ConstData<'a>,
        /// int32 zero points (1 or per channel), if given.
        zero_point: Option<ConstData<'a>>,
    },
    /// A float bias, converted per channel the same way.
    Float(ConstData<'a>),
}

/// Per-output-channel weight quantisation: scales and zero points hold
/// `len` entries each (1 = per tensor, else one per output channel).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WeightQuant<'a> {
    /// f32 scales (validated finite and > 0).
    pub scale: ConstData<'a>,
    /// int8 zero points (absent = 0).
    pub zero_point: Option<ConstData<'a>>,
    /// Entries in each (1 or the channel count).
    pub len: usize,
}

impl WeightQuant<'_> {
    /// Scale and zero point of output channel `m`.
    #[inline]
    pub fn channel(&self, m: usize) -> (f32, i32) {
        let i = if self.len == 1 { 0 } else { m };
        let scale = self.scale.f32_at(i).unwrap_or(1.0);
        let zp = self.zero_point.and_then(|z| z.int_at(i)).unwrap_or(0) as i32;
        (scale, zp)
    }
}

/// Output requantisation shared by the integer kernels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Output {
    /// Destination tensor.
    pub tensor: Tid,
    /// Its quantisation.
    pub quant: Quant,
    /// Clamp applied after adding the zero point (fused Relu/Clip; −128..127 when none).
    pub clamp: (i8, i8),
}

/// 2-D convolution geometry (NCHW, weights OIHW).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ConvGeometry {
    /// Input channels, height, width.
    pub in_chw: [usize; 3],
    /// Output channels, height, width.
    pub out_chw: [usize; 3],
    /// Kernel height, width.
    pub kernel: [usize; 2],
    /// Stride (h, w).
    pub stride: [usize; 2],
    /// Dilation (h, w).
    pub dilation: [usize; 2],
    /// Padding: top, left, bottom, right.
    pub pads: [usize; 4],
    /// Groups (`C` for depthwise).
    pub group: usize,
}

impl ConvGeometry {
    /// Whether this is a pointwise convolution: 1×1, stride 1, no dilation, no
    /// padding, one group (a matrix product over the `H·W` pixels).
    pub fn is_pointwise(&self) -> bool {
        self.kernel == [1, 1]
            && self.stride == [1, 1]
            && self.dilation == [1, 1]
            && self.pads == [0; 4]
            && self.group == 1
            && self.out_chw[1..] == self.in_chw[1..]
    }
}

/// Quantised 2-D convolution (`QLinearConv`, or QDQ `Conv`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ConvStep<'a> {
    /// Input tensor and its quantisation.
    pub x: Tid,
    /// Input quantisation.
    pub x_quant: Quant,
    /// int8 weights `[M, C/group, kH, kW]`.
    pub w: &'a [u8],
    /// Weight scales and zero points.
    pub w_quant: WeightQuant<'a>,
    /// Bias.
    pub bias: Bias<'a>,
    /// Geometry.
    pub geo: ConvGeometry,
    /// Output.
    pub y: Output,
    /// The step's arena scratch: the bytes of the kernels' phase planes of
    /// `geo` (`PhasePlanes::of`: depthwise layers, one-channel stems), else
    /// of their pixel pairs (`PixelPairs::of`: other convolutions with
    /// several outputs per group; used on Cortex-M4).
    pub scratch: Option<Tid>,
}

/// Quantised matrix product `Y[M,N] = A[M,K] · B[K,N]` with constant `B`
/// (`QLinearMatMul`, QDQ `MatMul`/`Gemm`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MatMulStep<'a> {
    /// `A` (activations) and its quantisation.
    pub a: Tid,
    /// `A` quantisation.
    pub a_quant: Quant,
    /// int8 `B`, `[K, N]` or `[N, K]` when `b_transposed`.
    pub b: &'a [u8],
    /// `B` stored as `[N, K]` (Gemm `transB = 1`).
    pub b_transposed: bool,
    /// `B` scales/zero points (1 or `N`).
    pub b_quant: WeightQuant<'a>,
    /// Bias over `N`.
    pub bias: Bias<'a>,
    /// Rows, inner dimension, columns.
    pub mkn: [usize; 3],
    /// Output.
    pub y: Output,
}

/// Average pooling of a dequantised tensor, requantised (`DequantizeLinear →
/// [Relu] → AveragePool/GlobalAveragePool → QuantizeLinear`), in integers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PoolStep {
    /// Input tensor.
    pub x: Tid,
    /// Its quantisation.
    pub x_quant: Quant,
    /// Input values are clamped to this int8 range first (a Relu before the pool).
    pub pre_clamp: (i8, i8),
    /// Geometry (`group` and `dilation` unused).
    pub geo: ConvGeometry,
    /// Padded positions count in the divisor.
    pub count_include_pad: bool,
    /// Output.
    pub y: Output,
}

/// One operand of an element-wise expression.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Operand<'a> {
    /// `clamp(scale·(q − zp), lo, hi)` of an arena tensor read with `shape`.
    Tensor {
        /// Tensor.
        tensor: Tid,
        /// Shape it is read with (for broadcasting).
        shape: Shape,
        /// Quantisation.
        quant: Quant,
        /// Float clamp after dequantising.
        clamp: (f32, f32),
    },
    /// A float constant, or a dequantised int constant when `quant` is set.
    Const {
        /// Data.
        data: ConstData<'a>,
        /// Shape (for broadcasting).
        shape: Shape,
        /// Per-tensor quantisation of an int8/int32 constant.
        quant: Option<(f32, i32)>,
    },
}

/// An element-wise float expression evaluated per element in f32, exactly as
/// the float graph would (`DequantizeLinear → [Relu/Clip] → [Add] → …`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Elementwise<'a> {
    /// First operand.
    pub a: Operand<'a>,
    /// Optional second operand, added to the first (numpy broadcasting).
    pub b: Option<Operand<'a>>,
    /// Clamp after the addition.
    pub clamp: (f32, f32),
    /// Output shape.
    pub shape: Shape,
}

/// Element-wise expression requantised into an arena tensor.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ElementwiseStep<'a> {
    /// Expression.
    pub expr: Elementwise<'a>,
    /// Output tensor.
    pub y: Tid,
    /// Output quantisation.
    pub y_quant: Quant,
}

/// Float operations after the last `DequantizeLinear`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum TailOp {
    /// Logistic sigmoid per element.
    Sigmoid,
    /// Softmax over consecutive rows of `row` elements (the last axis, or
    /// the flattened trailing axes for opset < 13).
    Softmax {
        /// Row length.
        row: u32,
    },
    /// `max(x, 0)`.
    Relu,
}

/// Most tail operations after the last `DequantizeLinear`.
pub const MAX_TAIL: usize = 4;

/// One step of the program.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Step<'a> {
    /// Convolution.
    Conv(ConvStep<'a>),
    /// Matrix product.
    MatMul(MatMulStep<'a>),
    /// Average pooling.
    Pool(PoolStep),
    /// Element-wise requantisation / addition.
    Elementwise(ElementwiseStep<'a>),
}
