//! Integer natural log of the mel energies: `ln(mel + ε)` in Q16.
//!
//! A mel energy arrives as an integer `M` with a binary exponent `s`
//! (`mel = M · 2^−s`), so `ln(mel + ε) = ln(M + ε·2^s) − s·ln 2`. The sum
//! `V = M + ε·2^s` is a u64; `log2 V` is its leading-bit position plus a
//! 257-entry table of `log2(1 + i/256)`, linearly interpolated
//! (interpolation error ≤ 2.8e-6, below the Q16 step of 1.5e-5).

/// Fractional bits of the log-mel output (`value = q16 / 65536`, natural log).
pub const LOG_MEL_FRAC_BITS: u32 = 16;
/// Index bits of the log table (256 segments of `[1, 2)`).
const LUT_BITS: u32 = 8;
/// Interpolation bits between table entries.
const INTERP_BITS: u32 = 16;
/// `round(ln 2 · 2^32)`.
const LN2_Q32: i64 = 2_977_044_472;
/// The ε term `ε · 2^s` is kept below `2^EPS_TERM_BITS` so that `V` fits a u64
/// with room for the mel sum (below 2^56).
const EPS_TERM_BITS: i32 = 62;

/// `log2(1 + i/256)` in Q16, `i = 0..=256`, computed at compile time by the
/// bit-by-bit squaring method (no floating point).
const LOG2_LUT_Q16: [u32; (1 << LUT_BITS) + 1] = log2_table();

const fn log2_table() -> [u32; (1 << LUT_BITS) + 1] {
    let mut table = [0u32; (1 << LUT_BITS) + 1];
    let mut i = 0;
    while i <= 1 << LUT_BITS {
        table[i] = log2_q16_of_ratio((1 << LUT_BITS) + i as u64, 1 << LUT_BITS);
        i += 1;
    }
    table
}

/// `round(log2(num / den) · 2^16)` for `1 ≤ num/den ≤ 2`: each squaring of the
/// Q62 mantissa yields one bit of the logarithm; 24 bits are made, then rounded.
const fn log2_q16_of_ratio(num: u64, den: u64) -> u32 {
    if num >= 2 * den {
        return 1 << 16;
    }
    const ONE: u128 = 1 << 62;
    let mut y: u128 = (num as u128 * ONE) / den as u128;
    let mut bits: u32 = 0;
    let mut k = 0;
    while k < 24 {
        y = (y * y) >> 62;
        bits <<= 1;
        if y >= 2 * ONE {
            y >>= 1;
            bits |= 1;
        }
        k += 1;
    }
    (bits + (1 << 7)) >> 8
}

/// `log2(v)` in Q16 for `v > 0` (returns 0 for `v = 0`).
pub fn log2_q16(v: u64) -> i64 {
    if v == 0 {
        return 0;
    }
    let msb = 63 - v.leading_zeros();
    let t = v << (63 - msb); // leading one at bit 63
    let index = ((t >> (63 - LUT_BITS)) & ((1 << LUT_BITS) - 1)) as usize;
    let frac = (t >> (63 - LUT_BITS - INTERP_BITS)) & ((1 << INTERP_BITS) - 1);
    let lo = LOG2_LUT_Q16[index] as u64;
    let hi = LOG2_LUT_Q16[index + 1] as u64;
    let mantissa = lo + (((hi - lo) * frac + (1 << (INTERP_BITS - 1))) >> INTERP_BITS);
    ((msb as i64) << LOG_MEL_FRAC_BITS) + mantissa as i64
}

/// The log stage: ε as an integer mantissa and exponent.
#[derive(Debug, Clone, Copy)]
pub struct LogQ {
    /// `ε = eps_mantissa · 2^eps_exponent`.
    eps_mantissa: u64,
    eps_exponent: i32,
}

impl LogQ {
    /// Decomposes `eps` (finite, positive, checked by the config) exactly.
    pub fn new(eps: f32) -> Self {
        let bits = eps.to_bits();
        let biased = ((bits >> 23) & 0xff) as i32;
        let fraction = (bits & 0x7f_ffff) as u64;
        let (eps_mantissa, eps_exponent) = if biased == 0 {
            (fraction, -149) // subnormal
        } else {
            (fraction | 1 << 23, biased - 150)
        };
        Self {
            eps_mantissa,
            eps_exponent,
        }
    }

    /// Largest `s` for which `ε · 2^s` stays below `2^62`.
    pub fn max_exponent(&self) -> i32 {
        let mantissa_bits = 64 - self.eps_mantissa.leading_zeros() as i32;
        EPS_TERM_BITS - mantissa_bits - self.eps_exponent
    }

    /// `ln(M · 2^−s + ε)` in Q16 ([`LOG_MEL_FRAC_BITS`]). Requires
    /// `s ≤ max_exponent()` (the caller caps its scale to ensure it).
    pub fn ln_q16(&self, m: u64, s: i32) -> i32 {
        self.at_exponent(s).ln_q16(m)
    }

    /// The log at one binary exponent `s` (one frame's mel sums share it):
    /// `ε · 2^s` is computed once.
    pub fn at_exponent(&self, s: i32) -> LogAt {
        let e = self.eps_exponent + s;
        let eps_term = if e >= 0 {
            // Saturates (instead of overflowing) if the caller broke the cap.
            self.eps_mantissa
                .checked_shl(e as u32)
                .filter(|t| t >> e == self.eps_mantissa)
                .unwrap_or(1 << EPS_TERM_BITS)
        } else if e > -64 {
            let d = (-e) as u32;
            (self.eps_mantissa + (1u64 << (d - 1))) >> d
        } else {
            0
        };
        LogAt {
            eps_term,
            s_q16: (s as i64) << LOG_MEL_FRAC_BITS,
        }
    }
}

/// [`LogQ`] at one exponent: `ln(M · 2^−s + ε) = ln(M + ε·2^s) − s·ln 2`.
#[derive(Debug, Clone, Copy)]
pub struct LogAt {
    eps_term: u64,
    s_q16: i64,
}

impl LogAt {
    /// `ln(M · 2^−s + ε)` in Q16.
    #[inline]
    pub fn ln_q16(&self, m: u64) -> i32 {
        let v = m.saturating_add(self.eps_term).max(1);
        let log2 = log2_q16(v) - self.s_q16;
        ((log2 * LN2_Q32 + (1 << 31)) >> 32) as i32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_matches_libm_to_one_lsb() {
        for (i, &t) in LOG2_LUT_Q16.iter().enumerate() {
            let expect = (1.0 + i as f64 / 256.0).log2() * 65536.0;
            assert!(
                (t as f64 - expect).abs() <= 0.5 + 1e-9,
                "i={i}: {t} vs {expect}"
            );
        }
    }

    #[test]
    fn log2_is_accurate_over_the_whole_range() {
        let mut v: u64 = 1;
        while v < u64::MAX / 3 {
            for w in [v, v + v / 3, v + v / 7 * 5] {
                let expect = (w as f64).log2();
                let got = log2_q16(w) as f64 / 65536.0;
                // Interpolation (2.7e-6) + two Q16 roundings (2 × 7.6e-6).
                assert!((got - expect).abs() < 2e-5, "{w}: {got} vs {expect}");
            }
            v = v * 3 + 1;
        }
    }

    #[test]
    fn ln_includes_epsilon_and_exponent() {
        let log = LogQ::new(f32::EPSILON);
        for (m, s) in [
            (0u64, 40),
            (1 << 20, 40),
            (123_456_789, 10),
            (1 << 40, 60),
            (5, 0),
        ] {
            let expect = (m as f64 * 2f64.powi(-s) + f32::EPSILON as f64).ln();
            let got = log.ln_q16(m, s) as f64 / 65536.0;
            assert!(
                (got - expect).abs() < 3e-5,
                "m={m} s={s}: {got} vs {expect}"
            );
        }
        assert!(log.max_exponent() >= 60);
    }
}
