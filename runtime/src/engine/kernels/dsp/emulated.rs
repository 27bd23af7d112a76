//! The same loops in portable Rust (host tests of the kernels' logic),
//! instruction by instruction. Compiled off Armv7E-M (`not(matpac_dsp)`, see [`super`]).

use crate::fixed::HighWordScaler;

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

/// [`super::dot_pair_run`] of `pairs` consecutive pixel pairs at `x`
/// with the filter pair at `f` (`blocks` blocks of eight bytes each), as
/// the Arm loop computes them.
///
/// # Safety
/// `x` points to `8 · blocks · pairs` and `f` to `8 · blocks` readable
/// bytes; `out0` and `out1` each to `2 · pairs` writable `i32`s.
#[allow(unsafe_code)]
pub unsafe fn dot_pair_run(
    x: *const u8,
    f: *const u8,
    blocks: usize,
    pairs: usize,
    out0: *mut i32,
    out1: *mut i32,
) {
    // SAFETY: the caller's contract.
    let (x, f, out0, out1) = unsafe {
        (
            core::slice::from_raw_parts(x, 8 * blocks * pairs),
            core::slice::from_raw_parts(f, 8 * blocks),
            core::slice::from_raw_parts_mut(out0, 2 * pairs),
            core::slice::from_raw_parts_mut(out1, 2 * pairs),
        )
    };
    let outs = out0.chunks_exact_mut(2).zip(out1.chunks_exact_mut(2));
    for (pixel_pair, (o0, o1)) in x.chunks_exact(8 * blocks.max(1)).zip(outs) {
        let mut acc = [0i32; 4];
        for (xb, fb) in pixel_pair.chunks_exact(8).zip(f.chunks_exact(8)) {
            let (f0, f1) = (word(&fb[..4]), word(&fb[4..]));
            let (f0e, f0o, f1e, f1o) = (sxtb16(f0), sxtb16_ror8(f0), sxtb16(f1), sxtb16_ror8(f1));
            for (j, xw) in [&xb[..4], &xb[4..]].into_iter().enumerate() {
                let xw = word(xw);
                let (xe, xo) = (sxtb16(xw), sxtb16_ror8(xw));
                acc[2 * j] = smlad(xo, f0o, smlad(xe, f0e, acc[2 * j]));
                acc[2 * j + 1] = smlad(xo, f1o, smlad(xe, f1e, acc[2 * j + 1]));
            }
        }
        o0.copy_from_slice(&[acc[0], acc[2]]);
        o1.copy_from_slice(&[acc[1], acc[3]]);
    }
}

/// [`super::requantize_rows`] in its usual case, through
/// `HighWordScaler::apply` (the rounding the Arm loop computes).
///
/// # Safety
/// As the Arm version's.
#[allow(unsafe_code)]
pub unsafe fn saturate_rows(
    acc: *const i32,
    y: *mut u8,
    rows: usize,
    cols: usize,
    skip: usize,
    bias: i32,
    word: HighWordScaler,
) {
    let stride = cols + skip / 4;
    // SAFETY: the caller's contract.
    let (acc, y) = unsafe {
        (
            core::slice::from_raw_parts(acc, (rows - 1) * stride + cols),
            core::slice::from_raw_parts_mut(y, rows * cols),
        )
    };
    for (r, out) in y.chunks_exact_mut(cols).enumerate() {
        let row = acc.get(r * stride..).unwrap_or(&[]);
        for (o, &a) in out.iter_mut().zip(row) {
            *o = word.apply(a.wrapping_add(bias)).clamp(-128, 127) as i8 as u8;
        }
    }
}

/// [`super::taps_row`]'s four outputs at `base` over `pairs` tap pairs
/// of `table`, as the Arm loop computes them.
///
/// # Safety
/// `table` points to `pairs` entries; for every offset `o` in them,
/// `base + o .. base + o + 4` is readable.
#[allow(unsafe_code)]
pub unsafe fn tap_pair_block(base: *const u8, table: *const [u32; 3], pairs: usize) -> [i32; 4] {
    // SAFETY: the caller's contract.
    let table = unsafe { core::slice::from_raw_parts(table, pairs) };
    let read = |o: u32| {
        // SAFETY: the caller's contract (four readable bytes at base + o).
        let bytes = unsafe { core::slice::from_raw_parts(base.add(o as usize), 4) };
        word(bytes)
    };
    let mut acc = [0i32; 4];
    for &[oa, ob, w] in table {
        let (a, b) = (read(oa), read(ob));
        let lo = (a & 0xffff) | (b << 16); // PKHBT: a's low half, b's low half
        let hi = (b & 0xffff_0000) | (a >> 16); // PKHTB: a's high half, b's high half
        let pairs = [sxtb16(lo), sxtb16_ror8(lo), sxtb16(hi), sxtb16_ror8(hi)];
        for (acc, pair) in acc.iter_mut().zip(pairs) {
            *acc = smlad(pair, w, *acc);
        }
    }
    acc
}
