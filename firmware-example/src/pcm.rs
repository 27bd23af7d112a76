//! 16-bit PCM as stored in the embedded clip: signed, little-endian, mono, no header.

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
