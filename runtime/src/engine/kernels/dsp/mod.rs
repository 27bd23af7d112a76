//! The hot int8 kernels on the Armv7E-M DSP extension (Cortex-M4/M7): four
//! int8 values per 32-bit load, widened two at a time to 16-bit halves
//! (`SXTB16`, and `SXTB16 … ROR #8` for the odd bytes), then multiplied in
//! pairs and accumulated (`SMLAD`: `acc + lo·lo + hi·hi`): two pixels × two
//! filters along packed windows ([`dot_pair_run`]), and four neighbouring
//! outputs × two taps over phase planes ([`taps_row`], the pairs of bytes
//! regrouped by `PKHBT`/`PKHTB`).
//!
//! Under `cfg(matpac_dsp)` (set by the crate's build script for `thumbv7em-*`)
//! the three inner loops are `asm!` blocks in `arm.rs` (their live values
//! need every register the compiler lets `asm!` have; in Rust they spilled
//! to the stack); on other targets `emulated.rs` computes them instruction
//! by instruction in portable Rust with the same results, so
//! the kernels' logic is property-tested on the host and the instructions
//! themselves are checked against [`super::generic`] on Cortex-M4 by the
//! firmware's QEMU binary (`kernel_check` lines). Results are the exact int32
//! sums of the generic kernels: each product of two int8 values and each
//! `SMLAD` pair sum fits in 16/32 bits, and the accumulation wraps like the
//! generic one.
//!
//! Weights must have zero point 0 (symmetric, as `matpac quantize` and
//! onnxruntime's per-channel int8 make them); the callers fall back to the
//! generic kernels otherwise.

use super::generic::{Requant, Taps};
use super::layout::PLANE_TAPS;

#[cfg(matpac_dsp)]
mod arm;
#[cfg(not(matpac_dsp))]
mod emulated;
#[cfg(matpac_dsp)]
use arm as isa;
#[cfg(not(matpac_dsp))]
use emulated as isa;

/// The dot products of consecutive pixel pairs with one filter pair, all
/// packed in blocks of eight bytes (four window bytes of the first, then the
/// same four of the second; [`super::layout::PixelPairs`]): `x` holds pixel
/// pairs of `f.len()` bytes each; for pixel pair `q`, `out0[2q + j]` is pixel
/// `j` · filter 0 and `out1[2q + j]` pixel `j` · filter 1, wrapping. Runs as
/// many pixel pairs as `x`, `out0` and `out1` hold (none unless `f` holds
/// whole blocks). Per block: four word loads, eight `SXTB16` and eight
/// `SMLAD` for 16 MACs.
#[allow(unsafe_code)]
pub fn dot_pair_run(x: &[u8], f: &[u8], out0: &mut [i32], out1: &mut [i32]) {
    let blocks = f.len() / 8;
    if blocks == 0 || !f.len().is_multiple_of(8) {
        return;
    }
    let pairs = (x.len() / f.len()).min(out0.len() / 2).min(out1.len() / 2);
    if pairs == 0 {
        return;
    }
    // SAFETY (`dot_pair_run`'s contract): x holds pairs·8·blocks bytes, f
    // 8·blocks, out0 and out1 2·pairs i32s each (i32 slices are word-aligned).
    unsafe {
        isa::dot_pair_run(
            x.as_ptr(),
            f.as_ptr(),
            blocks,
            pairs,
            out0.as_mut_ptr(),
            out1.as_mut_ptr(),
        )
    }
}

/// [`super::generic::requantize_rows`], its usual case
/// ([`Requant::Saturate`]: the common scale range into the whole int8 range)
/// in one `asm!` loop over all rows; the other cases, and shapes it does not
/// cover, go to the generic version.
#[allow(unsafe_code)]
pub fn requantize_rows(
    acc: &[i32],
    acc_stride: usize,
    bias: i32,
    requant: &Requant,
    y: &mut [u8],
    cols: usize,
) {
    let rows = y.len().checked_div(cols).unwrap_or(0);
    let covered = acc_stride >= cols
        && rows > 0
        && rows * cols == y.len()
        && (rows - 1)
            .checked_mul(acc_stride)
            .and_then(|r| r.checked_add(cols))
            .is_some_and(|need| need <= acc.len());
    match requant {
        Requant::Saturate(word) if covered => {
            let skip = 4 * (acc_stride - cols);
            // SAFETY (`saturate_rows`' contract): y holds rows·cols bytes,
            // acc the (rows − 1)·stride + cols values the rows read, and
            // cols, rows ≥ 1 (all checked above).
            unsafe {
                isa::saturate_rows(acc.as_ptr(), y.as_mut_ptr(), rows, cols, skip, bias, *word)
            }
        }
        _ => super::generic::requantize_rows(acc, acc_stride, bias, requant, y, cols),
    }
}

/// Most entries of a [`TapPairs`] table.
const MAX_TAP_PAIRS: usize = PLANE_TAPS.div_ceil(2);

/// One output channel's taps over its phase planes in pairs, for
/// [`taps_row`]: per pair both taps' offsets and their weights as the two
/// signed 16-bit halves of one word (an odd last tap is paired with itself
/// at weight 0).
#[derive(Debug, Clone)]
pub struct TapPairs {
    /// `[offset a, offset b, w_a | w_b << 16]` per pair.
    table: [[u32; 3]; MAX_TAP_PAIRS],
    /// Entries in use.
    len: usize,
    /// The largest offset.
    reach: usize,
}

impl TapPairs {
    /// An empty table (runs nothing until [`TapPairs::set`]).
    pub const fn new() -> Self {
        Self {
            table: [[0; 3]; MAX_TAP_PAIRS],
            len: 0,
            reach: 0,
        }
    }

    /// Fills the table with the pairs of `taps` with weights `w` (zero point
    /// 0), in place (one table serves a layer's channels in turn); `false`
    /// (and an empty table) for more than `PLANE_TAPS` taps or offsets past
    /// `u32`.
    pub fn set(&mut self, taps: &Taps<'_>, w: &[u8]) -> bool {
        self.len = 0;
        let offsets = taps.offsets();
        let n = offsets.len().min(w.len());
        if n > PLANE_TAPS {
            return false;
        }
        for (entry, (o, w)) in self
            .table
            .iter_mut()
            .zip(offsets.chunks(2).zip(w.chunks(2)))
        {
            let offset = |i: usize| o.get(i).or(o.first()).and_then(|&o| u32::try_from(o).ok());
            let (Some(oa), Some(ob)) = (offset(0), offset(1)) else {
                return false;
            };
            let half = |i: usize| u32::from(w.get(i).map_or(0, |&v| v as i8 as i16) as u16);
            *entry = [oa, ob, half(0) | (half(1) << 16)];
        }
        self.len = n.div_ceil(2);
        self.reach = taps.reach();
        true
    }
}

impl Default for TapPairs {
    fn default() -> Self {
        Self::new()
    }
}

/// [`super::generic::taps_row`] with weight zero point 0: `sums[j] = Σ_k
/// x[offsets[k] + p0 + j] · w[k]` (the taps of a depthwise convolution over
/// its phase planes) from the channel's [`TapPairs`], four outputs at a time
/// (two taps per pass, 2 instructions per MAC on Cortex-M4); a last, partial
/// block is computed whole and cut (the planes keep slack for it). `false`
/// (and `sums` untouched) where the blocks would read past `x`.
#[inline(never)]
#[allow(unsafe_code)]
pub fn taps_row(x: &[u8], taps: &TapPairs, p0: usize, sums: &mut [i32]) -> bool {
    let blocks = sums.len().div_ceil(4);
    let end = taps
        .reach
        .checked_add(p0)
        .and_then(|e| e.checked_add(4 * blocks));
    if end.is_none_or(|e| e > x.len()) || taps.len == 0 {
        return false;
    }
    let table = taps.table.as_ptr();
    // SAFETY (`tap_pair_block`'s contract): 1 ≤ len ≤ MAX_TAP_PAIRS entries;
    // every offset is ≤ reach and p + 4 ≤ p0 + 4·blocks, so each read ends at
    // or before `end` ≤ x.len().
    let block = |p: usize| unsafe { isa::tap_pair_block(x.as_ptr().add(p), table, taps.len) };
    let mut blocks = sums.chunks_exact_mut(4);
    let mut p = p0;
    for s in &mut blocks {
        s.copy_from_slice(&block(p));
        p += 4;
    }
    let tail = blocks.into_remainder();
    if !tail.is_empty() {
        for (s, a) in tail.iter_mut().zip(block(p)) {
            *s = a;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::isa::{smlad, sxtb16, sxtb16_ror8};
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
    }

    proptest! {
        #[test]
        fn dot_pair_run_equals_four_dots_per_pixel_pair(
            blocks in 1usize..12, pairs in 0usize..5, seed in any::<u64>(),
        ) {
            let mut s = seed | 1;
            let mut next = move || { s ^= s << 13; s ^= s >> 7; s ^= s << 17; s as u8 };
            let x: Vec<u8> = (0..8 * blocks * pairs).map(|_| next()).collect();
            let f: Vec<u8> = (0..8 * blocks).map(|_| next()).collect();
            // Block b holds bytes 4b..4b+4 of the first vector, then of the second.
            let half = |v: &[u8], j: usize| -> Vec<u8> {
                v.chunks_exact(8).flat_map(|b| b[4 * j..4 * j + 4].to_vec()).collect()
            };
            let dot = |a: &[u8], b: &[u8]| {
                a.iter().zip(b).fold(0i32, |s, (&u, &v)| s + i32::from(u as i8) * i32::from(v as i8))
            };
            let (f0, f1) = (half(&f, 0), half(&f, 1));
            let (mut want0, mut want1) = (vec![], vec![]);
            for pair in x.chunks_exact(8 * blocks) {
                let (x0, x1) = (half(pair, 0), half(pair, 1));
                want0.extend([dot(&x0, &f0), dot(&x1, &f0)]);
                want1.extend([dot(&x0, &f1), dot(&x1, &f1)]);
            }
            // One slot more than needed: it must stay untouched.
            let (mut got0, mut got1) = (vec![7i32; 2 * pairs + 1], vec![7i32; 2 * pairs + 1]);
            dot_pair_run(&x, &f, &mut got0, &mut got1);
            want0.push(7);
            want1.push(7);
            prop_assert_eq!(got0, want0);
            prop_assert_eq!(got1, want1);
        }

        /// Scales ≈ 2^-m, half of them exactly (products ending in exact
        /// ties, which only a right odd-bit test rounds to even), and
        /// accumulators landing near −150..150 (where the rounding is not
        /// hidden by the saturation), a third on a tie, a third on a step.
        #[test]
        fn requantize_rows_equals_generic(
            rows in 1usize..5, cols in 1usize..9, slack in 0usize..3, zp in any::<i8>(),
            m in 3u32..24, exact in any::<bool>(), relu in any::<bool>(), bias in -10i32..10, seed in any::<u64>(),
        ) {
            let mut s = seed | 1;
            let mut next = move || { s ^= s << 13; s ^= s >> 7; s ^= s << 17; s };
            let stride = cols + slack;
            let acc: Vec<i32> = (0..rows * stride)
                .map(|_| {
                    let low = match next() % 3 {
                        0 => 1 << (m - 1),
                        1 => 0,
                        _ => (next() % (1 << m)) as i32,
                    };
                    (((next() % 301) as i32 - 150) << m) + low
                })
                .collect();
            let out = crate::model::program::Output {
                tensor: 0,
                quant: crate::model::program::Quant { scale: 1.0, zero_point: zp },
                clamp: if relu { (zp.max(-100), 127) } else { (-128, 127) },
            };
            let mantissa = if exact { 1.0 } else { 1.0 + (next() % 1000) as f32 / 1000.0 };
            let scale = mantissa * f32::from_bits((127 - m) << 23);
            let requant = Requant::new(crate::fixed::RoundingScaler::new(scale), &out);
            let (mut want, mut got) = (vec![0u8; rows * cols], vec![1u8; rows * cols]);
            generic::requantize_rows(&acc, stride, bias << m, &requant, &mut want, cols);
            requantize_rows(&acc, stride, bias << m, &requant, &mut got, cols);
            prop_assert_eq!(got, want);
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
            let mut pairs = TapPairs::new();
            prop_assert!(pairs.set(&taps, &w));
            let fits = offsets.iter().max().unwrap() + p0 + n.next_multiple_of(4) <= len;
            prop_assert_eq!(taps_row(&x, &pairs, p0, &mut got), fits);
            if fits {
                prop_assert_eq!(got, want);
            } else {
                prop_assert!(got.iter().all(|&s| s == 5), "untouched when it does not fit");
            }
        }
    }
}
