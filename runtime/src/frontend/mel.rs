//! Slaney mel scale and filterbank.
//!
//! [`SlaneyFilterbank`] is the one definition of the filterbank (f64, as
//! librosa's `filters.mel(htk=False, norm="slaney")`); the trainer's float path
//! and the fixed-point [`MelQ`] below are both built from it.

use super::config::{FFT_BINS, FrontendConfig, MAX_MELS};
use crate::Error;

/// Slaney scale: linear below this frequency, Hz.
const MIN_LOG_HZ: f64 = 1000.0;
/// Hz per mel in the linear part (200 / 3).
const F_SP: f64 = 200.0 / 3.0;
/// Mel value at [`MIN_LOG_HZ`].
const MIN_LOG_MEL: f64 = MIN_LOG_HZ / F_SP;

/// Log step of the Slaney scale above 1 kHz: `ln(6.4) / 27`.
fn log_step() -> f64 {
    libm::log(6.4) / 27.0
}

/// Hz → Slaney mel (librosa `hz_to_mel(htk=False)`).
pub fn hz_to_mel(hz: f64) -> f64 {
    if hz >= MIN_LOG_HZ {
        MIN_LOG_MEL + libm::log(hz / MIN_LOG_HZ) / log_step()
    } else {
        hz / F_SP
    }
}

/// Slaney mel → Hz (librosa `mel_to_hz(htk=False)`).
pub fn mel_to_hz(mel: f64) -> f64 {
    if mel >= MIN_LOG_MEL {
        MIN_LOG_HZ * libm::exp(log_step() * (mel - MIN_LOG_MEL))
    } else {
        F_SP * mel
    }
}

/// Triangular Slaney mel filters with area normalisation (`2 / width`), in f64.
#[derive(Debug, Clone)]
pub struct SlaneyFilterbank {
    /// Band edges, Hz: `n_mels + 2` points evenly spaced on the mel scale.
    edges_hz: [f64; MAX_MELS + 2],
    n_mels: usize,
    n_bins: usize,
    /// Frequency of one FFT bin, Hz (`sample_rate / n_fft`).
    bin_hz: f64,
}

impl SlaneyFilterbank {
    /// Builds the filterbank of `config` (any `n_fft`, at most [`MAX_MELS`] bands).
    pub fn new(config: &FrontendConfig) -> Result<Self, Error> {
        config.validate()?;
        if config.n_mels > MAX_MELS {
            return Err(Error::UnsupportedFrontend {
                reason: "at most 128 mel bands are supported",
            });
        }
        let (lo, hi) = (
            hz_to_mel(config.f_min as f64),
            hz_to_mel(config.f_max as f64),
        );
        let points = config.n_mels + 2;
        let mut edges_hz = [0.0; MAX_MELS + 2];
        for (i, edge) in edges_hz.iter_mut().take(points).enumerate() {
            // numpy.linspace: start + i · step, with the last point exactly `hi`.
            let mel = if i + 1 == points {
                hi
            } else {
                lo + i as f64 * ((hi - lo) / (points - 1) as f64)
            };
            *edge = mel_to_hz(mel);
        }
        Ok(Self {
            edges_hz,
            n_mels: config.n_mels,
            n_bins: config.n_bins(),
            bin_hz: config.sample_rate as f64 / config.n_fft as f64,
        })
    }

    /// Number of bands.
    pub fn n_mels(&self) -> usize {
        self.n_mels
    }

    /// Number of one-sided FFT bins the filters span.
    pub fn n_bins(&self) -> usize {
        self.n_bins
    }

    /// Weight of FFT bin `bin` in band `band` (0 outside the triangle).
    pub fn weight(&self, band: usize, bin: usize) -> f64 {
        let (Some(&lo), Some(&mid), Some(&hi)) = (
            self.edges_hz.get(band),
            self.edges_hz.get(band + 1),
            self.edges_hz.get(band + 2),
        ) else {
            return 0.0;
        };
        if band >= self.n_mels || bin >= self.n_bins {
            return 0.0;
        }
        let f = bin as f64 * self.bin_hz;
        let rising = (f - lo) / (mid - lo);
        let falling = (hi - f) / (hi - mid);
        let tri = rising.min(falling).max(0.0);
        tri * 2.0 / (hi - lo)
    }

    /// The bins with a non-zero weight in `band`, as `first..end`. Only the
    /// bins from one below the band's lower edge to one above its upper edge
    /// are tried: below `lo` the rising slope is negative, above `hi` the
    /// falling one, so every bin outside weighs 0 (a full scan of the bins
    /// took 80 % of `Frontend::new` — tens of millions of soft-float
    /// instructions on a Cortex-M4).
    pub fn support(&self, band: usize) -> core::ops::Range<usize> {
        let (Some(&lo), Some(&hi)) = (self.edges_hz.get(band), self.edges_hz.get(band + 2)) else {
            return 0..0;
        };
        // f64 → usize casts saturate (NaN → 0), so the window stays in range.
        let from = (libm::floor(lo / self.bin_hz) as usize).saturating_sub(1);
        let to = (libm::ceil(hi / self.bin_hz) as usize).saturating_add(2);
        let mut first = self.n_bins;
        let mut end = 0;
        for bin in from..to.min(self.n_bins) {
            if self.weight(band, bin) > 0.0 {
                first = first.min(bin);
                end = bin + 1;
            }
        }
        if end == 0 { 0..0 } else { first..end }
    }
}

/// One band of the fixed-point filterbank: a run of consecutive bins.
#[derive(Debug, Clone, Copy, Default)]
struct BandQ {
    first_bin: u16,
    len: u16,
    /// Index of the band's first weight in [`MelQ::weights`].
    offset: u16,
}

/// Fixed-point filterbank: unsigned weights `w_q = round(w · 2^weight_shift)`
/// stored sparsely (each bin lies in at most two adjacent bands).
#[derive(Debug, Clone)]
pub struct MelQ {
    bands: [BandQ; MAX_MELS],
    weights: [u16; 2 * FFT_BINS],
    n_mels: usize,
    weight_shift: u32,
}

impl MelQ {
    /// Quantises the Slaney filterbank of `config`, choosing the largest
    /// `weight_shift` that keeps every weight within 16 bits.
    pub fn new(config: &FrontendConfig) -> Result<Self, Error> {
        let bank = SlaneyFilterbank::new(config)?;
        let mut max_w: f64 = 0.0;
        for band in 0..bank.n_mels() {
            for bin in bank.support(band) {
                max_w = max_w.max(bank.weight(band, bin));
            }
        }
        if max_w <= 0.0 {
            return Err(Error::UnsupportedFrontend {
                reason: "every mel band is empty: widen f_min..f_max",
            });
        }
        // Largest shift with max_w · 2^shift ≤ u16::MAX (capped: 2^40 is ample).
        let weight_shift =
            (libm::floor(libm::log2(u16::MAX as f64 / max_w)) as i32).clamp(0, 40) as u32;
        let scale = libm::pow(2.0, weight_shift as f64);
        let mut mel = Self {
            bands: [BandQ::default(); MAX_MELS],
            weights: [0; 2 * FFT_BINS],
            n_mels: bank.n_mels(),
            weight_shift,
        };
        let mut offset = 0usize;
        for band in 0..bank.n_mels() {
            let support = bank.support(band);
            let end = offset + support.len();
            let slot = mel
                .weights
                .get_mut(offset..end)
                .ok_or(Error::UnsupportedFrontend {
                    reason: "mel bands overlap more than pairwise",
                })?;
            for (w, bin) in slot.iter_mut().zip(support.clone()) {
                *w = libm::round(bank.weight(band, bin) * scale).min(u16::MAX as f64) as u16;
            }
            mel.bands[band] = BandQ {
                first_bin: support.start as u16,
                len: support.len() as u16,
                offset: offset as u16,
            };
            offset = end;
        }
        Ok(mel)
    }

    /// The bins any band uses, `first..end` (empty if none).
    pub fn used_bins(&self) -> core::ops::Range<usize> {
        let bands = self.bands.iter().take(self.n_mels).filter(|b| b.len > 0);
        let first = bands
            .clone()
            .map(|b| b.first_bin as usize)
            .min()
            .unwrap_or(0);
        let end = bands
            .map(|b| (b.first_bin + b.len) as usize)
            .max()
            .unwrap_or(0);
        first..end.max(first)
    }

    /// Weights carry this many fractional bits.
    pub fn weight_shift(&self) -> u32 {
        self.weight_shift
    }

    /// `out[m] = Σ_k w_q[m][k] · power[k]`: exact integer sums (`power < 2^31`,
    /// `w_q < 2^16`, at most 257 terms, so every sum is below 2^56).
    pub fn apply(&self, power: &[u32; FFT_BINS], out: &mut [u64]) {
        for (band, acc) in self.bands.iter().take(self.n_mels).zip(out.iter_mut()) {
            let first = band.first_bin as usize;
            let offset = band.offset as usize;
            let len = band.len as usize;
            let bins = power.get(first..first + len).unwrap_or(&[]);
            let weights = self.weights.get(offset..offset + len).unwrap_or(&[]);
            *acc = bins
                .iter()
                .zip(weights)
                .map(|(&p, &w)| p as u64 * w as u64)
                .sum();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn support_equals_a_scan_of_every_bin() {
        let configs = [
            FrontendConfig::default(),
            FrontendConfig {
                n_mels: 128,
                f_min: 0.0,
                ..FrontendConfig::default()
            },
            FrontendConfig {
                n_mels: 40,
                f_min: 300.0,
                f_max: 4000.0,
                ..FrontendConfig::default()
            },
            FrontendConfig {
                n_mels: 128,
                f_min: 7000.0,
                f_max: 8000.0,
                ..FrontendConfig::default()
            },
        ];
        for config in configs {
            let bank = SlaneyFilterbank::new(&config).expect("valid config");
            for band in 0..bank.n_mels() {
                let bins: Vec<usize> = (0..bank.n_bins())
                    .filter(|&b| bank.weight(band, b) > 0.0)
                    .collect();
                let want = match (bins.first(), bins.last()) {
                    (Some(&first), Some(&last)) => first..last + 1,
                    _ => 0..0,
                };
                assert_eq!(bank.support(band), want, "band {band} of {config:?}");
            }
        }
    }

    #[test]
    fn mel_scale_round_trips_and_is_linear_below_1khz() {
        for hz in [0.0, 50.0, 440.0, 999.0, 1000.0, 3000.0, 8000.0] {
            assert!((mel_to_hz(hz_to_mel(hz)) - hz).abs() < 1e-9 * hz.max(1.0));
        }
        assert!((hz_to_mel(500.0) - 7.5).abs() < 1e-12);
        assert!((hz_to_mel(1000.0) - 15.0).abs() < 1e-12);
    }

    #[test]
    fn each_bin_is_in_at_most_two_bands() {
        let bank = SlaneyFilterbank::new(&FrontendConfig::default()).unwrap();
        for bin in 0..bank.n_bins() {
            let n = (0..bank.n_mels())
                .filter(|&b| bank.weight(b, bin) > 0.0)
                .count();
            assert!(n <= 2, "bin {bin} is in {n} bands");
        }
    }

    #[test]
    fn quantised_weights_are_within_half_a_step() {
        let config = FrontendConfig::default();
        let bank = SlaneyFilterbank::new(&config).unwrap();
        let q = MelQ::new(&config).unwrap();
        let step = libm::pow(2.0, -(q.weight_shift() as f64));
        for band in 0..config.n_mels {
            let b = q.bands[band];
            for bin in 0..config.n_bins() {
                let i = bin.wrapping_sub(b.first_bin as usize);
                let wq = if i < b.len as usize {
                    q.weights[b.offset as usize + i]
                } else {
                    0
                };
                let err = (wq as f64 * step - bank.weight(band, bin)).abs();
                assert!(err <= step / 2.0 + 1e-15, "band {band} bin {bin}: {err}");
            }
        }
    }
}
