//! Quantised 2-D convolution (regular, grouped and depthwise), NCHW, through
//! one of three paths: `planar` (one input channel per group: depthwise
//! layers, a one-channel stem), `pairs` (the others with several outputs
//! per group, Cortex-M4) and the generic row loops below (everything else).
//! (A 5×5 stem runs through `planar`: through `pairs` it took more
//! instructions on Cortex-M4, gathering its 25-byte windows costing more than
//! the cheaper MACs save.)

mod pairs;
mod planar;

use crate::engine::kernels::generic::{
    POINTWISE_GROUP, ROW_CHUNK, Requant, bias_acc, channel_scaler, weight_sum,
};
use crate::engine::kernels::layout::{PhasePlanes, PixelPairs};
use crate::engine::kernels::select::{conv_row, pointwise_rows, requantize_rows};
use crate::fixed::RoundingScaler;
use crate::model::program::ConvStep;

/// Whether the DSP-extension kernels ([`crate::engine::kernels::dsp`]) run
/// the layers they cover (Cortex-M4/M7; elsewhere the generic loops are faster
/// than their portable stand-ins).
const DSP: bool = cfg!(matpac_dsp);

/// Runs `step`: `x` is `[C, H, W]` int8, `y` is `[M, OH, OW]` int8;
/// `scratch` is the step's arena scratch (`step.scratch`, else empty).
pub fn run(step: &ConvStep<'_>, x: &[u8], y: &mut [u8], scratch: &mut [u8]) {
    let geo = &step.geo;
    let m_out = geo.out_chw[0];
    let [kh, kw] = geo.kernel;
    let w_len = geo.in_chw[0] / geo.group.max(1) * kh * kw;
    let has_scratch = |len: usize| step.scratch.is_some() && scratch.len() >= len;
    if let Some(pp) = PhasePlanes::of(geo) {
        if has_scratch(pp.len()) {
            planar::planar(step, &pp, x, y, scratch);
            return;
        }
    } else if DSP
        && let Some(pairs) = PixelPairs::of(geo)
        && has_scratch(pairs.len())
        // The DSP kernels take weights with zero point 0 only.
        && (0..m_out).all(|m| step.w_quant.channel(m).1 == 0)
    {
        pairs::run(step, &pairs, x, y, scratch);
        return;
    }
    if geo.is_pointwise() {
        pointwise(step, x, y, w_len);
    } else {
        rows(step, x, y, w_len);
    }
}

/// Any other convolution: one output channel at a time, in runs of
/// [`ROW_CHUNK`] outputs of one row. Not inlined (nor is [`pointwise`]), so
/// that their accumulators sit on the stack only while they run, not in
/// [`run`]'s frame whatever path it takes (on Cortex-M4 the DSP paths cover
/// the default model and these never run).
#[inline(never)]
fn rows(step: &ConvStep<'_>, x: &[u8], y: &mut [u8], w_len: usize) {
    let geo = &step.geo;
    let [m_out, oh, ow] = geo.out_chw;
    let group = geo.group.max(1);
    let cpg = geo.in_chw[0] / group;
    let mpg = (m_out / group).max(1);
    let x_zp = i32::from(step.x_quant.zero_point);
    let mut acc = [0i32; ROW_CHUNK];
    for m in 0..m_out {
        let ch = channel(step, m, w_len);
        let requant = ch.requant(step);
        let c0 = (m / mpg) * cpg;
        for oy in 0..oh {
            for ox0 in (0..ow).step_by(ROW_CHUNK) {
                let n = ROW_CHUNK.min(ow - ox0);
                let acc = &mut acc[..n];
                acc.fill(ch.bias);
                conv_row(x, x_zp, ch.w_m, ch.w_zp, geo, c0, oy, ox0, acc);
                let start = (m * oh + oy) * ow + ox0;
                if let Some(out) = y.get_mut(start..start + n) {
                    requantize_rows(acc, n, 0, &requant, out, n);
                }
            }
        }
    }
}

/// A pointwise layer: a matrix product over the `H·W` pixels of each plane,
/// [`POINTWISE_GROUP`] output channels at a time ([`pointwise_rows`], which
/// shares each load of the input between them), in runs of [`ROW_CHUNK`]
/// pixels. The input zero point is folded into each channel's bias
/// (`Σ (x − x_zp)·w = Σ x·w − x_zp·Σ w`, exact in wrapping int32).
#[inline(never)]
fn pointwise(step: &ConvStep<'_>, x: &[u8], y: &mut [u8], w_len: usize) {
    let [m_out, oh, ow] = step.geo.out_chw;
    let hw = oh * ow;
    let x_zp = i32::from(step.x_quant.zero_point);
    let mut accs = [[0i32; ROW_CHUNK]; POINTWISE_GROUP];
    for m0 in (0..m_out).step_by(POINTWISE_GROUP) {
        let chs: [Option<Channel<'_>>; POINTWISE_GROUP] =
            core::array::from_fn(|k| (m0 + k < m_out).then(|| channel(step, m0 + k, w_len)));
        let ws = chs
            .each_ref()
            .map(|ch| ch.as_ref().map_or(&[][..], |ch| ch.w_m));
        let w_zps = chs.each_ref().map(|ch| ch.as_ref().map_or(0, |ch| ch.w_zp));
        let biases = chs.each_ref().map(|ch| {
            ch.as_ref().map_or(0, |ch| {
                ch.bias
                    .wrapping_sub(x_zp.wrapping_mul(weight_sum(ch.w_m, ch.w_zp)))
            })
        });
        let requants = chs
            .each_ref()
            .map(|ch| ch.as_ref().map(|ch| ch.requant(step)));
        for p0 in (0..hw).step_by(ROW_CHUNK) {
            let n = ROW_CHUNK.min(hw - p0);
            for (acc, b) in accs.iter_mut().zip(biases) {
                acc[..n].fill(b);
            }
            let [a, b, c, d] = &mut accs;
            let runs = [a, b, c, d].map(|acc| &mut acc[..n]);
            pointwise_rows(x, ws, w_zps, hw, p0, runs);
            for (k, (acc, requant)) in accs.iter().zip(&requants).enumerate() {
                let start = (m0 + k) * hw + p0;
                if let (Some(requant), Some(out), Some(acc)) =
                    (requant, y.get_mut(start..start + n), acc.get(..n))
                {
                    requantize_rows(acc, n, 0, requant, out, n);
                }
            }
        }
    }
}

/// Output channel `m`'s weights (`w_len` of them), weight zero point, bias in
/// accumulator units and requantisation.
fn channel<'w>(step: &ConvStep<'w>, m: usize, w_len: usize) -> Channel<'w> {
    let (w_scale, w_zp) = step.w_quant.channel(m);
    Channel {
        w_m: step.w.get(m * w_len..(m + 1) * w_len).unwrap_or(&[]),
        w_zp,
        bias: bias_acc(&step.bias, m, step.x_quant.scale * w_scale),
        scaler: channel_scaler(w_scale, step.x_quant.scale, step.y.quant.scale),
    }
}

/// One output channel's weights and requantisation.
struct Channel<'w> {
    w_m: &'w [u8],
    w_zp: i32,
    bias: i32,
    scaler: RoundingScaler,
}

impl Channel<'_> {
    /// The requantisation prepared for runs of outputs.
    fn requant(&self, step: &ConvStep<'_>) -> Requant {
        Requant::new(self.scaler, &step.y)
    }
}

#[cfg(test)]
pub(super) mod testing {
    //! Random convolutions for the paths' property tests.
    use super::*;
    use crate::model::program::{Bias, ConvGeometry, Output, Quant, WeightQuant};
    use crate::model::tensor_data::{ConstData, DataType, TensorBytes};

    fn raw(dtype: DataType, bytes: &[u8]) -> ConstData<'_> {
        ConstData {
            dtype,
            bytes: TensorBytes::Raw(bytes),
        }
    }

    /// xorshift64 draws from `seed`.
    pub fn rng(seed: u64) -> impl FnMut() -> u64 {
        let mut s = seed | 1;
        move || {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            s
        }
    }

    /// Random int8 input, weights, per-channel scales and int32 biases for a
    /// convolution of geometry `geo` (weights zero point 0).
    pub struct RandomConv {
        pub x: Vec<u8>,
        w: Vec<u8>,
        scales: Vec<u8>,
        bias: Vec<u8>,
    }

    impl RandomConv {
        pub fn new(geo: &ConvGeometry, next: &mut impl FnMut() -> u64) -> Self {
            let [c, h, w] = geo.in_chw;
            let m = geo.out_chw[0];
            let w_len = c / geo.group * geo.kernel[0] * geo.kernel[1];
            Self {
                x: (0..c * h * w).map(|_| next() as u8).collect(),
                w: (0..m * w_len).map(|_| next() as u8).collect(),
                scales: (0..m)
                    .flat_map(|_| (0.001 + (next() % 1000) as f32 * 1e-5).to_le_bytes())
                    .collect(),
                bias: (0..m)
                    .flat_map(|_| ((next() % 20001) as i32 - 10000).to_le_bytes())
                    .collect(),
            }
        }

        /// The step (no scratch), input zero point `x_zp`.
        pub fn step(&self, geo: ConvGeometry, x_zp: i8) -> ConvStep<'_> {
            ConvStep {
                x: 0,
                x_quant: Quant {
                    scale: 0.05,
                    zero_point: x_zp,
                },
                w: &self.w,
                w_quant: WeightQuant {
                    scale: raw(DataType::Float, &self.scales),
                    zero_point: None,
                    len: geo.out_chw[0],
                },
                bias: Bias::Acc(raw(DataType::Int32, &self.bias)),
                geo,
                y: Output {
                    tensor: 1,
                    quant: Quant {
                        scale: 0.1,
                        zero_point: 3,
                    },
                    clamp: (-128, 127),
                },
                scratch: None,
            }
        }
    }
}
