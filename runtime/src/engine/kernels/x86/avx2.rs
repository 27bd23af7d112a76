//! The host kernels in AVX2. Each is an `unsafe` `#[target_feature(enable =
//! "avx2")]` function: the caller (`kernels::vector`'s wrappers, through
//! [`super::Avx2`]) has checked that the CPU has AVX2 and that every byte
//! the loads read is inside the slices (each function's `# Safety`). Each
//! does the 8- or 16-wide blocks of its run (a last partial block as the
//! block that ends the run) and returns how many outputs it did; the caller
//! finishes a run too short for one block with the generic kernel.
//!
//! Exactness: int8 values (and differences of two, at most 255 in
//! magnitude) are widened to i16; `vpmaddwd` adds two i16 products into an
//! i32 lane exactly (|p| ≤ 255² each); the lanes accumulate with wrapping
//! i32 adds, as the generic kernels do, and wrapping sums do not depend on
//! their order. The requantisation is `HighWordScaler::apply` lane by lane:
//! the exact 64-bit product (`vpmuldq`), its words, the same carry and shift.
//!
//! One file over 400 lines on purpose: these are all the AVX2 kernels, one
//! per generic kernel, sharing the widening, block and store helpers and
//! one safety contract.

use super::super::generic::POINTWISE_GROUP;
use super::super::vector::{MAX_GROUP_CHANNELS, blocks, sixteens};
use crate::fixed::HighWordScaler;
use core::arch::x86_64::*;

/// `w0` in the low and `w1` in the high signed 16-bit half of a lane: what
/// `vpmaddwd` multiplies an interleaved pair of widened bytes by. The weights
/// are int8 differences (|w| ≤ 255), so they fit their halves.
#[inline(always)]
fn weight_pair(w0: i32, w1: i32) -> i32 {
    (u32::from(w0 as i16 as u16) | (u32::from(w1 as i16 as u16) << 16)) as i32
}

/// The int8 weight `w` less the zero point `zp`.
#[inline(always)]
fn weight(w: u8, zp: i32) -> i32 {
    i32::from(w as i8) - zp
}

/// Sixteen byte pairs `(a[i], b[i])` widened to i16 and multiplied by the
/// weight pair `w` (`a` by the low half): lanes 0–7 of the result are bytes
/// 0–7, lanes of the second are bytes 8–15.
#[inline]
#[target_feature(enable = "avx2")]
fn madd_pairs16(a: __m128i, b: __m128i, w: __m256i) -> [__m256i; 2] {
    let lo = _mm256_cvtepi8_epi16(_mm_unpacklo_epi8(a, b));
    let hi = _mm256_cvtepi8_epi16(_mm_unpackhi_epi8(a, b));
    [_mm256_madd_epi16(lo, w), _mm256_madd_epi16(hi, w)]
}

/// Sixteen bytes at `p`.
///
/// # Safety
/// `p .. p + 16` is readable.
#[inline]
#[target_feature(enable = "avx2")]
unsafe fn load16(p: *const u8) -> __m128i {
    // SAFETY: the caller's contract; `loadu` takes any alignment.
    unsafe { _mm_loadu_si128(p.cast()) }
}

/// [`crate::engine::kernels::generic::pointwise_row`] over all of `acc`
/// when it holds at least 16 pixels (a last partial block is computed as
/// the 16 pixels ending the run, and only its new pixels are added); returns
/// the pixels done (`acc.len()`, or 0 for a shorter run).
///
/// # Safety
/// AVX2; `x.len() ≥ (w_m.len() − 1) · hw + p0 + acc.len()` when `w_m` is
/// not empty (every channel's run of pixels is inside `x`).
#[target_feature(enable = "avx2")]
pub unsafe fn pointwise_row(
    x: &[u8],
    w_m: &[u8],
    w_zp: i32,
    hw: usize,
    p0: usize,
    acc: &mut [i32],
) -> usize {
    blocks(acc, 64, |j, b, skip| {
        // SAFETY: AVX2 (the contract); block j's pixels are inside every
        // channel's run, which the contract puts inside x.
        unsafe {
            if b.len() == 64 {
                pointwise_block::<4>(x, w_m, w_zp, hw, p0 + j, b, skip)
            } else {
                pointwise_block::<1>(x, w_m, w_zp, hw, p0 + j, b, skip)
            }
        }
    })
}

/// `acc[j] += Σ_c x[c·hw + p + j] · (w_m[c] − w_zp)` for the pixels `skip
/// .. 16 · B` of a block of `16 · B` (`acc.len()`), the sums in registers
/// over all channels, two channels per `vpmaddwd` (an odd last one paired
/// with itself at weight 0).
///
/// # Safety
/// AVX2; `acc.len() == 16 · B`; for every `c < w_m.len()`,
/// `c · hw + p + 16 · B ≤ x.len()`.
#[inline]
#[target_feature(enable = "avx2")]
unsafe fn pointwise_block<const B: usize>(
    x: &[u8],
    w_m: &[u8],
    w_zp: i32,
    hw: usize,
    p: usize,
    acc: &mut [i32],
    skip: usize,
) {
    let mut sums = [[_mm256_setzero_si256(); 2]; B];
    let base = x.as_ptr();
    for (c, pair) in w_m.chunks(2).enumerate() {
        let (c0, c1, w) = match *pair {
            [a, b] => (
                2 * c,
                2 * c + 1,
                weight_pair(weight(a, w_zp), weight(b, w_zp)),
            ),
            [a] => (2 * c, 2 * c, weight_pair(weight(a, w_zp), 0)),
            _ => continue,
        };
        let w = _mm256_set1_epi32(w);
        for (b, s) in sums.iter_mut().enumerate() {
            // SAFETY: channels c0, c1 < w_m.len(); bytes p + 16b .. p + 16b + 16
            // of their runs are inside x (the contract).
            let (u, v) = unsafe {
                (
                    load16(base.add(c0 * hw + p + 16 * b)),
                    load16(base.add(c1 * hw + p + 16 * b)),
                )
            };
            let [lo, hi] = madd_pairs16(u, v, w);
            s[0] = _mm256_add_epi32(s[0], lo);
            s[1] = _mm256_add_epi32(s[1], hi);
        }
    }
    accumulate(acc, &sums, skip);
}

/// `acc[j] += lane j of sums` for `j` from `skip` (`acc.len() == 16 · B`).
#[inline]
#[target_feature(enable = "avx2")]
fn accumulate<const B: usize>(acc: &mut [i32], sums: &[[__m256i; 2]; B], skip: usize) {
    if skip == 0 {
        for (chunk, s) in acc.chunks_exact_mut(8).zip(sums.iter().flatten()) {
            // SAFETY: `chunk` holds 8 i32s (32 bytes); unaligned load and store.
            unsafe {
                let a = _mm256_loadu_si256(chunk.as_ptr().cast());
                _mm256_storeu_si256(chunk.as_mut_ptr().cast(), _mm256_add_epi32(a, *s));
            }
        }
    } else {
        let mut lanes = [[0i32; 16]; B];
        store_into(lanes.as_flattened_mut(), sums);
        let new = acc.iter_mut().zip(lanes.as_flattened()).skip(skip);
        for (a, &l) in new {
            *a = a.wrapping_add(l);
        }
    }
}

/// [`crate::engine::kernels::generic::pointwise_rows`] over all of the runs
/// when they hold at least 16 pixels (the last partial block as in
/// [`pointwise_row`]); returns the pixels done (all, or 0 for shorter runs).
/// The four channels' weight pairs are packed once; per pair of input
/// channels and 16 pixels, the bytes are loaded and widened once for the
/// four output channels (eight `vpmaddwd`).
///
/// # Safety
/// AVX2; all `ws` hold `c` weights, 1 ≤ `c` ≤ [`MAX_GROUP_CHANNELS`], all
/// `accs` `n` pixels, and `x.len() ≥ (c − 1) · hw + p0 + n`.
#[target_feature(enable = "avx2")]
pub unsafe fn pointwise_rows(
    x: &[u8],
    ws: [&[u8]; POINTWISE_GROUP],
    w_zps: [i32; POINTWISE_GROUP],
    hw: usize,
    p0: usize,
    accs: &mut [&mut [i32]; POINTWISE_GROUP],
) -> usize {
    let c_n = ws[0].len();
    let pairs = c_n.div_ceil(2);
    let mut packed = [[0i32; POINTWISE_GROUP]; MAX_GROUP_CHANNELS / 2];
    for (p, entry) in packed.iter_mut().enumerate().take(pairs) {
        for ((e, w), &zp) in entry.iter_mut().zip(ws).zip(&w_zps) {
            let second = w.get(2 * p + 1).map_or(0, |&b| weight(b, zp));
            *e = weight_pair(w.get(2 * p).map_or(0, |&b| weight(b, zp)), second);
        }
    }
    let packed = packed.get(..pairs).unwrap_or(&[]);
    let n = accs[0].len();
    if n < 16 {
        return 0;
    }
    let base = x.as_ptr();
    for (start, skip) in sixteens(n) {
        let p = p0 + start;
        let mut sums = [[_mm256_setzero_si256(); 2]; POINTWISE_GROUP];
        for (pi, w4) in packed.iter().enumerate() {
            let c0 = 2 * pi;
            let c1 = if c0 + 1 < c_n { c0 + 1 } else { c0 };
            // SAFETY: channels c0, c1 < c; pixels p .. p + 16 end by
            // p0 + n, inside every channel's run (the contract).
            let (u, v) = unsafe { (load16(base.add(c0 * hw + p)), load16(base.add(c1 * hw + p))) };
            let lo = _mm256_cvtepi8_epi16(_mm_unpacklo_epi8(u, v));
            let hi = _mm256_cvtepi8_epi16(_mm_unpackhi_epi8(u, v));
            for (s, &w) in sums.iter_mut().zip(w4) {
                let w = _mm256_set1_epi32(w);
                s[0] = _mm256_add_epi32(s[0], _mm256_madd_epi16(lo, w));
                s[1] = _mm256_add_epi32(s[1], _mm256_madd_epi16(hi, w));
            }
        }
        for (acc, s) in accs.iter_mut().zip(&sums) {
            if let Some(acc) = acc.get_mut(start..start + 16) {
                accumulate::<1>(acc, &[*s], skip);
            }
        }
    }
    n
}

/// `sums[16b + 8h + i] = lane i of v[b][h]` (`sums.len() == 16 · B`).
#[inline]
#[target_feature(enable = "avx2")]
fn store_into<const B: usize>(sums: &mut [i32], v: &[[__m256i; 2]; B]) {
    for (chunk, s) in sums.chunks_exact_mut(8).zip(v.iter().flatten()) {
        // SAFETY: `chunk` holds 8 i32s (32 bytes); `storeu` takes any alignment.
        unsafe { _mm256_storeu_si256(chunk.as_mut_ptr().cast(), *s) };
    }
}

/// [`crate::engine::kernels::generic::taps_row`] over all of `sums` when it
/// holds at least 16 outputs (a last partial block is computed as the 16
/// outputs ending the run, again); returns the outputs done (`sums.len()`,
/// or 0 for a shorter run).
///
/// # Safety
/// AVX2; for every offset `o` in `offsets` (those paired with a weight),
/// `o + p0 + sums.len() ≤ x.len()`.
#[target_feature(enable = "avx2")]
pub unsafe fn taps_row(
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
        // SAFETY: AVX2 (the contract); block j's outputs are inside every
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

/// `sums[j] = Σ_k x[offsets[k] + p + j] · (w[k] − w_zp)` for `16 · B`
/// outputs, two taps per `vpmaddwd` (an odd last one paired with itself at
/// weight 0).
///
/// # Safety
/// AVX2; `sums.len() == 16 · B`; `o + p + 16 · B ≤ x.len()` for every
/// offset `o` paired with a weight.
#[inline]
#[target_feature(enable = "avx2")]
unsafe fn taps_block<const B: usize>(
    x: &[u8],
    offsets: &[usize],
    w: &[u8],
    w_zp: i32,
    p: usize,
    sums: &mut [i32],
) {
    let mut acc = [[_mm256_setzero_si256(); 2]; B];
    let base = x.as_ptr();
    for (o, w) in offsets.chunks(2).zip(w.chunks(2)) {
        let (oa, ob, w) = match (o, w) {
            (&[oa, ob], &[a, b]) => (oa, ob, weight_pair(weight(a, w_zp), weight(b, w_zp))),
            (&[oa, ..], &[a, ..]) => (oa, oa, weight_pair(weight(a, w_zp), 0)),
            _ => continue,
        };
        let w = _mm256_set1_epi32(w);
        for (b, s) in acc.iter_mut().enumerate() {
            // SAFETY: oa, ob are offsets paired with weights; the contract
            // puts o + p + 16·B, past these 16 bytes, inside x.
            let (u, v) = unsafe {
                (
                    load16(base.add(oa + p + 16 * b)),
                    load16(base.add(ob + p + 16 * b)),
                )
            };
            let [lo, hi] = madd_pairs16(u, v, w);
            s[0] = _mm256_add_epi32(s[0], lo);
            s[1] = _mm256_add_epi32(s[1], hi);
        }
    }
    store_into(sums, &acc);
}

/// `acc[j] += (xs[j] − x_zp) · w` over the first `min(xs.len(),
/// acc.len())` rounded down to 8; returns that count.
///
/// # Safety
/// AVX2.
#[target_feature(enable = "avx2")]
pub unsafe fn axpy(xs: &[u8], x_zp: i32, w: i32, acc: &mut [i32]) -> usize {
    let (zp, w) = (_mm256_set1_epi32(x_zp), _mm256_set1_epi32(w));
    let mut done = 0;
    for (a, x) in acc.chunks_exact_mut(8).zip(xs.chunks_exact(8)) {
        // SAFETY: `x` holds 8 bytes and `a` 8 i32s; unaligned loads and stores.
        unsafe {
            let v = _mm256_cvtepi8_epi32(_mm_loadl_epi64(x.as_ptr().cast()));
            let t = _mm256_mullo_epi32(_mm256_sub_epi32(v, zp), w);
            let s = _mm256_add_epi32(_mm256_loadu_si256(a.as_ptr().cast()), t);
            _mm256_storeu_si256(a.as_mut_ptr().cast(), s);
        }
        done += 8;
    }
    done
}

/// `Σ_k (a[k] − a_zp)(b[k] − b_zp)` over the first `min(a.len(), b.len())`
/// rounded down to 16 terms, wrapping; returns the sum and that count.
///
/// # Safety
/// AVX2.
#[target_feature(enable = "avx2")]
pub unsafe fn dot(a: &[u8], a_zp: i32, b: &[u8], b_zp: i32) -> (i32, usize) {
    let (za, zb) = (
        _mm256_set1_epi16(a_zp as i16),
        _mm256_set1_epi16(b_zp as i16),
    );
    let mut acc = _mm256_setzero_si256();
    let mut done = 0;
    for (u, v) in a.chunks_exact(16).zip(b.chunks_exact(16)) {
        // SAFETY: `u` and `v` hold 16 bytes each.
        let (u, v) = unsafe { (load16(u.as_ptr()), load16(v.as_ptr())) };
        // Differences of two int8 values fit i16.
        let u = _mm256_sub_epi16(_mm256_cvtepi8_epi16(u), za);
        let v = _mm256_sub_epi16(_mm256_cvtepi8_epi16(v), zb);
        acc = _mm256_add_epi32(acc, _mm256_madd_epi16(u, v));
        done += 16;
    }
    (lane_sum(acc), done)
}

/// The wrapping sum of the eight i32 lanes of `v`.
#[inline]
#[target_feature(enable = "avx2")]
fn lane_sum(v: __m256i) -> i32 {
    let mut lanes = [0i32; 8];
    // SAFETY: `lanes` holds 32 bytes; `storeu` takes any alignment.
    unsafe { _mm256_storeu_si256(lanes.as_mut_ptr().cast(), v) };
    lanes.iter().fold(0i32, |s, &l| s.wrapping_add(l))
}

/// `Σ clamp(xs[j], lo, hi)` (int8 values) over the first `xs.len()` rounded
/// down to 32, wrapping; returns the sum and that count. The clamped bytes
/// are offset to unsigned (`^ 0x80`) and summed by `vpsadbw`, exactly in
/// 64 bits; the sum's low 32 bits are the wrapping i32 sum.
///
/// # Safety
/// AVX2.
#[target_feature(enable = "avx2")]
pub unsafe fn clamped_sum(xs: &[u8], lo: i8, hi: i8) -> (i32, usize) {
    let (lo, hi) = (_mm256_set1_epi8(lo), _mm256_set1_epi8(hi));
    let flip = _mm256_set1_epi8(i8::MIN);
    let mut acc = _mm256_setzero_si256();
    let mut done = 0usize;
    for chunk in xs.chunks_exact(32) {
        // SAFETY: `chunk` holds 32 bytes; `loadu` takes any alignment.
        let v = unsafe { _mm256_loadu_si256(chunk.as_ptr().cast()) };
        let v = _mm256_min_epi8(_mm256_max_epi8(v, lo), hi);
        let u = _mm256_xor_si256(v, flip);
        acc = _mm256_add_epi64(acc, _mm256_sad_epu8(u, _mm256_setzero_si256()));
        done += 32;
    }
    let mut lanes = [0u64; 4];
    // SAFETY: `lanes` holds 32 bytes; `storeu` takes any alignment.
    unsafe { _mm256_storeu_si256(lanes.as_mut_ptr().cast(), acc) };
    let unsigned = lanes.iter().fold(0u64, |s, &l| s.wrapping_add(l));
    // Each byte was offset by 128.
    let sum = unsigned.wrapping_sub(128u64.wrapping_mul(done as u64));
    (sum as i32, done)
}

/// `y[j] = clamp(word.apply(acc[j] + bias), lo, hi)` for all `j <
/// min(acc.len(), y.len())` when that is at least 8 (a last partial block
/// is computed as the 8 outputs ending the run, again); returns the outputs
/// done (that count, or 0 for fewer).
///
/// # Safety
/// AVX2.
#[target_feature(enable = "avx2")]
pub unsafe fn requantize(
    acc: &[i32],
    bias: i32,
    word: HighWordScaler,
    lo: i32,
    hi: i32,
    y: &mut [u8],
) -> usize {
    let (multiplier, shift, nudge) = word.parts();
    let m = _mm256_set1_epi32(multiplier);
    let sh = _mm_cvtsi32_si128(shift as i32);
    let (nudge, bias) = (_mm256_set1_epi32(nudge), _mm256_set1_epi32(bias));
    let (lo, hi) = (_mm256_set1_epi32(lo), _mm256_set1_epi32(hi));
    let one = _mm256_set1_epi32(1);
    let block = |out: &mut [u8], a: &[i32]| {
        // SAFETY: `a` holds 8 i32s; unaligned load.
        let a = unsafe { _mm256_loadu_si256(a.as_ptr().cast()) };
        let a = _mm256_add_epi32(a, bias);
        // Exact 64-bit products of the even lanes, then of the odd ones.
        let even = _mm256_mul_epi32(a, m);
        let odd = _mm256_mul_epi32(_mm256_srli_epi64::<32>(a), m);
        let high = _mm256_blend_epi32::<0b1010_1010>(_mm256_srli_epi64::<32>(even), odd);
        let low = _mm256_blend_epi32::<0b1010_1010>(even, _mm256_slli_epi64::<32>(odd));
        let low_nonzero = _mm256_andnot_si256(_mm256_cmpeq_epi32(low, _mm256_setzero_si256()), one);
        let odd_bit = _mm256_and_si256(_mm256_srl_epi32(high, sh), one);
        let carry = _mm256_or_si256(low_nonzero, odd_bit);
        let r = _mm256_sra_epi32(_mm256_add_epi32(_mm256_add_epi32(high, nudge), carry), sh);
        let r = _mm256_min_epi32(_mm256_max_epi32(r, lo), hi);
        // In int8 range now: the saturating packs keep the values, in order.
        let words = _mm_packs_epi32(_mm256_castsi256_si128(r), _mm256_extracti128_si256::<1>(r));
        let bytes = _mm_packs_epi16(words, words);
        // SAFETY: `out` holds 8 bytes; `storel` writes the low 8 unaligned.
        unsafe { _mm_storel_epi64(out.as_mut_ptr().cast(), bytes) };
    };
    eights(acc, y, block)
}

/// Runs `block(y, acc)` over the 8-output blocks of `acc` and `y` (their
/// common length), the last partial one as the 8 outputs ending the run
/// (written again); returns the outputs done (all, or none when fewer than 8).
#[inline(always)]
fn eights(acc: &[i32], y: &mut [u8], mut block: impl FnMut(&mut [u8], &[i32])) -> usize {
    let n = acc.len().min(y.len());
    let (Some(acc), Some(y)) = (acc.get(..n), y.get_mut(..n)) else {
        return 0;
    };
    if n < 8 {
        return 0;
    }
    for (out, a) in y.chunks_exact_mut(8).zip(acc.chunks_exact(8)) {
        block(out, a);
    }
    if let (Some(a), Some(out)) = (acc.get(n - 8..), y.get_mut(n - 8..))
        && !n.is_multiple_of(8)
    {
        block(out, a);
    }
    n
}
