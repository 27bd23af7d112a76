//! The board's per-second summary and a signal-energy gate for the LED.
//!
//! PLACEHOLDER until the runtime's `Tagger` exists: the LED means "the microphone
//! hears something loud", not "an event was tagged". With the tagger, the LED follows
//! its active events and this module keeps only the summary.

/// Settings of [`Activity`], in PCM units (full scale 32768).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ActivityConfig {
    /// Samples per summary (one second at 16 kHz).
    pub samples_per_summary: u32,
    /// The gate opens when a chunk's RMS reaches this (≈ −40 dBFS by default).
    pub on_rms: u32,
    /// …and closes when a chunk's RMS falls below this (hysteresis, ≈ −46 dBFS).
    pub off_rms: u32,
    /// Samples ignored after start-up (the PDM decimation filter's transient: the
    /// first ~3 buffers of 512).
    pub settle_samples: u32,
}

impl Default for ActivityConfig {
    fn default() -> Self {
        Self {
            samples_per_summary: 16_000,
            on_rms: 328,
            off_rms: 164,
            settle_samples: 3 * 512,
        }
    }
}

/// What one summary period heard.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Summary {
    /// Index of this summary (seconds since the first, at the default period).
    pub index: u32,
    /// Front-end frames completed in the period.
    pub frames: u32,
    /// RMS of all the period's samples (PCM units).
    pub rms: u32,
    /// Largest chunk RMS in the period.
    pub peak_rms: u32,
    /// Mel band with the largest log-mel value over the period's frames…
    pub loudest_band: u16,
    /// …and that value (Q16 natural log).
    pub loudest_q16: i32,
    /// Samples during which the gate was open.
    pub active_samples: u32,
}

/// Accumulates frames and PCM chunks; yields a [`Summary`] per period and keeps the
/// energy gate's state. Allocation-free and panic-free.
#[derive(Debug, Clone)]
pub struct Activity {
    config: ActivityConfig,
    settle_left: u32,
    active: bool,
    current: Summary,
    samples: u32,
    sum_sq: u64,
    next_index: u32,
}

impl Activity {
    /// A fresh accumulator, gate closed.
    pub fn new(config: ActivityConfig) -> Self {
        Self {
            config,
            settle_left: config.settle_samples,
            active: false,
            current: Self::empty(),
            samples: 0,
            sum_sq: 0,
            next_index: 0,
        }
    }

    fn empty() -> Summary {
        Summary {
            loudest_q16: i32::MIN,
            ..Summary::default()
        }
    }

    /// Whether the gate is open (drive the LED from this).
    pub fn active(&self) -> bool {
        self.active
    }

    /// Takes one front-end frame (Q16 log-mel).
    pub fn on_frame(&mut self, frame: &[i32]) {
        if self.settle_left > 0 {
            return;
        }
        self.current.frames = self.current.frames.saturating_add(1);
        for (band, &v) in frame.iter().enumerate() {
            if v > self.current.loudest_q16 {
                self.current.loudest_q16 = v;
                self.current.loudest_band = u16::try_from(band).unwrap_or(u16::MAX);
            }
        }
    }

    /// Takes one PCM chunk (after its frames went through [`Activity::on_frame`]):
    /// updates the gate from the chunk's RMS and returns the summary when a period ends.
    pub fn on_pcm(&mut self, pcm: &[i16]) -> Option<Summary> {
        if self.settle_left > 0 {
            let n = u32::try_from(pcm.len()).unwrap_or(u32::MAX);
            self.settle_left = self.settle_left.saturating_sub(n);
            return None;
        }
        let chunk_sq: u64 = pcm
            .iter()
            .map(|&s| (i64::from(s) * i64::from(s)) as u64)
            .sum();
        let n = u32::try_from(pcm.len()).unwrap_or(u32::MAX);
        let chunk_rms = rms(chunk_sq, u64::from(n));
        self.active = if self.active {
            chunk_rms >= self.config.off_rms
        } else {
            chunk_rms >= self.config.on_rms
        };
        if self.active {
            self.current.active_samples = self.current.active_samples.saturating_add(n);
        }
        self.current.peak_rms = self.current.peak_rms.max(chunk_rms);
        self.sum_sq = self.sum_sq.saturating_add(chunk_sq);
        self.samples = self.samples.saturating_add(n);
        if self.samples < self.config.samples_per_summary {
            return None;
        }
        let mut done = self.current;
        done.index = self.next_index;
        done.rms = rms(self.sum_sq, u64::from(self.samples));
        self.next_index = self.next_index.wrapping_add(1);
        self.current = Self::empty();
        self.samples = 0;
        self.sum_sq = 0;
        Some(done)
    }
}

/// `sqrt(sum_sq / n)`, 0 for `n = 0`.
fn rms(sum_sq: u64, n: u64) -> u32 {
    sum_sq
        .checked_div(n)
        .map_or(0, |ms| u32::try_from(ms.isqrt()).unwrap_or(u32::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> ActivityConfig {
        ActivityConfig {
            samples_per_summary: 1000,
            on_rms: 1000,
            off_rms: 500,
            settle_samples: 200,
        }
    }

    #[test]
    fn gate_has_hysteresis_and_settling() {
        let mut a = Activity::new(config());
        assert_eq!(a.on_pcm(&[20_000; 200]), None);
        assert!(!a.active(), "settling chunks never open the gate");
        a.on_pcm(&[999; 100]);
        assert!(!a.active());
        a.on_pcm(&[1000; 100]);
        assert!(a.active());
        a.on_pcm(&[-600; 100]);
        assert!(a.active(), "stays open above off_rms");
        a.on_pcm(&[499; 100]);
        assert!(!a.active());
    }

    #[test]
    fn summary_per_period() {
        let mut a = Activity::new(ActivityConfig {
            settle_samples: 0,
            ..config()
        });
        let mut frame = [-5 << 16; 80];
        frame[17] = 3 << 16;
        a.on_frame(&frame);
        a.on_frame(&[-6 << 16; 80]);
        assert_eq!(a.on_pcm(&[3000; 500]), None);
        let s = a.on_pcm(&[0; 500]).unwrap();
        assert_eq!(
            s,
            Summary {
                index: 0,
                frames: 2,
                rms: 2121, // sqrt(3000² / 2)
                peak_rms: 3000,
                loudest_band: 17,
                loudest_q16: 3 << 16,
                active_samples: 500,
            }
        );
        let s = a.on_pcm(&[0; 1000]).unwrap();
        assert_eq!(
            (s.index, s.frames, s.rms, s.loudest_q16),
            (1, 0, 0, i32::MIN)
        );
    }
}
