//! Scene-like training windows for the tagger.
//!
//! A tagger on the device sees one window of audio every stride: sounds start
//! anywhere inside it (or before it), at any level, over whatever background
//! the room has, sometimes two at once. Windows cut from the start of
//! isolated, silence-padded clips look like none of that. This module draws
//! fresh windows each epoch instead:
//!
//! 1. a clip chosen class-balanced (a class uniformly, then one of its clips),
//!    as recorded or played at another speed ([`AugmentConfig::speeds`]:
//!    pitch, formants and tempo shift together, as for another instrument of
//!    the same family), placed at a random position (it may start before the
//!    window, so only its tail is inside) with a random gain;
//! 2. with [`AugmentConfig::second_clip`] a clip of another class, placed and
//!    scaled the same way (multi-hot targets);
//! 3. with [`AugmentConfig::noise`] coloured noise (white to brown, random
//!    slope) at a random level; some windows hold the background alone;
//! 4. the device's own fixed-point log-mel of that PCM ([`clip_windows`]);
//! 5. with [`AugmentConfig::eq_db`] a random smooth frequency response (a
//!    tilt and a bump across the mel bands, as from another microphone or
//!    room) added to the log-mel;
//! 6. SpecAugment-style time and mel masks.
//!
//! Targets are soft: a clip counts in proportion to how much of its energy is
//! inside the window, relative to the most any window of this length can hold
//! of it ([`target_of`]), so a window with only the faint end of a sound is not
//! taught to fire, and a long sustained sound whose window holds half of it

mod pool;
mod spectral;

pub use pool::{ClipPool, PoolClip, target_of};

use super::features::clip_windows;
use super::tagger_head::LabelledWindows;
use crate::frontend::FrontendError;
use crate::matpac::rng::Rng;
use matpac_runtime::frontend::FrontendConfig;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use spectral::{equalise, mask};

/// Augmentation settings (see the module documentation).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AugmentConfig {
    /// Fresh windows drawn per epoch.
    pub windows_per_epoch: usize,
    /// Class-balanced choice of the first clip (else uniform over clips).
    pub balanced: bool,
    /// Random placement: the clip's first sample anywhere from
    /// `−shift_before` s before the window to 0.15 s before its end (else
    /// every clip starts with the window, as in the unaugmented windows).
    pub shift: bool,
    /// How far before the window a clip may start, seconds.
    pub shift_before: f32,
    /// Per-clip gain range, dB.
    pub gain_db: (f32, f32),
    /// Playback speeds each clip is also resampled to (1.06 ≈ one semitone
    /// up and 6 % shorter); a placed clip is its original or one of these,
    /// uniformly. Empty: originals only.
    pub speeds: Vec<f32>,
    /// Probability of a second clip of another class.
    pub second_clip: f32,
    /// Probability of background noise.
    pub noise: f32,
    /// Noise RMS range, dBFS.
    pub noise_dbfs: (f32, f32),
    /// Probability that a window holds the background alone (all-zero target).
    pub empty: f32,
    /// Largest gain of the random frequency response, dB: a tilt from
    /// `−a` at the lowest band to `+a` at the highest and a Gaussian bump of
    /// gain `b` (centre and width random), `a, b` uniform in `±eq_db`.
    /// 0: none.
    pub eq_db: f32,
    /// Time masks per window and their largest width, frames.
    pub time_masks: (usize, usize),
    /// Mel masks per window and their largest width, bands.
    pub mel_masks: (usize, usize),
}

impl Default for AugmentConfig {
    fn default() -> Self {
        Self {
            windows_per_epoch: 1024,
            balanced: true,
            shift: true,
            shift_before: 0.4,
            gain_db: (-20.0, 0.0),
            speeds: Vec::new(),
            second_clip: 0.4,
            noise: 0.8,
            noise_dbfs: (-70.0, -35.0),
            empty: 0.08,
            eq_db: 0.0,
            time_masks: (1, 12),
            mel_masks: (1, 8),
        }
    }
}

impl AugmentConfig {
    /// Overrides one field, `key=value` with the value in TOML syntax
    /// (`second_clip=0`, `gain_db=[-6.0, 0.0]`, `balanced=false`).
    pub fn set(&self, assignment: &str) -> Result<Self, String> {
        let (key, value) = assignment
            .split_once('=')
            .ok_or_else(|| format!("augmentation setting `{assignment}` is not key=value"))?;
        let mut table = toml::Table::try_from(self).expect("config serialises");
        let key = key.trim();
        if !table.contains_key(key) {
            return Err(format!(
                "unknown augmentation setting `{key}` (one of: {})",
                table.keys().cloned().collect::<Vec<_>>().join(", ")
            ));
        }
        let parsed: toml::Table = toml::from_str(&format!("v = {}", value.trim()))
            .map_err(|e| format!("bad value for `{key}`: {e}"))?;
        table.insert(key.to_string(), parsed["v"].clone());
        let cfg: Self = table
            .try_into()
            .map_err(|e: toml::de::Error| format!("bad value for `{key}`: {e}"))?;
        if let Some(s) = cfg.speeds.iter().find(|s| !(0.5..=2.0).contains(*s)) {
            return Err(format!("playback speed {s} is outside 0.5 … 2 (`speeds`)"));
        }
        Ok(cfg)
    }
}

/// Adds `clip × gain` to `out` with its first sample at `start`.
fn place(out: &mut [f32], clip: &[f32], start: i64, gain: f32) {
    for (i, &s) in clip.iter().enumerate() {
        let t = start + i as i64;
        if t >= 0
            && let Some(o) = out.get_mut(t as usize)
        {
            *o += s * gain;
        }
    }
}

/// Coloured noise: white noise through a one-pole low-pass of random
/// coefficient (0 = white … 0.98 = close to brown), scaled to `rms`.
pub fn add_noise(out: &mut [f32], rms: f32, rng: &mut Rng) {
    let a = (rng.next_f64() * 0.98) as f32;
    let mut prev = 0f32;
    let noise: Vec<f32> = (0..out.len())
        .map(|_| {
            prev = a * prev + rng.normal() as f32;
            prev
        })
        .collect();
    let power = noise.iter().map(|v| v * v).sum::<f32>() / noise.len().max(1) as f32;
    let scale = rms / power.sqrt().max(1e-12);
    out.iter_mut()
        .zip(&noise)
        .for_each(|(o, n)| *o += n * scale);
}

/// dB to a linear amplitude factor.
fn db(x: f32) -> f32 {
    10f32.powf(x / 20.0)
}

/// Uniform in `[lo, hi)`.
fn uniform(rng: &mut Rng, (lo, hi): (f32, f32)) -> f32 {
    lo + (hi - lo) * rng.next_f64() as f32
}

/// One scene-like window: raw (not standardised) `[T·M]` log-mel and its soft targets.
pub fn draw_window(
    pool: &ClipPool,
    cfg: &AugmentConfig,
    frontend: &FrontendConfig,
    n_frames: usize,
    rng: &mut Rng,
) -> Result<(Vec<f32>, Vec<f32>), FrontendError> {
    let window = pool.window;
    let mut pcm = vec![0f32; window];
    let mut target = vec![0f32; pool.n_labels];
    let empty = (rng.next_f64() as f32) < cfg.empty;
    if !empty {
        let mut used: Vec<usize> = Vec::new();
        let second = (rng.next_f64() as f32) < cfg.second_clip;
        for k in 0..1 + usize::from(second) {
            let Some(i) = pool.draw(cfg.balanced && k == 0, &used, rng) else {
                break;
            };
            let labels = pool.labels(i);
            let clip = pool.version(i, rng);
            let start = if cfg.shift {
                let lo = -(cfg.shift_before * frontend.sample_rate as f32) as i64;
                let hi = window as i64 - (0.15 * frontend.sample_rate as f32) as i64;
                lo + rng.below((hi - lo).max(1) as u64) as i64
            } else {
                0
            };
            place(
                &mut pcm,
                &clip.samples,
                start,
                db(uniform(rng, cfg.gain_db)),
            );
            let t = target_of(clip, start, window);
            for &l in labels {
                target[l] = target[l].max(t);
            }
            used.extend(labels);
        }
    }
    if empty || (rng.next_f64() as f32) < cfg.noise {
        add_noise(&mut pcm, db(uniform(rng, cfg.noise_dbfs)), rng);
    }
    let pcm: Vec<i16> = crate::audio::to_pcm_i16(&pcm);
    let mut x = clip_windows(frontend, &pcm, n_frames, n_frames)?
        .into_iter()
        .next()
        .unwrap_or_default();
    if cfg.eq_db > 0.0 {
        equalise(&mut x, n_frames, cfg.eq_db, rng);
    }
    mask(&mut x, n_frames, cfg, rng);
    Ok((x, target))
}

/// window `k` of epoch `e` depends only on `(seed, e, k)`).
pub fn draw_epoch(
    pool: &ClipPool,
    cfg: &AugmentConfig,
    frontend: &FrontendConfig,
    n_frames: usize,
    seed: u64,
    epoch: usize,
) -> Result<LabelledWindows, FrontendError> {
    let drawn: Result<Vec<_>, _> = (0..cfg.windows_per_epoch)
        .into_par_iter()
        .map(|k| {
            let mut rng = Rng::new(
                seed ^ (epoch as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
                    ^ (k as u64).wrapping_mul(0xD1B5_4A32_D192_ED03),
            );
            rng.next_u64();
            draw_window(pool, cfg, frontend, n_frames, &mut rng)
        })
        .collect();
    let (x, y) = drawn?.into_iter().unzip();
    Ok(LabelledWindows {
        x,
        y,
        clip: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(super) fn pool() -> ClipPool {
        // Class 0: a 0.2 s burst; class 1: a 2 s tone; class 2: silence-free noise-like ramp.
        let burst: Vec<f32> = (0..3200).map(|i| 0.5 * (1.0 - i as f32 / 3200.0)).collect();
        let tone: Vec<f32> = (0..32_000).map(|i| 0.3 * (i as f32 * 0.1).sin()).collect();
        ClipPool::new(
            vec![(vec![burst], vec![0]), (vec![tone], vec![1])],
            2,
            16_000,
        )
    }

    #[test]
    fn windows_are_deterministic_per_seed_and_carry_the_placed_labels() {
        let p = pool();
        let fe = FrontendConfig::default();
        let cfg = AugmentConfig {
            windows_per_epoch: 8,
            ..AugmentConfig::default()
        };
        let a = draw_epoch(&p, &cfg, &fe, 98, 1, 0).unwrap();
        let b = draw_epoch(&p, &cfg, &fe, 98, 1, 0).unwrap();
        let c = draw_epoch(&p, &cfg, &fe, 98, 1, 1).unwrap();
        assert_eq!(a, b);
        assert_ne!(a.x, c.x, "another epoch draws other windows");
        assert!(a.x.iter().all(|x| x.len() == 98 * 80));
        assert!(a.y.iter().flatten().all(|&t| (0.0..=1.0).contains(&t)));
        // Without augmentation beyond placement at 0, gain 0 dB and no noise,
        // a burst window is a full positive of its class only.
        let plain = AugmentConfig {
            shift: false,
            gain_db: (0.0, 0.0),
            second_clip: 0.0,
            noise: 0.0,
            empty: 0.0,
            time_masks: (0, 0),
            mel_masks: (0, 0),
            balanced: true,
            ..cfg
        };
        let w = draw_epoch(&p, &plain, &fe, 98, 3, 0).unwrap();
        for y in &w.y {
            assert!(y == &[1.0, 0.0] || y == &[0.0, 1.0], "{y:?}");
        }
    }

    #[test]
    fn speeds_outside_the_range_are_refused() {
        let cfg = AugmentConfig::default();
        assert_eq!(cfg.set("speeds=[0.9, 1.1]").unwrap().speeds, vec![0.9, 1.1]);
        let err = cfg.set("speeds=[3.0]").unwrap_err();
        assert!(err.contains("outside 0.5"), "{err}");
    }
    #[test]
    fn empty_windows_have_no_targets_and_noise_has_its_level() {
        let p = pool();
        let fe = FrontendConfig::default();
        let cfg = AugmentConfig {
            windows_per_epoch: 4,
            empty: 1.0,
            time_masks: (0, 0),
            mel_masks: (0, 0),
            ..AugmentConfig::default()
        };
        let w = draw_epoch(&p, &cfg, &fe, 98, 5, 0).unwrap();
        assert!(w.y.iter().flatten().all(|&t| t == 0.0));
        let mut out = vec![0f32; 48_000];
        add_noise(&mut out, 0.01, &mut Rng::new(2));
        let rms = (out.iter().map(|v| v * v).sum::<f32>() / out.len() as f32).sqrt();
        // Scaled exactly to the asked RMS (f32 sums over 48 k samples: 1e-4 relative).
        assert!((rms - 0.01).abs() < 1e-6, "{rms}");
    }
}
