//! Convolutions with at least two outputs per group on the Cortex-M4 path:
//! each output pixel's input window packed into [`PixelPairs`] (channels
//! last, pixels in pairs; for pointwise layers the window is the pixel's
//! channels), then two pixels × two filters at a time ([`dsp::dot_pair_run`]: 16 MACs
//! from four word loads, eight `SXTB16` and eight `SMLAD`), as CMSIS-NN's
//! kernels do on channels-last data.

use super::channel;
use crate::engine::kernels::dsp;
use crate::engine::kernels::layout::PixelPairs;
use crate::model::program::{ConvGeometry, ConvStep};

/// Pixels whose accumulators [`run`] keeps at once (per filter of the pair;
/// stack buffers), before requantising them as one run. Even.
const RUN: usize = 32;

/// Runs `step` (weight zero point 0) with `scratch` holding at least
/// `pairs.len()` bytes: per group and band of `pairs.pixels` output pixels,
/// the band's windows are packed once, then every filter pair of the group is
/// packed and dotted with every pixel pair, and each filter's run of [`RUN`]
/// accumulators is requantised at once. The input zero point is folded into
/// the bias (`Σ (x − x_zp)·w = Σ x·w − x_zp·Σ w`, exact in wrapping int32):
/// window positions in the padding hold `x_zp` (ONNX pads with it), and the
/// packing's own padding meets zero filter bytes.
pub(super) fn run(
    step: &ConvStep<'_>,
    pairs: &PixelPairs,
    x: &[u8],
    y: &mut [u8],
    scratch: &mut [u8],
) {
    let geo = &step.geo;
    let [m_out, oh, ow] = geo.out_chw;
    let group = geo.group.max(1);
    let (cpg, mpg) = (geo.in_chw[0] / group, m_out / group);
    let w_len = cpg * geo.kernel[0] * geo.kernel[1];
    let ohw = oh * ow;
    let block = 2 * pairs.window; // bytes per pixel pair and per filter pair
    let Some((packed, filters)) = scratch.split_at_mut_checked(pairs.pixels * pairs.window) else {
        return;
    };
    let Some(filters) = filters.get_mut(..block) else {
        return;
    };
    let x_zp = step.x_quant.zero_point;
    let mut accs = [[0i32; RUN]; 2];
    for g in 0..group {
        for p0 in (0..ohw).step_by(pairs.pixels.max(2)) {
            let n = pairs.pixels.min(ohw - p0);
            let band = packed.get_mut(..n.div_ceil(2) * block).unwrap_or(&mut []);
            if geo.is_pointwise() {
                pack_pixels(x, geo.in_chw[0], ohw, p0, pairs.window, band);
            } else {
                pack_windows(x, geo, g * cpg, p0, pairs.window, x_zp as u8, band);
            }
            let end = (g + 1) * mpg;
            for m0 in (g * mpg..end).step_by(2) {
                let chs = [m0, m0 + 1].map(|m| (m < end).then(|| channel(step, m, w_len)));
                let [w0, w1] = chs
                    .each_ref()
                    .map(|ch| ch.as_ref().map_or(&[][..], |ch| ch.w_m));
                let sums = pack_filters(w0, w1, filters);
                let requants = chs
                    .each_ref()
                    .map(|ch| ch.as_ref().map(|ch| ch.requant(step)));
                let biases = [0, 1].map(|k| {
                    chs[k].as_ref().map_or(0, |ch| {
                        ch.bias.wrapping_sub(i32::from(x_zp).wrapping_mul(sums[k]))
                    })
                });
                for r0 in (0..n).step_by(RUN) {
                    let len = RUN.min(n - r0);
                    // RUN is even: the run starts on a pixel pair.
                    let run = band
                        .get(r0 / 2 * block..(r0 + len).div_ceil(2) * block)
                        .unwrap_or(&[]);
                    let [acc0, acc1] = &mut accs;
                    dsp::dot_pair_run(run, filters, acc0, acc1);
                    for (k, (requant, bias)) in requants.iter().zip(biases).enumerate() {
                        let start = (m0 + k) * ohw + p0 + r0;
                        if let (Some(requant), Some(out), Some(acc)) =
                            (requant, y.get_mut(start..start + len), accs.get(k))
                        {
                            dsp::requantize_rows(acc, len, bias, requant, out, len);
                        }
                    }
                }
            }
        }
    }
}

/// Where byte `k` of pixel `j` (0 or 1) of a pair goes in the pair's
/// `2 · window` bytes: block `k / 4` of eight bytes, then `4 · j + k % 4`.
#[inline(always)]
fn slot(k: usize, j: usize) -> usize {
    2 * k - k % 4 + 4 * j
}

/// Packs the pixels `p0 ..` of a pointwise layer's `[c, hw]` input planes
/// into `band` (pixel pairs of `2 · window` bytes, see [`slot`]), four
/// channels of one pixel per word. Bytes past channel `c` and a missing last
/// pixel are left as they are (zero filter bytes meet them, and that pixel's
/// outputs are dropped).
fn pack_pixels(x: &[u8], c: usize, hw: usize, p0: usize, window: usize, band: &mut [u8]) {
    let n = (band.len() / (2 * window).max(1) * 2).min(hw.saturating_sub(p0));
    let row = |k: usize| x.get(k * hw + p0..k * hw + p0 + n).unwrap_or(&[]);
    for g in 0..c / 4 {
        let [a, b, c, e] = [0, 1, 2, 3].map(|k| row(4 * g + k).chunks_exact(2));
        let at = 8 * g;
        let pairs = band
            .chunks_exact_mut(2 * window)
            .zip(a.zip(b).zip(c.zip(e)));
        for (dst, ((a, b), (c, e))) in pairs {
            if let Some(d) = dst.get_mut(at..at + 8) {
                d.copy_from_slice(&[a[0], b[0], c[0], e[0], a[1], b[1], c[1], e[1]]);
            }
        }
    }
    // An odd last pixel, and the channels past the last whole group of four.
    let last_pair = n / 2 * 2;
    for k in 0..c {
        let tail = if k < c / 4 * 4 { last_pair } else { 0 };
        let at = slot(k, 0);
        let rows = row(k).get(tail..).unwrap_or(&[]).chunks(2);
        let dsts = band
            .get_mut(tail * window..)
            .unwrap_or(&mut [])
            .chunks_exact_mut(2 * window);
        for (pair, dst) in rows.zip(dsts) {
            for (j, &v) in pair.iter().enumerate() {
                if let Some(d) = dst.get_mut(at + 4 * j) {
                    *d = v;
                }
            }
        }
    }
}

/// Packs the input windows (channels `c0 .. c0 + C/group`, `[C/group, kH,
/// kW]` like the weights) of output pixels `p0 ..` into `band` (pixel pairs
/// of `2 · window` bytes, see [`slot`]); positions in the padding hold `zp`.
fn pack_windows(
    x: &[u8],
    geo: &ConvGeometry,
    c0: usize,
    p0: usize,
    window: usize,
    zp: u8,
    band: &mut [u8],
) {
    let [c, h, w] = geo.in_chw;
    let [_, oh, ow] = geo.out_chw;
    let [kh, kw] = geo.kernel;
    let [sy, sx] = geo.stride;
    let [dy, dx] = geo.dilation;
    let cpg = c / geo.group.max(1);
    let n = (band.len() / (2 * window).max(1) * 2).min((oh * ow).saturating_sub(p0));
    for i in 0..n {
        let (oy, ox) = ((p0 + i) / ow.max(1), (p0 + i) % ow.max(1));
        let Some(dst) = band.get_mut(i / 2 * 2 * window..(i / 2 + 1) * 2 * window) else {
            return;
        };
        let ix0 = (ox * sx).wrapping_sub(geo.pads[1]);
        let mut k = 0;
        for cc in c0..c0 + cpg {
            for ky in 0..kh {
                let iy = (oy * sy + ky * dy).wrapping_sub(geo.pads[0]);
                let row = match iy < h {
                    true => x
                        .get((cc * h + iy) * w..(cc * h + iy + 1) * w)
                        .unwrap_or(&[]),
                    false => &[],
                };
                for kx in 0..kw {
                    let v = row.get(ix0.wrapping_add(kx * dx)).copied().unwrap_or(zp);
                    if let Some(d) = dst.get_mut(slot(k, i % 2)) {
                        *d = v;
                    }
                    k += 1;
                }
            }
        }
    }
}

/// Packs the filter pair `w0`, `w1` (empty: zeros) like one pixel pair,
/// four bytes at a time, zeros in the padding; returns each filter's sum
/// (`Σ w`, what the input zero point multiplies).
fn pack_filters(w0: &[u8], w1: &[u8], filters: &mut [u8]) -> [i32; 2] {
    filters.fill(0);
    let mut sums = [0i32; 2];
    for (j, w) in [w0, w1].into_iter().enumerate() {
        let dst = filters.get_mut(4 * j..).unwrap_or(&mut []);
        let mut words = w.chunks_exact(4);
        let mut blocks = dst.chunks_mut(8);
        let mut sum = 0i32;
        // Words first: `zip` stops on them without taking the next block.
        for (src, d) in (&mut words).zip(&mut blocks) {
            if let (Some(d), &[a, b, c, e]) = (d.get_mut(..4), src) {
                d.copy_from_slice(&[a, b, c, e]);
                sum = sum.wrapping_add(
                    i32::from(a as i8)
                        + i32::from(b as i8)
                        + i32::from(c as i8)
                        + i32::from(e as i8),
                );
            }
        }
        if let Some(d) = blocks.next() {
            for (d, &v) in d.iter_mut().zip(words.remainder()) {
                *d = v;
                sum = sum.wrapping_add(i32::from(v as i8));
            }
        }
        if let Some(s) = sums.get_mut(j) {
            *s = sum;
        }
    }
    sums
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::ops::conv::run as run_conv;
    use crate::engine::ops::conv::testing::{RandomConv, rng};
    use proptest::prelude::*;

    proptest! {
        /// Convolutions through packed windows (bands of `pixels` output
        /// pixels) equal the generic row path byte for byte on random
        /// geometry, groups, strides, dilations, padding and zero points.
        #[test]
        fn windows_equal_the_row_path(
            group in 1usize..3, cpg in 1usize..4, mpg in 2usize..7,
            h in 1usize..9, w in 1usize..12, kh in 1usize..4, kw in 1usize..4,
            sy in 1usize..3, sx in 1usize..4, dil in 1usize..3, pad in 0usize..3,
            band_pairs in 1usize..5, x_zp in -20i8..20, seed in any::<u64>(),
        ) {
            let (span_h, span_w) = ((kh - 1) * dil + 1, (kw - 1) * dil + 1);
            prop_assume!(h + 2 * pad >= span_h && w + 2 * pad >= span_w);
            let mut next = rng(seed);
            let (c, m) = (group * cpg, group * mpg);
            let out = [m, (h + 2 * pad - span_h) / sy + 1, (w + 2 * pad - span_w) / sx + 1];
            let geo = ConvGeometry {
                in_chw: [c, h, w],
                out_chw: out,
                kernel: [kh, kw],
                stride: [sy, sx],
                dilation: [dil, dil],
                pads: [pad; 4],
                group,
            };
            let whole = PixelPairs::of(&geo).expect("two outputs per group");
            let pairs = PixelPairs { pixels: 2 * band_pairs, ..whole };
            let conv = RandomConv::new(&geo, &mut next);
            let step = conv.step(geo, x_zp);
            let n = out.iter().product();
            let (mut want, mut got) = (vec![0u8; n], vec![1u8; n]);
            run_conv(&step, &conv.x, &mut want, &mut []);
            let mut scratch = vec![0xAAu8; pairs.len()];
            run(&step, &pairs, &conv.x, &mut got, &mut scratch);
            prop_assert_eq!(got, want);
        }

        /// Pointwise layers through packed pixel pairs (in bands of
        /// `pixels` when given fewer than all) equal the generic row path
        /// byte for byte: odd channel, filter and pixel counts exercise the
        /// packing's zero padding.
        #[test]
        fn pairs_equal_the_row_path(
            c in 1usize..40, m in 1usize..12, h in 1usize..6, w in 1usize..9,
            band_pairs in 1usize..6, x_zp in -20i8..20, seed in any::<u64>(),
        ) {
            let mut next = rng(seed);
            let geo = ConvGeometry {
                in_chw: [c, h, w],
                out_chw: [m, h, w],
                kernel: [1, 1],
                stride: [1, 1],
                dilation: [1, 1],
                pads: [0; 4],
                group: 1,
            };
            prop_assume!(m >= 2);
            let whole = PixelPairs::of(&geo).expect("pointwise");
            prop_assert_eq!(whole.pixels, (h * w).next_multiple_of(2));
            let pairs = PixelPairs { pixels: 2 * band_pairs, ..whole };
            let conv = RandomConv::new(&geo, &mut next);
            let step = conv.step(geo, x_zp);
            let n = m * h * w;
            let (mut want, mut got) = (vec![0u8; n], vec![1u8; n]);
            run_conv(&step, &conv.x, &mut want, &mut []);
            let mut scratch = vec![0xAAu8; pairs.len()];
            run(&step, &pairs, &conv.x, &mut got, &mut scratch);
            prop_assert_eq!(got, want);
        }
    }
}
