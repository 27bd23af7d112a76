//! Decoding: hound for WAV (8/16/24/32-bit integer and 32-bit float),
//! symphonia for FLAC and OGG Vorbis.

use super::AudioError;
use std::fs::File;
use std::io::Read;
use std::path::Path;

/// Interleaved samples in `[-1, 1)` with their layout.
#[derive(Debug, Clone)]
pub struct Decoded {
    /// Sample rate, Hz.
    pub sample_rate: u32,
    /// Channel count.
    pub channels: usize,
    /// `[frames × channels]`, interleaved.
    pub samples: Vec<f32>,
}

impl Decoded {
    /// Mean over channels, `[frames]`.
    pub fn to_mono(&self) -> Vec<f32> {
        if self.channels <= 1 {
            return self.samples.clone();
        }
        self.samples
            .chunks_exact(self.channels)
            .map(|f| f.iter().sum::<f32>() / self.channels as f32)
            .collect()
    }
}

/// Decodes a whole file. The format is recognised from its first bytes
/// (`RIFF…WAVE` goes to hound), otherwise symphonia probes it.
pub fn decode(path: &Path) -> Result<Decoded, AudioError> {
    let io = |source| AudioError::Io {
        path: path.to_owned(),
        source,
    };
    let mut magic = [0u8; 12];
    let n = File::open(path)
        .and_then(|mut f| f.read(&mut magic))
        .map_err(io)?;
    if n == 0 {
        return Err(AudioError::Empty {
            path: path.to_owned(),
        });
    }
    if n == 12 && &magic[0..4] == b"RIFF" && &magic[8..12] == b"WAVE" {
        decode_wav(path)
    } else {
        decode_symphonia(path)
    }
}

fn decode_wav(path: &Path) -> Result<Decoded, AudioError> {
    let corrupt = |e: hound::Error| match e {
        hound::Error::IoError(source) if source.kind() == std::io::ErrorKind::UnexpectedEof => {
            AudioError::Corrupt {
                path: path.to_owned(),
                reason: "the file ends before its data does".into(),
            }
        }
        hound::Error::IoError(source) => AudioError::Io {
            path: path.to_owned(),
            source,
        },
        hound::Error::Unsupported => AudioError::Unsupported {
            path: path.to_owned(),
            reason: "unsupported WAV encoding".into(),
        },
        other => AudioError::Corrupt {
            path: path.to_owned(),
            reason: other.to_string(),
        },
    };
    let reader = hound::WavReader::open(path).map_err(corrupt)?;
    let spec = reader.spec();
    let samples: Vec<f32> = match spec.sample_format {
        hound::SampleFormat::Float => reader
            .into_samples::<f32>()
            .collect::<Result<_, _>>()
            .map_err(corrupt)?,
        hound::SampleFormat::Int => {
            let scale = 1.0 / (1u64 << (spec.bits_per_sample.clamp(1, 32) - 1)) as f32;
            reader
                .into_samples::<i32>()
                .map(|s| s.map(|v| v as f32 * scale))
                .collect::<Result<_, _>>()
                .map_err(corrupt)?
        }
    };
    Ok(Decoded {
        sample_rate: spec.sample_rate,
        channels: spec.channels as usize,
        samples,
    })
}

fn decode_symphonia(path: &Path) -> Result<Decoded, AudioError> {
    use symphonia::core::audio::SampleBuffer;
    use symphonia::core::codecs::{CODEC_TYPE_NULL, DecoderOptions};
    use symphonia::core::errors::Error as SymError;
    use symphonia::core::formats::FormatOptions;
    use symphonia::core::io::MediaSourceStream;
    use symphonia::core::meta::MetadataOptions;
    use symphonia::core::probe::Hint;

    let unsupported = |reason: String| AudioError::Unsupported {
        path: path.to_owned(),
        reason,
    };
    let corrupt = |reason: String| AudioError::Corrupt {
        path: path.to_owned(),
        reason,
    };
    let file = File::open(path).map_err(|source| AudioError::Io {
        path: path.to_owned(),
        source,
    })?;
    let stream = MediaSourceStream::new(Box::new(file), Default::default());
    let mut hint = Hint::new();
    if let Some(ext) = path.extension().and_then(|e| e.to_str()) {
        hint.with_extension(ext);
    }
    let probed = symphonia::default::get_probe()
        .format(
            &hint,
            stream,
            &FormatOptions::default(),
            &MetadataOptions::default(),
        )
        .map_err(|e| unsupported(e.to_string()))?;
    let mut format = probed.format;
    let track = format
        .tracks()
        .iter()
        .find(|t| t.codec_params.codec != CODEC_TYPE_NULL)
        .ok_or_else(|| unsupported("no audio track".into()))?;
    let track_id = track.id;
    let mut decoder = symphonia::default::get_codecs()
        .make(&track.codec_params, &DecoderOptions::default())
        .map_err(|e| unsupported(e.to_string()))?;
    let mut sample_rate = track.codec_params.sample_rate;
    let mut channels = track.codec_params.channels.map(|c| c.count());
    let mut samples = Vec::new();
    loop {
        let packet = match format.next_packet() {
            Ok(p) => p,
            Err(SymError::IoError(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
            Err(SymError::ResetRequired) => break,
            Err(e) => return Err(corrupt(e.to_string())),
        };
        if packet.track_id() != track_id {
            continue;
        }
        let decoded = match decoder.decode(&packet) {
            Ok(d) => d,
            Err(SymError::DecodeError(e)) => return Err(corrupt(e.to_string())),
            Err(e) => return Err(corrupt(e.to_string())),
        };
        let spec = *decoded.spec();
        sample_rate.get_or_insert(spec.rate);
        channels.get_or_insert(spec.channels.count());
        let mut buf = SampleBuffer::<f32>::new(decoded.capacity() as u64, spec);
        buf.copy_interleaved_ref(decoded);
        samples.extend_from_slice(buf.samples());
    }
    let sample_rate = sample_rate.ok_or_else(|| corrupt("no sample rate".into()))?;
    let channels = channels.unwrap_or(1).max(1);
    Ok(Decoded {
        sample_rate,
        channels,
        samples,
    })
}
