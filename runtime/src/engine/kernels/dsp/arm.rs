//! The two inner loops in Armv7E-M assembly. Audited: each reads only
//! the bytes its `# Safety` contract names, writes only its register
//! operands and the outputs its `# Safety` contract names (and, in
//! `dot_pair_run`, the words it pushes and pops), and
//! leaves the stack as it found it. `LDR` takes any alignment on
//! Cortex-M4 (unaligned access is not trapped unless `CCR.UNALIGN_TRP`
//! is set, which nothing here does); `LDRD` is used on word-aligned
//! tables only.
//!
//! Compiled under `cfg(matpac_dsp)` only (see [`super`]).

#![allow(unsafe_code)]

use crate::fixed::HighWordScaler;
use core::arch::asm;

/// [`super::dot_pair_run`] of `pairs` (≥ 1) consecutive pixel pairs at
/// `x` with the filter pair at `f` (`blocks` ≥ 1 blocks of eight bytes
/// each): per block, the filter pair's words are widened once into four
/// registers, each pixel's word into two, and eight `SMLAD`s accumulate;
/// after each pixel pair its four sums go to `out0` (filter 0: pixel 0,
/// pixel 1) and `out1` (filter 1) with `STRD`. Thirteen live values in
/// the inner loop: it borrows `r7` (the frame pointer, which `asm!`
/// cannot take as an operand), and the outer loop keeps its four values
/// on the stack; both are restored before the block ends.
///
/// # Safety
/// `pairs ≥ 1`, `blocks ≥ 1`; `x` points to `8 · blocks · pairs` and `f`
/// to `8 · blocks` readable bytes; `out0` and `out1` each to `2 · pairs`
/// writable, word-aligned `i32`s.
#[inline(always)]
pub unsafe fn dot_pair_run(
    x: *const u8,
    f: *const u8,
    blocks: usize,
    pairs: usize,
    out0: *mut i32,
    out1: *mut i32,
) {
    // SAFETY: reads 8·blocks·pairs bytes from `x` and 8·blocks from `f`
    // (per pixel pair `f` is reloaded from the stacked start), writes
    // 2·pairs words at each of `out0` and `out1` (the caller's
    // contract); the four stacked words and r7 are popped before the
    // block ends, so the stack and the frame pointer are as found.
    unsafe {
        asm!(
            "str {o1}, [sp, #-4]!",
            "str {o0}, [sp, #-4]!",
            "str {xend}, [sp, #-4]!",
            "str {f}, [sp, #-4]!",
            "push {{r7}}",
            // [sp]: r7, +4: f start, +8: x end, +12: out0, +16: out1
            "3:",
            "mov {a0}, #0",
            "mov {a1}, #0",
            "mov {a2}, #0",
            "mov {a3}, #0",
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
            "cmp {f}, {fend}",
            "bne 2b",
            "ldr {xe}, [sp, #12]",
            "strd {a0}, {a2}, [{xe}], #8",
            "str {xe}, [sp, #12]",
            "ldr {xe}, [sp, #16]",
            "strd {a1}, {a3}, [{xe}], #8",
            "str {xe}, [sp, #16]",
            "ldr {f}, [sp, #4]",
            "ldr {xe}, [sp, #8]",
            "cmp {x}, {xe}",
            "bne 3b",
            "pop {{r7}}",
            "add sp, sp, #16",
            x = inout(reg) x => _,
            f = inout(reg) f => _,
            fend = inout(reg) f.add(8 * blocks) => _,
            xend = in(reg) x.add(8 * blocks * pairs),
            o0 = in(reg) out0,
            o1 = in(reg) out1,
            a0 = lateout(reg) _,
            a1 = lateout(reg) _,
            a2 = lateout(reg) _,
            a3 = lateout(reg) _,
            f0e = lateout(reg) _,
            f1e = lateout(reg) _,
            f1o = lateout(reg) _,
            xe = lateout(reg) _,
            xo = lateout(reg) _,
        );
    }
}

/// [`super::requantize_rows`] in its usual case: `rows · cols` outputs
/// (`cols` ≥ 1, at least one row) from rows of `cols` accumulators
/// `skip` bytes apart, each `ssat8(((hi + nudge + carry) >> shift))` of
/// `(acc + bias) · multiplier = hi·2^32 + lo` with `carry = lo ≠ 0 or
/// bit shift of hi` (the rounding of `HighWordScaler::apply`, on
/// `word`'s constants): 14 instructions per output.
///
/// # Safety
/// `y` points to `rows · cols` writable bytes; `acc` to readable `i32`s
/// covering every row (`(rows − 1) · (cols + skip / 4) + cols`);
/// `cols ≥ 1`, `rows ≥ 1` (a `HighWordScaler`'s shift is 1..=30).
#[inline(always)]
pub unsafe fn saturate_rows(
    acc: *const i32,
    y: *mut u8,
    rows: usize,
    cols: usize,
    skip: usize,
    bias: i32,
    word: HighWordScaler,
) {
    let (multiplier, shift, nudge) = word.parts();
    // SAFETY: reads and writes only what the caller's contract names;
    // r7 is pushed before and popped after its use.
    unsafe {
        asm!(
            "push {{r7}}",
            "3:",
            "add r7, {y}, {cols}",
            "2:",
            "ldr {hi}, [{acc}], #4",
            "add {hi}, {hi}, {bias}",
            "smull {lo}, {hi}, {hi}, {mul}",
            "lsr {t}, {hi}, {sh}",
            "and {t}, {t}, #1",
            "orr {t}, {t}, {lo}",
            "cmp {t}, #1",
            "adc {hi}, {hi}, {nudge}",
            "asr {hi}, {hi}, {sh}",
            "ssat {hi}, #8, {hi}",
            "strb {hi}, [{y}], #1",
            "cmp {y}, r7",
            "bne 2b",
            "add {acc}, {acc}, {skip}",
            "cmp {y}, {yend}",
            "bne 3b",
            "pop {{r7}}",
            acc = inout(reg) acc => _,
            y = inout(reg) y => _,
            yend = in(reg) y.add(rows * cols),
            cols = in(reg) cols,
            skip = in(reg) skip,
            bias = in(reg) bias,
            mul = in(reg) multiplier,
            sh = in(reg) shift,
            nudge = in(reg) nudge,
            hi = out(reg) _,
            lo = out(reg) _,
            t = out(reg) _,
        );
    }
}

/// [`super::taps_row`]'s four outputs at `base` over `pairs` (≥ 1)
/// tap pairs of `table`: per pair, both taps' words of four input bytes
/// are loaded, regrouped into (tap a, tap b) byte pairs per output
/// (`PKHBT`/`PKHTB`), widened (`SXTB16`) and multiplied with the pair's
/// weights (`SMLAD`): 16 instructions for 8 MACs.
///
/// # Safety
/// `pairs ≥ 1`; `table` points to `pairs` word-aligned entries; for every
/// offset `o` in them, `base + o .. base + o + 4` is readable.
#[inline(always)]
pub unsafe fn tap_pair_block(base: *const u8, table: *const [u32; 3], pairs: usize) -> [i32; 4] {
    let mut acc = [0i32; 4];
    // SAFETY: reads the table's `pairs` entries and four bytes at each
    // offset from `base` (the caller's contract); registers only otherwise.
    unsafe {
        asm!(
            "2:",
            "ldrd {a}, {b}, [{t}], #8",
            "ldr {w}, [{t}], #4",
            "ldr {a}, [{base}, {a}]",
            "ldr {b}, [{base}, {b}]",
            "pkhbt {lo}, {a}, {b}, lsl #16",
            "pkhtb {b}, {b}, {a}, asr #16",
            "sxtb16 {e}, {lo}",
            "smlad {a0}, {e}, {w}, {a0}",
            "sxtb16 {e}, {lo}, ror #8",
            "smlad {a1}, {e}, {w}, {a1}",
            "sxtb16 {e}, {b}",
            "smlad {a2}, {e}, {w}, {a2}",
            "sxtb16 {e}, {b}, ror #8",
            "smlad {a3}, {e}, {w}, {a3}",
            "cmp {t}, {end}",
            "bne 2b",
            base = in(reg) base,
            t = inout(reg) table => _,
            end = in(reg) table.add(pairs),
            a0 = inout(reg) acc[0],
            a1 = inout(reg) acc[1],
            a2 = inout(reg) acc[2],
            a3 = inout(reg) acc[3],
            a = out(reg) _,
            b = out(reg) _,
            w = out(reg) _,
            lo = out(reg) _,
            e = out(reg) _,
            options(readonly, nostack),
        );
    }
    acc
}
