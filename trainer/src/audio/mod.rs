//! Audio input: decode WAV/FLAC/OGG, mix to mono, resample.
//!
//! `load_audio(path, 16_000)` is what every command uses: mono f32 samples in
//! `[-1, 1)` at the requested rate.

mod decode;
mod resample;

pub use decode::{Decoded, decode};
pub use resample::resample;

use std::path::{Path, PathBuf};

/// Why a file could not be turned into samples. Every variant names the file.
#[derive(Debug, thiserror::Error)]
pub enum AudioError {
    /// The file could not be opened or read.
    #[error("{path}: cannot read file: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// Not a WAV/FLAC/OGG file, or a codec we do not decode.
    #[error("{path}: not a supported audio file ({reason}); use WAV, FLAC or OGG Vorbis")]
    Unsupported {
        /// The file.
        path: PathBuf,
        /// What the decoder said.
        reason: String,
    },
    /// The file is damaged or truncated.
    #[error("{path}: corrupt or truncated audio: {reason}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What the decoder said.
        reason: String,
    },
    /// The file decodes to zero samples.
    #[error("{path}: contains no audio samples")]
    Empty {
        /// The file.
        path: PathBuf,
    },
    /// The resampler failed.
    #[error("{path}: cannot resample from {from} Hz to {to} Hz: {reason}")]
    Resample {
        /// The file.
        path: PathBuf,
        /// Source rate, Hz.
        from: u32,
        /// Target rate, Hz.
        to: u32,
        /// What the resampler said.
        reason: String,
    },
}

/// Decodes `path`, mixes all channels to mono (mean) and resamples to
/// `target_sr` Hz. Samples are in `[-1, 1)` (integer PCM divided by `2^(bits−1)`).
pub fn load_audio(path: &Path, target_sr: u32) -> Result<Vec<f32>, AudioError> {
    let decoded = decode(path)?;
    if decoded.samples.is_empty() {
        return Err(AudioError::Empty {
            path: path.to_owned(),
        });
    }
    let mono = decoded.to_mono();
    resample(&mono, decoded.sample_rate, target_sr).map_err(|reason| AudioError::Resample {
        path: path.to_owned(),
        from: decoded.sample_rate,
        to: target_sr,
        reason,
    })
}

/// Converts `[-1, 1)` samples to i16 PCM (`round(x · 32768)`, saturating), the
/// runtime front end's input.
pub fn to_pcm_i16(samples: &[f32]) -> Vec<i16> {
    samples
        .iter()
        .map(|&x| {
            (x * matpac_runtime::frontend::PCM_SCALE)
                .round()
                .clamp(i16::MIN as f32, i16::MAX as f32) as i16
        })
        .collect()
}
