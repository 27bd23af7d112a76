//! Int8 features: standardise the Q16 log-mel and quantise it with the
//! model's input scale and zero point, in one fixed-point multiply.

use super::log::LOG_MEL_FRAC_BITS;
use crate::Error;
use crate::fixed::QuantizedMultiplier;

/// `q = clamp(zero_point + round((L − mean) / (std · scale)), −128, 127)` for a
/// log-mel value `L`: the dataset standardisation (`mean`, `std`, natural-log
/// units) and the model input's int8 quantisation (`scale`, `zero_point`)
/// folded into one requantisation. Rounding is half away from zero (TFLite's
/// `MultiplyByQuantizedMultiplier`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct FeatureQuantizer {
    mean_q16: i32,
    multiplier: QuantizedMultiplier,
    zero_point: i32,
}

impl FeatureQuantizer {
    /// Folds standardisation and quantisation. `std` and `scale` must be
    /// finite and positive; `mean` finite.
    pub fn new(mean: f32, std: f32, scale: f32, zero_point: i8) -> Result<Self, Error> {
        if !mean.is_finite() || mean.abs() > 1.0e4 {
            return Err(Error::InvalidQuantization {
                reason: "feature mean must be finite and below 1e4",
            });
        }
        if !(std.is_finite() && std > 0.0 && scale.is_finite() && scale > 0.0) {
            return Err(Error::InvalidQuantization {
                reason: "feature std and input scale must be finite and positive",
            });
        }
        let one = (1u32 << LOG_MEL_FRAC_BITS) as f64;
        let real = 1.0 / (one * std as f64 * scale as f64);
        Ok(Self {
            mean_q16: libm::round(mean as f64 * one) as i32,
            multiplier: QuantizedMultiplier::from_f64(real)?,
            zero_point: zero_point as i32,
        })
    }

    /// Quantises one frame: `out[i] = q(log_mel_q16[i])` for the shorter of
    /// the two slices.
    pub fn quantize(&self, log_mel_q16: &[i32], out: &mut [i8]) {
        for (o, &l) in out.iter_mut().zip(log_mel_q16) {
            let q = self.zero_point + self.multiplier.apply(l.saturating_sub(self.mean_q16));
            *o = q.clamp(i8::MIN as i32, i8::MAX as i32) as i8;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_float_standardise_then_quantise() {
        let (mean, std, scale, zp) = (-6.5f32, 4.2f32, 0.03f32, -3i8);
        let fq = FeatureQuantizer::new(mean, std, scale, zp).unwrap();
        for l_q16 in (-16 * 65536..8 * 65536).step_by(4099) {
            let l = l_q16 as f64 / 65536.0;
            let x = (l - mean as f64) / std as f64 / scale as f64 + zp as f64;
            let mut out = [0i8];
            fq.quantize(&[l_q16], &mut out);
            let expect = x.round().clamp(-128.0, 127.0);
            // Ties may round the other way after the Q0.31 multiplier's error.
            let tie = (x.abs().fract() - 0.5).abs() < 1e-6;
            assert!(out[0] as f64 == expect || tie, "L={l}: {} vs {x}", out[0]);
        }
    }

    #[test]
    fn rejects_bad_parameters() {
        assert!(FeatureQuantizer::new(0.0, 0.0, 0.1, 0).is_err());
        assert!(FeatureQuantizer::new(0.0, 1.0, -0.1, 0).is_err());
        assert!(FeatureQuantizer::new(f32::NAN, 1.0, 0.1, 0).is_err());
        assert!(FeatureQuantizer::new(0.0, f32::INFINITY, 0.1, 0).is_err());
    }
}
