//! [`FrontendConfig`]: the one specification of the log-mel features, used by
//! the fixed-point runtime path and the host trainer's float path alike.

use crate::Error;

/// Size of the only FFT the fixed-point path runs (microfft `rfft_512`).
pub const FFT_LEN: usize = 512;
/// Number of one-sided spectrum bins of a [`FFT_LEN`]-point real FFT.
pub const FFT_BINS: usize = FFT_LEN / 2 + 1;
/// Largest number of mel bands the fixed-point path supports.
pub const MAX_MELS: usize = 128;
/// i16 PCM is scaled to `[-1, 1)` by dividing by this (as the reference).
pub const PCM_SCALE: f32 = 32768.0;

/// The log-mel front end: parameters in user units (Hz, samples).
///
/// Defaults are the MATPAC/M2D setting adapted to a power-of-two FFT: 16 kHz
/// mono, periodic Hann window of 400 samples (25 ms), hop 160 (10 ms), frames at
/// multiples of the hop without centre padding (`frames = 1 + (N − win) / hop`),
/// FFT 512 (window followed by zeros), power spectrum, 80 Slaney mel bands with
/// Slaney area normalisation from 50 to 8000 Hz (as librosa
/// `filters.mel(sr=16000, n_fft=512, n_mels=80, fmin=50, fmax=8000)`), then
/// `ln(mel + log_eps)`.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(default, deny_unknown_fields))]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct FrontendConfig {
    /// Sample rate of the PCM input, Hz.
    pub sample_rate: u32,
    /// Analysis window length, samples (periodic Hann).
    pub win_length: usize,
    /// Hop between frame starts, samples.
    pub hop_length: usize,
    /// FFT length, samples (the window is zero-padded at its end to this).
    pub n_fft: usize,
    /// Number of mel bands.
    pub n_mels: usize,
    /// Lower edge of the lowest mel band, Hz.
    pub f_min: f32,
    /// Upper edge of the highest mel band, Hz.
    pub f_max: f32,
    /// Added to the mel power before the natural log (power units of
    /// `[-1, 1)`-scaled samples).
    pub log_eps: f32,
}

impl Default for FrontendConfig {
    fn default() -> Self {
        Self {
            sample_rate: 16_000,
            win_length: 400,
            hop_length: 160,
            n_fft: FFT_LEN,
            n_mels: 80,
            f_min: 50.0,
            f_max: 8_000.0,
            log_eps: f32::EPSILON,
        }
    }
}

impl FrontendConfig {
    /// Number of one-sided spectrum bins, `n_fft / 2 + 1`.
    pub fn n_bins(&self) -> usize {
        self.n_fft / 2 + 1
    }

    /// Number of frames a clip of `n_samples` yields (0 if shorter than a window).
    pub fn n_frames(&self, n_samples: usize) -> usize {
        if n_samples < self.win_length {
            0
        } else {
            1 + (n_samples - self.win_length) / self.hop_length
        }
    }

    /// Checks the parameters every implementation needs (any `n_fft`).
    pub fn validate(&self) -> Result<(), Error> {
        let bad = |reason| Err(Error::UnsupportedFrontend { reason });
        if self.sample_rate == 0 {
            return bad("sample_rate must be positive");
        }
        if self.win_length == 0 || self.win_length > self.n_fft {
            return bad("win_length must be in 1..=n_fft");
        }
        if self.hop_length == 0 || self.hop_length > self.win_length {
            return bad("hop_length must be in 1..=win_length");
        }
        if self.n_mels == 0 {
            return bad("n_mels must be positive");
        }
        let nyquist = self.sample_rate as f32 / 2.0;
        if !(self.f_min >= 0.0 && self.f_min < self.f_max && self.f_max <= nyquist) {
            return bad("need 0 <= f_min < f_max <= sample_rate / 2");
        }
        if !(self.log_eps.is_finite() && self.log_eps > 0.0) {
            return bad("log_eps must be finite and positive");
        }
        Ok(())
    }

    /// Checks what the fixed-point path additionally needs: `n_fft` equal to
    /// [`FFT_LEN`] and at most [`MAX_MELS`] bands.
    pub fn validate_fixed(&self) -> Result<(), Error> {
        self.validate()?;
        if self.n_fft != FFT_LEN {
            return Err(Error::UnsupportedFrontend {
                reason: "the fixed-point front end runs n_fft = 512 only",
            });
        }
        if self.n_mels > MAX_MELS {
            return Err(Error::UnsupportedFrontend {
                reason: "the fixed-point front end supports at most 128 mel bands",
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_count_has_no_centre_padding() {
        let c = FrontendConfig::default();
        assert_eq!(c.n_frames(399), 0);
        assert_eq!(c.n_frames(400), 1);
        assert_eq!(c.n_frames(559), 1);
        assert_eq!(c.n_frames(560), 2);
        assert_eq!(c.n_frames(16_000), 98);
    }

    #[test]
    fn invalid_configs_are_rejected() {
        let ok = FrontendConfig::default();
        assert!(ok.validate_fixed().is_ok());
        for c in [
            FrontendConfig { n_fft: 400, ..ok },
            FrontendConfig {
                hop_length: 0,
                ..ok
            },
            FrontendConfig {
                win_length: 600,
                ..ok
            },
            FrontendConfig {
                f_max: 9_000.0,
                ..ok
            },
            FrontendConfig { n_mels: 200, ..ok },
            FrontendConfig {
                log_eps: f32::NAN,
                ..ok
            },
        ] {
            assert!(c.validate_fixed().is_err(), "{c:?}");
        }
        // The float path honours any n_fft.
        assert!(FrontendConfig { n_fft: 400, ..ok }.validate().is_ok());
    }
}
