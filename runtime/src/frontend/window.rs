//! Periodic Hann window in Q15 and its application to i16 PCM.

use super::config::FFT_LEN;

/// Fractional bits of the window coefficients.
pub const WINDOW_FRAC_BITS: u32 = 15;

/// `w[n] = round((0.5 − 0.5·cos(2πn / win_length)) · 2^15)` for `n < win_length`,
/// zero after (the FFT's zero padding). The peak, exactly 1.0, is 32768, so the
/// coefficients are unsigned.
#[derive(Debug, Clone)]
pub struct HannQ15 {
    coeffs: [u16; FFT_LEN],
}

impl HannQ15 {
    /// Window of `win_length ≤ FFT_LEN` samples (checked by the config).
    pub fn new(win_length: usize) -> Self {
        let mut coeffs = [0u16; FFT_LEN];
        let n = win_length.min(FFT_LEN);
        let one = (1u32 << WINDOW_FRAC_BITS) as f64;
        for (i, c) in coeffs.iter_mut().take(n).enumerate() {
            let w = 0.5 - 0.5 * libm::cos(2.0 * core::f64::consts::PI * i as f64 / n as f64);
            *c = libm::round(w * one) as u16;
        }
        Self { coeffs }
    }

    /// The Q15 coefficients, `[FFT_LEN]`.
    pub fn coeffs(&self) -> &[u16; FFT_LEN] {
        &self.coeffs
    }

    /// `out[n] = pcm[n] · w[n]` as f32: the exact integer product (at most
    /// 2^30 in magnitude, so below f32's 2^24 precision only above 2^24 where
    /// the conversion rounds to nearest, identically on every IEEE target).
    /// Samples beyond `pcm` (and beyond the window) are zero.
    pub fn apply(&self, pcm: &[i16], out: &mut [f32; FFT_LEN]) {
        let n = pcm.len().min(FFT_LEN);
        for ((o, &x), &w) in out.iter_mut().zip(pcm).zip(&self.coeffs) {
            *o = (x as i32 * w as i32) as f32;
        }
        out[n..].fill(0.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_coefficient_matches_the_formula() {
        let w = HannQ15::new(400);
        for (n, &c) in w.coeffs().iter().enumerate() {
            let expect = if n < 400 {
                (0.5 - 0.5 * (2.0 * std::f64::consts::PI * n as f64 / 400.0).cos()) * 32768.0
            } else {
                0.0
            };
            assert!((c as f64 - expect).abs() <= 0.5, "n={n}: {c} vs {expect}");
        }
        assert_eq!(w.coeffs()[0], 0);
        assert_eq!(w.coeffs()[200], 32768); // periodic: the peak is exactly 1
        assert_eq!(w.coeffs()[100], w.coeffs()[300]);
    }
}
