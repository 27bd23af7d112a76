//! Quantised 2-D convolution (regular, grouped and depthwise), NCHW.

use crate::engine::kernels::dsp;
use crate::engine::kernels::generic::{
    self, ROW_CHUNK, bias_acc, channel_scaler, conv_row, pointwise_row, requantize, weight_sum,
};
use crate::fixed::RoundingScaler;
use crate::model::program::{ConvGeometry, ConvStep, PLANE_TAPS, PhasePlanes};

/// Positions [`planar`] sums at once (a stack buffer).
const TAP_ROW: usize = 64;
/// Whether the DSP-extension kernels ([`dsp`]) run the layers they cover
/// (Cortex-M4/M7; elsewhere the generic loops are faster than their portable
/// stand-ins).
const DSP: bool = cfg!(matpac_dsp);
/// Most bytes of one output's window (`C/group · kH · kW`) [`gathered`] takes.
const WINDOW_CAP: usize = 128;
/// Output channels of one group whose bias and scale [`gathered`] keeps at once.
const GATHER_CHANNELS: usize = 32;
/// Fewest input channels for which a pointwise layer takes [`gathered`].
const GATHER_POINTWISE_FROM: usize = 128;

/// Runs `step`: `x` is `[C, H, W]` int8, `y` is `[M, OH, OW]` int8;
/// `planes` is the step's arena scratch (`step.planes`, else empty).
pub fn run(step: &ConvStep<'_>, x: &[u8], y: &mut [u8], planes: &mut [u8]) {
    let geo = &step.geo;
    let [m_out, oh, ow] = geo.out_chw;
    let [_, kh, kw] = [0, geo.kernel[0], geo.kernel[1]];
    let group = geo.group.max(1);
    let cpg = geo.in_chw[0] / group;
    let mpg = (m_out / group).max(1);
    let w_len = cpg * kh * kw;
    let x_zp = i32::from(step.x_quant.zero_point);
    // 1×1, stride 1, unpadded, one group: a matrix product over the H·W pixels
    // of each plane, run as one long row (most of a DS-CNN's MACs).
    let pointwise = geo.kernel == [1, 1]
        && geo.stride == [1, 1]
        && geo.dilation == [1, 1]
        && geo.pads == [0; 4]
        && group == 1
        && [oh, ow] == [geo.in_chw[1], geo.in_chw[2]];
    let (rows, cols) = if pointwise { (1, oh * ow) } else { (oh, ow) };
    if let Some(pp) = PhasePlanes::of(geo)
        && step.planes.is_some()
        && planes.len() >= pp.len()
    {
        planar(step, &pp, x, y, planes);
        return;
    }
    let symmetric = || (0..m_out).all(|m| step.w_quant.channel(m).1 == 0);
    // (Depthwise layers would gather a window per output for a single dot:
    // 42 instructions per MAC on Cortex-M4, against 16 through `planar`.)
    // Pointwise layers only from 128 input channels: per output, the
    // gathered path's overhead outweighs its cheaper MACs below that (Cortex-M4,
    // instructions per MAC gathered vs row path: 16 channels 8.9 vs 5.9,
    // 32: 5.7 vs 4.9, 64: 4.0 vs 4.0, 128: 3.1 vs 3.5).
    let gather = !pointwise || w_len >= GATHER_POINTWISE_FROM;
    if DSP && gather && mpg > 1 && w_len <= WINDOW_CAP && symmetric() {
        gathered(step, x, y);
        return;
    }
    for m in 0..m_out {
        let Channel {
            w_m,
            w_zp,
            bias,
            scaler,
        } = channel(step, m, w_len);
        let c0 = (m / mpg) * cpg;
        let bias = if pointwise {
            bias.wrapping_sub(x_zp.wrapping_mul(weight_sum(w_m, w_zp)))
        } else {
            bias
        };
        for oy in 0..rows {
            for ox0 in (0..cols).step_by(ROW_CHUNK) {
                let n = ROW_CHUNK.min(cols - ox0);
                let mut acc = [bias; ROW_CHUNK];
                let acc = &mut acc[..n];
                if pointwise && DSP && w_zp == 0 {
                    dsp::pointwise_row(x, w_m, cols, ox0, acc);
                } else if pointwise {
                    pointwise_row(x, w_m, w_zp, cols, ox0, acc);
                } else {
                    conv_row(x, x_zp, w_m, w_zp, geo, c0, oy, ox0, acc);
                }
                let start = (m * rows + oy) * cols + ox0;
                for (out, &a) in y
                    .get_mut(start..start + n)
                    .unwrap_or(&mut [])
                    .iter_mut()
                    .zip(acc.iter())
                {
                    *out = requantize(a, scaler, &step.y);
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

/// Any convolution with weight zero point 0 and windows of at most
/// `WINDOW_CAP` bytes, one output pixel at a time: its window is gathered
/// into a buffer (positions in the padding hold the input zero point, as ONNX
/// pads with it), then the output channels of the group take [`dsp::dot2`]
/// (two filters per pass) of that buffer with their weights, plus the bias
/// with the input zero point folded in (`Σ (x − x_zp)·w = Σ x·w − x_zp·Σ w`,
/// exact in wrapping int32). One gather serves up to `GATHER_CHANNELS`
/// outputs (wider pointwise layers gather each pixel once per block).
#[inline(never)]
pub fn gathered(step: &ConvStep<'_>, x: &[u8], y: &mut [u8]) {
    let geo = &step.geo;
    let [m_out, oh, ow] = geo.out_chw;
    let [kh, kw] = geo.kernel;
    let group = geo.group.max(1);
    let cpg = geo.in_chw[0] / group;
    let mpg = (m_out / group).max(1);
    let w_len = cpg * kh * kw;
    let x_zp = step.x_quant.zero_point;
    let mut window = [0u8; WINDOW_CAP];
    let window = window.get_mut(..w_len).unwrap_or(&mut []);
    let mut folded = [0i32; GATHER_CHANNELS];
    let mut scalers = [RoundingScaler::new(0.0); GATHER_CHANNELS];
    let mut accs = [0i32; GATHER_CHANNELS];
    // Blocks of output channels that never straddle two groups.
    let blocks = (0..group).flat_map(|g| {
        (g * mpg..(g + 1) * mpg)
            .step_by(GATHER_CHANNELS)
            .map(move |m0| m0..(m0 + GATHER_CHANNELS).min((g + 1) * mpg))
    });
    for ms in blocks {
        let m0 = ms.start;
        for (m, (f, s)) in ms.clone().zip(folded.iter_mut().zip(scalers.iter_mut())) {
            let ch = channel(step, m, w_len);
            *f = ch
                .bias
                .wrapping_sub(i32::from(x_zp).wrapping_mul(weight_sum(ch.w_m, 0)));
            *s = ch.scaler;
        }
        let c0 = (m0 / mpg) * cpg;
        for oy in 0..oh {
            for ox in 0..ow {
                gather_window(x, x_zp as u8, geo, c0, [oy, ox], window);
                let filter = |m: usize| step.w.get(m * w_len..(m + 1) * w_len).unwrap_or(&[]);
                // Filters in pairs (one load of the window for two dot
                // products), then one requantisation loop.
                let accs = &mut accs[..ms.len()];
                let mut pairs = accs.chunks_exact_mut(2);
                let mut m = m0;
                for pair in &mut pairs {
                    pair.copy_from_slice(&dsp::dot2(window, filter(m), filter(m + 1)));
                    m += 2;
                }
                if let [a] = pairs.into_remainder() {
                    *a = dsp::dot(window, filter(m));
                }
                for (k, &acc) in accs.iter().enumerate() {
                    if let Some(out) = y.get_mut(((m0 + k) * oh + oy) * ow + ox) {
                        *out = requantize(folded[k].wrapping_add(acc), scalers[k], &step.y);
                    }
                }
            }
        }
    }
}

/// Copies the window of output pixel `[oy, ox]` over input channels `c0 ..
/// c0 + C/group` into `window` (`[C/group, kH, kW]`), `zp` where it lies in
/// the padding.
fn gather_window(
    x: &[u8],
    zp: u8,
    geo: &ConvGeometry,
    c0: usize,
    [oy, ox]: [usize; 2],
    window: &mut [u8],
) {
    let [_, h, w] = geo.in_chw;
    let [kh, kw] = geo.kernel;
    let [sy, sx] = geo.stride;
    let [dy, dx] = geo.dilation;
    let cpg = geo.in_chw[0] / geo.group.max(1);
    if [kh, kw] == [1, 1] && geo.stride == [1, 1] && geo.pads == [0; 4] {
        // Pointwise: one byte from each input channel's plane.
        let plane = (h * w).max(1);
        let column = x.iter().skip(c0 * plane + oy * w + ox).step_by(plane);
        for (d, &v) in window.iter_mut().zip(column) {
            *d = v;
        }
        return;
    }
    let mut rows = window.chunks_exact_mut(kw.max(1));
    for c in c0..c0 + cpg {
        for ky in 0..kh {
            let Some(dst) = rows.next() else { return };
            let iy = (oy * sy + ky * dy).wrapping_sub(geo.pads[0]);
            let row = if iy < h {
                x.get((c * h + iy) * w..(c * h + iy + 1) * w).unwrap_or(&[])
            } else {
                &[]
            };
            let ix0 = (ox * sx).wrapping_sub(geo.pads[1]);
            for (kx, d) in dst.iter_mut().enumerate() {
                *d = row.get(ix0.wrapping_add(kx * dx)).copied().unwrap_or(zp);
            }
        }
    }
}

/// One output channel's weights and requantisation.
struct Channel<'w> {
    w_m: &'w [u8],
    w_zp: i32,
    bias: i32,
    scaler: RoundingScaler,
}

/// A convolution with one input channel per group (depthwise layers, a
/// one-channel stem) through its [`PhasePlanes`] (`planes`: their bytes, from
/// the arena): per input channel and band of output rows, the input rows are
/// copied into the zero-point-padded phase planes (ONNX pads with the input
/// zero point; the input zero point is folded into the bias, which the
/// padding keeps exact), then every output channel of the group sums its taps
/// at fixed offsets with [`generic::taps_row`] (or its DSP version) over the
/// `[rows, wq]` grid of phase-plane rows, in runs of [`TAP_ROW`] that cross
/// row ends (one long run instead of many short rows: the student's planes
/// are 5–20 outputs wide); the `wq − OW` positions past each row's end are
/// summed and dropped.
#[inline(never)]
fn planar(step: &ConvStep<'_>, pp: &PhasePlanes, x: &[u8], y: &mut [u8], planes: &mut [u8]) {
    let geo = &step.geo;
    let [channels, h, w] = geo.in_chw;
    let [m_out, oh, ow] = geo.out_chw;
    let [kh, kw] = geo.kernel;
    let [sy, sx] = geo.stride;
    let mpg = m_out / channels.max(1);
    let taps = kh * kw;
    let plane_len = pp.hq * pp.wq;
    let x_zp = step.x_quant.zero_point;
    let planes = planes.get_mut(..pp.len()).unwrap_or(&mut []);
    // Tap (ky, kx): phase (ky mod sy, kx mod sx), then row ky / sy, column kx / sx.
    let mut offsets = [0usize; PLANE_TAPS];
    for (k, o) in offsets.iter_mut().enumerate().take(taps) {
        let (ky, kx) = (k / kw.max(1), k % kw.max(1));
        *o = ((ky % sy) * sx + kx % sx) * plane_len + (ky / sy) * pp.wq + kx / sx;
    }
    let offsets = offsets.get(..taps).unwrap_or(&[]);
    let mut sums = [0i32; TAP_ROW];
    for c in 0..channels {
        let plane = x.get(c * h * w..(c + 1) * h * w).unwrap_or(&[]);
        for oy0 in (0..oh).step_by(pp.rows.max(1)) {
            let rows = pp.rows.min(oh - oy0);
            fill_planes(planes, plane, geo, pp, oy0, x_zp as u8);
            for m in c * mpg..(c + 1) * mpg {
                let ch = channel(step, m, taps);
                let folded = ch
                    .bias
                    .wrapping_sub(i32::from(x_zp).wrapping_mul(weight_sum(ch.w_m, ch.w_zp)));
                let start = (m * oh + oy0) * ow;
                let out = y.get_mut(start..start + rows * ow).unwrap_or(&mut []);
                let mut outputs = out.iter_mut();
                let (mut ox, positions) = (0usize, rows * pp.wq);
                for p0 in (0..positions).step_by(TAP_ROW) {
                    let sums = &mut sums[..TAP_ROW.min(positions - p0)];
                    if DSP && ch.w_zp == 0 {
                        dsp::taps_row(planes, offsets, ch.w_m, p0, sums);
                    } else {
                        generic::taps_row(planes, offsets, ch.w_m, ch.w_zp, p0, sums);
                    }
                    for &s in sums.iter() {
                        if ox < ow
                            && let Some(o) = outputs.next()
                        {
                            *o = requantize(folded.wrapping_add(s), ch.scaler, &step.y);
                        }
                        ox += 1;
                        if ox == pp.wq {
                            ox = 0;
                        }
                    }
                }
            }
        }
    }
}

/// Writes the rows of one `[H, W]` input `plane` that the band of output rows
/// from `oy0` reads into the phase planes `planes` (see [`PhasePlanes`]), the
/// padding and the planes' rounding slack filled with the input zero point `zp`.
fn fill_planes(
    planes: &mut [u8],
    plane: &[u8],
    geo: &ConvGeometry,
    pp: &PhasePlanes,
    oy0: usize,
    zp: u8,
) {
    planes.fill(zp);
    let [_, h, w] = geo.in_chw;
    let [sy, sx] = geo.stride;
    let plane_len = pp.hq * pp.wq;
    // Band row `yb` is padded row `oy0·sy + yb`, input row `oy0·sy + yb − pad`.
    for yb in 0..pp.hq * sy {
        let iy = (oy0 * sy + yb).wrapping_sub(geo.pads[0]);
        if iy >= h {
            continue; // padding rows (also "negative", wrapped ones) keep zp
        }
        let Some(row) = plane.get(iy * w..(iy + 1) * w) else {
            continue;
        };
        let row_base = (yb % sy) * sx * plane_len + (yb / sy) * pp.wq;
        if sx == 1 {
            let start = row_base + geo.pads[1];
            if let Some(dst) = planes.get_mut(start..start + row.len()) {
                dst.copy_from_slice(row);
            }
        } else {
            for (ix, &v) in row.iter().enumerate() {
                let xp = ix + geo.pads[1];
                if let Some(d) = planes.get_mut(row_base + (xp % sx) * plane_len + xp / sx) {
                    *d = v;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::onnx::{DataType, TensorBytes};
    use crate::model::program::{Bias, ConstData, Output, PLANE_BYTES, Quant, WeightQuant};
    use proptest::prelude::*;

    fn raw(dtype: DataType, bytes: &[u8]) -> ConstData<'_> {
        ConstData {
            dtype,
            bytes: TensorBytes::Raw(bytes),
        }
    }

    /// xorshift64 draws from `seed`.
    fn rng(seed: u64) -> impl FnMut() -> u64 {
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
    struct RandomConv {
        x: Vec<u8>,
        w: Vec<u8>,
        scales: Vec<u8>,
        bias: Vec<u8>,
    }

    impl RandomConv {
        fn new(geo: &ConvGeometry, next: &mut impl FnMut() -> u64) -> Self {
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

        /// The step (no phase planes), input zero point `x_zp`.
        fn step(&self, geo: ConvGeometry, x_zp: i8) -> ConvStep<'_> {
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
                planes: None,
            }
        }
    }

    proptest! {
        /// The gathered-window path (the one Cortex-M4 runs for convolutions
        /// with several outputs per group) equals the generic row path
        /// byte for byte on random geometry, weights, biases and scales.
        #[test]
        fn gathered_equals_the_row_path(
            group in 1usize..3, cpg in 1usize..4, mpg in 2usize..20,
            h in 1usize..9, w in 1usize..12, k in 1usize..4, sy in 1usize..3, sx in 1usize..5,
            pad in 0usize..3, x_zp in -20i8..20, seed in any::<u64>(),
        ) {
            let span = k;
            prop_assume!(h + 2 * pad >= span && w + 2 * pad >= span);
            let mut next = rng(seed);
            let (c, m) = (group * cpg, group * mpg);
            let out = [m, (h + 2 * pad - span) / sy + 1, (w + 2 * pad - span) / sx + 1];
            let geo = ConvGeometry {
                in_chw: [c, h, w],
                out_chw: out,
                kernel: [k, k],
                stride: [sy, sx],
                dilation: [1, 1],
                pads: [pad; 4],
                group,
            };
            let conv = RandomConv::new(&geo, &mut next);
            let step = conv.step(geo, x_zp);
            let n = out.iter().product();
            let (mut want, mut got) = (vec![0u8; n], vec![1u8; n]);
            run(&step, &conv.x, &mut want, &mut []); // off Cortex-M4: the generic loops
            gathered(&step, &conv.x, &mut got);
            prop_assert_eq!(got, want);
        }
    }

    proptest! {
        /// Convolutions with one input channel per group through their phase
        /// planes (bands of rows when the planes outgrow `PLANE_BYTES`) equal
        /// the generic row path byte for byte.
        #[test]
        fn planar_equals_the_row_path(
            group in 1usize..4, mpg in 1usize..4, h in 1usize..64, w in 1usize..48,
            kh in 1usize..6, kw in 1usize..6, sy in 1usize..3, sx in 1usize..5,
            pt in 0usize..3, pl in 0usize..3, x_zp in -20i8..20, seed in any::<u64>(),
        ) {
            prop_assume!(h + 2 * pt >= kh && w + 2 * pl >= kw);
            let mut next = rng(seed);
            let m = group * mpg;
            let out = [m, (h + 2 * pt - kh) / sy + 1, (w + 2 * pl - kw) / sx + 1];
            let geo = ConvGeometry {
                in_chw: [group, h, w],
                out_chw: out,
                kernel: [kh, kw],
                stride: [sy, sx],
                dilation: [1, 1],
                pads: [pt, pl, pt, pl],
                group,
            };
            let pp = PhasePlanes::of(&geo).expect("one input channel per group");
            prop_assert!(pp.len() <= PLANE_BYTES.max(pp.phases * (kh.div_ceil(sy)) * pp.wq + pp.wq));
            let conv = RandomConv::new(&geo, &mut next);
            let mut step = conv.step(geo, x_zp);
            let n = out.iter().product();
            let mut want = vec![0u8; n];
            run(&step, &conv.x, &mut want, &mut []);
            step.planes = Some(2);
            let mut scratch = vec![0xAAu8; pp.len()];
            let mut got = vec![1u8; n];
            run(&step, &conv.x, &mut got, &mut scratch);
            prop_assert_eq!(got, want);
        }
    }
}
