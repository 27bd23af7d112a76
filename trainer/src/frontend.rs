//! The float log-mel front end (host, batched): the same specification as the
//! runtime's fixed-point path ([`FrontendConfig`]), in f32 with any `n_fft`.
//!
//! Also [`fixed_log_mel`]: the runtime's own fixed-point front end run over a
//! whole clip, which is what the edge student trains on.

use matpac_runtime::frontend::mel::SlaneyFilterbank;
use matpac_runtime::frontend::{Frontend, FrontendConfig, q16_to_f32};
use rayon::prelude::*;
use realfft::{RealFftPlanner, RealToComplex};
use std::sync::Arc;

/// A log-mel spectrogram, `[n_frames, n_mels]` row-major, natural log.
#[derive(Debug, Clone, PartialEq)]
pub struct LogMel {
    /// Frames (10 ms each by default).
    pub n_frames: usize,
    /// Mel bands.
    pub n_mels: usize,
    /// `[n_frames × n_mels]`, frame-major.
    pub data: Vec<f32>,
}

impl LogMel {
    /// The `[n_mels]` values of frame `t`.
    pub fn frame(&self, t: usize) -> &[f32] {
        &self.data[t * self.n_mels..(t + 1) * self.n_mels]
    }

    /// The same values mel-major, `[n_mels, n_frames]` row-major: the layout
    /// the MATPAC encoder takes.
    pub fn mel_major(&self) -> Vec<f32> {
        self.mel_major_frames(0, self.n_frames)
    }

    /// Frames `start .. start + len` mel-major, `[n_mels, len]` row-major;
    /// frames past the end are zero.
    pub fn mel_major_frames(&self, start: usize, len: usize) -> Vec<f32> {
        let m = self.n_mels;
        let mut out = vec![0.0f32; m * len];
        for i in 0..len.min(self.n_frames.saturating_sub(start)) {
            for (j, &v) in self.frame(start + i).iter().enumerate() {
                out[j * len + i] = v;
            }
        }
        out
    }
}

/// The front end's configuration was rejected.
#[derive(Debug, thiserror::Error)]
#[error("front-end configuration: {0}")]
pub struct FrontendError(#[from] pub matpac_runtime::Error);

/// Float front end: periodic Hann, real FFT of any length, power, Slaney mel, `ln(· + ε)`.
pub struct FloatFrontend {
    config: FrontendConfig,
    /// `[win_length]` periodic Hann coefficients.
    window: Vec<f32>,
    fft: Arc<dyn RealToComplex<f32>>,
    /// Per band: first bin and weights over its support.
    bands: Vec<(usize, Vec<f32>)>,
}

impl FloatFrontend {
    /// Builds the window, FFT plan and filterbank for `config`.
    pub fn new(config: &FrontendConfig) -> Result<Self, FrontendError> {
        config.validate()?;
        let bank = SlaneyFilterbank::new(config)?;
        let n = config.win_length;
        let window = (0..n)
            .map(|i| (0.5 - 0.5 * (2.0 * std::f64::consts::PI * i as f64 / n as f64).cos()) as f32)
            .collect();
        let bands = (0..config.n_mels)
            .map(|m| {
                let support = bank.support(m);
                (
                    support.start,
                    support.map(|k| bank.weight(m, k) as f32).collect(),
                )
            })
            .collect();
        let fft = RealFftPlanner::<f32>::new().plan_fft_forward(config.n_fft);
        Ok(Self {
            config: *config,
            window,
            fft,
            bands,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &FrontendConfig {
        &self.config
    }

    /// Log-mel of one clip of `[-1, 1)` samples at the configured rate.
    pub fn log_mel(&self, samples: &[f32]) -> LogMel {
        let c = &self.config;
        let n_frames = c.n_frames(samples.len());
        let mut data = vec![0.0f32; n_frames * c.n_mels];
        let mut input = self.fft.make_input_vec();
        let mut spectrum = self.fft.make_output_vec();
        let mut scratch = self.fft.make_scratch_vec();
        let mut power = vec![0.0f32; c.n_bins()];
        for (t, out) in data.chunks_exact_mut(c.n_mels).enumerate() {
            let frame = &samples[t * c.hop_length..t * c.hop_length + c.win_length];
            input.fill(0.0);
            for ((x, &s), &w) in input.iter_mut().zip(frame).zip(&self.window) {
                *x = s * w;
            }
            self.fft
                .process_with_scratch(&mut input, &mut spectrum, &mut scratch)
                .expect("buffers come from the plan");
            for (p, z) in power.iter_mut().zip(&spectrum) {
                *p = z.norm_sqr();
            }
            for (o, (first, weights)) in out.iter_mut().zip(&self.bands) {
                let mel: f32 = weights
                    .iter()
                    .zip(&power[*first..])
                    .map(|(w, p)| w * p)
                    .sum();
                *o = (mel + c.log_eps).ln();
            }
        }
        LogMel {
            n_frames,
            n_mels: c.n_mels,
            data,
        }
    }

    /// Log-mel of many clips in parallel (rayon), in input order.
    pub fn log_mel_batch(&self, clips: &[&[f32]]) -> Vec<LogMel> {
        clips.par_iter().map(|clip| self.log_mel(clip)).collect()
    }
}

/// Runs the runtime's fixed-point front end over a whole clip of i16 PCM and
/// returns its frames in natural-log units (bit-identical to the device).
pub fn fixed_log_mel(config: &FrontendConfig, pcm: &[i16]) -> Result<LogMel, FrontendError> {
    let mut frontend = Frontend::new(config)?;
    let mut data = Vec::with_capacity(config.n_frames(pcm.len()) * config.n_mels);
    frontend.push(pcm, |frame| {
        data.extend(frame.iter().map(|&v| q16_to_f32(v)))
    });
    Ok(LogMel {
        n_frames: data.len() / config.n_mels,
        n_mels: config.n_mels,
        data,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Independent f64 reference of the same specification: naive DFT, mel
    /// weights from the shared Slaney definition, `ln(mel + ε)`.
    fn reference(config: &FrontendConfig, x: &[f32]) -> Vec<Vec<f64>> {
        let bank = SlaneyFilterbank::new(config).unwrap();
        let n = config.win_length;
        let (cos, sin): (Vec<f64>, Vec<f64>) = (0..config.n_fft)
            .map(|j| {
                let ph = 2.0 * std::f64::consts::PI * j as f64 / config.n_fft as f64;
                (ph.cos(), ph.sin())
            })
            .unzip();
        (0..config.n_frames(x.len()))
            .map(|t| {
                let frame: Vec<f64> = (0..n)
                    .map(|i| {
                        let w =
                            0.5 - 0.5 * (2.0 * std::f64::consts::PI * i as f64 / n as f64).cos();
                        x[t * config.hop_length + i] as f64 * w
                    })
                    .collect();
                let power: Vec<f64> = (0..config.n_bins())
                    .map(|k| {
                        let (mut re, mut im) = (0.0, 0.0);
                        for (i, &v) in frame.iter().enumerate() {
                            let j = (k * i) % config.n_fft;
                            re += v * cos[j];
                            im -= v * sin[j];
                        }
                        re * re + im * im
                    })
                    .collect();
                (0..config.n_mels)
                    .map(|m| {
                        let mel: f64 = power
                            .iter()
                            .enumerate()
                            .map(|(k, p)| bank.weight(m, k) * p)
                            .sum();
                        (mel + config.log_eps as f64).ln()
                    })
                    .collect()
            })
            .collect()
    }

    fn signals() -> Vec<(&'static str, Vec<f32>)> {
        let n = 2400;
        let mut state = 12345u32;
        let mut noise = || {
            state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (state >> 8) as f32 / (1u32 << 24) as f32 - 0.5
        };
        vec![
            (
                "tone 440 Hz",
                (0..n)
                    .map(|i| 0.5 * (2.0 * std::f32::consts::PI * 440.0 * i as f32 / 16e3).sin())
                    .collect(),
            ),
            (
                "chirp",
                (0..n)
                    .map(|i| {
                        let t = i as f32 / 16e3;
                        0.3 * (2.0 * std::f32::consts::PI * (100.0 + 20_000.0 * t) * t).sin()
                    })
                    .collect(),
            ),
            ("white noise", (0..n).map(|_| noise()).collect()),
            (
                "click",
                (0..n).map(|i| if i == 1000 { 0.9 } else { 0.0 }).collect(),
            ),
        ]
    }

    #[test]
    fn float_path_matches_f64_reference() {
        for n_fft in [512, 400] {
            let config = FrontendConfig {
                n_fft,
                ..Default::default()
            };
            let fe = FloatFrontend::new(&config).unwrap();
            for (name, x) in signals() {
                let got = fe.log_mel(&x);
                let want = reference(&config, &x);
                let mut max_err = 0.0f64;
                for (t, frame) in want.iter().enumerate() {
                    let top = frame.iter().cloned().fold(f64::MIN, f64::max);
                    for (m, &r) in frame.iter().enumerate() {
                        // Scored bins: within 60 dB (ln(1e6) = 13.8) of the frame maximum.
                        if r >= top - 6.0 * std::f64::consts::LN_10 {
                            max_err = max_err.max((got.frame(t)[m] as f64 - r).abs());
                        }
                    }
                }
                println!("float vs f64 reference, n_fft {n_fft}, {name}: max |Δ| = {max_err:.2e}");
                assert!(max_err <= 1e-4, "{name}, n_fft {n_fft}: {max_err}");
            }
        }
    }

    #[test]
    fn batch_equals_one_by_one() {
        let fe = FloatFrontend::new(&FrontendConfig::default()).unwrap();
        let clips: Vec<Vec<f32>> = signals().into_iter().map(|(_, x)| x).collect();
        let refs: Vec<&[f32]> = clips.iter().map(|c| c.as_slice()).collect();
        let batch = fe.log_mel_batch(&refs);
        for (clip, got) in refs.iter().zip(batch) {
            assert_eq!(fe.log_mel(clip), got);
        }
    }
}
