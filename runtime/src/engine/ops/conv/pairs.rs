//! Pointwise convolutions on the Cortex-M4 path: the input repacked into
//! [`PixelPairs`] (channels last, pixels in pairs), then two pixels × two
//! filters per [`dsp::dot_pairs`] (16 MACs from four word loads, eight
//! `SXTB16` and eight `SMLAD`), as CMSIS-NN's 1×1 kernel does.

use super::channel;
use crate::engine::kernels::dsp;
use crate::engine::kernels::generic::{requantize_rows, weight_sum};
use crate::model::program::{ConvStep, PixelPairs};

/// Pixels whose accumulators [`pointwise`] keeps at once (per filter of the
/// pair; stack buffers), before requantising them as one run. Even.
const RUN: usize = 32;

/// Runs the pointwise `step` (weight zero point 0) with `scratch` holding at
/// least `pairs.len()` bytes: per band of `pairs.pixels` pixels, the band is
/// packed once, then every filter pair is packed and dotted with every pixel
/// pair, and each filter's run of [`RUN`] accumulators is requantised at
/// once; the input zero point is folded into the bias (`Σ (x − x_zp)·w =
/// Σ x·w − x_zp·Σ w`, exact in wrapping int32; the packing's padding is 0 in
/// the filters, so it adds nothing).
pub(super) fn pointwise(
    step: &ConvStep<'_>,
    pairs: &PixelPairs,
    x: &[u8],
    y: &mut [u8],
    scratch: &mut [u8],
) {
    let [c, h, w] = step.geo.in_chw;
    let m_out = step.geo.out_chw[0];
    let hw = h * w;
    let block = 2 * pairs.channels; // bytes per pixel pair and per filter pair
    let (packed, filters) = scratch.split_at_mut(pairs.pixels * pairs.channels);
    let Some(filters) = filters.get_mut(..block) else {
        return;
    };
    let x_zp = i32::from(step.x_quant.zero_point);
    let mut accs = [[0i32; RUN]; 2];
    for p0 in (0..hw).step_by(pairs.pixels.max(2)) {
        let n = pairs.pixels.min(hw - p0);
        let band = packed.get_mut(..n.div_ceil(2) * block).unwrap_or(&mut []);
        pack_pixels(x, c, hw, p0, pairs.channels, band);
        for m0 in (0..m_out).step_by(2) {
            let chs = [m0, m0 + 1].map(|m| (m < m_out).then(|| channel(step, m, c)));
            let [w0, w1] = chs.each_ref().map(|ch| ch.as_ref().map_or(&[][..], |ch| ch.w_m));
            pack_filters(w0, w1, filters);
            let biases = chs.each_ref().map(|ch| {
                ch.as_ref().map_or(0, |ch| {
                    ch.bias.wrapping_sub(x_zp.wrapping_mul(weight_sum(ch.w_m, 0)))
                })
            });
            for r0 in (0..n).step_by(RUN) {
                let len = RUN.min(n - r0);
                // RUN is even: the run starts on a pixel pair.
                let run = band.get(r0 / 2 * block..(r0 + len).div_ceil(2) * block).unwrap_or(&[]);
                let [acc0, acc1] = &mut accs;
                let outs = acc0.chunks_exact_mut(2).zip(acc1.chunks_exact_mut(2));
                for (pixel_pair, (a0, a1)) in run.chunks_exact(block).zip(outs) {
                    let [a00, a01, a10, a11] = dsp::dot_pairs(pixel_pair, filters);
                    a0.copy_from_slice(&[a00, a10]);
                    a1.copy_from_slice(&[a01, a11]);
                }
                for (k, (ch, bias)) in chs.iter().zip(biases).enumerate() {
                    let start = (m0 + k) * hw + p0 + r0;
                    if let (Some(ch), Some(out), Some(acc)) =
                        (ch, y.get_mut(start..start + len), accs.get(k))
                    {
                        requantize_rows(acc, len, bias, ch.scaler, &step.y, out, len);
                    }
                }
            }
        }
    }
}

/// Packs pixels `p0 ..` of the `[c, hw]` planes `x` into `band` (pixel pairs
/// of `2 · c4` bytes: channel `k` of the pair's pixel `j` at `(k / 4) · 8 +
/// j · 4 + k % 4`), 0 past channel `c` and past the last pixel.
fn pack_pixels(x: &[u8], c: usize, hw: usize, p0: usize, c4: usize, band: &mut [u8]) {
    band.fill(0);
    let pixels = (band.len() / (2 * c4).max(1)) * 2;
    let n = pixels.min(hw.saturating_sub(p0));
    for k in 0..c {
        let Some(row) = x.get(k * hw + p0..k * hw + p0 + n) else {
            return;
        };
        let at = (k / 4) * 8 + k % 4;
        for (pair, dst) in row.chunks(2).zip(band.chunks_exact_mut(2 * c4)) {
            for (j, &v) in pair.iter().enumerate() {
                if let Some(d) = dst.get_mut(at + 4 * j) {
                    *d = v;
                }
            }
        }
    }
}

/// Packs the filter pair `w0`, `w1` (empty: zeros) like one pixel pair,
/// four channels at a time.
fn pack_filters(w0: &[u8], w1: &[u8], filters: &mut [u8]) {
    filters.fill(0);
    for (j, w) in [w0, w1].into_iter().enumerate() {
        let dst = filters.get_mut(4 * j..).unwrap_or(&mut []);
        let mut words = w.chunks_exact(4);
        let mut blocks = dst.chunks_mut(8);
        // Words first: `zip` stops on them without taking the next block.
        for (src, d) in (&mut words).zip(&mut blocks) {
            if let Some(d) = d.get_mut(..4) {
                d.copy_from_slice(src);
            }
        }
        if let Some(d) = blocks.next() {
            for (d, &v) in d.iter_mut().zip(words.remainder()) {
                *d = v;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::ops::conv::run;
    use crate::engine::ops::conv::testing::{RandomConv, rng};
    use crate::model::program::ConvGeometry;
    use proptest::prelude::*;

    proptest! {
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
            let whole = PixelPairs::of(&geo).expect("pointwise");
            prop_assert_eq!(whole.pixels, (h * w).next_multiple_of(2));
            let pairs = PixelPairs { pixels: 2 * band_pairs, ..whole };
            let conv = RandomConv::new(&geo, &mut next);
            let step = conv.step(geo, x_zp);
            let n = m * h * w;
            let (mut want, mut got) = (vec![0u8; n], vec![1u8; n]);
            run(&step, &conv.x, &mut want, &mut []);
            let mut scratch = vec![0xAAu8; pairs.len()];
            pointwise(&step, &pairs, &conv.x, &mut got, &mut scratch);
            prop_assert_eq!(got, want);
        }
    }
}
