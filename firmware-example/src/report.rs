//! The front-end report: the text the QEMU binary prints through semihosting and the
//! host reproduces from the same clip (`examples/host_report.rs`), to be compared byte
//! for byte.
//!
//! Format `v1`, ASCII, one `\n`-terminated line each, integers in decimal unless said:
//!
//! ```text
//! matpac-frontend v1 samples=<N> sample_rate=<Hz> n_mels=<M> win=<W> hop=<H> frac_bits=<B> frames=<F>
//! frame <i> fnv=<8 lowercase hex> min=<q>@<band> max=<q>@<band> mel=<q0>,<q10>,…,<q70>,<q79>
//! … one `frame` line per frame, i = 0 … F−1 …
//! end frames=<F> fnv=<8 lowercase hex>
//! ```
//!
//! * `<q>` are the front end's Q16 log-mel values (natural log · 2^B, B = 16), as
//!   `Frontend::process` returns them.
//! * A frame's `fnv` is 32-bit FNV-1a over its M values, each as 4 little-endian bytes
//!   (two's complement); `end … fnv` is FNV-1a over all frames' bytes in order.
//! * `min`/`max` give the value and the first band that has it; `mel=` lists bands
//!   0, 10, 20, … and the last band (M − 1) if not already listed.
//! * `frames=` in the header is `FrontendConfig::n_frames(N)`; in `end`, the frames
//!   actually produced (they must agree).
//!
//! The samples go through the front end in chunks of [`CHUNK`] samples; the front end
//! is bit-identical for any chunking, so this only fixes where a [`FrameTimer`] sees
//! the calls.

use core::fmt::{self, Write};

use matpac_runtime::Error;
use matpac_runtime::frontend::{Frontend, FrontendConfig, LOG_MEL_FRAC_BITS};

use crate::pcm::decode_s16le;

/// Format version printed in the header.
pub const VERSION: u32 = 1;
/// Samples decoded and pushed per chunk (one hop at 16 kHz).
pub const CHUNK: usize = 160;
/// Bands listed in `mel=` are the multiples of this, plus the last band.
pub const MEL_STRIDE: usize = 10;

/// Why a report could not be written.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportError {
    /// The front end rejected its configuration.
    Frontend(Error),
    /// The output sink failed (`core::fmt::Error`).
    Write,
}

impl From<Error> for ReportError {
    fn from(e: Error) -> Self {
        Self::Frontend(e)
    }
}

impl From<fmt::Error> for ReportError {
    fn from(_: fmt::Error) -> Self {
        Self::Write
    }
}

/// Brackets every `Frontend::process` call of [`write_report`] (the QEMU binary reads
/// SysTick here); `()` measures nothing.
pub trait FrameTimer {
    /// Right before a `process` call.
    fn start(&mut self);
    /// Right after it; `frame` is the index of the frame that call completed, if any.
    fn stop(&mut self, frame: Option<usize>);
}

impl FrameTimer for () {
    fn start(&mut self) {}
    fn stop(&mut self, _frame: Option<usize>) {}
}

/// 32-bit FNV-1a.
#[derive(Debug, Clone, Copy)]
pub struct Fnv1a(u32);

impl Fnv1a {
    const OFFSET: u32 = 0x811c_9dc5;
    const PRIME: u32 = 0x0100_0193;

    /// The empty hash.
    pub const fn new() -> Self {
        Self(Self::OFFSET)
    }

    /// Hashes `values` as little-endian bytes.
    pub fn update_i32(&mut self, values: &[i32]) {
        for v in values {
            for b in v.to_le_bytes() {
                self.0 = (self.0 ^ u32::from(b)).wrapping_mul(Self::PRIME);
            }
        }
    }

    /// The hash so far.
    pub const fn value(&self) -> u32 {
        self.0
    }
}

impl Default for Fnv1a {
    fn default() -> Self {
        Self::new()
    }
}

/// Runs a fresh front end for `config` over `pcm_le` (s16le mono) and writes the
/// report to `out`. Returns the number of frames.
pub fn write_report<W: Write, T: FrameTimer>(
    out: &mut W,
    config: &FrontendConfig,
    pcm_le: &[u8],
    timer: &mut T,
) -> Result<usize, ReportError> {
    let mut frontend = Frontend::new(config)?;
    let samples = pcm_le.len() / 2;
    writeln!(
        out,
        "matpac-frontend v{VERSION} samples={samples} sample_rate={} n_mels={} win={} hop={} frac_bits={LOG_MEL_FRAC_BITS} frames={}",
        config.sample_rate,
        config.n_mels,
        config.win_length,
        config.hop_length,
        config.n_frames(samples),
    )?;
    let mut all = Fnv1a::new();
    let mut index = 0;
    let mut chunk = [0i16; CHUNK];
    for bytes in pcm_le.chunks(2 * CHUNK) {
        let n = decode_s16le(bytes, &mut chunk);
        let mut rest = chunk.get(..n).unwrap_or(&[]);
        while !rest.is_empty() {
            timer.start();
            let (used, frame) = frontend.process(rest);
            timer.stop(frame.map(|_| index));
            if let Some(frame) = frame {
                all.update_i32(frame);
                write_frame(out, index, frame)?;
                index += 1;
            }
            if used == 0 {
                break; // cannot happen (process always takes a sample); never spin
            }
            rest = rest.get(used..).unwrap_or(&[]);
        }
    }
    writeln!(out, "end frames={index} fnv={:08x}", all.value())?;
    Ok(index)
}

/// Writes one `frame` line.
pub fn write_frame<W: Write>(out: &mut W, index: usize, frame: &[i32]) -> fmt::Result {
    let mut hash = Fnv1a::new();
    hash.update_i32(frame);
    let (mut min, mut max) = ((0, i32::MAX), (0, i32::MIN));
    for (band, &v) in frame.iter().enumerate() {
        if v < min.1 {
            min = (band, v);
        }
        if v > max.1 {
            max = (band, v);
        }
    }
    write!(
        out,
        "frame {index} fnv={:08x} min={}@{} max={}@{} mel=",
        hash.value(),
        min.1,
        min.0,
        max.1,
        max.0
    )?;
    for (k, v) in frame.iter().step_by(MEL_STRIDE).enumerate() {
        write!(out, "{}{v}", if k == 0 { "" } else { "," })?;
    }
    if let Some(last) = frame
        .last()
        .filter(|_| !(frame.len() - 1).is_multiple_of(MEL_STRIDE))
    {
        write!(out, ",{last}")?;
    }
    writeln!(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a_matches_the_published_vectors() {
        // FNV-1a 32 of "" is the offset basis; of the bytes 01 00 00 00, computed by hand.
        assert_eq!(Fnv1a::new().value(), 0x811c_9dc5);
        let mut h = Fnv1a::new();
        h.update_i32(&[1]);
        let mut expect = 0x811c_9dc5u32;
        for b in [1u8, 0, 0, 0] {
            expect = (expect ^ u32::from(b)).wrapping_mul(0x0100_0193);
        }
        assert_eq!(h.value(), expect);
    }

    #[test]
    fn frame_line_lists_every_tenth_band_and_the_last() {
        let frame: Vec<i32> = (0..80).map(|i| i * 2 - 100).collect();
        let mut s = String::new();
        write_frame(&mut s, 7, &frame).unwrap();
        let mut h = Fnv1a::new();
        h.update_i32(&frame);
        let expect = format!(
            "frame 7 fnv={:08x} min=-100@0 max=58@79 mel=-100,-80,-60,-40,-20,0,20,40,58\n",
            h.value()
        );
        assert_eq!(s, expect);
    }

    #[test]
    fn ties_report_the_first_band() {
        let mut s = String::new();
        write_frame(&mut s, 0, &[5, 9, 9, 5]).unwrap();
        assert!(s.contains(" min=5@0 max=9@1 mel=5,5\n"), "{s}");
    }

    #[test]
    fn report_counts_frames_and_timer_sees_each_one() {
        struct Count(Vec<usize>, usize);
        impl FrameTimer for Count {
            fn start(&mut self) {
                self.1 += 1;
            }
            fn stop(&mut self, frame: Option<usize>) {
                self.0.extend(frame);
            }
        }
        let pcm: Vec<u8> = (0..5000i32)
            .flat_map(|i| (((i * 7919) % 20000 - 10000) as i16).to_le_bytes())
            .collect();
        let mut timer = Count(Vec::new(), 0);
        let mut text = String::new();
        let frames = write_report(&mut text, &FrontendConfig::default(), &pcm, &mut timer).unwrap();
        assert_eq!(frames, 1 + (5000 - 400) / 160);
        assert_eq!(timer.0, (0..frames).collect::<Vec<_>>());
        assert!(timer.1 >= frames);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), frames + 2);
        assert!(
            lines[0].ends_with(&format!("frames={frames}")),
            "{}",
            lines[0]
        );
        assert!(lines[frames + 1].starts_with(&format!("end frames={frames} fnv=")));
        assert!(text.ends_with('\n'));
    }
}
