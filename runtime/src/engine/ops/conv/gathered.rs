//! Convolutions with several outputs per group on the Cortex-M4 path: one
//! gathered window per output pixel, dotted with the group's filters.

use super::{WINDOW_CAP, channel};
use crate::engine::kernels::dsp;
use crate::engine::kernels::generic::{requantize, weight_sum};
use crate::fixed::RoundingScaler;
use crate::model::program::{ConvGeometry, ConvStep};

/// Output channels of one group whose bias and scale [`gathered`] keeps at once.
const GATHER_CHANNELS: usize = 32;

/// Any convolution with weight zero point 0 and windows of at most
/// `WINDOW_CAP` bytes, one output pixel at a time: its window is gathered
/// into a buffer (positions in the padding hold the input zero point, as ONNX
/// pads with it), then the output channels of the group take [`dsp::dot2`]
/// (two filters per pass) of that buffer with their weights, plus the bias
/// with the input zero point folded in (`Σ (x − x_zp)·w = Σ x·w − x_zp·Σ w`,
/// exact in wrapping int32). One gather serves up to `GATHER_CHANNELS`
/// outputs (wider pointwise layers gather each pixel once per block).
#[inline(never)]
pub(super) fn gathered(step: &ConvStep<'_>, x: &[u8], y: &mut [u8]) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::ops::conv::run;
    use crate::engine::ops::conv::testing::{RandomConv, rng};
    use proptest::prelude::*;

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
}
