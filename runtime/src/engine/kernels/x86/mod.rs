//! x86_64 host kernels: AVX2 versions ([`avx2`]) of the generic kernels,
//! chosen at run time where the CPU has AVX2 (or at compile time where the
//! build targets it, `-C target-feature=+avx2`), bit-identical to them.
//!
//! Detection without `std`: `cpuid` leaf 1 (AVX, and `OSXSAVE`: the OS saves
//! the wide registers), `xgetbv` (the OS enabled the SSE and AVX state) and
//! leaf 7 (AVX2), done once and cached in an atomic byte.
//!
//! [`Avx2`] hands the kernels to [`super::vector`]'s wrappers.

#![allow(unsafe_code)]

mod avx2;

use super::generic::POINTWISE_GROUP;
use super::vector::Isa;
use crate::fixed::HighWordScaler;
use core::sync::atomic::{AtomicU8, Ordering};

/// Detection not done yet.
const UNKNOWN: u8 = 0;
/// No AVX2 (or the OS does not save its registers).
const NONE: u8 = 1;
/// AVX2 usable.
const AVX2: u8 = 2;

static LEVEL: AtomicU8 = AtomicU8::new(UNKNOWN);

/// Whether the AVX2 kernels run here.
pub fn has_avx2() -> bool {
    if cfg!(target_feature = "avx2") {
        return true;
    }
    let level = match LEVEL.load(Ordering::Relaxed) {
        UNKNOWN => {
            let level = detect();
            LEVEL.store(level, Ordering::Relaxed);
            level
        }
        level => level,
    };
    level == AVX2
}

/// `cpuid` and `xgetbv` as the Intel and AMD manuals specify the AVX2 check.
fn detect() -> u8 {
    use core::arch::x86_64::{__cpuid, __cpuid_count};
    let max_leaf = __cpuid(0).eax;
    let leaf1 = __cpuid(1);
    let (osxsave, avx) = (leaf1.ecx & (1 << 27) != 0, leaf1.ecx & (1 << 28) != 0);
    if max_leaf < 7 || !osxsave || !avx {
        return NONE;
    }
    // SAFETY: OSXSAVE is set, so `xgetbv` exists and XCR0 is readable.
    let xcr0 = unsafe { xcr0() };
    // XMM (bit 1) and YMM (bit 2) state enabled by the OS.
    if xcr0 & 0b110 != 0b110 {
        return NONE;
    }
    if __cpuid_count(7, 0).ebx & (1 << 5) != 0 {
        AVX2
    } else {
        NONE
    }
}

/// XCR0, the OS-enabled register state.
///
/// # Safety
/// The CPU has `xgetbv` (cpuid leaf 1 `OSXSAVE`).
#[target_feature(enable = "xsave")]
unsafe fn xcr0() -> u64 {
    // SAFETY: the caller's contract.
    unsafe { core::arch::x86_64::_xgetbv(0) }
}

/// The AVX2 kernels, for [`super::vector`]'s wrappers.
pub struct Avx2;

// SAFETY: each kernel reads and writes only within its slices under the
// trait's contracts (see `avx2`), and runs only once `has_avx2()` held.
unsafe impl Isa for Avx2 {
    fn available() -> bool {
        has_avx2()
    }

    unsafe fn pointwise_row(
        x: &[u8],
        w_m: &[u8],
        w_zp: i32,
        hw: usize,
        p0: usize,
        acc: &mut [i32],
    ) -> usize {
        // SAFETY: the trait's contract is the kernel's.
        unsafe { avx2::pointwise_row(x, w_m, w_zp, hw, p0, acc) }
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
        unsafe { avx2::pointwise_rows(x, ws, w_zps, hw, p0, accs) }
    }

    unsafe fn taps_row(
        x: &[u8],
        offsets: &[usize],
        w: &[u8],
        w_zp: i32,
        p0: usize,
        sums: &mut [i32],
    ) -> usize {
        // SAFETY: the trait's contract is the kernel's.
        unsafe { avx2::taps_row(x, offsets, w, w_zp, p0, sums) }
    }

    unsafe fn axpy(xs: &[u8], x_zp: i32, w: i32, acc: &mut [i32]) -> usize {
        // SAFETY: the trait's contract is the kernel's.
        unsafe { avx2::axpy(xs, x_zp, w, acc) }
    }

    unsafe fn dot(a: &[u8], a_zp: i32, b: &[u8], b_zp: i32) -> (i32, usize) {
        // SAFETY: the trait's contract is the kernel's.
        unsafe { avx2::dot(a, a_zp, b, b_zp) }
    }

    unsafe fn clamped_sum(xs: &[u8], lo: i8, hi: i8) -> (i32, usize) {
        // SAFETY: the trait's contract is the kernel's.
        unsafe { avx2::clamped_sum(xs, lo, hi) }
    }

    const REQUANTIZE: bool = true;

    unsafe fn requantize(
        acc: &[i32],
        bias: i32,
        word: HighWordScaler,
        lo: i32,
        hi: i32,
        y: &mut [u8],
    ) -> usize {
        // SAFETY: the trait's contract is the kernel's.
        unsafe { avx2::requantize(acc, bias, word, lo, hi, y) }
    }
}
