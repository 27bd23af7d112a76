//! Convolutions with one input channel per group (depthwise layers, a
//! one-channel stem) through their stride-phase planes.

use super::{DSP, channel};
use crate::engine::kernels::dsp;
use crate::engine::kernels::generic::{Taps, weight_sum};
use crate::engine::kernels::layout::{PLANE_TAPS, PhasePlanes};
use crate::engine::kernels::select;
use crate::model::program::{ConvGeometry, ConvStep};

/// Positions [`planar`] sums at once (a stack buffer).
const TAP_ROW: usize = 64;

/// A convolution with one input channel per group (depthwise layers, a
/// one-channel stem) through its [`PhasePlanes`] (`planes`: their bytes, from
/// the arena): per input channel and band of output rows, the input rows are
/// copied into the zero-point-padded phase planes (ONNX pads with the input
/// zero point; the input zero point is folded into the bias, which the
/// padding keeps exact), then every output channel of the group sums its taps
/// at fixed offsets with [`select::taps_row`] (on Cortex-M4 [`dsp::taps_row`],
/// two taps at a time from the channel's [`dsp::TapPairs`]) over the `[rows,
/// wq]` grid of phase-plane rows, in runs of as many whole rows as
/// [`TAP_ROW`] positions hold (one run instead of many short rows: the
/// student's planes are 5–20 outputs wide), and requantises each run's rows
/// at once; the `wq − OW` positions past each row's end are summed (except
/// after the run's last row) and dropped.
#[inline(never)]
pub(super) fn planar(
    step: &ConvStep<'_>,
    pp: &PhasePlanes,
    x: &[u8],
    y: &mut [u8],
    planes: &mut [u8],
) {
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
    let taps = Taps::new(offsets.get(..taps).unwrap_or(&[]));
    let mut sums = [0i32; TAP_ROW];
    let mut pairs = dsp::TapPairs::new();
    // Runs of whole rows, as many as `sums` holds (up to the last row's last
    // output: its slack columns are not summed), or pieces of one row when a
    // row is longer than that.
    let run_rows = (TAP_ROW / pp.wq.max(1)).max(1);
    for c in 0..channels {
        let plane = x.get(c * h * w..(c + 1) * h * w).unwrap_or(&[]);
        for oy0 in (0..oh).step_by(pp.rows.max(1)) {
            let rows = pp.rows.min(oh - oy0);
            fill_planes(planes, plane, geo, pp, oy0, x_zp as u8);
            for m in c * mpg..(c + 1) * mpg {
                let ch = channel(step, m, taps.offsets().len());
                let folded = ch
                    .bias
                    .wrapping_sub(i32::from(x_zp).wrapping_mul(weight_sum(ch.w_m, ch.w_zp)));
                let requant = ch.requant(step);
                let paired = DSP && ch.w_zp == 0 && pairs.set(&taps, ch.w_m);
                let pairs = &pairs;
                let sum = |p0: usize, sums: &mut [i32]| {
                    if !(paired && dsp::taps_row(planes, pairs, p0, sums)) {
                        select::taps_row(planes, &taps, ch.w_m, ch.w_zp, p0, sums);
                    }
                };
                let start = (m * oh + oy0) * ow;
                let out = y.get_mut(start..start + rows * ow).unwrap_or(&mut []);
                for r0 in (0..rows).step_by(run_rows) {
                    let nr = run_rows.min(rows - r0);
                    let out = out.get_mut(r0 * ow..(r0 + nr) * ow).unwrap_or(&mut []);
                    if pp.wq <= TAP_ROW {
                        let sums = sums.get_mut(..nr * pp.wq - (pp.wq - ow)).unwrap_or(&mut []);
                        sum(r0 * pp.wq, sums);
                        select::requantize_rows(sums, pp.wq, folded, &requant, out, ow);
                    } else {
                        for (c0, out) in (0..ow).step_by(TAP_ROW).zip(out.chunks_mut(TAP_ROW)) {
                            let sums = sums.get_mut(..out.len()).unwrap_or(&mut []);
                            sum(r0 * pp.wq + c0, sums);
                            let n = out.len();
                            select::requantize_rows(sums, n, folded, &requant, out, n);
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
            split_row(planes, row_base, plane_len, row, geo.pads[1], sx);
        }
    }
}

/// Writes the input `row` into the `sx` phase rows that start at `row_base`,
/// `plane_len` apart: padded column `xp = ix + pad` goes to phase `xp mod
/// sx`, column `xp / sx`. The columns whose `xp` is a multiple of `sx` start
/// whole groups of `sx` bytes, one per phase, dealt out in one pass (strides
/// 2, 3 and 4 unrolled); the bytes before and after those go one by one.
fn split_row(
    planes: &mut [u8],
    row_base: usize,
    plane_len: usize,
    row: &[u8],
    pad: usize,
    sx: usize,
) {
    let lead = ((sx - pad % sx) % sx).min(row.len());
    let groups = (row.len() - lead) / sx;
    let mut one = |ix: usize, v: u8| {
        let xp = ix + pad;
        if let Some(d) = planes.get_mut(row_base + (xp % sx) * plane_len + xp / sx) {
            *d = v;
        }
    };
    for (ix, &v) in row.iter().enumerate().take(lead) {
        one(ix, v);
    }
    let tail = lead + groups * sx;
    for (ix, &v) in row.iter().enumerate().skip(tail) {
        one(ix, v);
    }
    let col0 = (lead + pad) / sx;
    let src = row.get(lead..tail).unwrap_or(&[]);
    let start = row_base + col0;
    match sx {
        2 => deal::<2>(planes, start, plane_len, src),
        3 => deal::<3>(planes, start, plane_len, src),
        4 => deal::<4>(planes, start, plane_len, src),
        _ => {
            for (i, group) in src.chunks_exact(sx).enumerate() {
                for (phase, &v) in group.iter().enumerate() {
                    if let Some(d) = planes.get_mut(start + phase * plane_len + i) {
                        *d = v;
                    }
                }
            }
        }
    }
}

/// Deals groups of `S` bytes of `src` to `S` rows of `planes` (`plane_len`
/// apart from `start`): byte `p` of group `i` to row `p`, column `i`.
fn deal<const S: usize>(planes: &mut [u8], start: usize, plane_len: usize, src: &[u8]) {
    let n = src.len() / S;
    let mut rest = planes.get_mut(start..).unwrap_or(&mut []);
    let mut rows: [&mut [u8]; S] = core::array::from_fn(|_| <&mut [u8]>::default());
    for (phase, r) in rows.iter_mut().enumerate() {
        let skip = if phase == 0 {
            Some(0)
        } else {
            plane_len.checked_sub(n)
        };
        let Some((this, next)) = skip
            .and_then(|skip| core::mem::take(&mut rest).get_mut(skip..))
            .and_then(|s| s.split_at_mut_checked(n))
        else {
            return;
        };
        (*r, rest) = (this, next);
    }
    for (i, group) in src.chunks_exact(S).enumerate() {
        for (r, &v) in rows.iter_mut().zip(group) {
            if let Some(d) = r.get_mut(i) {
                *d = v;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::kernels::layout::{PLANE_BYTES, PLANE_SLACK};
    use crate::engine::ops::conv::run;
    use crate::engine::ops::conv::testing::{RandomConv, rng};
    use proptest::prelude::*;

    proptest! {
        /// Convolutions with one input channel per group through their phase
        /// planes (bands of rows when the planes outgrow `PLANE_BYTES`) equal
        /// the generic row path byte for byte.
        #[test]
        fn planar_equals_the_row_path(
            group in 1usize..4, mpg in 1usize..4, h in 1usize..64, w in 1usize..100,
            kh in 1usize..6, kw in 1usize..6, sy in 1usize..3, sx in 1usize..6,
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
            prop_assert!(pp.len() <= PLANE_BYTES.max(pp.phases * (kh.div_ceil(sy)) * pp.wq + pp.wq + PLANE_SLACK));
            let conv = RandomConv::new(&geo, &mut next);
            let mut step = conv.step(geo, x_zp);
            let n = out.iter().product();
            let mut want = vec![0u8; n];
            run(&step, &conv.x, &mut want, &mut []);
            step.scratch = Some(2);
            let mut scratch = vec![0xAAu8; pp.len()];
            let mut got = vec![1u8; n];
            run(&step, &conv.x, &mut got, &mut scratch);
            prop_assert_eq!(got, want);
        }
    }
}
