//! The hot int8 kernels on the Armv7E-M DSP extension (Cortex-M4/M7): four
//! int8 values per 32-bit load, widened two at a time to 16-bit halves
//! (`SXTB16`, and `SXTB16 … ROR #8` for the odd bytes), then multiplied and
//! accumulated from the halves: two at a time along one vector (`SMLAD`:
//! `acc + lo·lo + hi·hi`, [`dot_pairs`]) or one half at a time into four
//! neighbouring outputs that share a weight (`SMLABB`/`SMLATB`: `acc + half·w`,
//! [`taps_row`]).
//!
//! Under `cfg(matpac_dsp)` (set by the crate's build script for `thumbv7em-*`)
//! the four instruction wrappers below are single instructions through `asm!`,
//! `read_word` one unaligned `LDR` and `dot_pair_blocks` one `asm!` loop; on other
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

#[cfg(matpac_dsp)]
#[allow(unsafe_code)]
mod isa {
    //! The DSP instructions. Audited: each `asm!` block reads only its
    //! register operands and writes only its output register (`pure, nomem,
    //! nostack`); none of them touches memory, the stack or flags other than Q
    //! (which nothing here reads). `read_word` is the one memory access: an
    //! unaligned word load whose bounds its callers establish (see its
    //! `# Safety`).
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

    /// `acc + a.lo · b.lo` (signed 16-bit halves).
    #[inline(always)]
    pub fn smlabb(a: u32, b: i32, acc: i32) -> i32 {
        let r: i32;
        // SAFETY: register-only instruction (sets only the sticky Q flag).
        unsafe {
            asm!("smlabb {r}, {a}, {b}, {acc}", r = lateout(reg) r, a = in(reg) a, b = in(reg) b, acc = in(reg) acc, options(pure, nomem, nostack))
        };
        r
    }

    /// `acc + a.hi · b.lo` (signed 16-bit halves).
    #[inline(always)]
    pub fn smlatb(a: u32, b: i32, acc: i32) -> i32 {
        let r: i32;
        // SAFETY: register-only instruction (sets only the sticky Q flag).
        unsafe {
            asm!("smlatb {r}, {a}, {b}, {acc}", r = lateout(reg) r, a = in(reg) a, b = in(reg) b, acc = in(reg) acc, options(pure, nomem, nostack))
        };
        r
    }

    /// [`super::dot_pairs`] over `blocks` (≥ 1) blocks of eight bytes at `x`
    /// and at `f`: per block, the filter pair's words are widened once into
    /// four registers, each pixel's word into two, and eight `SMLAD`s
    /// accumulate. Thirteen live values: the loop borrows `r7` (the frame
    /// pointer, which `asm!` cannot take as an operand), saved on the stack
    /// around the loop. `LDR` takes any alignment on Cortex-M4 (unaligned
    /// access is not trapped unless `CCR.UNALIGN_TRP` is set, which nothing
    /// here does).
    ///
    /// # Safety
    /// `blocks ≥ 1`, and `x` and `f` each point to `8 · blocks` readable bytes.
    #[inline(always)]
    pub unsafe fn dot_pair_blocks(x: *const u8, f: *const u8, blocks: usize) -> [i32; 4] {
        let mut acc = [0i32; 4];
        // SAFETY: reads exactly 8·blocks bytes from each pointer (the
        // caller's contract); r7 is pushed before and popped after its use,
        // so the frame pointer is intact when the block ends; the stack is
        // left as found.
        unsafe {
            asm!(
                "push {{r7}}",
                "2:",
                "ldr r7, [{f}], #4",
                "sxtb16 {f0e}, r7",
                "sxtb16 r7, r7, ror #8",
                "ldr {f1o}, [{f}], #4",
                "sxtb16 {f1e}, {f1o}",
                "sxtb16 {f1o}, {f1o}, ror #8",
                "ldr {xo}, [{x}], #4",
                "sxtb16 {xe}, {xo}",
                "sxtb16 {xo}, {xo}, ror #8",
                "smlad {a0}, {xe}, {f0e}, {a0}",
                "smlad {a0}, {xo}, r7, {a0}",
                "smlad {a1}, {xe}, {f1e}, {a1}",
                "smlad {a1}, {xo}, {f1o}, {a1}",
                "ldr {xo}, [{x}], #4",
                "sxtb16 {xe}, {xo}",
                "sxtb16 {xo}, {xo}, ror #8",
                "smlad {a2}, {xe}, {f0e}, {a2}",
                "smlad {a2}, {xo}, r7, {a2}",
                "smlad {a3}, {xe}, {f1e}, {a3}",
                "smlad {a3}, {xo}, {f1o}, {a3}",
                "cmp {x}, {end}",
                "bne 2b",
                "pop {{r7}}",
                x = inout(reg) x => _,
                f = inout(reg) f => _,
                end = in(reg) x.add(8 * blocks),
                a0 = inout(reg) acc[0],
                a1 = inout(reg) acc[1],
                a2 = inout(reg) acc[2],
                a3 = inout(reg) acc[3],
                f0e = out(reg) _,
                f1e = out(reg) _,
                f1o = out(reg) _,
                xe = out(reg) _,
                xo = out(reg) _,
            );
        }
        acc
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
}

#[cfg(not(matpac_dsp))]
mod isa {
    //! The same operations in portable Rust (host tests of the kernels' logic).

    /// The bytes of `b` (4 of them) as a little-endian word.
    fn word(b: &[u8]) -> u32 {
        match *b {
            [b0, b1, b2, b3] => u32::from_le_bytes([b0, b1, b2, b3]),
            _ => 0,
        }
    }

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

    /// `acc + a.lo · b.lo` (signed 16-bit halves), wrapping.
    pub fn smlabb(a: u32, b: i32, acc: i32) -> i32 {
        acc.wrapping_add(halves(a).0 * halves(b as u32).0)
    }

    /// `acc + a.hi · b.lo` (signed 16-bit halves), wrapping.
    pub fn smlatb(a: u32, b: i32, acc: i32) -> i32 {
        acc.wrapping_add(halves(a).1 * halves(b as u32).0)
    }

    /// [`super::dot_pairs`] over `blocks` blocks of eight bytes at `x` and at `f`.
    ///
    /// # Safety
    /// `x` and `f` each point to `8 · blocks` readable bytes.
    #[allow(unsafe_code)]
    pub unsafe fn dot_pair_blocks(x: *const u8, f: *const u8, blocks: usize) -> [i32; 4] {
        // SAFETY: the caller's contract.
        let (x, f) = unsafe {
            (
                core::slice::from_raw_parts(x, 8 * blocks),
                core::slice::from_raw_parts(f, 8 * blocks),
            )
        };
        let mut acc = [0i32; 4];
        for (xb, fb) in x.chunks_exact(8).zip(f.chunks_exact(8)) {
            let (f0, f1) = (word(&fb[..4]), word(&fb[4..]));
            let (f0e, f0o, f1e, f1o) = (sxtb16(f0), sxtb16_ror8(f0), sxtb16(f1), sxtb16_ror8(f1));
            for (j, xw) in [&xb[..4], &xb[4..]].into_iter().enumerate() {
                let xw = word(xw);
                let (xe, xo) = (sxtb16(xw), sxtb16_ror8(xw));
                acc[2 * j] = smlad(xo, f0o, smlad(xe, f0e, acc[2 * j]));
                acc[2 * j + 1] = smlad(xo, f1o, smlad(xe, f1e, acc[2 * j + 1]));
            }
        }
        acc
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
            .map_or(0, word)
    }
}

use super::generic::Taps;
use isa::{read_word, smlabb, smlatb, sxtb16, sxtb16_ror8};

/// The four dot products of a pixel pair with a filter pair, both packed in
/// blocks of eight bytes (four channels of the first, then the same four of
/// the second; `model::program::PixelPairs`): `[x0·f0, x0·f1, x1·f0,
/// x1·f1]` over the blocks both hold, wrapping. Per block: four word loads,
/// eight `SXTB16` and eight `SMLAD` for 16 MACs (on Cortex-M4 one `asm!`
/// loop: its thirteen live values need one register more than the compiler
/// hands to Rust code, which spilled two of them per block).
#[allow(unsafe_code)]
pub fn dot_pairs(x: &[u8], f: &[u8]) -> [i32; 4] {
    let blocks = x.len().min(f.len()) / 8;
    if blocks == 0 {
        return [0; 4];
    }
    // SAFETY (`dot_pair_blocks`' contract): both slices hold 8·blocks bytes.
    unsafe { isa::dot_pair_blocks(x.as_ptr(), f.as_ptr(), blocks) }
}

/// `acc[j] += x[j] · w` for the four int8 values `x[0..4]` in the word `u`:
/// `SXTB16` splits it into (x0, x2) and (x1, x3), and `SMLABB`/`SMLATB`
/// multiply each half by `w` and accumulate. Few live values (this replaced
/// a four-channel `SMLAD` block whose regrouping spilled to the stack).
#[inline(always)]
fn mac4(u: u32, w: i32, acc: &mut [i32; 4]) {
    let even = sxtb16(u);
    acc[0] = smlabb(even, w, acc[0]);
    acc[2] = smlatb(even, w, acc[2]);
    let odd = sxtb16_ror8(u);
    acc[1] = smlabb(odd, w, acc[1]);
    acc[3] = smlatb(odd, w, acc[3]);
}

/// [`super::generic::taps_row`] with weight zero point 0: `sums[j] = Σ_k
/// x[offsets[k] + p0 + j] · w[k]` (the taps of a depthwise convolution over
/// its phase planes), four outputs at a time (`mac4` per tap); a last,
/// partial block is computed whole and cut (the planes keep slack for it),
/// and a run whose blocks would read past `x` takes the generic loop.
#[inline(never)]
#[allow(unsafe_code)]
pub fn taps_row(x: &[u8], taps: &Taps<'_>, w: &[u8], p0: usize, sums: &mut [i32]) {
    let blocks = sums.len().div_ceil(4);
    let end = taps
        .reach()
        .checked_add(p0)
        .and_then(|e| e.checked_add(4 * blocks));
    if end.is_none_or(|e| e > x.len()) {
        super::generic::taps_row(x, taps, w, 0, p0, sums);
        return;
    }
    let block = |p: usize| {
        let mut acc = [0i32; 4];
        for (&o, &wv) in taps.offsets().iter().zip(w) {
            // SAFETY (`read_word`'s contract): o ≤ reach and p + 4 ≤ p0 +
            // 4·blocks, so the read ends at or before `end` ≤ x.len().
            let u = unsafe { read_word(x, o + p) };
            mac4(u, i32::from(wv as i8), &mut acc);
        }
        acc
    };
    let mut blocks = sums.chunks_exact_mut(4);
    let mut p = p0;
    for s in &mut blocks {
        s.copy_from_slice(&block(p));
        p += 4;
    }
    let tail = blocks.into_remainder();
    if !tail.is_empty() {
        let acc = block(p);
        for (s, a) in tail.iter_mut().zip(acc) {
            *s = a;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::isa::smlad;
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
        assert_eq!(smlabb(sxtb16(x), -3, 1), 1 + 384); // 1 + (−128)(−3)
        assert_eq!(smlatb(sxtb16(x), -3, 1), 1 + 3); // 1 + (−1)(−3)
    }

    proptest! {
        #[test]
        fn dot_pairs_equals_four_dots(blocks in 0usize..12, seed in any::<u64>()) {
            let mut s = seed | 1;
            let mut next = move || { s ^= s << 13; s ^= s >> 7; s ^= s << 17; s as u8 };
            let x: Vec<u8> = (0..8 * blocks).map(|_| next()).collect();
            let f: Vec<u8> = (0..8 * blocks).map(|_| next()).collect();
            // Block b holds channels 4b..4b+4 of the first vector, then of the second.
            let half = |v: &[u8], j: usize| -> Vec<u8> {
                v.chunks_exact(8).flat_map(|b| b[4 * j..4 * j + 4].to_vec()).collect()
            };
            let (x0, x1, f0, f1) = (half(&x, 0), half(&x, 1), half(&f, 0), half(&f, 1));
            let dot = |a: &[u8], b: &[u8]| {
                a.iter().zip(b).fold(0i32, |s, (&u, &v)| s + i32::from(u as i8) * i32::from(v as i8))
            };
            prop_assert_eq!(
                dot_pairs(&x, &f),
                [dot(&x0, &f0), dot(&x0, &f1), dot(&x1, &f0), dot(&x1, &f1)]
            );
        }

        #[test]
        fn taps_row_equals_generic(taps in 1usize..26, n in 1usize..30, p0 in 0usize..9, seed in any::<u64>()) {
            let mut s = seed | 1;
            let mut next = move || { s ^= s << 13; s ^= s >> 7; s ^= s << 17; s };
            // Up to 139 bytes are read: shorter planes take the generic fallback.
            let len = 100 + (next() % 60) as usize;
            let x: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            let offsets: Vec<usize> = (0..taps).map(|_| (next() % 100) as usize).collect();
            let w: Vec<u8> = (0..taps).map(|_| next() as u8).collect();
            let taps = Taps::new(&offsets);
            let (mut want, mut got) = (vec![0i32; n], vec![5i32; n]);
            generic::taps_row(&x, &taps, &w, 0, p0, &mut want);
            taps_row(&x, &taps, &w, p0, &mut got);
            prop_assert_eq!(got, want);
        }
    }
}
