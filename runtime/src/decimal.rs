//! Decimal text to `f32`, correctly rounded, for the model's metadata.
//!
//! Hand-rolled because `core`'s `str::parse::<f32>` links its general
//! algorithm (Eisel–Lemire with a 10 KB table of powers of five, plus the
//! big-number fallback) into the firmware, where flash is the scarcest
//! resource (`docs/architecture.md`, "Device budgets"). The metadata holds a
//! handful of numbers that the exporter writes with Rust's shortest
//! round-trip formatting of an `f32`; those always take the exact path below
//! (Clinger's: mantissa and power of ten both exact in `f64`, one correctly
//! rounded operation) and give the bits `str::parse::<f32>` gives, which the
//! tests check on random values (every `f32` of magnitude 1e-12 … 1e12 or
//! zero, in both notations). Text outside that path (more than 19
//! significant digits, a power of ten beyond 10^±22 after folding trailing
//! zeros, or a value on an `f32` rounding tie) is refused, never misread.

/// `f32` from decimal text: `[+-]digits[.digits][(e|E)[+-]digits]` (at
/// least one digit before the exponent). `None` for anything else, and for
/// values the exact path cannot round correctly (see the module docs).
pub fn parse_f32(text: &str) -> Option<f32> {
    let (negative, rest) = split_sign(text)?;
    let (number, exponent) = match rest.find(['e', 'E']) {
        Some(i) => (&rest[..i], parse_exponent(&rest[i + 1..])?),
        None => (rest, 0),
    };
    let (mantissa, scale) = parse_digits(number)?;
    let magnitude = exact(mantissa, exponent.checked_add(scale)?)?;
    Some(if negative { -magnitude } else { magnitude })
}

/// An optional leading `-` or `+`: whether it was `-`, and the rest. `None`
/// for empty text.
fn split_sign(text: &str) -> Option<(bool, &str)> {
    Some(match text.as_bytes().first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    })
}

/// Most significant digits a `u64` mantissa takes without overflow.
const MAX_DIGITS: u32 = 19;

/// Largest power of ten exact in `f64` (5^22 < 2^53).
const MAX_EXACT_POW10: i32 = 22;

/// `[+-]digits` of an exponent, at most 4 digits (anything longer is far
/// outside `f32` or a typo).
fn parse_exponent(text: &str) -> Option<i32> {
    let (negative, digits) = split_sign(text)?;
    if digits.is_empty() || digits.len() > 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let value = digits
        .bytes()
        .fold(0i32, |v, b| v * 10 + i32::from(b - b'0'));
    Some(if negative { -value } else { value })
}

/// `digits[.digits]` as an integer mantissa and the power of ten it is
/// scaled by. Leading zeros are skipped; zeros past [`MAX_DIGITS`]
/// significant digits only move the scale; any other digit there refuses.
fn parse_digits(text: &str) -> Option<(u64, i32)> {
    let mut mantissa = 0u64;
    let mut significant = 0u32;
    let mut scale = 0i32;
    let mut seen_point = false;
    let mut seen_digit = false;
    for b in text.bytes() {
        match b {
            b'.' if !seen_point => seen_point = true,
            b'0'..=b'9' => {
                seen_digit = true;
                let d = u64::from(b - b'0');
                if significant < MAX_DIGITS {
                    if significant > 0 || d != 0 {
                        mantissa = mantissa * 10 + d;
                        significant += 1;
                    }
                    if seen_point {
                        scale -= 1;
                    }
                } else if d != 0 {
                    return None;
                } else if !seen_point {
                    scale += 1;
                }
            }
            _ => return None,
        }
    }
    seen_digit.then_some((mantissa, scale))
}

/// `mantissa · 10^exponent` rounded to `f32`, if exactly computable.
fn exact(mut mantissa: u64, mut exponent: i32) -> Option<f32> {
    if mantissa == 0 {
        return Some(0.0);
    }
    // Fold trailing zeros of the mantissa into the exponent, and a large
    // exponent into the mantissa while it stays exact.
    while mantissa.is_multiple_of(10) {
        mantissa /= 10;
        exponent += 1;
    }
    while exponent > MAX_EXACT_POW10 && mantissa < (1 << 53) / 10 {
        mantissa *= 10;
        exponent -= 1;
    }
    if mantissa >= 1 << 53 || exponent.abs() > MAX_EXACT_POW10 {
        return None;
    }
    let pow10 = (0..exponent.abs()).fold(1f64, |p, _| p * 10.0);
    let value = if exponent >= 0 {
        mantissa as f64 * pow10
    } else {
        mantissa as f64 / pow10
    };
    // `value` is the exact decimal rounded once. Rounding it again to f32
    // gives the exact decimal's f32 unless `value` sits on an f32 tie (the
    // 29 low bits of its significand exactly one half): then it is right
    // only if the first step was exact (the decimal itself is the tie, and
    // `as f32` rounds it to even as `str::parse` does); otherwise the
    // direction the first rounding took is lost, and the text is refused.
    const DROPPED: u64 = (1 << 29) - 1;
    if value.to_bits() & DROPPED == 1 << 28 && !is_exact(mantissa, exponent) {
        return None;
    }
    let narrowed = value as f32;
    narrowed.is_finite().then_some(narrowed)
}

/// Whether `mantissa · 10^exponent` (`mantissa < 2^53`, `|exponent| ≤ 22`)
/// is exactly an `f64`: `mantissa · 5^e` must fit 53 bits (the `2^e` is
/// exact), or for a negative exponent `5^|e|` must divide the mantissa.
fn is_exact(mantissa: u64, exponent: i32) -> bool {
    let pow5 = 5u64.pow(exponent.unsigned_abs());
    if exponent >= 0 {
        mantissa.checked_mul(pow5).is_some_and(|p| p < 1 << 53)
    } else {
        mantissa.is_multiple_of(pow5)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn reads_the_forms_the_metadata_uses() {
        for text in [
            "0",
            "-0",
            "1",
            "0.25",
            "-8.253595",
            "4.337986",
            "8000",
            "50.0",
            "1e-3",
            "2.5E+4",
            "0.00000011920929",
            "1.1920929e-7",
            "+7",
            ".5",
            "5.",
            "007.500",
        ] {
            let ours = parse_f32(text).unwrap_or_else(|| panic!("refused {text}"));
            let core: f32 = text.parse().unwrap();
            assert_eq!(ours.to_bits(), core.to_bits(), "{text}");
        }
    }

    #[test]
    fn refuses_malformed_text() {
        for text in [
            "",
            "-",
            ".",
            "e5",
            "1e",
            "1e+",
            "1.2.3",
            "--1",
            "1-",
            "abc",
            "1e5x",
            " 1",
            "1 ",
            "inf",
            "NaN",
            "0x10",
            "1e99999",
            "1e40",
            "12345678901234567891",
        ] {
            assert_eq!(parse_f32(text), None, "{text:?}");
        }
    }

    #[test]
    fn rounds_exact_ties_to_even_and_refuses_lost_ones() {
        // 696991200 lies exactly halfway between two f32 values (spacing 64
        // there): an exact tie, rounded to even like `str::parse`.
        let tie = "696991200";
        assert_eq!(
            parse_f32(tie).map(f32::to_bits),
            Some(tie.parse::<f32>().unwrap().to_bits())
        );
        // 847.4490051269531 is just below the midpoint 847.44900512695312500
        // of two f32 values, but its f64 is that midpoint: which way to
        // round is lost, so the text is refused, not guessed (`str::parse`
        // rounds it down). Found by a search over 16-digit decimals.
        assert_eq!(parse_f32("847.4490051269531"), None);
        assert_eq!("847.4490051269531".parse::<f32>().unwrap(), 847.449);
        // 20 significant digits, beyond the u64 mantissa.
        assert_eq!(parse_f32("1.0000000596046447754"), None);
    }

    proptest! {
        /// Every finite f32 written as the exporter writes it (`{}` and
        /// `{:e}`, shortest round trip) reads back to the same bits as
        /// `str::parse::<f32>` gives.
        #[test]
        fn every_formatted_f32_reads_back(bits in any::<u32>()) {
            let x = f32::from_bits(bits);
            // Within 1e-12 … 1e12 every shortest form has a power of ten
            // within ±22 of its ≤ 9 significant digits.
            prop_assume!(x == 0.0 || (1e-12..=1e12).contains(&x.abs()));
            for text in [format!("{x}"), format!("{x:e}")] {
                let ours = parse_f32(&text);
                prop_assert_eq!(ours.map(f32::to_bits), Some(x.to_bits()), "{}", text);
            }
        }

        /// Any decimal text the parser accepts reads as `str::parse` reads it.
        #[test]
        fn accepted_text_agrees_with_core(
            int in 0u64..10_000_000_000, frac in 0u64..1_000_000, exp in -25i32..25,
        ) {
            let text = format!("{int}.{frac:06}e{exp}");
            if let Some(ours) = parse_f32(&text) {
                let core: f32 = text.parse().unwrap();
                prop_assert_eq!(ours.to_bits(), core.to_bits(), "{}", text);
            }
        }
    }
}
