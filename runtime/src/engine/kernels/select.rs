//! The kernels the ops call, each the fastest this build and CPU have:
//! AVX2 on x86_64 where the CPU has it ([`super::x86`], detected at run time),
//! NEON on aarch64 ([`super::neon`], part of the base architecture), the
//! Cortex-M4 requantisation loop under `cfg(matpac_dsp)` ([`super::dsp`]),
//! else the portable reference ([`super::generic`]). Same signatures and
//! bit-identical results as the generic kernels; each vector kernel is
//! property-tested against them.

use super::generic::{self, POINTWISE_GROUP, Requant, Taps};
use crate::model::program::ConvGeometry;

/// This target's vector kernels.
#[cfg(target_arch = "x86_64")]
pub(super) type Host = super::x86::Avx2;
/// This target's vector kernels.
#[cfg(target_arch = "aarch64")]
pub(super) type Host = super::neon::Neon;

/// [`generic::pointwise_row`].
#[inline]
pub fn pointwise_row(x: &[u8], w_m: &[u8], w_zp: i32, hw: usize, p0: usize, acc: &mut [i32]) {
    #[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
    if super::vector::pointwise_row::<Host>(x, w_m, w_zp, hw, p0, acc) {
        return;
    }
    generic::pointwise_row(x, w_m, w_zp, hw, p0, acc);
}

/// [`generic::pointwise_rows`]; a group the vector kernel does not take (a
/// last, partial one) runs channel by channel through [`pointwise_row`].
#[inline]
pub fn pointwise_rows(
    x: &[u8],
    ws: [&[u8]; POINTWISE_GROUP],
    w_zps: [i32; POINTWISE_GROUP],
    hw: usize,
    p0: usize,
    accs: [&mut [i32]; POINTWISE_GROUP],
) {
    #[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
    let accs = {
        let mut accs = accs;
        if super::vector::pointwise_rows::<Host>(x, ws, w_zps, hw, p0, &mut accs) {
            return;
        }
        accs
    };
    for ((w_m, w_zp), acc) in ws.into_iter().zip(w_zps).zip(accs) {
        pointwise_row(x, w_m, w_zp, hw, p0, acc);
    }
}

/// [`generic::taps_row`].
#[inline]
pub fn taps_row(x: &[u8], taps: &Taps<'_>, w: &[u8], w_zp: i32, p0: usize, sums: &mut [i32]) {
    #[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
    if super::vector::taps_row::<Host>(x, taps, w, w_zp, p0, sums) {
        return;
    }
    generic::taps_row(x, taps, w, w_zp, p0, sums);
}

/// [`generic::axpy`].
#[inline]
pub fn axpy(xs: &[u8], x_zp: i32, w: i32, acc: &mut [i32]) {
    #[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
    if super::vector::axpy::<Host>(xs, x_zp, w, acc) {
        return;
    }
    generic::axpy(xs, x_zp, w, acc);
}

/// [`generic::conv_row`], its contiguous inner loops through [`axpy`].
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
    generic::conv_row_with(x, x_zp, w_m, w_zp, geo, c0, oy, ox0, acc, axpy);
}

/// [`generic::dot_strided`].
#[inline]
pub fn dot_strided(
    a: &[u8],
    a_zp: i32,
    b: &[u8],
    b_start: usize,
    b_stride: usize,
    b_zp: i32,
) -> i32 {
    #[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
    if let Some(sum) = super::vector::dot::<Host>(a, a_zp, b, b_start, b_stride, b_zp) {
        return sum;
    }
    generic::dot_strided(a, a_zp, b, b_start, b_stride, b_zp)
}

/// [`generic::clamped_sum`].
#[inline]
pub fn clamped_sum(xs: &[u8], lo: i8, hi: i8) -> i32 {
    #[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
    if let Some(sum) = super::vector::clamped_sum::<Host>(xs, lo, hi) {
        return sum;
    }
    generic::clamped_sum(xs, lo, hi)
}

/// [`generic::requantize_rows`].
#[inline]
pub fn requantize_rows(
    acc: &[i32],
    acc_stride: usize,
    bias: i32,
    requant: &Requant,
    y: &mut [u8],
    cols: usize,
) {
    #[cfg(matpac_dsp)]
    {
        super::dsp::requantize_rows(acc, acc_stride, bias, requant, y, cols);
        return;
    }
    #[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
    if super::vector::requantize_rows::<Host>(acc, acc_stride, bias, requant, y, cols) {
        return;
    }
    #[allow(unreachable_code)]
    generic::requantize_rows(acc, acc_stride, bias, requant, y, cols);
}
