//! aarch64 host kernels in NEON (part of the base architecture, so chosen at
//! compile time), for [`super::vector`]'s wrappers: int8 values widened to
//! i16 (`sxtl`) and multiplied into i32 lanes (`smlal`). The requantisation
//! stays the generic loop, which LLVM vectorises with NEON itself and which
//! took fewer instructions than a hand-written one. Results equal the
//! generic kernels':
//! every product is exact in its lane and the lanes accumulate with wrapping
//! i32 adds, whose order does not matter.
//!
//! Each kernel is an `unsafe` `#[target_feature(enable = "neon")]` function
//! that reads and writes only within its slices under [`Isa`]'s contracts.

#![allow(unsafe_code)]

use super::generic::POINTWISE_GROUP;
use super::vector::{Isa, MAX_GROUP_CHANNELS, blocks, sixteens};
use crate::fixed::HighWordScaler;
use core::arch::aarch64::*;

/// The NEON kernels.
pub struct Neon;

/// The int8 value `v` less the zero point `zp` (|·| ≤ 255: fits i16).
#[inline(always)]
fn centred(v: u8, zp: i32) -> i16 {
    (i32::from(v as i8) - zp) as i16
}

/// `acc[4q + i] += lane i of (x widened) · w` for the 16 int8 values `x`.
#[inline]
#[target_feature(enable = "neon")]
fn mla16(acc: &mut [int32x4_t; 4], x: int8x16_t, w: i16) {
    let (lo, hi) = (vmovl_s8(vget_low_s8(x)), vmovl_high_s8(x));
    acc[0] = vmlal_n_s16(acc[0], vget_low_s16(lo), w);
    acc[1] = vmlal_high_n_s16(acc[1], lo, w);
    acc[2] = vmlal_n_s16(acc[2], vget_low_s16(hi), w);
    acc[3] = vmlal_high_n_s16(acc[3], hi, w);
}

/// Sixteen bytes at `p` as int8 lanes.
///
/// # Safety
/// `p .. p + 16` is readable.
#[inline]
#[target_feature(enable = "neon")]
unsafe fn load16(p: *const u8) -> int8x16_t {
    // SAFETY: the caller's contract; `ld1` takes any alignment.
    unsafe { vld1q_s8(p.cast()) }
}

/// Writes `B` blocks of 16 accumulators to `out` (`16 · B` i32s).
#[inline]
#[target_feature(enable = "neon")]
fn store_acc<const B: usize>(out: &mut [i32], v: &[[int32x4_t; 4]; B]) {
    for (v, a) in v.iter().flatten().zip(out.chunks_exact_mut(4)) {
        // SAFETY: `a` holds 4 i32s.
        unsafe { vst1q_s32(a.as_mut_ptr(), *v) };
    }
}

/// `acc[j] += Σ_c x[c·hw + p + j] · (w_m[c] − w_zp)` for the pixels `skip
/// .. 16 · B` of a block of `16 · B`.
///
/// # Safety
/// `acc.len() == 16 · B`; `c · hw + p + 16 · B ≤ x.len()` for every
/// `c < w_m.len()`.
#[inline]
#[target_feature(enable = "neon")]
unsafe fn pointwise_block<const B: usize>(
    x: &[u8],
    w_m: &[u8],
    w_zp: i32,
    hw: usize,
    p: usize,
    acc: &mut [i32],
    skip: usize,
) {
    let mut v = [[vdupq_n_s32(0); 4]; B];
    for (c, &w) in w_m.iter().enumerate() {
        let w = centred(w, w_zp);
        for (b, v) in v.iter_mut().enumerate() {
            // SAFETY: channel c's run holds these 16 bytes (the contract).
            let xs = unsafe { load16(x.as_ptr().add(c * hw + p + 16 * b)) };
            mla16(v, xs, w);
        }
    }
    for (i, (acc, v)) in acc.chunks_exact_mut(16).zip(&v).enumerate() {
        accumulate(acc, v, skip.saturating_sub(16 * i));
    }
}

/// `acc[j] += lane j of v` for `j` from `skip` (`acc.len() == 16`; `skip`
/// is 0 but in a run's last block): vector adds, or lane by lane.
#[inline]
#[target_feature(enable = "neon")]
fn accumulate(acc: &mut [i32], v: &[int32x4_t; 4], skip: usize) {
    if skip == 0 {
        for (a, v) in acc.chunks_exact_mut(4).zip(v) {
            // SAFETY: `a` holds 4 i32s.
            unsafe { vst1q_s32(a.as_mut_ptr(), vaddq_s32(vld1q_s32(a.as_ptr()), *v)) };
        }
    } else {
        let mut sums = [0i32; 16];
        store_acc::<1>(&mut sums, &[*v]);
        for (a, &s) in acc.iter_mut().zip(&sums).skip(skip) {
            *a = a.wrapping_add(s);
        }
    }
}

/// [`Isa::pointwise_rows`]: per input channel and 16 pixels, the bytes are
/// loaded and widened once for the four output channels (16 `smlal`).
///
/// # Safety
/// As [`Isa::pointwise_rows`].
#[target_feature(enable = "neon")]
unsafe fn pointwise_rows(
    x: &[u8],
    ws: [&[u8]; POINTWISE_GROUP],
    w_zps: [i32; POINTWISE_GROUP],
    hw: usize,
    p0: usize,
    accs: &mut [&mut [i32]; POINTWISE_GROUP],
) -> usize {
    let c_n = ws[0].len();
    let mut packed = [[0i16; POINTWISE_GROUP]; MAX_GROUP_CHANNELS];
    for (c, entry) in packed.iter_mut().enumerate().take(c_n) {
        for ((e, w), &zp) in entry.iter_mut().zip(ws).zip(&w_zps) {
            *e = w.get(c).map_or(0, |&b| centred(b, zp));
        }
    }
    let packed = packed.get(..c_n).unwrap_or(&[]);
    let n = accs[0].len();
    if n < 16 {
        return 0;
    }
    for (start, skip) in sixteens(n) {
        let p = p0 + start;
        let mut v = [[vdupq_n_s32(0); 4]; POINTWISE_GROUP];
        for (c, w4) in packed.iter().enumerate() {
            // SAFETY: channel c's run holds pixels p .. p + 16 (the contract).
            let xs = unsafe { load16(x.as_ptr().add(c * hw + p)) };
            for (v, &w) in v.iter_mut().zip(w4) {
                mla16(v, xs, w);
            }
        }
        for (acc, v) in accs.iter_mut().zip(&v) {
            if let Some(acc) = acc.get_mut(start..start + 16) {
                accumulate(acc, v, skip);
            }
        }
    }
    n
}

/// `sums[j] = Σ_k x[offsets[k] + p + j] · (w[k] − w_zp)` for `16 · B` outputs.
///
/// # Safety
/// `sums.len() == 16 · B`; `o + p + 16 · B ≤ x.len()` for every offset `o`.
#[inline]
#[target_feature(enable = "neon")]
unsafe fn taps_block<const B: usize>(
    x: &[u8],
    offsets: &[usize],
    w: &[u8],
    w_zp: i32,
    p: usize,
    sums: &mut [i32],
) {
    let mut v = [[vdupq_n_s32(0); 4]; B];
    for (&o, &w) in offsets.iter().zip(w) {
        let w = centred(w, w_zp);
        for (b, v) in v.iter_mut().enumerate() {
            // SAFETY: the tap's run holds these 16 bytes (the contract).
            let xs = unsafe { load16(x.as_ptr().add(o + p + 16 * b)) };
            mla16(v, xs, w);
        }
    }
    store_acc(sums, &v);
}

// SAFETY: each kernel reads and writes only within its slices under the
// trait's contracts; NEON is part of every aarch64 target (`available`).
unsafe impl Isa for Neon {
    fn available() -> bool {
        cfg!(target_feature = "neon")
    }

    unsafe fn pointwise_row(
        x: &[u8],
        w_m: &[u8],
        w_zp: i32,
        hw: usize,
        p0: usize,
        acc: &mut [i32],
    ) -> usize {
        blocks(acc, 32, |j, b, skip| {
            // SAFETY: NEON (the contract); block j's pixels are inside every
            // channel's run, which the contract puts inside x.
            unsafe {
                if b.len() == 32 {
                    pointwise_block::<2>(x, w_m, w_zp, hw, p0 + j, b, skip)
                } else {
                    pointwise_block::<1>(x, w_m, w_zp, hw, p0 + j, b, skip)
                }
            }
        })
    }

    unsafe fn pointwise_rows(
        x: &[u8],
        ws: [&[u8]; POINTWISE_GROUP],
        w_zps: [i32; POINTWISE_GROUP],
        hw: usize,
        p0: usize,
        accs: &mut [&mut [i32]; POINTWISE_GROUP],
    ) -> usize {
        // SAFETY: the trait's contract is the kernel's.
        unsafe { pointwise_rows(x, ws, w_zps, hw, p0, accs) }
    }

    unsafe fn taps_row(
        x: &[u8],
        offsets: &[usize],
        w: &[u8],
        w_zp: i32,
        p0: usize,
        sums: &mut [i32],
    ) -> usize {
        // A block's outputs are written, not added to: the last block may
        // compute outputs again.
        blocks(sums, 32, |j, b, _| {
            // SAFETY: NEON (the contract); block j's outputs are inside every
            // tap's run, which the contract puts inside x.
            unsafe {
                if b.len() == 32 {
                    taps_block::<2>(x, offsets, w, w_zp, p0 + j, b)
                } else {
                    taps_block::<1>(x, offsets, w, w_zp, p0 + j, b)
                }
            }
        })
    }

    unsafe fn axpy(xs: &[u8], x_zp: i32, w: i32, acc: &mut [i32]) -> usize {
        // SAFETY: NEON (the contract).
        unsafe { axpy(xs, x_zp, w, acc) }
    }

    unsafe fn dot(a: &[u8], a_zp: i32, b: &[u8], b_zp: i32) -> (i32, usize) {
        // SAFETY: NEON (the contract).
        unsafe { dot(a, a_zp, b, b_zp) }
    }

    unsafe fn clamped_sum(xs: &[u8], lo: i8, hi: i8) -> (i32, usize) {
        // SAFETY: NEON (the contract).
        unsafe { clamped_sum(xs, lo, hi) }
    }

    /// None: LLVM vectorises the generic loop on aarch64, and that loop
    /// took fewer instructions than a NEON one (`docs/results.md`).
    const REQUANTIZE: bool = false;

    unsafe fn requantize(
        _: &[i32],
        _: i32,
        _: HighWordScaler,
        _: i32,
        _: i32,
        _: &mut [u8],
    ) -> usize {
        0
    }
}

/// [`Isa::axpy`] in 8-lane blocks, in i32 lanes (any `w`).
#[target_feature(enable = "neon")]
fn axpy(xs: &[u8], x_zp: i32, w: i32, acc: &mut [i32]) -> usize {
    let zp = vdupq_n_s32(x_zp);
    let mut done = 0;
    for (a, x) in acc.chunks_exact_mut(8).zip(xs.chunks_exact(8)) {
        // SAFETY: `x` holds 8 bytes and `a` 8 i32s.
        unsafe {
            let v = vmovl_s8(vld1_s8(x.as_ptr().cast()));
            let lo = vsubq_s32(vmovl_s16(vget_low_s16(v)), zp);
            let hi = vsubq_s32(vmovl_high_s16(v), zp);
            let p = a.as_mut_ptr();
            vst1q_s32(p, vmlaq_n_s32(vld1q_s32(p), lo, w));
            vst1q_s32(p.add(4), vmlaq_n_s32(vld1q_s32(p.add(4)), hi, w));
        }
        done += 8;
    }
    done
}

/// [`Isa::dot`] in 16-term blocks (zero points int8 values).
#[target_feature(enable = "neon")]
fn dot(a: &[u8], a_zp: i32, b: &[u8], b_zp: i32) -> (i32, usize) {
    let (za, zb) = (vdupq_n_s16(a_zp as i16), vdupq_n_s16(b_zp as i16));
    let mut acc = vdupq_n_s32(0);
    let mut done = 0;
    for (u, v) in a.chunks_exact(16).zip(b.chunks_exact(16)) {
        // SAFETY: `u` and `v` hold 16 bytes each.
        let (u, v) = unsafe { (load16(u.as_ptr()), load16(v.as_ptr())) };
        let (ul, uh) = (
            vsubq_s16(vmovl_s8(vget_low_s8(u)), za),
            vsubq_s16(vmovl_high_s8(u), za),
        );
        let (vl, vh) = (
            vsubq_s16(vmovl_s8(vget_low_s8(v)), zb),
            vsubq_s16(vmovl_high_s8(v), zb),
        );
        acc = vmlal_s16(acc, vget_low_s16(ul), vget_low_s16(vl));
        acc = vmlal_high_s16(acc, ul, vl);
        acc = vmlal_s16(acc, vget_low_s16(uh), vget_low_s16(vh));
        acc = vmlal_high_s16(acc, uh, vh);
        done += 16;
    }
    (lane_sum(acc), done)
}

/// The wrapping sum of the four lanes of `v`.
#[inline]
#[target_feature(enable = "neon")]
fn lane_sum(v: int32x4_t) -> i32 {
    let mut lanes = [0i32; 4];
    // SAFETY: `lanes` holds 4 i32s.
    unsafe { vst1q_s32(lanes.as_mut_ptr(), v) };
    lanes.iter().fold(0i32, |s, &l| s.wrapping_add(l))
}

/// [`Isa::clamped_sum`] in 16-byte blocks: pairwise widening adds
/// (`saddlp`, `sadalp`) into wrapping i32 lanes.
#[target_feature(enable = "neon")]
fn clamped_sum(xs: &[u8], lo: i8, hi: i8) -> (i32, usize) {
    let (lo, hi) = (vdupq_n_s8(lo), vdupq_n_s8(hi));
    let mut acc = vdupq_n_s32(0);
    let mut done = 0;
    for chunk in xs.chunks_exact(16) {
        // SAFETY: `chunk` holds 16 bytes.
        let v = unsafe { load16(chunk.as_ptr()) };
        let v = vminq_s8(vmaxq_s8(v, lo), hi);
        acc = vpadalq_s16(acc, vpaddlq_s8(v));
        done += 16;
    }
    (lane_sum(acc), done)
}
