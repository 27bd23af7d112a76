//! Portable scalar int8 kernels. Accumulation is int32 and wraps on overflow
//! (as tract's i32 accumulators do; validated models never get near it).
//! Bytes are int8 values stored in `u8` (`b as i8`).

use crate::fixed::{HighWordScaler, RoundingScaler, round_half_even_f32};
use crate::model::program::{Bias, ConvGeometry, Output};

/// Converts an accumulator to the output: `clamp(round_half_even(acc · scale) + zp)`.
#[inline]
pub fn requantize(acc: i32, scaler: RoundingScaler, out: &Output) -> u8 {
    let v = scaler
        .apply(acc)
        .saturating_add(i32::from(out.quant.zero_point));
    v.clamp(i32::from(out.clamp.0), i32::from(out.clamp.1)) as i8 as u8
}

/// One output channel's requantisation, its constants worked out once:
/// [`requantize`] in the form its scale and clamp allow.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Requant {
    /// The usual scale range, zero point folded in, clamp to the whole int8
    /// range (no fused activation, or a Relu whose zero point is −128): one
    /// saturation (`SSAT` on Arm).
    Saturate(HighWordScaler),
    /// The usual scale range, zero point folded in, then this clamp.
    Clamp(HighWordScaler, i32, i32),
    /// Any other scale: [`requantize`] itself.
    Exact(RoundingScaler, Output),
}

impl Requant {
    /// The requantisation by `scaler` into `out`.
    pub fn new(scaler: RoundingScaler, out: &Output) -> Self {
        let zp = i32::from(out.quant.zero_point);
        let (lo, hi) = (i32::from(out.clamp.0), i32::from(out.clamp.1));
        match scaler.high_word().and_then(|word| word.offset_by(zp)) {
            Some(word) if (lo, hi) == (-128, 127) => Self::Saturate(word),
            Some(word) => Self::Clamp(word, lo, hi),
            None => Self::Exact(scaler, *out),
        }
    }
}

/// [`requantize`] of `bias + acc` for one channel's outputs: rows of `cols`
/// outputs, `y` holding them back to back and `acc` one row every
/// `acc_stride` values (the positions between are dropped).
#[inline(never)]
pub fn requantize_rows(
    acc: &[i32],
    acc_stride: usize,
    bias: i32,
    requant: &Requant,
    y: &mut [u8],
    cols: usize,
) {
    match *requant {
        Requant::Saturate(word) => each_row(acc, acc_stride, y, cols, |a| {
            word.apply(bias.wrapping_add(a)).clamp(-128, 127) as i8 as u8
        }),
        Requant::Clamp(word, lo, hi) => each_row(acc, acc_stride, y, cols, |a| {
            word.apply(bias.wrapping_add(a)).max(lo).min(hi) as i8 as u8
        }),
        Requant::Exact(scaler, out) => each_row(acc, acc_stride, y, cols, |a| {
            requantize(bias.wrapping_add(a), scaler, &out)
        }),
    }
}

/// `y[r·cols + c] = f(acc[r·acc_stride + c])`, a row at a time (the inner
/// loop keeps only its own values live, so they stay in registers).
#[inline(always)]
fn each_row(acc: &[i32], acc_stride: usize, y: &mut [u8], cols: usize, f: impl Fn(i32) -> u8) {
    let mut start = 0usize;
    for y in y.chunks_mut(cols.max(1)) {
        let Some(acc) = acc.get(start..start + y.len()) else {
            return;
        };
        for (o, &a) in y.iter_mut().zip(acc) {
            *o = f(a);
        }
        start += acc_stride;
    }
}

/// The requantisation scale of output channel `m`, computed in f32 in the
/// order tract uses (`(w_scale · x_scale) / y_scale`).
#[inline]
pub fn channel_scaler(w_scale: f32, x_scale: f32, y_scale: f32) -> RoundingScaler {
    RoundingScaler::new((w_scale * x_scale) / y_scale)
}

/// Bias of output channel `m` in accumulator units (`acc_scale = x_scale · w_scale`).
#[inline]
pub fn bias_acc(bias: &Bias<'_>, m: usize, acc_scale: f32) -> i32 {
    let to_acc = |real: f32| {
        let v = round_half_even_f32(real / acc_scale);
        // Saturating float→int cast; NaN → 0.
        v as i32
    };
    match bias {
        Bias::None => 0,
        Bias::Acc(q) => q.int_at(m).unwrap_or(0) as i32,
        Bias::Scaled {
            q,
            scale,
            zero_point,
        } => {
            // Scales and zero points hold 1 or one-per-channel entries.
            let s = scale.f32_at(m).or_else(|| scale.f32_at(0)).unwrap_or(0.0);
            let z = zero_point
                .and_then(|z| z.int_at(m).or_else(|| z.int_at(0)))
                .unwrap_or(0);
            let qv = q.int_at(m).unwrap_or(0);
            to_acc((qv - z) as f32 * s)
        }
        Bias::Float(b) => to_acc(b.f32_at(m).unwrap_or(0.0)),
    }
}

/// Output columns accumulated together by [`conv_row`] (a stack buffer).
pub const ROW_CHUNK: usize = 128;

/// Accumulates, for output row `oy` and columns `ox0 .. ox0 + acc.len()`,
/// `Σ (x − x_zp)(w − w_zp)` over the window of output channel `m`'s weights
/// `w_m` and input channels `c0 ..` into `acc` (which holds the bias). Loop
/// order weight-outer, column-inner: the inner loop is a contiguous
/// multiply-add over the input row whenever stride is 1 and the columns are
/// inside the row. Exactly the per-window sum for each column (tested
/// against a naive one).
#[allow(clippy::too_many_arguments)]
pub fn conv_row(
    x: &[u8],
    x_zp: i32,
    w_m: &[u8],
    w_zp: i32,
    geo: &ConvGeometry,
    c0: usize,
    oy: usize,
    ox0: usize,
    acc: &mut [i32],
) {
    conv_row_with(x, x_zp, w_m, w_zp, geo, c0, oy, ox0, acc, axpy);
}

/// [`conv_row`] with `axpy` (any function equal to [`axpy`]) for the
/// contiguous inner loops: how the vector kernels reuse its loop nest.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
pub fn conv_row_with(
    x: &[u8],
    x_zp: i32,
    w_m: &[u8],
    w_zp: i32,
    geo: &ConvGeometry,
    c0: usize,
    oy: usize,
    ox0: usize,
    acc: &mut [i32],
    axpy: impl Fn(&[u8], i32, i32, &mut [i32]),
) {
    let [_, h, w] = geo.in_chw;
    let [kh, kw] = geo.kernel;
    let cpg = geo.in_chw[0] / geo.group.max(1);
    let (sy, sx) = (geo.stride[0], geo.stride[1]);
    let (dy, dx) = (geo.dilation[0], geo.dilation[1]);
    let n = acc.len();
    for ci in 0..cpg {
        let plane = (c0 + ci) * h * w;
        for ky in 0..kh {
            let iy = (oy * sy + ky * dy).wrapping_sub(geo.pads[0]);
            if iy >= h {
                continue; // also catches "negative" (wrapped) rows
            }
            let xrow = x.get(plane + iy * w..plane + iy * w + w).unwrap_or(&[]);
            let wstart = (ci * kh + ky) * kw;
            let wrow = w_m.get(wstart..wstart + kw).unwrap_or(&[]);
            for (kx, &wv) in wrow.iter().enumerate() {
                let wv = i32::from(wv as i8) - w_zp;
                if wv == 0 {
                    continue;
                }
                // Input column of output column ox0 + j: (ox0 + j)·sx + kx·dx − pad.
                let first = ox0 * sx + kx * dx;
                let contiguous = sx == 1 && first >= geo.pads[1] && first - geo.pads[1] + n <= w;
                if contiguous {
                    let start = first - geo.pads[1];
                    axpy(xrow.get(start..start + n).unwrap_or(&[]), x_zp, wv, acc);
                } else {
                    for (j, a) in acc.iter_mut().enumerate() {
                        let ix = (first + j * sx).wrapping_sub(geo.pads[1]);
                        if let Some(&xv) = xrow.get(ix) {
                            *a = a.wrapping_add((i32::from(xv as i8) - x_zp).wrapping_mul(wv));
                        }
                    }
                }
            }
        }
    }
}

/// `acc[j] += (xs[j] − x_zp) · w` for `j < min(xs.len(), acc.len())`, wrapping.
#[inline]
pub fn axpy(xs: &[u8], x_zp: i32, w: i32, acc: &mut [i32]) {
    for (a, &xv) in acc.iter_mut().zip(xs) {
        *a = a.wrapping_add((i32::from(xv as i8) - x_zp).wrapping_mul(w));
    }
}

/// `Σ clamp(xs[j], lo, hi)` of int8 values, wrapping (a pooling window's row).
#[inline]
pub fn clamped_sum(xs: &[u8], lo: i8, hi: i8) -> i32 {
    if (lo, hi) == (i8::MIN, i8::MAX) {
        // No clamp (no Relu before the pool, or one at zero point −128).
        return xs
            .iter()
            .fold(0i32, |s, &v| s.wrapping_add(i32::from(v as i8)));
    }
    xs.iter().fold(0i32, |s, &v| {
        s.wrapping_add(i32::from((v as i8).max(lo).min(hi)))
    })
}

/// Pointwise convolution (1×1 kernel, stride 1, no padding, one group) of one
/// output channel over pixels `p0 .. p0 + acc.len()` of `[C, H·W]` planes of
/// `hw` pixels: `acc[j] += Σ_c x[c, p0 + j] · (w_m[c] − w_zp)`. The input zero
/// point is left out: the caller folds `−x_zp · Σ_c (w_m[c] − w_zp)` into the
/// bias ([`weight_sum`]), which gives the same int32 result as
/// `Σ (x − x_zp)(w − w_zp)` (wrapping sums are associative). Input channels
/// go in pairs so each accumulator is loaded and stored once per two MACs.
pub fn pointwise_row(x: &[u8], w_m: &[u8], w_zp: i32, hw: usize, p0: usize, acc: &mut [i32]) {
    let n = acc.len();
    let plane = |c: usize| x.get(c * hw + p0..c * hw + p0 + n).unwrap_or(&[]);
    let mut pairs = w_m.chunks_exact(2);
    let mut c = 0;
    for pair in &mut pairs {
        let (w0, w1) = match *pair {
            [a, b] => (i32::from(a as i8) - w_zp, i32::from(b as i8) - w_zp),
            _ => (0, 0),
        };
        for ((a, &u), &v) in acc.iter_mut().zip(plane(c)).zip(plane(c + 1)) {
            *a = a
                .wrapping_add(i32::from(u as i8).wrapping_mul(w0))
                .wrapping_add(i32::from(v as i8).wrapping_mul(w1));
        }
        c += 2;
    }
    if let [w] = *pairs.remainder() {
        let w = i32::from(w as i8) - w_zp;
        for (a, &u) in acc.iter_mut().zip(plane(c)) {
            *a = a.wrapping_add(i32::from(u as i8).wrapping_mul(w));
        }
    }
}

/// Output channels [`pointwise_rows`] accumulates at once.
pub const POINTWISE_GROUP: usize = 4;

/// [`pointwise_row`] of [`POINTWISE_GROUP`] output channels over the same
/// pixels: `accs[k][j] += Σ_c x[c, p0 + j] · (ws[k][c] − w_zps[k])`. The
/// vector kernels share each load of the input between the channels.
pub fn pointwise_rows(
    x: &[u8],
    ws: [&[u8]; POINTWISE_GROUP],
    w_zps: [i32; POINTWISE_GROUP],
    hw: usize,
    p0: usize,
    accs: [&mut [i32]; POINTWISE_GROUP],
) {
    for ((w_m, w_zp), acc) in ws.into_iter().zip(w_zps).zip(accs) {
        pointwise_row(x, w_m, w_zp, hw, p0, acc);
    }
}

/// The taps of a convolution over its phase planes
/// ([`super::layout::PhasePlanes`]): one fixed offset per tap, and the
/// furthest of them.
#[derive(Debug, Clone, Copy)]
pub struct Taps<'a> {
    offsets: &'a [usize],
    reach: usize,
}

impl<'a> Taps<'a> {
    /// Taps at `offsets`.
    pub fn new(offsets: &'a [usize]) -> Self {
        Self {
            offsets,
            reach: offsets.iter().copied().max().unwrap_or(0),
        }
    }

    /// The offset of each tap.
    pub fn offsets(&self) -> &'a [usize] {
        self.offsets
    }

    /// The largest offset.
    pub fn reach(&self) -> usize {
        self.reach
    }
}

/// `sums[j] = Σ_k x[offsets[k] + p0 + j] · (w[k] − w_zp)` for a run of
/// outputs: the taps of a convolution with one input channel per group over
/// its zero-point padded phase planes, where each tap is a fixed offset and
/// consecutive outputs read consecutive bytes. Tap-outer: one contiguous
/// multiply-add per tap. Bytes past the end of `x` count as 0.
pub fn taps_row(x: &[u8], taps: &Taps<'_>, w: &[u8], w_zp: i32, p0: usize, sums: &mut [i32]) {
    sums.fill(0);
    for (&o, &wv) in taps.offsets().iter().zip(w) {
        let wv = i32::from(wv as i8) - w_zp;
        let start = o.saturating_add(p0);
        let xs = x.get(start..).unwrap_or(&[]);
        for (s, &xv) in sums.iter_mut().zip(xs) {
            *s = s.wrapping_add(i32::from(xv as i8).wrapping_mul(wv));
        }
    }
}

/// `Σ_c (w[c] − w_zp)`, wrapping: what the input zero point multiplies.
pub fn weight_sum(w: &[u8], w_zp: i32) -> i32 {
    w.iter()
        .fold(0i32, |s, &v| s.wrapping_add(i32::from(v as i8) - w_zp))
}

/// `Σ_k (a[k] − a_zp)(b[k·stride] − b_zp)` over `k` terms.
#[inline]
pub fn dot_strided(
    a: &[u8],
    a_zp: i32,
    b: &[u8],
    b_start: usize,
    b_stride: usize,
    b_zp: i32,
) -> i32 {
    let mut acc = 0i32;
    for (k, &av) in a.iter().enumerate() {
        let bv = b.get(b_start + k * b_stride).copied().unwrap_or(0);
        let term = (i32::from(av as i8) - a_zp).wrapping_mul(i32::from(bv as i8) - b_zp);
        acc = acc.wrapping_add(term);
    }
    acc
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The reference the kernels are tested against: the sum over one convolution window for output channel `m` at `(oy, ox)`:
    /// `Σ (x − x_zp)(w − w_zp)`, padding contributing zero (ONNX pads with the
    /// input zero point).
    #[allow(clippy::too_many_arguments)]
    fn conv_window(
        x: &[u8],
        x_zp: i32,
        w_m: &[u8],
        w_zp: i32,
        geo: &ConvGeometry,
        c0: usize,
        oy: usize,
        ox: usize,
    ) -> i32 {
        let [_, h, w] = geo.in_chw;
        let [kh, kw] = geo.kernel;
        let cpg = geo.in_chw[0] / geo.group.max(1);
        let (sy, sx) = (geo.stride[0], geo.stride[1]);
        let (dy, dx) = (geo.dilation[0], geo.dilation[1]);
        // Columns of the window, and whether all of them are inside the row
        // (then the row is one contiguous slice when undilated).
        let ix0 = (ox * sx).wrapping_sub(geo.pads[1]);
        let inside = ox * sx >= geo.pads[1] && ix0 + (kw - 1) * dx < w;
        let mut acc = 0i32;
        for ci in 0..cpg {
            let plane = (c0 + ci) * h * w;
            for ky in 0..kh {
                let iy = (oy * sy + ky * dy).wrapping_sub(geo.pads[0]);
                if iy >= h {
                    continue; // also catches "negative" (wrapped) rows
                }
                let xrow = x.get(plane + iy * w..plane + iy * w + w).unwrap_or(&[]);
                let wstart = (ci * kh + ky) * kw;
                let wrow = w_m.get(wstart..wstart + kw).unwrap_or(&[]);
                if inside && dx == 1 {
                    let xs = xrow.get(ix0..ix0 + kw).unwrap_or(&[]);
                    for (&xv, &wv) in xs.iter().zip(wrow) {
                        let t =
                            (i32::from(xv as i8) - x_zp).wrapping_mul(i32::from(wv as i8) - w_zp);
                        acc = acc.wrapping_add(t);
                    }
                    continue;
                }
                for (kx, &wv) in wrow.iter().enumerate() {
                    let ix = (ox * sx + kx * dx).wrapping_sub(geo.pads[1]);
                    if let Some(&xv) = xrow.get(ix) {
                        let t =
                            (i32::from(xv as i8) - x_zp).wrapping_mul(i32::from(wv as i8) - w_zp);
                        acc = acc.wrapping_add(t);
                    }
                }
            }
        }
        acc
    }
    use crate::model::program::Quant;

    #[test]
    fn requantize_rounds_half_even_then_clamps() {
        let out = Output {
            tensor: 0,
            quant: Quant {
                scale: 1.0,
                zero_point: 3,
            },
            clamp: (-128, 10),
        };
        let s = RoundingScaler::new(0.5);
        assert_eq!(requantize(5, s, &out) as i8, 2 + 3); // 2.5 → 2
        assert_eq!(requantize(7, s, &out) as i8, 4 + 3); // 3.5 → 4
        assert_eq!(requantize(1000, s, &out) as i8, 10); // clamp
        assert_eq!(requantize(-1000, s, &out) as i8, -128);
    }

    #[test]
    fn requantize_rows_equals_requantize() {
        let mut rnd = xorshift(0x9e37_79b9);
        for case in 0..400 {
            let out = Output {
                tensor: 0,
                quant: Quant {
                    scale: 1.0,
                    zero_point: (rnd(256) as i32 - 128) as i8,
                },
                clamp: if case % 2 == 0 {
                    (-128, 127)
                } else {
                    (-20, 90)
                },
            };
            // Scales from 2^-40 to 2^3: the usual range and both sides of it.
            let scale = (1.0 + rnd(1000) as f32 / 1000.0) * 2f32.powi(rnd(44) as i32 - 40);
            let scaler = RoundingScaler::new(scale);
            let bias = rnd(2_000_001) as i32 - 1_000_000;
            let (rows, cols, slack) = (1 + rnd(5), 1 + rnd(9), rnd(3));
            let stride = cols + slack;
            let acc: Vec<i32> = (0..rows * stride)
                .map(|_| rnd(4_000_001) as i32 - 2_000_000)
                .collect();
            let want: Vec<u8> = acc
                .chunks(stride)
                .flat_map(|row| {
                    row[..cols]
                        .iter()
                        .map(|&a| requantize(bias + a, scaler, &out))
                })
                .collect();
            let mut got = vec![0u8; rows * cols];
            requantize_rows(
                &acc,
                stride,
                bias,
                &Requant::new(scaler, &out),
                &mut got,
                cols,
            );
            assert_eq!(
                got, want,
                "scale {scale}, bias {bias}, {rows}x{cols}+{slack}"
            );
        }
    }

    #[test]
    fn dot_matches_naive() {
        let a = [1u8, 0xff, 5];
        let b = [2u8, 9, 3, 9, 0xfe, 9];
        // (1−1)(2−0) + (−1−1)(3−0) + (5−1)(−2−0) = 0 − 6 − 8
        assert_eq!(dot_strided(&a, 1, &b, 0, 2, 0), -14);
    }

    /// Deterministic `[0, m)` draws (xorshift32).
    fn xorshift(mut seed: u32) -> impl FnMut(u32) -> usize {
        move |m| {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            (seed % m) as usize
        }
    }

    #[test]
    fn conv_row_equals_conv_window_on_random_geometry() {
        let mut rnd = xorshift(0x1234_5678);
        for _ in 0..300 {
            let (c, h, w) = (1 + rnd(3), 1 + rnd(6), 1 + rnd(70));
            let (k, s, d, p) = (1 + rnd(3), 1 + rnd(2), 1 + rnd(2), rnd(2));
            let span = d * (k - 1) + 1;
            if h + 2 * p < span || w + 2 * p < span {
                continue;
            }
            let out = [1, (h + 2 * p - span) / s + 1, (w + 2 * p - span) / s + 1];
            let geo = ConvGeometry {
                in_chw: [c, h, w],
                out_chw: out,
                kernel: [k, k],
                stride: [s, s],
                dilation: [d, d],
                pads: [p; 4],
                group: 1,
            };
            let x: Vec<u8> = (0..c * h * w).map(|_| rnd(256) as u8).collect();
            let wm: Vec<u8> = (0..c * k * k).map(|_| rnd(256) as u8).collect();
            let (xz, wz) = (rnd(20) as i32 - 10, rnd(4) as i32 - 2);
            for oy in 0..out[1] {
                for ox0 in (0..out[2]).step_by(ROW_CHUNK) {
                    let n = ROW_CHUNK.min(out[2] - ox0);
                    let mut acc = vec![7; n];
                    conv_row(&x, xz, &wm, wz, &geo, 0, oy, ox0, &mut acc);
                    for (j, a) in acc.iter().enumerate() {
                        assert_eq!(
                            *a,
                            7 + conv_window(&x, xz, &wm, wz, &geo, 0, oy, ox0 + j),
                            "{geo:?} {oy} {}",
                            ox0 + j
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn pointwise_row_with_folded_zero_point_equals_conv_window() {
        let mut rnd = xorshift(0x9e37_79b9);
        for _ in 0..200 {
            let (c, h, w) = (1 + rnd(9), 1 + rnd(5), 1 + rnd(40));
            let geo = ConvGeometry {
                in_chw: [c, h, w],
                out_chw: [1, h, w],
                kernel: [1, 1],
                stride: [1, 1],
                dilation: [1, 1],
                pads: [0; 4],
                group: 1,
            };
            let x: Vec<u8> = (0..c * h * w).map(|_| rnd(256) as u8).collect();
            let wm: Vec<u8> = (0..c).map(|_| rnd(256) as u8).collect();
            let (xz, wz) = (rnd(256) as i32 - 128, rnd(5) as i32 - 2);
            let hw = h * w;
            let bias = 7i32.wrapping_sub(xz.wrapping_mul(weight_sum(&wm, wz)));
            for p0 in (0..hw).step_by(ROW_CHUNK) {
                let n = ROW_CHUNK.min(hw - p0);
                let mut acc = vec![bias; n];
                pointwise_row(&x, &wm, wz, hw, p0, &mut acc);
                for (j, a) in acc.iter().enumerate() {
                    let (oy, ox) = ((p0 + j) / w, (p0 + j) % w);
                    assert_eq!(
                        *a,
                        7 + conv_window(&x, xz, &wm, wz, &geo, 0, oy, ox),
                        "{geo:?}"
                    );
                }
            }
        }
    }
}
