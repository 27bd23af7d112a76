//! What the vector kernels of every instruction set share: the [`Isa`]
//! trait their block kernels implement, and the safe wrappers that check
//! the CPU and the slices, run the blocks and finish the outputs past them
//! with the generic kernel. Each wrapper returns `false` (or `None`), having
//! done nothing, where the instruction set is missing or a read could leave
//! its slices; the caller then runs the generic kernel.

#![allow(unsafe_code)]

use super::generic::{self, POINTWISE_GROUP, Requant, Taps};
use crate::fixed::HighWordScaler;

/// The block kernels of one instruction set. Each does the leading whole
/// blocks of its run (the same values as the generic kernel) and returns how
/// many outputs it did; the wrappers below do the rest.
///
/// # Safety
/// Implementations read and write only within the slices they are given,
/// under the contracts below, once [`Isa::available`] is true.
pub unsafe trait Isa {
    /// Whether this CPU runs the kernels.
    fn available() -> bool;

    /// [`generic::pointwise_row`] over the leading blocks of `acc`.
    ///
    /// # Safety
    /// [`Isa::available`]; `x.len() ≥ (w_m.len() − 1) · hw + p0 + acc.len()`
    /// when `w_m` is not empty.
    unsafe fn pointwise_row(
        x: &[u8],
        w_m: &[u8],
        w_zp: i32,
        hw: usize,
        p0: usize,
        acc: &mut [i32],
    ) -> usize;

    /// [`generic::pointwise_rows`] over the leading blocks of the runs: all
    /// `ws` hold `c` weights (1 ≤ `c` ≤ [`MAX_GROUP_CHANNELS`]) and all
    /// `accs` the same number of pixels.
    ///
    /// # Safety
    /// [`Isa::available`]; as [`Isa::pointwise_row`] for each channel.
    unsafe fn pointwise_rows(
        x: &[u8],
        ws: [&[u8]; POINTWISE_GROUP],
        w_zps: [i32; POINTWISE_GROUP],
        hw: usize,
        p0: usize,
        accs: &mut [&mut [i32]; POINTWISE_GROUP],
    ) -> usize;

    /// [`generic::taps_row`] over the leading blocks of `sums`.
    ///
    /// # Safety
    /// [`Isa::available`]; `o + p0 + sums.len() ≤ x.len()` for every offset
    /// `o` of `offsets`.
    unsafe fn taps_row(
        x: &[u8],
        offsets: &[usize],
        w: &[u8],
        w_zp: i32,
        p0: usize,
        sums: &mut [i32],
    ) -> usize;

    /// [`generic::axpy`] over the leading blocks of `min(xs.len(), acc.len())`.
    ///
    /// # Safety
    /// [`Isa::available`].
    unsafe fn axpy(xs: &[u8], x_zp: i32, w: i32, acc: &mut [i32]) -> usize;

    /// [`generic::dot_strided`] (stride 1) over the leading blocks of
    /// `min(a.len(), b.len())` terms: the sum and the terms done.
    ///
    /// # Safety
    /// [`Isa::available`].
    unsafe fn dot(a: &[u8], a_zp: i32, b: &[u8], b_zp: i32) -> (i32, usize);

    /// [`generic::clamped_sum`] over the leading blocks of `xs`: the sum and
    /// the bytes done.
    ///
    /// # Safety
    /// [`Isa::available`].
    unsafe fn clamped_sum(xs: &[u8], lo: i8, hi: i8) -> (i32, usize);

    /// Whether [`Isa::requantize`] beats the generic loop, which the
    /// compiler may vectorise itself (on aarch64 it does, and its loop was
    /// measured faster than a NEON one: `docs/results.md`).
    const REQUANTIZE: bool;

    /// `y[j] = clamp(word.apply(acc[j] + bias), lo, hi)` (int8) over the
    /// leading blocks of `min(acc.len(), y.len())` (none where
    /// [`Isa::REQUANTIZE`] is false).
    ///
    /// # Safety
    /// [`Isa::available`].
    unsafe fn requantize(
        acc: &[i32],
        bias: i32,
        word: HighWordScaler,
        lo: i32,
        hi: i32,
        y: &mut [u8],
    ) -> usize;
}

/// [`generic::pointwise_row`] through `I`.
pub fn pointwise_row<I: Isa>(
    x: &[u8],
    w_m: &[u8],
    w_zp: i32,
    hw: usize,
    p0: usize,
    acc: &mut [i32],
) -> bool {
    let need = w_m
        .len()
        .checked_sub(1)
        .and_then(|c| c.checked_mul(hw))
        .and_then(|s| s.checked_add(p0))
        .and_then(|s| s.checked_add(acc.len()));
    if need.is_none_or(|n| n > x.len()) || !I::available() {
        return false;
    }
    // SAFETY: available; every channel's run of pixels ends by `need` ≤ x.len().
    let done = unsafe { I::pointwise_row(x, w_m, w_zp, hw, p0, acc) };
    if let Some(rest) = acc.get_mut(done..)
        && !rest.is_empty()
    {
        generic::pointwise_row(x, w_m, w_zp, hw, p0 + done, rest);
    }
    true
}

/// Most input channels [`pointwise_rows`] takes (its weights are packed on
/// the stack).
pub const MAX_GROUP_CHANNELS: usize = 256;

/// [`generic::pointwise_rows`] through `I`, where the group is uniform (the
/// same number of weights and of pixels in each channel, at most
/// [`MAX_GROUP_CHANNELS`] weights).
pub fn pointwise_rows<I: Isa>(
    x: &[u8],
    ws: [&[u8]; POINTWISE_GROUP],
    w_zps: [i32; POINTWISE_GROUP],
    hw: usize,
    p0: usize,
    accs: &mut [&mut [i32]; POINTWISE_GROUP],
) -> bool {
    let (c, n) = (ws[0].len(), accs[0].len());
    let uniform = ws.iter().all(|w| w.len() == c) && accs.iter().all(|a| a.len() == n);
    let need = c
        .checked_sub(1)
        .and_then(|c| c.checked_mul(hw))
        .and_then(|s| s.checked_add(p0))
        .and_then(|s| s.checked_add(n));
    if !uniform || c > MAX_GROUP_CHANNELS || need.is_none_or(|e| e > x.len()) || !I::available() {
        return false;
    }
    // SAFETY: available; every channel's run of pixels ends by `need` ≤ x.len().
    let done = unsafe { I::pointwise_rows(x, ws, w_zps, hw, p0, accs) };
    for ((w_m, w_zp), acc) in ws.into_iter().zip(w_zps).zip(accs.iter_mut()) {
        if let Some(rest) = acc.get_mut(done..)
            && !rest.is_empty()
        {
            generic::pointwise_row(x, w_m, w_zp, hw, p0 + done, rest);
        }
    }
    true
}

/// [`generic::taps_row`] through `I`.
pub fn taps_row<I: Isa>(
    x: &[u8],
    taps: &Taps<'_>,
    w: &[u8],
    w_zp: i32,
    p0: usize,
    sums: &mut [i32],
) -> bool {
    let need = taps
        .reach()
        .checked_add(p0)
        .and_then(|s| s.checked_add(sums.len()));
    if need.is_none_or(|n| n > x.len()) || !I::available() {
        return false;
    }
    // SAFETY: available; every offset is ≤ reach, so each run ends by `need` ≤ x.len().
    let done = unsafe { I::taps_row(x, taps.offsets(), w, w_zp, p0, sums) };
    if let Some(rest) = sums.get_mut(done..)
        && !rest.is_empty()
    {
        generic::taps_row(x, taps, w, w_zp, p0 + done, rest);
    }
    true
}

/// [`generic::axpy`] through `I`.
pub fn axpy<I: Isa>(xs: &[u8], x_zp: i32, w: i32, acc: &mut [i32]) -> bool {
    if !I::available() {
        return false;
    }
    // SAFETY: available.
    let done = unsafe { I::axpy(xs, x_zp, w, acc) };
    if let (Some(xs), Some(acc)) = (xs.get(done..), acc.get_mut(done..)) {
        generic::axpy(xs, x_zp, w, acc);
    }
    true
}

/// [`generic::dot_strided`] through `I` for stride 1 with `b` holding the
/// whole run; `None` otherwise.
pub fn dot<I: Isa>(
    a: &[u8],
    a_zp: i32,
    b: &[u8],
    b_start: usize,
    b_stride: usize,
    b_zp: i32,
) -> Option<i32> {
    let b = b.get(b_start..)?;
    if b_stride != 1 || b.len() < a.len() || !I::available() {
        return None;
    }
    // SAFETY: available.
    let (sum, done) = unsafe { I::dot(a, a_zp, b, b_zp) };
    let rest = generic::dot_strided(a.get(done..)?, a_zp, b, done, 1, b_zp);
    Some(sum.wrapping_add(rest))
}

/// [`generic::clamped_sum`] through `I`.
pub fn clamped_sum<I: Isa>(xs: &[u8], lo: i8, hi: i8) -> Option<i32> {
    if !I::available() {
        return None;
    }
    // SAFETY: available.
    let (sum, done) = unsafe { I::clamped_sum(xs, lo, hi) };
    Some(sum.wrapping_add(generic::clamped_sum(xs.get(done..)?, lo, hi)))
}

/// [`generic::requantize_rows`] through `I` for [`Requant::Saturate`] and
/// [`Requant::Clamp`]; `false` for [`Requant::Exact`].
pub fn requantize_rows<I: Isa>(
    acc: &[i32],
    acc_stride: usize,
    bias: i32,
    requant: &Requant,
    y: &mut [u8],
    cols: usize,
) -> bool {
    let (word, lo, hi) = match *requant {
        Requant::Saturate(word) => (word, -128, 127),
        Requant::Clamp(word, lo, hi) => (word, lo, hi),
        Requant::Exact(..) => return false,
    };
    if !I::REQUANTIZE || !I::available() {
        return false;
    }
    if cols < 16 && acc_stride != cols {
        // Short rows: gathered into runs of whole rows first, so the vector
        // blocks span rows.
        let rows_per_run = (GATHER / cols.max(1)).max(1);
        let mut buf = [0i32; GATHER];
        let mut start = 0usize;
        for y in y.chunks_mut(rows_per_run * cols.max(1)) {
            let mut filled = 0;
            for row in buf
                .chunks_mut(cols.max(1))
                .take(y.len().div_ceil(cols.max(1)))
            {
                let n = row.len().min(y.len() - filled);
                let Some(acc) = acc.get(start..start.saturating_add(n)) else {
                    // The generic loop stops at a row past `acc`.
                    let done = buf.get(..filled).unwrap_or(&[]);
                    // SAFETY: available (checked above).
                    return unsafe { requantize_run::<I>(done, bias, word, lo, hi, y, requant) };
                };
                row.get_mut(..n).unwrap_or(&mut []).copy_from_slice(acc);
                filled += n;
                start = start.saturating_add(acc_stride);
            }
            let gathered = buf.get(..filled).unwrap_or(&[]);
            // SAFETY: available (checked above).
            unsafe { requantize_run::<I>(gathered, bias, word, lo, hi, y, requant) };
        }
        return true;
    }
    // Rows as the generic loop takes them: `cols` outputs (the last row
    // possibly fewer), `acc_stride` accumulators apart; a row past `acc` ends it.
    let mut start = 0usize;
    for y in y.chunks_mut(cols.max(1)) {
        let Some(acc) = acc.get(start..start.saturating_add(y.len())) else {
            break;
        };
        // SAFETY: available (checked above).
        unsafe { requantize_run::<I>(acc, bias, word, lo, hi, y, requant) };
        start = start.saturating_add(acc_stride);
    }
    true
}

/// Accumulators gathered by [`requantize_rows`] at once (short rows).
const GATHER: usize = 64;

/// `y[j]` from `acc[j]` for `j < min(acc.len(), y.len())`: the vector
/// blocks, then the generic loop for a run too short for them; `true`.
///
/// # Safety
/// [`Isa::available`].
unsafe fn requantize_run<I: Isa>(
    acc: &[i32],
    bias: i32,
    word: HighWordScaler,
    lo: i32,
    hi: i32,
    y: &mut [u8],
    requant: &Requant,
) -> bool {
    // SAFETY: available (the contract).
    let done = unsafe { I::requantize(acc, bias, word, lo, hi, y) };
    let n = acc.len().min(y.len());
    if let (Some(acc), Some(y)) = (acc.get(done..n), y.get_mut(done..n))
        && !y.is_empty()
    {
        let n = y.len();
        generic::requantize_rows(acc, n, bias, requant, y, n);
    }
    true
}

/// Runs `block(start, outputs, skip)` over blocks of `wide` outputs of
/// `out`, then of 16, then, for a partial rest, over the 16 outputs ending
/// `out` with `skip` the ones of them already done; returns the outputs done
/// (all, or none when `out` holds fewer than 16). `wide` is a multiple of 16.
#[inline(always)]
pub fn blocks(
    out: &mut [i32],
    wide: usize,
    mut block: impl FnMut(usize, &mut [i32], usize),
) -> usize {
    let n = out.len();
    if n < 16 {
        return 0;
    }
    let mut j = 0;
    while let Some(b) = out.get_mut(j..j + wide) {
        block(j, b, 0);
        j += wide;
    }
    while let Some(b) = out.get_mut(j..j + 16) {
        block(j, b, 0);
        j += 16;
    }
    if j < n {
        let start = n - 16;
        if let Some(b) = out.get_mut(start..) {
            block(start, b, j - start);
        }
    }
    n
}

/// The 16-output blocks of a run of `n` (≥ 16) outputs: `(start, skip)`
/// for each, the last partial one as the 16 outputs ending the run with
/// `skip` of them done already.
pub fn sixteens(n: usize) -> impl Iterator<Item = (usize, usize)> {
    let whole = n / 16;
    let tail = (!n.is_multiple_of(16) && n >= 16).then(|| (n - 16, 16 * whole - (n - 16)));
    (0..whole).map(|b| (16 * b, 0)).chain(tail)
}

#[cfg(test)]
mod tests {
    //! Every vector kernel against the generic one, exact equality, on
    //! random shapes, offsets, strides, dilations, padding, channel groups,
    //! zero points and requantisations (the whole int8 range of each).
    use super::*;
    use crate::engine::kernels::select::Host;
    use crate::fixed::RoundingScaler;
    use crate::model::program::{ConvGeometry, Output, Quant};
    use proptest::prelude::*;

    fn bytes(n: usize, next: &mut impl FnMut() -> u64) -> Vec<u8> {
        (0..n).map(|_| next() as u8).collect()
    }

    fn rng(seed: u64) -> impl FnMut() -> u64 {
        let mut s = seed | 1;
        move || {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            s
        }
    }

    proptest! {
        #[test]
        fn pointwise_row_equals_generic(
            c in 1usize..40, hw in 1usize..300, p0 in 0usize..300, n in 0usize..200,
            w_zp in -128i32..128, slack in 0usize..4, seed in any::<u64>(),
        ) {
            let mut next = rng(seed);
            let p0 = p0 % hw;
            let n = n.min(hw - p0);
            let need = (c - 1) * hw + p0 + n;
            // One in four a byte short of the last channel's run: the wrapper declines.
            let x = bytes((need + 2).saturating_sub(slack), &mut next);
            let w = bytes(c, &mut next);
            let init: Vec<i32> = (0..n).map(|_| next() as i32).collect();
            let (mut want, mut got) = (init.clone(), init);
            generic::pointwise_row(&x, &w, w_zp, hw, p0, &mut want);
            let fits = (c - 1) * hw + p0 + n <= x.len();
            prop_assert_eq!(pointwise_row::<Host>(&x, &w, w_zp, hw, p0, &mut got), fits && Host::available());
            if !fits {
                generic::pointwise_row(&x, &w, w_zp, hw, p0, &mut got);
            }
            prop_assert_eq!(got, want);
        }

        /// Four output channels at once: uniform groups (vector) and groups
        /// with a missing channel or too many inputs (declined).
        #[test]
        fn pointwise_rows_equals_generic(
            c in 1usize..300, hw in 1usize..200, p0 in 0usize..200, n in 0usize..140,
            zps in prop::array::uniform4(-128i32..128), missing in any::<bool>(),
            slack in 0usize..4, seed in any::<u64>(),
        ) {
            let mut next = rng(seed);
            let p0 = p0 % hw;
            let n = n.min(hw - p0);
            let need = (c - 1) * hw + p0 + n;
            let x = bytes((need + 2).saturating_sub(slack), &mut next);
            let w: Vec<Vec<u8>> = (0..4)
                .map(|k| bytes(if missing && k == 3 { 0 } else { c }, &mut next))
                .collect();
            let ws = [&w[0][..], &w[1][..], &w[2][..], &w[3][..]];
            let init: Vec<Vec<i32>> = (0..4).map(|_| (0..n).map(|_| next() as i32).collect()).collect();
            let (mut want, mut got) = (init.clone(), init);
            let [a, b, c2, d] = &mut want[..] else { unreachable!() };
            generic::pointwise_rows(&x, ws, zps, hw, p0, [a, b, c2, d]);
            let [a, b, c2, d] = &mut got[..] else { unreachable!() };
            let ran = pointwise_rows::<Host>(&x, ws, zps, hw, p0, &mut [a, b, c2, d]);
            let fits = need <= x.len() && !missing && c <= MAX_GROUP_CHANNELS;
            prop_assert_eq!(ran, fits && Host::available());
            if ran {
                prop_assert_eq!(got, want);
            }
        }

        #[test]
        fn taps_row_equals_generic(
            taps in 0usize..30, weights in 0usize..30, n in 0usize..100, p0 in 0usize..50,
            w_zp in -128i32..128, len in 0usize..300, seed in any::<u64>(),
        ) {
            let mut next = rng(seed);
            let x = bytes(len, &mut next);
            let offsets: Vec<usize> = (0..taps).map(|_| (next() % 150) as usize).collect();
            let w = bytes(weights, &mut next);
            let taps = Taps::new(&offsets);
            let (mut want, mut got) = (vec![1i32; n], vec![2i32; n]);
            generic::taps_row(&x, &taps, &w, w_zp, p0, &mut want);
            let fits = taps.reach() + p0 + n <= len;
            prop_assert_eq!(taps_row::<Host>(&x, &taps, &w, w_zp, p0, &mut got), fits && Host::available());
            if fits {
                prop_assert_eq!(got, want);
            }
        }

        /// `conv_row` with the vector `axpy` on random geometry: channels in
        /// groups (`c0`), kernel, stride, dilation and asymmetric padding.
        #[test]
        fn conv_row_equals_generic(
            cpg in 1usize..4, groups in 1usize..3, h in 1usize..8, w in 1usize..90,
            kh in 1usize..4, kw in 1usize..4, sy in 1usize..3, sx in 1usize..3,
            dy in 1usize..3, dx in 1usize..3, pads in prop::array::uniform4(0usize..3),
            x_zp in -128i32..128, w_zp in -128i32..128, seed in any::<u64>(),
        ) {
            let mut next = rng(seed);
            let (spy, spx) = (dy * (kh - 1) + 1, dx * (kw - 1) + 1);
            prop_assume!(h + pads[0] + pads[2] >= spy && w + pads[1] + pads[3] >= spx);
            let oh = (h + pads[0] + pads[2] - spy) / sy + 1;
            let ow = (w + pads[1] + pads[3] - spx) / sx + 1;
            let geo = ConvGeometry {
                in_chw: [cpg * groups, h, w],
                out_chw: [groups, oh, ow],
                kernel: [kh, kw],
                stride: [sy, sx],
                dilation: [dy, dx],
                pads,
                group: groups,
            };
            let x = bytes(cpg * groups * h * w, &mut next);
            let w_m = bytes(cpg * kh * kw, &mut next);
            let g = (next() as usize) % groups;
            for oy in 0..oh {
                let ox0 = (next() as usize) % ow;
                let n = 1 + (next() as usize) % (ow - ox0);
                let (mut want, mut got) = (vec![3i32; n], vec![3i32; n]);
                generic::conv_row(&x, x_zp, &w_m, w_zp, &geo, g * cpg, oy, ox0, &mut want);
                crate::engine::kernels::select::conv_row(&x, x_zp, &w_m, w_zp, &geo, g * cpg, oy, ox0, &mut got);
                prop_assert_eq!(got, want);
            }
        }

        #[test]
        fn axpy_equals_generic(
            n in 0usize..100, m in 0usize..100, x_zp in -128i32..128, w in -255i32..256, seed in any::<u64>(),
        ) {
            let mut next = rng(seed);
            let xs = bytes(n, &mut next);
            let init: Vec<i32> = (0..m).map(|_| next() as i32).collect();
            let (mut want, mut got) = (init.clone(), init);
            generic::axpy(&xs, x_zp, w, &mut want);
            prop_assert_eq!(axpy::<Host>(&xs, x_zp, w, &mut got), Host::available());
            prop_assert_eq!(got, want);
        }

        /// Rows of a matrix product: `B` transposed (stride 1, vector) or
        /// not (strided: the wrapper declines).
        #[test]
        fn dot_equals_generic(
            k in 0usize..200, start in 0usize..20, stride in 1usize..3, extra in 0usize..20,
            a_zp in -128i32..128, b_zp in -128i32..128, seed in any::<u64>(),
        ) {
            let mut next = rng(seed);
            let a = bytes(k, &mut next);
            let b = bytes(start + k * stride + extra, &mut next);
            let want = generic::dot_strided(&a, a_zp, &b, start, stride, b_zp);
            match dot::<Host>(&a, a_zp, &b, start, stride, b_zp) {
                Some(got) => prop_assert_eq!(got, want),
                None => prop_assert!(stride != 1 || !Host::available()),
            }
        }

        #[test]
        fn clamped_sum_equals_generic(n in 0usize..300, lo in any::<i8>(), hi in any::<i8>(), seed in any::<u64>()) {
            let mut next = rng(seed);
            let xs = bytes(n, &mut next);
            let want = generic::clamped_sum(&xs, lo, hi);
            prop_assert_eq!(clamped_sum::<Host>(&xs, lo, hi), Host::available().then_some(want));
        }

        /// Scales ≈ 2^-m over the usual range and past it (`Exact`,
        /// declined), half of them exact powers of two, with accumulators
        /// near ±150 output steps, a third of them on an exact rounding tie
        /// (only the right odd-bit carry rounds those to even), and some
        /// anywhere in i32; the whole int8 range or a fused activation's
        /// clamp; random zero points and rows, short and long.
        #[test]
        fn requantize_rows_equals_generic(
            rows in 1usize..5, cols in 0usize..40, slack in 0usize..5, zp in any::<i8>(),
            m in 1u32..45, exact in any::<bool>(), clamp in any::<bool>(),
            bias in -10i32..10, seed in any::<u64>(),
        ) {
            let mut next = rng(seed);
            let stride = cols + slack;
            let step = |v: i32| if m < 31 { v << m } else { v };
            let acc: Vec<i32> = (0..rows * stride)
                .map(|_| {
                    let low = match next() % 4 {
                        0 if m < 31 => 1 << (m - 1),
                        1 => 0,
                        2 => return next() as i32,
                        _ => (next() % (1 << m.min(30))) as i32,
                    };
                    step((next() % 301) as i32 - 150).wrapping_add(low)
                })
                .collect();
            let out = Output {
                tensor: 0,
                quant: Quant { scale: 1.0, zero_point: zp },
                clamp: if clamp { (zp.clamp(-100, 100), 100) } else { (-128, 127) },
            };
            let mantissa = if exact { 1.0 } else { 1.0 + (next() % 1000) as f32 / 1000.0 };
            let scale = mantissa * 2f32.powi(-(m as i32));
            let requant = Requant::new(RoundingScaler::new(scale), &out);
            let bias = step(bias);
            let (mut want, mut got) = (vec![0u8; rows * cols], vec![1u8; rows * cols]);
            generic::requantize_rows(&acc, stride, bias, &requant, &mut want, cols);
            let ran = requantize_rows::<Host>(&acc, stride, bias, &requant, &mut got, cols);
            let vector = Host::REQUANTIZE && Host::available();
            prop_assert_eq!(ran, vector && !matches!(requant, Requant::Exact(..)));
            if ran {
                prop_assert_eq!(got, want);
            }
        }
    }
}
