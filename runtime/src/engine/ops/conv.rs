//! Quantised 2-D convolution (regular, grouped and depthwise), NCHW.

use crate::engine::kernels::dsp;
use crate::engine::kernels::generic::{
    ROW_CHUNK, bias_acc, channel_scaler, conv_row, pointwise_row, requantize, weight_sum,
};
use crate::fixed::RoundingScaler;
use crate::model::program::{ConvGeometry, ConvStep};

/// Most bytes of a zero-point-padded input plane [`depthwise_plane`] takes.
const PLANE_CAP: usize = 256;
/// Most accumulators (`OH × padded width`) [`depthwise_plane`] takes.
const PLANE_ACC_CAP: usize = 128;
/// Whether the DSP-extension kernels ([`dsp`]) run the layers they cover
/// (Cortex-M4/M7; elsewhere the generic loops are faster than their portable
/// stand-ins).
const DSP: bool = cfg!(matpac_dsp);
/// Most bytes of one output's window (`C/group · kH · kW`) [`gathered`] takes.
const WINDOW_CAP: usize = 128;
/// Output channels of one group whose bias and scale [`gathered`] keeps at once.
const GATHER_CHANNELS: usize = 16;

/// Runs `step`: `x` is `[C, H, W]` int8, `y` is `[M, OH, OW]` int8.
pub fn run(step: &ConvStep<'_>, x: &[u8], y: &mut [u8]) {
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
    // Depthwise, stride 1, small planes: whole-plane taps (see `depthwise_plane`).
    let [h, w] = [geo.in_chw[1], geo.in_chw[2]];
    let padded = [h + geo.pads[0] + geo.pads[2], w + geo.pads[1] + geo.pads[3]];
    let whole_plane = !pointwise
        && cpg == 1
        && mpg == 1
        && geo.stride == [1, 1]
        && geo.dilation == [1, 1]
        && padded[0] * padded[1] + kw <= PLANE_CAP
        && oh * padded[1] <= PLANE_ACC_CAP
        && oh + kh == padded[0] + 1
        && ow + kw == padded[1] + 1;
    let symmetric = (0..m_out).all(|m| step.w_quant.channel(m).1 == 0);
    // Depthwise layers (one output per input channel) would gather a window
    // per output for a single dot: the plane and row loops below are faster.
    if DSP && !pointwise && symmetric && mpg > 1 && w_len <= WINDOW_CAP {
        gathered(step, x, y);
        return;
    }
    if whole_plane {
        depthwise_planes(step, x, y, padded);
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
/// [`WINDOW_CAP`] bytes, one output pixel at a time: its window is gathered
/// into a buffer (positions in the padding hold the input zero point, as ONNX
/// pads with it), then each output channel of the group is one [`dsp::dot`]
/// of that buffer with the channel's weights, plus the bias with the input
/// zero point folded in (`Σ (x − x_zp)·w = Σ x·w − x_zp·Σ w`, exact in
/// wrapping int32). One gather serves up to [`GATHER_CHANNELS`] outputs
/// (the stem's 16 channels); a depthwise layer gathers once per output.
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
                for (k, m) in ms.clone().enumerate() {
                    let w_m = step.w.get(m * w_len..(m + 1) * w_len).unwrap_or(&[]);
                    let acc = folded[k].wrapping_add(dsp::dot(window, w_m));
                    if let Some(out) = y.get_mut((m * oh + oy) * ow + ox) {
                        *out = requantize(acc, scalers[k], &step.y);
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

/// Every channel of a stride-1 depthwise convolution with small planes,
/// through [`depthwise_plane`] with one set of scratch buffers. Kept out of
/// [`run`] so that its buffers do not change how the other layers' loops are
/// compiled (the stem ran 12 % slower on Cortex-M4 when they sat in `run`).
#[inline(never)]
fn depthwise_planes(step: &ConvStep<'_>, x: &[u8], y: &mut [u8], padded: [usize; 2]) {
    let [m_out, oh, ow] = step.geo.out_chw;
    let [_, h, w] = step.geo.in_chw;
    let taps = step.geo.kernel[0] * step.geo.kernel[1];
    let mut xp = [0u8; PLANE_CAP];
    let mut acc = [0i32; PLANE_ACC_CAP];
    for m in 0..m_out {
        let ch = channel(step, m, taps);
        let out = y.get_mut(m * oh * ow..(m + 1) * oh * ow).unwrap_or(&mut []);
        let plane = x.get(m * h * w..(m + 1) * h * w).unwrap_or(&[]);
        let scratch = Scratch {
            xp: &mut xp,
            acc: &mut acc,
        };
        depthwise_plane(step, plane, padded, &ch, scratch, out);
    }
}

/// Scratch buffers of [`depthwise_plane`].
struct Scratch<'s> {
    /// Padded input plane.
    xp: &'s mut [u8],
    /// Accumulator plane.
    acc: &'s mut [i32],
}

/// One output channel's weights and requantisation.
struct Channel<'w> {
    w_m: &'w [u8],
    w_zp: i32,
    bias: i32,
    scaler: RoundingScaler,
}

/// One output channel of a stride-1 depthwise convolution into `out`
/// (`[OH · OW]`). The input `plane` (`[H, W]`) is copied into a buffer of
/// `padded` size filled with the input zero point (ONNX pads with it); then
/// output `(oy, ox)` sits at `oy · Wp + ox` of a `[OH, Wp]` accumulator plane,
/// and each tap `(ky, kx)` adds `w · xp[ky · Wp + kx + j]` for every `j` in one
/// long contiguous loop (the `Wp − OW` columns past each row's end are computed
/// and dropped). The input zero point is folded into the bias, which the
/// zero-point padding keeps exact.
fn depthwise_plane(
    step: &ConvStep<'_>,
    plane: &[u8],
    padded: [usize; 2],
    ch: &Channel<'_>,
    scratch: Scratch<'_>,
    out: &mut [u8],
) {
    let geo = &step.geo;
    let [_, h, w] = geo.in_chw;
    let [_, oh, ow] = geo.out_chw;
    let [kh, kw] = geo.kernel;
    let wp = padded[1];
    let x_zp = step.x_quant.zero_point;
    // The last tap reads up to (kh − 1)·Wp + kw − 1 + OH·Wp = Hp·Wp + kw − 2:
    // kw − 1 bytes past the plane, which only feed the dropped columns.
    let xp = scratch.xp.get_mut(..padded[0] * wp + kw).unwrap_or(&mut []);
    xp.fill(x_zp as u8);
    for (iy, row) in plane.chunks(w.max(1)).take(h).enumerate() {
        let start = (iy + geo.pads[0]) * wp + geo.pads[1];
        if let Some(dst) = xp.get_mut(start..start + row.len()) {
            dst.copy_from_slice(row);
        }
    }
    let folded = ch
        .bias
        .wrapping_sub(i32::from(x_zp).wrapping_mul(weight_sum(ch.w_m, ch.w_zp)));
    let n = oh * wp;
    let acc = scratch.acc.get_mut(..n).unwrap_or(&mut []);
    acc.fill(folded);
    for (k, &wv) in ch.w_m.iter().enumerate().take(kh * kw) {
        let wv = i32::from(wv as i8) - ch.w_zp;
        if wv == 0 {
            continue;
        }
        let start = (k / kw) * wp + k % kw;
        let xs = xp.get(start..start + n).unwrap_or(&[]);
        for (a, &xv) in acc.iter_mut().zip(xs) {
            *a = a.wrapping_add(i32::from(xv as i8).wrapping_mul(wv));
        }
    }
    for (row, accs) in out.chunks_mut(ow.max(1)).zip(acc.chunks(wp.max(1))) {
        for (o, &a) in row.iter_mut().zip(accs) {
            *o = requantize(a, ch.scaler, &step.y);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::onnx::{DataType, TensorBytes};
    use crate::model::program::{Bias, ConstData, Output, Quant, WeightQuant};
    use proptest::prelude::*;

    fn raw(dtype: DataType, bytes: &[u8]) -> ConstData<'_> {
        ConstData {
            dtype,
            bytes: TensorBytes::Raw(bytes),
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
            let mut s = seed | 1;
            let mut next = move || { s ^= s << 13; s ^= s >> 7; s ^= s << 17; s };
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
            let x: Vec<u8> = (0..c * h * w).map(|_| next() as u8).collect();
            let wts: Vec<u8> = (0..m * cpg * k * k).map(|_| next() as u8).collect();
            let scales: Vec<u8> = (0..m)
                .flat_map(|_| (0.001 + (next() % 1000) as f32 * 1e-5).to_le_bytes())
                .collect();
            let bias: Vec<u8> = (0..m)
                .flat_map(|_| ((next() % 20001) as i32 - 10000).to_le_bytes())
                .collect();
            let step = ConvStep {
                x: 0,
                x_quant: Quant { scale: 0.05, zero_point: x_zp },
                w: &wts,
                w_quant: WeightQuant { scale: raw(DataType::Float, &scales), zero_point: None, len: m },
                bias: Bias::Acc(raw(DataType::Int32, &bias)),
                geo,
                y: Output { tensor: 1, quant: Quant { scale: 0.1, zero_point: 3 }, clamp: (-128, 127) },
            };
            let n = out.iter().product();
            let (mut want, mut got) = (vec![0u8; n], vec![1u8; n]);
            run(&step, &x, &mut want); // off Cortex-M4: the generic loops
            gathered(&step, &x, &mut got);
            prop_assert_eq!(got, want);
        }
    }
}
