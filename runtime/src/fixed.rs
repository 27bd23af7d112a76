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
            return Ok(Self {
                multiplier: 0,
                shift: 0,
            });
        }
        let (q, mut shift) = libm::frexp(real);
        // q ∈ [0.5, 1): round to Q0.31; rounding may reach 2^31 exactly.
        let mut q_fixed = libm::round(q * (1u64 << 31) as f64) as i64;
        if q_fixed == 1i64 << 31 {
            q_fixed /= 2;
            shift += 1;
        }
        if shift < -31 {
            return Ok(Self {
                multiplier: 0,
                shift: 0,
            });
        }
        if shift > 30 {
            return Err(Error::InvalidQuantization {
                reason: "multiplier must be below 2^30",
            });
        }
        Ok(Self {
            multiplier: q_fixed as i32,
            shift,
        })
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

/// Rounds to the nearest integer, ties to even (IEEE `roundTiesToEven`), as
/// ONNX `QuantizeLinear` specifies.
#[inline]
pub fn round_half_even_f32(x: f32) -> f32 {
    libm::rintf(x)
}

/// ONNX `QuantizeLinear` to int8 as tract evaluates it:
/// `saturate(round_half_even(x · (1 / scale)) + zero_point)` in f32.
///
/// ONNX specifies `x / scale`; tract (and this runtime, for exact parity)
/// multiplies by the f32 reciprocal, which can differ from the division by one
/// unit in the last place and so, rarely, flip a value lying on a rounding tie.
/// NaN quantises to the zero point (Rust's saturating float→int cast).
#[inline]
pub fn quantize_f32(x: f32, inv_scale: f32, zero_point: i32) -> i8 {
    let r = round_half_even_f32(x * inv_scale) as i32;
    r.saturating_add(zero_point).clamp(-128, 127) as i8
}

/// Requantisation of an int32 accumulator by a positive f32 scale, exactly as
/// tract's `Scaler` with `RoundingPolicy::Even` (the policy tract uses for
/// `QLinearConv`/`QLinearMatMul` outputs): the f32 scale is split into its
/// 24-bit mantissa (as a Q0.31 multiplier) and a power-of-two shift, and the
/// 64-bit product is shifted right rounding half to even, symmetrically about
/// zero. The result is `round_half_even(acc · scale)` computed without error
/// (the product is exact), unlike TFLite's `MultiplyByQuantizedMultiplier`
/// ([`QuantizedMultiplier`]), which rounds twice and breaks ties away from zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct RoundingScaler {
    /// Q0.31 mantissa in `[2^30, 2^31)` (0 for a zero scale).
    pub multiplier: i32,
    /// Right shift applied to `acc · multiplier` (may be ≤ 0 for a left shift).
    pub shift: i32,
}

impl RoundingScaler {
    /// Splits a finite, non-negative `scale` (tract's `convert_scale_to_mult_shift`,
    /// with subnormals handled and power-of-two scales given an explicit mantissa).
    pub fn new(scale: f32) -> Self {
        if scale.is_nan() || scale <= 0.0 || !scale.is_finite() {
            return Self {
                multiplier: 0,
                shift: 0,
            };
        }
        let bits = scale.to_bits();
        let exponent = ((bits >> 23) & 0xff) as i32;
        let (mantissa, exponent) = if exponent == 0 {
            (bits & 0x7f_ffff, 1) // subnormal: no hidden bit
        } else {
            (bits & 0x7f_ffff | 0x80_0000, exponent)
        };
        // scale = mantissa · 2^(exponent − 150) = (mantissa · 2^7) · 2^(exponent − 157 − 31 + 31)
        Self {
            multiplier: (mantissa << 7) as i32,
            shift: 157 - exponent,
        }
    }

    /// `round_half_even(acc · scale)`, saturated to i32.
    #[inline]
    pub fn apply(self, acc: i32) -> i32 {
        if let Some(word) = self.high_word() {
            return word.apply(acc);
        }
        let val = i64::from(self.multiplier) * i64::from(acc);
        let shift = self.shift;
        let r = if shift > 0 {
            if shift > 62 {
                return 0;
            }
            // round_half_even(val / 2^s) = (val + 2^(s−1) − 1 + odd) >> s with
            // odd = (val >> s) & 1 and arithmetic (flooring) shifts, for either
            // sign: write val = q·2^s + r, 0 ≤ r < 2^s; the sum carries into q
            // exactly when r > 2^(s−1), or r = 2^(s−1) and q is odd. Same
            // result as tract's sign–magnitude form (`reference_apply` in the
            // tests), without the absolute value and the sign restore; no
            // overflow, since |val| < 2^62.
            let odd = (val >> shift) & 1;
            (val + ((1i64 << (shift - 1)) - 1) + odd) >> shift
        } else {
            let left = (-shift).min(62) as u32;
            val.checked_shl(left)
                .filter(|v| v >> left == val)
                .unwrap_or(if val < 0 { i64::MIN } else { i64::MAX })
        };
        r.clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32
    }
}

impl RoundingScaler {
    /// This scaler in its usual case's form, shifts 33..=62 (scales below
    /// 2^-2): [`HighWordScaler::apply`] equals [`RoundingScaler::apply`] there
    /// with its constants worked out once (loops over one channel's outputs).
    #[inline]
    pub fn high_word(self) -> Option<HighWordScaler> {
        (33..=62).contains(&self.shift).then(|| HighWordScaler {
            multiplier: self.multiplier,
            shift: (self.shift - 32) as u32,
            nudge: (1i32 << (self.shift - 33)) - 1,
        })
    }
}

/// [`RoundingScaler`] with a right shift of 33..=62, on 32-bit words, plus
/// an offset (0 unless [`HighWordScaler::offset_by`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HighWordScaler {
    multiplier: i32,
    /// The shift past the product's high word (1..=30).
    shift: u32,
    /// `2^(shift − 1) − 1` (in high-word units), plus the offset `<< shift`.
    nudge: i32,
}

impl HighWordScaler {
    /// This scaler with `offset` added to every result, folded into the
    /// rounding constant (`(h + offset·2^s) >> s = (h >> s) + offset`
    /// exactly); `None` where the sum could leave i32 (the high word is
    /// below 2^30 in magnitude).
    #[inline]
    pub fn offset_by(self, offset: i32) -> Option<Self> {
        let nudge = i64::from(self.nudge) + (i64::from(offset) << self.shift);
        let bound = (1i64 << 31) - (1i64 << 30);
        (nudge.abs() < bound).then_some(Self {
            nudge: nudge as i32,
            ..self
        })
    }

    /// `(multiplier, shift past the high word, nudge)`: the constants
    /// [`HighWordScaler::apply`] works with (for kernels that inline it).
    pub fn parts(self) -> (i32, u32, i32) {
        (self.multiplier, self.shift, self.nudge)
    }

    /// `round_half_even(acc · scale)`: the rounding of
    /// [`RoundingScaler::apply`], `(val + 2^(S−1) − 1 + odd) >> S` with `S`
    /// the full shift, on the product's words: `2^(S−1) − 1` is `nudge·2^32 +
    /// (2^32 − 1)`, so the low word only carries into the high word, exactly
    /// when it or `odd` is non-zero; then the high word is shifted by `S −
    /// 32`. |val| < 2^62 keeps every step within i32 (no saturation).
    #[inline(always)]
    pub fn apply(self, acc: i32) -> i32 {
        let val = i64::from(self.multiplier) * i64::from(acc);
        let (high, low) = ((val >> 32) as i32, val as u32);
        let carry = i32::from(low != 0) | ((high >> self.shift) & 1);
        (high + self.nudge + carry) >> self.shift
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// tract's sign–magnitude rounding, the form `RoundingScaler::apply` replaced.
    /// (Right shifts only: the left-shift branch did not change.)
    fn reference_apply(sc: RoundingScaler, acc: i32) -> i32 {
        let val = i64::from(sc.multiplier) * i64::from(acc);
        let shift = sc.shift;
        if shift <= 0 {
            return sc.apply(acc);
        }
        if shift > 62 {
            return 0;
        }
        let a = val.unsigned_abs();
        let half = 1u64 << (shift - 1);
        let odd = (a >> shift) & 1;
        let q = (a + half - 1 + odd) >> shift;
        let r = if val < 0 { -(q as i64) } else { q as i64 };
        r.clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32
    }

    #[test]
    fn rounding_scaler_equals_the_sign_magnitude_reference() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let edges = [
            0,
            1,
            -1,
            2,
            -2,
            3,
            -3,
            i32::MAX,
            i32::MIN,
            i32::MIN + 1,
            1 << 20,
            -(1 << 20),
        ];
        for _ in 0..2000 {
            let sc = RoundingScaler {
                multiplier: (next() as i32).unsigned_abs() as i32 | (1 << 30),
                shift: (next() % 70) as i32 - 4,
            };
            for &acc in &edges {
                assert_eq!(sc.apply(acc), reference_apply(sc, acc), "{sc:?} {acc}");
            }
            for _ in 0..50 {
                let acc = next() as i32 >> (next() % 31);
                assert_eq!(sc.apply(acc), reference_apply(sc, acc), "{sc:?} {acc}");
            }
        }
        // Exact ties at every shift: multiplier 2^30, acc odd multiples of half.
        for shift in 1..=62 {
            let sc = RoundingScaler {
                multiplier: 1 << 30,
                shift,
            };
            for acc in -9..=9 {
                assert_eq!(sc.apply(acc), reference_apply(sc, acc), "{sc:?} {acc}");
            }
            // val = (2k + 1)·2^(shift−1): an exact tie, for the 32-bit fast path too.
            if (32..=59).contains(&shift) {
                for k in -4..=4i32 {
                    let acc = (2 * k + 1) << (shift - 31);
                    let got = sc.apply(acc);
                    assert_eq!(got, reference_apply(sc, acc), "{sc:?} {acc}");
                    assert_eq!(got % 2, 0, "ties go to even: {acc} → {got}");
                }
            }
        }
    }

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
                // gemmlowp rounds twice: the high multiply rounds to an
                // integer before the right shift by `-shift`, which moves the
                // value by up to 0.5 · 2^shift output units. Values that close
                // to a .5 tie may therefore round either way (TFLite behaves
                // the same); everything else must round to nearest.
                let expect = libm::round(exact) as i32;
                let slack = 0.5 * libm::pow(2.0, q.shift.min(0) as f64) + 1e-6;
                let tie = (exact.abs().fract() - 0.5).abs() < slack;
                assert!(
                    got == expect || (tie && (got - expect).abs() == 1),
                    "{x}·{m}: {got} vs {exact}"
                );
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

    #[test]
    fn rounding_scaler_is_exact_half_even() {
        for &s in &[0.0123f32, 0.5, 0.25, 0.999, 1.7, 20.0, 3.0e-6, 1.0e-40] {
            let q = RoundingScaler::new(s);
            for x in (-70_000..70_000).step_by(13) {
                // f64 holds x · s exactly (24-bit mantissa × 17-bit integer).
                let exact = x as f64 * s as f64;
                let expect = {
                    let f = exact.floor();
                    let d = exact - f;
                    if d > 0.5 || (d == 0.5 && f.rem_euclid(2.0) == 1.0) {
                        f + 1.0
                    } else {
                        f
                    }
                } as i32;
                assert_eq!(q.apply(x), expect, "{x}·{s}");
            }
        }
        assert_eq!(RoundingScaler::new(0.5).apply(5), 2); // 2.5 → 2
        assert_eq!(RoundingScaler::new(0.5).apply(7), 4); // 3.5 → 4
        assert_eq!(RoundingScaler::new(0.5).apply(-5), -2);
        assert_eq!(RoundingScaler::new(1.0e6).apply(1 << 30), i32::MAX);
    }

    #[test]
    fn quantize_f32_matches_onnx_examples() {
        // ONNX QuantizeLinear doc example (int8, scale 2, zp 0 → ties to even).
        let xs = [0.0f32, 2.0, 3.0, 1000.0, -254.0, -1000.0, 5.0, 7.0];
        let want = [0i8, 1, 2, 127, -127, -128, 2, 4];
        for (x, w) in xs.iter().zip(want) {
            assert_eq!(quantize_f32(*x, 0.5, 0), w, "{x}");
        }
        assert_eq!(quantize_f32(f32::NAN, 1.0, 3), 3);
    }
}
