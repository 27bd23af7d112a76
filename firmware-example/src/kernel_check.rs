//! Checks, on the machine it runs on, that the runtime's DSP-extension
//! kernels (`matpac_runtime::engine::kernels::dsp`, `asm!` loops of `SMLAD`,
//! `SXTB16` and `PKHBT`/`PKHTB` on Cortex-M4) give the same int32 sums as the generic scalar
//! kernels, over pseudo-random sizes, offsets and values. The QEMU binary runs
//! it and fails (exit status 1) on any mismatch; on the host it runs the
//! portable stand-ins (the runtime's own property tests cover those).

use core::fmt::Write;
use matpac_runtime::engine::kernels::generic::Requant;
use matpac_runtime::engine::kernels::{dsp, generic};
use matpac_runtime::fixed::RoundingScaler;
use matpac_runtime::model::program::{Output, Quant};

/// Random cases per kernel.
pub const CASES: u32 = 400;

/// Most window bytes per pixel drawn for `dot_pair_run`, and most outputs
/// for `taps_row`.
const MAX_C: usize = 40;
const MAX_HW: usize = 70;
/// Most pixel pairs drawn for `dot_pair_run`.
const MAX_PAIRS: usize = 6;
/// Most taps, and the largest tap offset, drawn for `taps_row`.
const MAX_TAPS: usize = 25;
const MAX_REACH: usize = 300;

/// Runs every check, writing `kernel_check NAME cases=N mismatches=M` per kernel;
/// returns the total number of mismatches.
pub fn run<W: Write>(out: &mut W) -> Result<u32, core::fmt::Error> {
    let mut rng = XorShift(0x2545_f491);
    let mut x = [0u8; MAX_C * MAX_HW];
    let mut w = [0u8; MAX_TAPS];
    let mut pairs_bad = 0;
    let mut f = [0u8; 2 * MAX_C];
    for _ in 0..CASES {
        // Pixel pairs and a filter pair of `len` bytes each, in blocks of 8:
        // 4 window bytes of the first vector, then of the second.
        let len = 8 * (1 + rng.below(MAX_C / 4));
        let pairs = rng.below(MAX_PAIRS + 1);
        rng.fill(&mut x[..len * pairs]);
        rng.fill(&mut f[..len]);
        let half = |b: &[u8], j: usize, k: usize| i32::from(b[(k / 4) * 8 + 4 * j + k % 4] as i8);
        let dot = |xs: &[u8], xj: usize, fj: usize| {
            (0..len / 2).fold(0i32, |s, k| {
                s.wrapping_add(half(xs, xj, k) * half(&f[..len], fj, k))
            })
        };
        // One slot past the run must stay untouched.
        let (mut got0, mut got1) = ([7i32; 2 * MAX_PAIRS + 1], [7i32; 2 * MAX_PAIRS + 1]);
        dsp::dot_pair_run(
            &x[..len * pairs],
            &f[..len],
            &mut got0[..2 * pairs + 1],
            &mut got1[..2 * pairs + 1],
        );
        let mut bad = got0[2 * pairs] != 7 || got1[2 * pairs] != 7;
        for (q, xs) in x[..len * pairs].chunks_exact(len).enumerate() {
            for j in 0..2 {
                bad |= got0[2 * q + j] != dot(xs, j, 0) || got1[2 * q + j] != dot(xs, j, 1);
            }
        }
        pairs_bad += u32::from(bad);
    }
    writeln!(
        out,
        "kernel_check dot_pair_run cases={CASES} mismatches={pairs_bad}"
    )?;
    let mut taps_bad = 0;
    let mut offsets = [0usize; MAX_TAPS];
    for _ in 0..CASES {
        let (taps, n, p0) = (1 + rng.below(MAX_TAPS), 1 + rng.below(MAX_HW), rng.below(8));
        // Room for a last block rounded up to four outputs (else the kernel
        // would take its generic fallback and check nothing).
        let len = MAX_REACH + p0 + n + 3;
        rng.fill(&mut x[..len]);
        rng.fill(&mut w[..taps]);
        for o in &mut offsets[..taps] {
            *o = rng.below(MAX_REACH);
        }
        let mut want = [0i32; MAX_HW];
        let mut got = [1i32; MAX_HW];
        let t = generic::Taps::new(&offsets[..taps]);
        generic::taps_row(&x[..len], &t, &w[..taps], 0, p0, &mut want[..n]);
        let mut pairs = dsp::TapPairs::new();
        let ran = pairs.set(&t, &w[..taps]) && dsp::taps_row(&x[..len], &pairs, p0, &mut got[..n]);
        taps_bad += u32::from(!ran || want[..n] != got[..n]);
    }
    writeln!(
        out,
        "kernel_check taps_row cases={CASES} mismatches={taps_bad}"
    )?;
    let mut requant_bad = 0;
    let mut acc = [0i32; MAX_HW];
    for _ in 0..CASES {
        let (rows, cols, slack) = (1 + rng.below(6), 1 + rng.below(9), rng.below(3));
        let stride = cols + slack;
        // Scale ≈ 2^-m (m 3..23: the asm's usual range), half of them
        // exactly (their products end in exact ties, which only a right
        // odd-bit test rounds to even); accumulators that land near
        // −150..150 (else the saturation hides the rounding), a third of
        // them on a tie, a third on a whole step.
        let m = 3 + rng.below(21) as u32;
        let mantissa = match rng.below(2) {
            0 => 1.0,
            _ => 1.0 + rng.below(1000) as f32 / 1000.0,
        };
        let scale = mantissa * f32::from_bits((127 - m) << 23);
        for a in &mut acc[..rows * stride] {
            let low = match rng.below(3) {
                0 => 1 << (m - 1),
                1 => 0,
                _ => rng.below(1 << m) as i32,
            };
            *a = ((rng.below(301) as i32 - 150) << m) + low;
        }
        let zp = rng.next() as i8;
        let out = Output {
            tensor: 0,
            quant: Quant {
                scale: 1.0,
                zero_point: zp,
            },
            clamp: (-128, 127),
        };
        let bias = (rng.below(21) as i32 - 10) << m;
        let requant = Requant::new(RoundingScaler::new(scale), &out);
        let (mut want, mut got) = ([0u8; MAX_HW], [1u8; MAX_HW]);
        let n = rows * cols;
        generic::requantize_rows(
            &acc[..rows * stride],
            stride,
            bias,
            &requant,
            &mut want[..n],
            cols,
        );
        dsp::requantize_rows(
            &acc[..rows * stride],
            stride,
            bias,
            &requant,
            &mut got[..n],
            cols,
        );
        requant_bad += u32::from(want[..n] != got[..n]);
    }
    writeln!(
        out,
        "kernel_check requantize_rows cases={CASES} mismatches={requant_bad}"
    )?;
    Ok(pairs_bad + taps_bad + requant_bad)
}

/// xorshift32: deterministic draws without an RNG crate.
struct XorShift(u32);

impl XorShift {
    fn next(&mut self) -> u32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 17;
        self.0 ^= self.0 << 5;
        self.0
    }

    /// A draw in `0..m` (`m` > 0).
    fn below(&mut self, m: usize) -> usize {
        self.next() as usize % m.max(1)
    }

    fn fill(&mut self, buf: &mut [u8]) {
        for b in buf {
            *b = self.next() as u8;
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn portable_kernels_pass_the_check() {
        let mut text = String::new();
        assert_eq!(super::run(&mut text).unwrap(), 0, "{text}");
        assert_eq!(text.lines().count(), 3);
    }
}
