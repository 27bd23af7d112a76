//! Student input windows: the runtime's fixed-point log-mel front end
//! ([`crate::frontend::fixed_log_mel`], bit-identical to the device) cut
//! into `[T, M]` windows, and the dataset's scalar standardisation.

use crate::audio::{AudioError, load_audio, to_pcm_i16};
use crate::frontend::{FrontendError, fixed_log_mel};
use matpac_runtime::frontend::FrontendConfig;
use std::path::Path;

/// Why features could not be made.
#[derive(Debug, thiserror::Error)]
pub enum FeatureError {
    /// Audio could not be read.
    #[error(transparent)]
    Audio(#[from] AudioError),
    /// The front end rejected its configuration.
    #[error(transparent)]
    Frontend(#[from] FrontendError),
}

/// `[T·M]` log-mel windows (frame-major, natural log) of one clip: every
/// `hop_frames` frames; a clip shorter than one window is padded with
/// digital silence (zero PCM) to exactly one window.
pub fn clip_windows(
    config: &FrontendConfig,
    pcm: &[i16],
    n_frames: usize,
    hop_frames: usize,
) -> Result<Vec<Vec<f32>>, FrontendError> {
    let need = config.win_length + (n_frames - 1) * config.hop_length;
    let mut padded;
    let pcm = if pcm.len() < need {
        padded = pcm.to_vec();
        padded.resize(need, 0);
        &padded[..]
    } else {
        pcm
    };
    let mel = fixed_log_mel(config, pcm)?;
    let per = n_frames * mel.n_mels;
    let last = mel.n_frames - n_frames;
    let starts = (0..=last).step_by(hop_frames.max(1));
    Ok(starts
        .map(|t| mel.data[t * mel.n_mels..t * mel.n_mels + per].to_vec())
        .collect())
}

/// [`clip_windows`] of an audio file (decoded, mixed to mono, resampled).
pub fn file_windows(
    config: &FrontendConfig,
    path: &Path,
    n_frames: usize,
    hop_frames: usize,
) -> Result<Vec<Vec<f32>>, FeatureError> {
    let samples = load_audio(path, config.sample_rate)?;
    Ok(clip_windows(
        config,
        &to_pcm_i16(&samples),
        n_frames,
        hop_frames,
    )?)
}

/// Scalar standardisation `(x − mean) / std` of log-mel values (the
/// runtime's `FeatureQuantizer` takes scalars).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FeatureStats {
    /// Mean, natural-log units.
    pub mean: f32,
    /// Standard deviation (> 0).
    pub std: f32,
}

impl FeatureStats {
    /// Mean and standard deviation over every value of every window (f64 sums).
    pub fn from_windows(windows: &[Vec<f32>]) -> Self {
        let (mut n, mut s, mut s2) = (0f64, 0f64, 0f64);
        for v in windows.iter().flatten() {
            n += 1.0;
            s += f64::from(*v);
            s2 += f64::from(*v) * f64::from(*v);
        }
        let mean = if n > 0.0 { s / n } else { 0.0 };
        let var = if n > 0.0 {
            (s2 / n - mean * mean).max(0.0)
        } else {
            1.0
        };
        Self {
            mean: mean as f32,
            std: (var.sqrt() as f32).max(1e-3),
        }
    }

    /// Standardised copy of one window.
    pub fn apply(&self, window: &[f32]) -> Vec<f32> {
        window.iter().map(|v| (v - self.mean) / self.std).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_clips_are_padded_to_one_window_and_long_ones_hop() {
        let config = FrontendConfig::default();
        let short = vec![1000i16; 4000];
        let w = clip_windows(&config, &short, 98, 49).unwrap();
        assert_eq!(w.len(), 1);
        assert_eq!(w[0].len(), 98 * 80);
        // 2 s: 1 + (32000 − 400) / 160 = 198 frames → windows at 0, 49, 98 (100 would overrun).
        let long = vec![1000i16; 32_000];
        assert_eq!(clip_windows(&config, &long, 98, 49).unwrap().len(), 3);
    }

    #[test]
    fn stats_standardise() {
        let w = vec![vec![1.0, 3.0], vec![1.0, 3.0]];
        let s = FeatureStats::from_windows(&w);
        assert_eq!((s.mean, s.std), (2.0, 1.0));
        assert_eq!(s.apply(&w[0]), vec![-1.0, 1.0]);
    }
}
