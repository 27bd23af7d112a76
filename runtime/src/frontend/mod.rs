//! Streaming fixed-point log-mel front end.
//!
//! `i16 PCM → Q15 Hann window → f32 rfft_512 → integer power (block floating
//! point) → integer mel sums (Q weights) → integer ln (LUT) → Q16 log-mel →
//! (optional) int8`. Push PCM in chunks of any size; one frame comes out per
//! hop, bit-identical for every chunking and on every target.

pub mod config;
pub mod fft;
pub mod log;
pub mod mel;
pub mod quantize;
pub mod window;

pub use config::{FFT_BINS, FFT_LEN, FrontendConfig, MAX_MELS, PCM_SCALE};
pub use log::LOG_MEL_FRAC_BITS;
pub use quantize::FeatureQuantizer;

use core::mem::MaybeUninit;

use crate::Error;
use log::LogQ;
use mel::MelQ;
use window::{HannQ15, WINDOW_FRAC_BITS};

/// Converts a Q16 log-mel value to natural-log units.
pub fn q16_to_f32(v: i32) -> f32 {
    v as f32 / (1u32 << LOG_MEL_FRAC_BITS) as f32
}

/// Fixed binary exponent of a mel sum beyond the FFT's per-frame shift:
/// `mel = Σ w_q·P · 2^−(shift + 2·15 (PCM and window Q15) + weight_shift)`.
pub fn mel_exponent_bits(mel: &MelQ) -> i32 {
    2 * (15 + WINDOW_FRAC_BITS as i32) + mel.weight_shift() as i32
}

/// Cap on the FFT's per-frame scale exponent `a` (its shift is `2a − 30`) so
/// that the total exponent stays within what `log` can take.
pub fn max_scale_exp(mel: &MelQ, log: &LogQ) -> i32 {
    (log.max_exponent() - mel_exponent_bits(mel) + 30)
        .div_euclid(2)
        .min(60)
}

/// The streaming front end. About 9 KB of state; allocates nothing.
#[derive(Debug, Clone)]
pub struct Frontend {
    config: FrontendConfig,
    window: HannQ15,
    mel: MelQ,
    log: LogQ,
    /// Largest per-frame FFT scale exponent that keeps ε's term in range.
    max_scale_exp: i32,
    /// FFT bins the filterbank uses.
    used_bins: core::ops::Range<usize>,
    /// The current window's samples; the first `filled` are valid.
    samples: [i16; FFT_LEN],
    filled: usize,
    fft: [f32; FFT_LEN],
    power: [u32; FFT_BINS],
    mel_sums: [u64; MAX_MELS],
    frame: [i32; MAX_MELS],
}

impl Frontend {
    /// Builds the tables for `config` (fixed-point constraints:
    /// [`FrontendConfig::validate_fixed`]).
    pub fn new(config: &FrontendConfig) -> Result<Self, Error> {
        crate::in_place::build(|slot| Self::init(slot, config))
    }

    /// Whether [`Self::new`] accepts `config` (the same errors), without building the
    /// front end: only its filterbank.
    pub fn check(config: &FrontendConfig) -> Result<(), Error> {
        Self::filterbank(config).map(drop)
    }

    /// The checked configuration's filterbank: every way [`Self::new`] can fail.
    fn filterbank(config: &FrontendConfig) -> Result<MelQ, Error> {
        config.validate_fixed()?;
        MelQ::new(config)
    }

    /// [`Self::new`] built directly in `slot` (no copy of the front end through the
    /// stack); returns it. On error `slot` stays uninitialised.
    #[allow(unsafe_code)]
    pub fn init<'s>(
        slot: &'s mut MaybeUninit<Self>,
        config: &FrontendConfig,
    ) -> Result<&'s mut Self, Error> {
        let mel = Self::filterbank(config)?;
        let log = LogQ::new(config.log_eps);
        let p = slot.as_mut_ptr();
        // SAFETY: `p` points to `slot`, valid and exclusively ours for writes. Each
        // field is written once through a raw pointer (no reference to uninitialised
        // memory is made); the zeroed fields are arrays of integers or `f32`, for which
        // all-zero bytes are valid values (0 and 0.0). Every field is written before
        // `assume_init_mut`.
        unsafe {
            (&raw mut (*p).max_scale_exp).write(max_scale_exp(&mel, &log));
            (&raw mut (*p).used_bins).write(mel.used_bins());
            (&raw mut (*p).mel).write(mel);
            (&raw mut (*p).log).write(log);
            (&raw mut (*p).config).write(*config);
            (&raw mut (*p).window).write(HannQ15::new(config.win_length));
            (&raw mut (*p).filled).write(0);
            (&raw mut (*p).samples).write_bytes(0, 1);
            (&raw mut (*p).fft).write_bytes(0, 1);
            (&raw mut (*p).power).write_bytes(0, 1);
            (&raw mut (*p).mel_sums).write_bytes(0, 1);
            (&raw mut (*p).frame).write_bytes(0, 1);
            let this = slot.assume_init_mut();
            // No `..`: a field added to `Frontend` fails to compile here until it is
            // written above.
            let Self {
                config: _,
                window: _,
                mel: _,
                log: _,
                max_scale_exp: _,
                used_bins: _,
                samples: _,
                filled: _,
                fft: _,
                power: _,
                mel_sums: _,
                frame: _,
            } = this;
            Ok(this)
        }
    }

    /// The configuration this front end runs.
    pub fn config(&self) -> &FrontendConfig {
        &self.config
    }

    /// Forgets buffered samples: the next frame starts with the next sample pushed.
    pub fn reset(&mut self) {
        self.filled = 0;
    }

    /// Consumes samples until one frame completes. Returns how many samples
    /// were consumed and, if a frame completed, its `[n_mels]` Q16 log-mel
    /// values (natural log, [`LOG_MEL_FRAC_BITS`] fractional bits).
    pub fn process(&mut self, pcm: &[i16]) -> (usize, Option<&[i32]>) {
        let win = self.config.win_length;
        let take = pcm.len().min(win - self.filled);
        self.samples[self.filled..self.filled + take].copy_from_slice(&pcm[..take]);
        self.filled += take;
        if self.filled < win {
            return (take, None);
        }
        self.compute_frame();
        // Keep the overlap: the next frame starts one hop later.
        let hop = self.config.hop_length;
        self.samples.copy_within(hop..win, 0);
        self.filled = win - hop;
        (take, Some(&self.frame[..self.config.n_mels]))
    }

    /// Pushes any number of samples, calling `on_frame` with each completed
    /// `[n_mels]` Q16 frame in order.
    pub fn push(&mut self, mut pcm: &[i16], mut on_frame: impl FnMut(&[i32])) {
        while !pcm.is_empty() {
            let (used, frame) = self.process(pcm);
            if let Some(frame) = frame {
                on_frame(frame);
            }
            pcm = &pcm[used..];
        }
    }

    /// One frame from `samples[..win_length]` into `frame`.
    fn compute_frame(&mut self) {
        // Window: x·w exact in i32 (PCM Q15 · window Q15 = Q30 of [-1, 1) units).
        self.window
            .apply(&self.samples[..self.config.win_length], &mut self.fft);
        // |X|² = power · 2^−shift in Q30 units, i.e. · 2^−(shift + 60) in [-1, 1) units.
        let used = self.used_bins.clone();
        let shift = fft::power_spectrum(&mut self.fft, &mut self.power, used, self.max_scale_exp);
        self.mel.apply(&self.power, &mut self.mel_sums);
        let s = shift + mel_exponent_bits(&self.mel);
        let n = self.config.n_mels;
        let log = self.log.at_exponent(s);
        for (out, &m) in self.frame[..n].iter_mut().zip(&self.mel_sums[..n]) {
            *out = log.ln_q16(m);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(n: usize, freq: f64, amp: f64) -> Vec<i16> {
        (0..n)
            .map(|i| {
                (amp * (2.0 * std::f64::consts::PI * freq * i as f64 / 16_000.0).sin()).round()
                    as i16
            })
            .collect()
    }

    #[test]
    fn silence_is_ln_epsilon() {
        let mut fe = Frontend::new(&FrontendConfig::default()).unwrap();
        let mut frames = 0;
        fe.push(&[0i16; 1000], |f| {
            frames += 1;
            for &v in f {
                assert!(
                    (q16_to_f32(v) - f32::EPSILON.ln()).abs() < 1e-4,
                    "{}",
                    q16_to_f32(v)
                );
            }
        });
        assert_eq!(frames, 1 + (1000 - 400) / 160);
    }

    #[test]
    fn a_tone_peaks_in_its_band() {
        let mut fe = Frontend::new(&FrontendConfig::default()).unwrap();
        let bank = mel::SlaneyFilterbank::new(&FrontendConfig::default()).unwrap();
        let bin = (1000.0f64 / 31.25).round() as usize;
        let expect = (0..80)
            .max_by(|&a, &b| bank.weight(a, bin).total_cmp(&bank.weight(b, bin)))
            .unwrap();
        fe.push(&tone(2000, 1000.0, 10_000.0), |f| {
            let peak = (0..80).max_by_key(|&m| f[m]).unwrap();
            assert!(
                peak.abs_diff(expect) <= 1,
                "peak band {peak}, expected {expect}"
            );
        });
    }

    #[test]
    fn chunking_does_not_change_frames() {
        let pcm = tone(5000, 440.0, 3000.0);
        let collect = |chunk: usize| {
            let mut fe = Frontend::new(&FrontendConfig::default()).unwrap();
            let mut out = Vec::new();
            for c in pcm.chunks(chunk) {
                fe.push(c, |f| out.extend_from_slice(f));
            }
            out
        };
        let whole = collect(pcm.len());
        for chunk in [1, 7, 160, 399, 401] {
            assert_eq!(collect(chunk), whole, "chunk size {chunk}");
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]
        /// Random signals cut at random points give bit-identical frames.
        #[test]
        fn any_chunking_gives_identical_frames(
            pcm in proptest::collection::vec(proptest::num::i16::ANY, 400..3000),
            cuts in proptest::collection::vec(0usize..3000, 0..20),
        ) {
            let config = FrontendConfig::default();
            let mut whole = Vec::new();
            Frontend::new(&config).unwrap().push(&pcm, |f| whole.extend_from_slice(f));
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c % pcm.len()).collect();
            cuts.sort_unstable();
            let mut chunked = Vec::new();
            let mut fe = Frontend::new(&config).unwrap();
            let mut start = 0;
            for cut in cuts.into_iter().chain([pcm.len()]) {
                fe.push(&pcm[start..cut.max(start)], |f| chunked.extend_from_slice(f));
                start = cut.max(start);
            }
            proptest::prop_assert_eq!(whole.len(), config.n_frames(pcm.len()) * 80);
            proptest::prop_assert_eq!(chunked, whole);
        }
    }
}
