//! The hot int8 kernels on the Armv7E-M DSP extension (Cortex-M4/M7): four
//! int8 values per 32-bit load, widened two at a time to 16-bit halves
//! (`SXTB16`, and `SXTB16 … ROR #8` for the odd bytes) and multiplied and
//! accumulated two at a time (`SMLAD`: `acc + lo·lo + hi·hi`), which is what
//! CMSIS-NN does on the same cores.
//!
//! Under `cfg(matpac_dsp)` (set by the crate's build script for `thumbv7em-*`)
//! the four primitives below are single instructions through `asm!`; on other
//! targets they are portable Rust with the same results, so the kernels'
//! logic is property-tested on the host and the instructions themselves are
//! checked against [`super::generic`] on Cortex-M4 by the firmware's QEMU
//! binary (`kernel_check` lines). Results are the exact int32 sums of the
//! generic kernels: each product of two int8 values and each `SMLAD` pair sum
//! fits in 16/32 bits, and the accumulation wraps like the generic one.
//!
//! Weights must have zero point 0 (symmetric, as `matpac quantize` and
//! onnxruntime's per-channel int8 make them); the callers fall back to the
//! generic kernels otherwise.

/// The bytes of `b` (4 of them) as a little-endian word.
#[inline(always)]
fn word(b: &[u8]) -> u32 {
    match *b {
        [b0, b1, b2, b3] => u32::from_le_bytes([b0, b1, b2, b3]),
        _ => 0,
    }
}

#[cfg(matpac_dsp)]
#[allow(unsafe_code)]
mod isa {
    //! The DSP instructions. Audited: each block reads only its register
    //! operands and writes only its output register (`pure, nomem, nostack`);
    //! none of them touches memory, the stack or flags other than Q (which
    //! nothing here reads).
    use core::arch::asm;

    /// `(i16 b0, i16 b2)` of the word's bytes `[b0, b1, b2, b3]`.
    #[inline(always)]
    pub fn sxtb16(x: u32) -> u32 {
        let r: u32;
        // SAFETY: register-only instruction, see the module comment.
        unsafe {
            asm!("sxtb16 {r}, {x}", r = lateout(reg) r, x = in(reg) x, options(pure, nomem, nostack, preserves_flags))
        };
        r
    }

    /// `(i16 b1, i16 b3)` of the word's bytes `[b0, b1, b2, b3]`.
    #[inline(always)]
    pub fn sxtb16_ror8(x: u32) -> u32 {
        let r: u32;
        // SAFETY: register-only instruction, see the module comment.
        unsafe {
            asm!("sxtb16 {r}, {x}, ror #8", r = lateout(reg) r, x = in(reg) x, options(pure, nomem, nostack, preserves_flags))
        };
        r
    }

    /// `acc + a.lo · b.lo + a.hi · b.hi` (signed 16-bit halves).
    #[inline(always)]
    pub fn smlad(a: u32, b: u32, acc: i32) -> i32 {
        let r: i32;
        // SAFETY: register-only instruction (sets only the sticky Q flag).
        unsafe {
            asm!("smlad {r}, {a}, {b}, {acc}", r = lateout(reg) r, a = in(reg) a, b = in(reg) b, acc = in(reg) acc, options(pure, nomem, nostack))
        };
        r
    }

    /// `(lo.lo, hi.lo)`: the low halves of `lo` and `hi`, in that order.
    #[inline(always)]
    pub fn pkhbt(lo: u32, hi: u32) -> u32 {
        let r: u32;
        // SAFETY: register-only instruction, see the module comment.
        unsafe {
            asm!("pkhbt {r}, {lo}, {hi}, lsl #16", r = lateout(reg) r, lo = in(reg) lo, hi = in(reg) hi, options(pure, nomem, nostack, preserves_flags))
        };
        r
    }

    /// The little-endian word at byte `at` of `x` (any alignment: Cortex-M4
    /// loads unaligned words with `LDR`).
    ///
    /// # Safety
    /// `at + 4 <= x.len()`.
    #[inline(always)]
    pub unsafe fn read_word(x: &[u8], at: usize) -> u32 {
        // SAFETY: the caller guarantees the 4 bytes are inside `x`;
        // `read_unaligned` has no alignment requirement.
        unsafe { x.as_ptr().add(at).cast::<u32>().read_unaligned() }
    }

    /// `(lo.hi, hi.hi)`: the high halves of `lo` and `hi`, in that order.
    #[inline(always)]
    pub fn pkhtb(hi: u32, lo: u32) -> u32 {
        let r: u32;
        // SAFETY: register-only instruction, see the module comment.
        unsafe {
            asm!("pkhtb {r}, {hi}, {lo}, asr #16", r = lateout(reg) r, hi = in(reg) hi, lo = in(reg) lo, options(pure, nomem, nostack, preserves_flags))
        };
        r
    }
}

#[cfg(not(matpac_dsp))]
mod isa {
    //! The same operations in portable Rust (host tests of the kernels' logic).

    fn halves(x: u32) -> (i32, i32) {
        (
            i32::from(x as u16 as i16),
            i32::from((x >> 16) as u16 as i16),
        )
    }

    fn pack(lo: i32, hi: i32) -> u32 {
        u32::from(lo as u16) | (u32::from(hi as u16) << 16)
    }

    /// `(i16 b0, i16 b2)` of the word's bytes `[b0, b1, b2, b3]`.
    pub fn sxtb16(x: u32) -> u32 {
        pack(i32::from(x as u8 as i8), i32::from((x >> 16) as u8 as i8))
    }

    /// `(i16 b1, i16 b3)` of the word's bytes `[b0, b1, b2, b3]`.
    pub fn sxtb16_ror8(x: u32) -> u32 {
        sxtb16(x.rotate_right(8))
    }

    /// `acc + a.lo · b.lo + a.hi · b.hi` (signed 16-bit halves), wrapping.
    pub fn smlad(a: u32, b: u32, acc: i32) -> i32 {
        let ((a0, a1), (b0, b1)) = (halves(a), halves(b));
        acc.wrapping_add((a0 * b0).wrapping_add(a1 * b1))
    }

    /// `(lo.lo, hi.lo)`: the low halves of `lo` and `hi`, in that order.
    pub fn pkhbt(lo: u32, hi: u32) -> u32 {
        (lo & 0xffff) | (hi << 16)
    }

    /// `(lo.hi, hi.hi)`: the high halves of `lo` and `hi`, in that order.
    pub fn pkhtb(hi: u32, lo: u32) -> u32 {
        (hi & 0xffff_0000) | (lo >> 16)
    }

    /// The little-endian word at byte `at` of `x`, 0 past the end (checked
    /// here, though callers keep the Arm version's contract).
    ///
    /// # Safety
    /// None needed; `unsafe` only to share the Arm version's signature.
    #[allow(unsafe_code)]
    pub unsafe fn read_word(x: &[u8], at: usize) -> u32 {
        at.checked_add(4)
            .and_then(|end| x.get(at..end))
            .map_or(0, super::word)
    }
}

use isa::{pkhbt, pkhtb, read_word, smlad, sxtb16, sxtb16_ror8};

/// `Σ_k a[k] · b[k]` of two int8 vectors (`u8` storage), over the shorter
/// length, wrapping: the window sum of one output of a convolution whose
/// window was gathered into `a` and whose weights (zero point 0) are `b`.
#[inline]
pub fn dot(a: &[u8], b: &[u8]) -> i32 {
    let n = a.len().min(b.len());
    let (a, b) = (a.get(..n).unwrap_or(&[]), b.get(..n).unwrap_or(&[]));
    let (mut qa, mut qb) = (a.chunks_exact(4), b.chunks_exact(4));
    let mut acc = 0i32;
    for (u, v) in (&mut qa).zip(&mut qb) {
        let (u, v) = (word(u), word(v));
        acc = smlad(sxtb16(u), sxtb16(v), acc);
        acc = smlad(sxtb16_ror8(u), sxtb16_ror8(v), acc);
    }
    for (&u, &v) in qa.remainder().iter().zip(qb.remainder()) {
        acc = acc.wrapping_add(i32::from(u as i8) * i32::from(v as i8));
    }
    acc
}

/// [`super::generic::pointwise_row`] with weight zero point 0: `acc[j] +=
/// Σ_c x[c, p0 + j] · w_m[c]` over `[C, H·W]` planes of `hw` pixels
/// (`C = w_m.len()`), four pixels at a time ([`pointwise4`]); pixels past the
/// last whole block go through the scalar loop. Not inlined: inside the
/// convolution's driver loop the block's values spilled to the stack.
#[inline(never)]
pub fn pointwise_row(x: &[u8], w_m: &[u8], hw: usize, p0: usize, acc: &mut [i32]) {
    let mut blocks = acc.chunks_exact_mut(4);
    let mut p = p0;
    for a in &mut blocks {
        let sums = pointwise4(x, w_m, hw, p);
        for (a, s) in a.iter_mut().zip(sums) {
            *a = a.wrapping_add(s);
        }
        p += 4;
    }
    for (j, a) in blocks.into_remainder().iter_mut().enumerate() {
        let col = x.get(p + j..).unwrap_or(&[]);
        let sum = w_m
            .iter()
            .zip(col.iter().step_by(hw.max(1)))
            .fold(0i32, |s, (&wv, &xv)| {
                s.wrapping_add(i32::from(xv as i8) * i32::from(wv as i8))
            });
        *a = a.wrapping_add(sum);
    }
}

/// `Σ_c x[c·hw + p + j] · w_m[c]` for the four pixels `j = 0..4`, summed in
/// registers over input channels four at a time: one word of four pixels from
/// each of four planes, regrouped into (channel c, c + 2) and (c + 1, c + 3)
/// pairs per pixel (`PKHBT`/`PKHTB`) to meet the weights' `SXTB16` halves,
/// then two `SMLAD` per pixel: 16 MACs from 4 + 1 loads. Zero if the planes
/// do not hold the block (`p + 4 > hw` or `x` shorter than `C · hw`).
#[inline]
#[allow(unsafe_code)]
pub fn pointwise4(x: &[u8], w_m: &[u8], hw: usize, p: usize) -> [i32; 4] {
    let mut acc = [0i32; 4];
    let c_len = w_m.len();
    // Every read below is of bytes `c·hw + p .. c·hw + p + 4` with c < C.
    let Some(x) = c_len.checked_mul(hw).and_then(|len| x.get(..len)) else {
        return acc;
    };
    if p.checked_add(4).is_none_or(|end| end > hw) {
        return acc;
    }
    // SAFETY (`read_word`'s contract): every `at` below is c·hw + p with
    // c < C, and c·hw + p + 4 ≤ (C − 1)·hw + hw = C·hw = x.len() by the two
    // checks above.
    let read = |at: usize| unsafe { read_word(x, at) };
    let mut quads = w_m.chunks_exact(4);
    let mut c = 0;
    let mut at = p;
    for q in &mut quads {
        let wq = word(q);
        let (w02, w13) = (sxtb16(wq), sxtb16_ror8(wq));
        // Pixels 0 and 2 of the block sit in the even bytes, 1 and 3 in the
        // odd: two passes, each reloading the four words, keep the live
        // values within the core's registers (one pass spilled on the M4).
        let (e0, e1, e2, e3) = (
            sxtb16(read(at)),
            sxtb16(read(at + hw)),
            sxtb16(read(at + 2 * hw)),
            sxtb16(read(at + 3 * hw)),
        );
        acc[0] = smlad(pkhbt(e1, e3), w13, smlad(pkhbt(e0, e2), w02, acc[0]));
        acc[2] = smlad(pkhtb(e3, e1), w13, smlad(pkhtb(e2, e0), w02, acc[2]));
        let (o0, o1, o2, o3) = (
            sxtb16_ror8(read(at)),
            sxtb16_ror8(read(at + hw)),
            sxtb16_ror8(read(at + 2 * hw)),
            sxtb16_ror8(read(at + 3 * hw)),
        );
        acc[1] = smlad(pkhbt(o1, o3), w13, smlad(pkhbt(o0, o2), w02, acc[1]));
        acc[3] = smlad(pkhtb(o3, o1), w13, smlad(pkhtb(o2, o0), w02, acc[3]));
        at += 4 * hw;
        c += 4;
    }
    for &wv in quads.remainder() {
        let u = read(c * hw + p);
        for (j, a) in acc.iter_mut().enumerate() {
            let xv = (u >> (8 * j)) as u8 as i8;
            *a = a.wrapping_add(i32::from(xv) * i32::from(wv as i8));
        }
        c += 1;
    }
    acc
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::kernels::generic;
    use proptest::prelude::*;

    #[test]
    fn primitives_match_their_definitions() {
        let x = u32::from_le_bytes([0x80, 0x7f, 0xff, 0x01]); // −128, 127, −1, 1
        assert_eq!(sxtb16(x), (0xffffu32 << 16) | 0xff80); // (−128, −1)
        assert_eq!(sxtb16_ror8(x), (1u32 << 16) | 0x7f); // (127, 1)
        // (−128)(−128) + (−1)(−1) + 5
        assert_eq!(smlad(sxtb16(x), sxtb16(x), 5), 16384 + 1 + 5);
        assert_eq!(pkhbt(0x1111_2222, 0x3333_4444), 0x4444_2222);
        assert_eq!(pkhtb(0x1111_2222, 0x3333_4444), 0x1111_3333);
    }

    proptest! {
        #[test]
        fn dot_equals_the_scalar_sum(a in prop::collection::vec(any::<u8>(), 0..70), b in prop::collection::vec(any::<u8>(), 0..70)) {
            let want = a.iter().zip(&b).fold(0i32, |s, (&u, &v)| s + i32::from(u as i8) * i32::from(v as i8));
            prop_assert_eq!(dot(&a, &b), want);
        }

        #[test]
        fn pointwise_row_equals_generic(c in 1usize..11, hw in 1usize..40, p0_frac in 0.0f64..1.0, seed in any::<u64>()) {
            let mut s = seed | 1;
            let mut next = move || { s ^= s << 13; s ^= s >> 7; s ^= s << 17; s as u8 };
            let x: Vec<u8> = (0..c * hw).map(|_| next()).collect();
            let w: Vec<u8> = (0..c).map(|_| next()).collect();
            let p0 = ((hw as f64) * p0_frac) as usize;
            let n = hw - p0;
            let mut want = vec![-3i32; n];
            let mut got = want.clone();
            generic::pointwise_row(&x, &w, 0, hw, p0, &mut want);
            pointwise_row(&x, &w, hw, p0, &mut got);
            prop_assert_eq!(got, want);
        }
    }
}
