//! Fixed-point helpers: TFLite-style requantisation (a Q0.31 multiplier and a
//! power-of-two shift) and rounding shifts.
//!
//! A real multiplier `m > 0` is written `m = q · 2^shift` with `q ∈ [0.5, 1)`
//! stored as a Q0.31 integer; `x · m` is then computed with one rounding
//! doubling high multiply and one rounding right shift, exactly as
//! `tflite::MultiplyByQuantizedMultiplier` (gemmlowp's fixed-point helpers).

use crate::Error;

/// A real, positive multiplier in TFLite form: `real ≈ multiplier · 2^(shift − 31)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct QuantizedMultiplier {
    /// Q0.31 mantissa in `[2^30, 2^31)`, or 0 for a zero multiplier.
    pub multiplier: i32,
    /// Power-of-two exponent: positive shifts left before the multiply,
    /// negative shifts right (with rounding) after it.
    pub shift: i32,
}

impl QuantizedMultiplier {
    /// Decomposes `real` (finite, ≥ 0) as TFLite's `QuantizeMultiplier` does.
    /// Multipliers too small to represent (below 2^-32) become zero; ones at or
    /// above 2^30 are rejected (no int8 model needs them).
    pub fn from_f64(real: f64) -> Result<Self, Error> {
        if !real.is_finite() || real < 0.0 {
            return Err(Error::InvalidQuantization {
                reason: "multiplier must be finite and non-negative",
            });
        }
        if real == 0.0 {
            return Ok(Self { multiplier: 0, shift: 0 });
        }
        let (q, mut shift) = libm::frexp(real);
        // q ∈ [0.5, 1): round to Q0.31; rounding may reach 2^31 exactly.
        let mut q_fixed = libm::round(q * (1u64 << 31) as f64) as i64;
        if q_fixed == 1i64 << 31 {
            q_fixed /= 2;
            shift += 1;
        }
        if shift < -31 {
            return Ok(Self { multiplier: 0, shift: 0 });
        }
        if shift > 30 {
            return Err(Error::InvalidQuantization {
                reason: "multiplier must be below 2^30",
            });
        }
        Ok(Self { multiplier: q_fixed as i32, shift })
    }

    /// `round(x · real)` in TFLite's fixed-point arithmetic (saturating).
    #[inline]
    pub fn apply(self, x: i32) -> i32 {
        let left = self.shift.max(0) as u32;
        let right = (-self.shift).max(0);
        let shifted = x.saturating_mul(1i32.checked_shl(left).unwrap_or(i32::MAX));
        rounding_divide_by_pot(
            saturating_rounding_doubling_high_mul(shifted, self.multiplier),
            right,
        )
    }

    /// The real value this multiplier represents.
    pub fn to_f64(self) -> f64 {
        self.multiplier as f64 * libm::pow(2.0, (self.shift - 31) as f64)
    }
}

/// `round(a · b / 2^31)` with round-half-away-from-zero and saturation of the
/// single overflow case (`i32::MIN · i32::MIN`), as gemmlowp.
#[inline]
pub fn saturating_rounding_doubling_high_mul(a: i32, b: i32) -> i32 {
    if a == i32::MIN && b == i32::MIN {
        return i32::MAX;
    }
    let ab = a as i64 * b as i64;
    let nudge: i64 = if ab >= 0 { 1 << 30 } else { 1 - (1 << 30) };
    ((ab + nudge) / (1i64 << 31)) as i32
}

/// `x / 2^exponent` rounded half away from zero (gemmlowp `RoundingDivideByPOT`).
/// `exponent` is clamped to `0..=31`.
#[inline]
pub fn rounding_divide_by_pot(x: i32, exponent: i32) -> i32 {
    let exponent = exponent.clamp(0, 31) as u32;
    let mask = ((1i64 << exponent) - 1) as i32;
    let remainder = x & mask;
    let threshold = (mask >> 1) + i32::from(x < 0);
    (x >> exponent) + i32::from(remainder > threshold)
}

/// `x / 2^shift` rounded half up, for 64-bit intermediates (`shift` in 1..=62).
#[inline]
pub fn round_shift_right_i64(x: i64, shift: u32) -> i64 {
    (x + (1i64 << (shift - 1))) >> shift
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multiplier_round_trips_within_2_pow_minus_31() {
        for &m in &[1.0e-6, 0.00390625, 0.1, 0.5, 0.75, 1.0, 3.3, 1234.5] {
            let q = QuantizedMultiplier::from_f64(m).unwrap();
            // Relative precision of a Q0.31 mantissa is 2^-31 (one part in 2e9).
            assert!((q.to_f64() - m).abs() <= m * 1e-9, "{m}: {q:?}");
        }
    }

    #[test]
    fn apply_matches_float_rounding() {
        for &m in &[0.0123, 0.5, 0.999, 1.7, 20.0] {
            let q = QuantizedMultiplier::from_f64(m).unwrap();
            for x in (-70_000..70_000).step_by(37) {
                let exact = x as f64 * m;
                let got = q.apply(x);
                // Half-way cases may round either way after the Q0.31 mantissa
                // error, so allow one unit where exact is within 1e-6 of .5.
                let expect = libm::round(exact) as i32;
                let tie = (exact.abs().fract() - 0.5).abs() < 1e-6;
                assert!(got == expect || (tie && (got - expect).abs() == 1), "{x}·{m}: {got} vs {exact}");
            }
        }
    }

    #[test]
    fn bad_multipliers_are_errors() {
        assert!(QuantizedMultiplier::from_f64(-1.0).is_err());
        assert!(QuantizedMultiplier::from_f64(f64::NAN).is_err());
        assert!(QuantizedMultiplier::from_f64(f64::INFINITY).is_err());
        assert_eq!(QuantizedMultiplier::from_f64(1e-12).unwrap().multiplier, 0);
    }

    #[test]
    fn rounding_divide_matches_gemmlowp_ties() {
        assert_eq!(rounding_divide_by_pot(5, 1), 3); // 2.5 → 3
        assert_eq!(rounding_divide_by_pot(-5, 1), -3); // −2.5 → −3
        assert_eq!(rounding_divide_by_pot(-4, 1), -2);
        assert_eq!(rounding_divide_by_pot(7, 0), 7);
    }
}
