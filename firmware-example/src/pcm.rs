//! 16-bit PCM as stored in the embedded clips: signed, little-endian, mono, either
//! raw (`.s16le`) or inside a canonical RIFF/WAVE file ([`wav_pcm16_mono`]).

/// The sample rate and the `data` bytes of a 16-bit mono PCM WAV file, or `None` if
/// `bytes` is not one (a RIFF/WAVE walk over its chunks; nothing is copied).
pub fn wav_pcm16_mono(bytes: &[u8]) -> Option<(u32, &[u8])> {
    let u16_at = |b: &[u8], i: usize| Some(u16::from_le_bytes([*b.get(i)?, *b.get(i + 1)?]));
    let u32_at = |b: &[u8], i: usize| {
        Some(u32::from_le_bytes([
            *b.get(i)?,
            *b.get(i + 1)?,
            *b.get(i + 2)?,
            *b.get(i + 3)?,
        ]))
    };
    if bytes.get(..4)? != b"RIFF" || bytes.get(8..12)? != b"WAVE" {
        return None;
    }
    let mut at = 12;
    let mut rate = None;
    while let (Some(id), Some(len)) = (bytes.get(at..at + 4), u32_at(bytes, at + 4)) {
        let body = bytes.get(at + 8..(at + 8).checked_add(len as usize)?)?;
        match id {
            b"fmt " => {
                let pcm16_mono =
                    u16_at(body, 0)? == 1 && u16_at(body, 2)? == 1 && u16_at(body, 14)? == 16;
                if !pcm16_mono {
                    return None;
                }
                rate = Some(u32_at(body, 4)?);
            }
            b"data" => return Some((rate?, body)),
            _ => {}
        }
        at += 8 + len as usize + (len as usize & 1);
    }
    None
}

/// Decodes little-endian `i16` samples from `bytes` into `out`, as many as both hold
/// (`min(out.len(), bytes.len() / 2)`; a trailing odd byte is ignored). Returns the count.
pub fn decode_s16le(bytes: &[u8], out: &mut [i16]) -> usize {
    let mut n = 0;
    for (sample, pair) in out.iter_mut().zip(bytes.chunks_exact(2)) {
        if let &[lo, hi] = pair {
            *sample = i16::from_le_bytes([lo, hi]);
            n += 1;
        }
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_data_of_a_pcm16_mono_wav_and_rejects_others() {
        let mut wav = Vec::new();
        wav.extend_from_slice(b"RIFF\x00\x00\x00\x00WAVE");
        wav.extend_from_slice(b"LIST\x03\x00\x00\x00abc\x00"); // odd chunk, padded
        wav.extend_from_slice(b"fmt \x10\x00\x00\x00");
        wav.extend_from_slice(&[1, 0, 1, 0, 0x80, 0x3e, 0, 0, 0, 0x7d, 0, 0, 2, 0, 16, 0]);
        wav.extend_from_slice(b"data\x04\x00\x00\x00\x01\x00\xff\xff");
        assert_eq!(
            wav_pcm16_mono(&wav),
            Some((16_000, &[1u8, 0, 0xff, 0xff][..]))
        );
        let mut stereo = wav.clone();
        stereo[34] = 2; // channels
        assert_eq!(wav_pcm16_mono(&stereo), None);
        let truncated = &wav[..wav.len() - 1];
        assert_eq!(wav_pcm16_mono(truncated), None);
        assert_eq!(wav_pcm16_mono(b"RIFX"), None);
    }

    #[test]
    fn decodes_little_endian_and_stops_at_the_shorter() {
        let bytes = [0x01, 0x00, 0xff, 0xff, 0x00, 0x80, 0x34];
        let mut out = [0i16; 8];
        assert_eq!(decode_s16le(&bytes, &mut out), 3);
        assert_eq!(out[..3], [1, -1, i16::MIN]);
        let mut short = [0i16; 2];
        assert_eq!(decode_s16le(&bytes, &mut short), 2);
        assert_eq!(short, [1, -1]);
    }
}
