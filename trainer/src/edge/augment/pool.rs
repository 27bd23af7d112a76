//! The labelled clips scene-like windows are drawn from: each clip's audio
//! (as recorded and at other playback speeds) with the energy sums its soft
//! targets need, grouped by class for class-balanced draws.

use crate::audio::{AudioError, load_audio, resample};
use crate::data::dataset::Dataset;
use crate::matpac::rng::Rng;
use matpac_runtime::frontend::FrontendConfig;
use rayon::prelude::*;

/// One version of a clip's audio (as recorded, or at another speed), ready
/// to be placed.
#[derive(Debug, Clone)]
pub struct PoolClip {
    /// Samples at the front end's rate, `[-1, 1)`.
    pub samples: Vec<f32>,
    /// Running sum of squares: `energy[i]` = Σ samples[..i]².
    energy: Vec<f64>,
    /// The most energy any window of the pool's window length holds.
    best_window: f64,
}

impl PoolClip {
    /// `samples` with the energy sums windows of `window` samples need.
    fn new(samples: Vec<f32>, window: usize) -> Self {
        let mut energy = Vec::with_capacity(samples.len() + 1);
        let mut acc = 0f64;
        energy.push(0.0);
        for &s in &samples {
            acc += f64::from(s) * f64::from(s);
            energy.push(acc);
        }
        let n = samples.len();
        let best_window = (0..n.saturating_sub(window) + 1)
            .map(|start| energy[(start + window).min(n)] - energy[start])
            .fold(0.0, f64::max);
        Self {
            samples,
            energy,
            best_window,
        }
    }
}

/// One labelled clip: its versions (the original first) and its labels.
#[derive(Debug, Clone)]
struct LabelledClip {
    versions: Vec<PoolClip>,
    labels: Vec<usize>,
}

/// The clips windows are drawn from, grouped by class.
#[derive(Debug, Clone)]
pub struct ClipPool {
    clips: Vec<LabelledClip>,
    by_label: Vec<Vec<usize>>,
    pub(super) n_labels: usize,
    /// Window length, samples (what one model input covers).
    pub(super) window: usize,
}

impl ClipPool {
    /// A pool of `(versions, labels)` for windows of `window` samples and
    /// `n_labels` classes; each clip's versions are its audio as recorded
    /// and at other speeds. Clips without labels or samples are left out.
    pub fn new(clips: Vec<(Vec<Vec<f32>>, Vec<usize>)>, n_labels: usize, window: usize) -> Self {
        let mut by_label = vec![Vec::new(); n_labels];
        let mut kept = Vec::new();
        for (versions, labels) in clips {
            let versions: Vec<PoolClip> = versions
                .into_iter()
                .filter(|v| !v.is_empty())
                .map(|v| PoolClip::new(v, window))
                .collect();
            if versions.is_empty() || labels.is_empty() {
                continue;
            }
            for &l in &labels {
                by_label[l].push(kept.len());
            }
            kept.push(LabelledClip { versions, labels });
        }
        Self {
            clips: kept,
            by_label,
            n_labels,
            window,
        }
    }

    /// The clips `idx` of `ds`, decoded at the front end's rate and also
    /// played at each of `speeds` (resampled from `speed · rate` to `rate`
    /// Hz, so pitch and tempo change together), for windows of `n_frames`
    /// frames.
    pub fn from_dataset(
        ds: &Dataset,
        idx: &[usize],
        frontend: &FrontendConfig,
        n_frames: usize,
        speeds: &[f32],
    ) -> Result<Self, AudioError> {
        let sr = frontend.sample_rate;
        let clips: Result<Vec<_>, AudioError> = idx
            .par_iter()
            .map(|&i| {
                let clip = &ds.clips[i];
                let original = load_audio(&clip.path, sr)?;
                let mut versions = vec![original.clone()];
                for &speed in speeds {
                    let faster =
                        played_at(&original, speed, sr).map_err(|reason| AudioError::Resample {
                            path: clip.path.clone(),
                            from: speed_rate(speed, sr),
                            to: sr,
                            reason,
                        })?;
                    versions.push(faster);
                }
                Ok((versions, clip.labels.clone()))
            })
            .collect();
        let window = frontend.win_length + (n_frames - 1) * frontend.hop_length;
        Ok(Self::new(clips?, ds.labels.len(), window))
    }

    /// Number of clips.
    pub fn len(&self) -> usize {
        self.clips.len()
    }

    /// Whether the pool has no clips.
    pub fn is_empty(&self) -> bool {
        self.clips.is_empty()
    }

    /// Clip `i`'s labels.
    pub(super) fn labels(&self, i: usize) -> &[usize] {
        &self.clips[i].labels
    }

    /// One version of clip `i`: the original alone, or any of them uniformly.
    pub(super) fn version(&self, i: usize, rng: &mut Rng) -> &PoolClip {
        let versions = &self.clips[i].versions;
        if versions.len() == 1 {
            &versions[0]
        } else {
            &versions[rng.below(versions.len() as u64) as usize]
        }
    }

    /// A clip index: class-balanced or uniform; `avoid` lists labels the clip must not carry.
    pub(super) fn draw(&self, balanced: bool, avoid: &[usize], rng: &mut Rng) -> Option<usize> {
        let ok = |i: &usize| !self.clips[*i].labels.iter().any(|l| avoid.contains(l));
        if balanced {
            let classes: Vec<usize> = (0..self.n_labels)
                .filter(|&l| !avoid.contains(&l) && self.by_label[l].iter().any(ok))
                .collect();
            let class = *classes.get(rng.below(classes.len().max(1) as u64) as usize)?;
            let clips: Vec<usize> = self.by_label[class].iter().copied().filter(ok).collect();
            clips.get(rng.below(clips.len() as u64) as usize).copied()
        } else {
            let clips: Vec<usize> = (0..self.clips.len()).filter(ok).collect();
            clips
                .get(rng.below(clips.len().max(1) as u64) as usize)
                .copied()
        }
    }
}

/// The rate `samples` at `sr` Hz are read as to play them `speed` times faster.
fn speed_rate(speed: f32, sr: u32) -> u32 {
    (speed * sr as f32).round() as u32
}

/// `samples` (at `sr` Hz) played `speed` times faster: resampled from
/// `speed · sr` to `sr` Hz, so pitch and tempo change together.
fn played_at(samples: &[f32], speed: f32, sr: u32) -> Result<Vec<f32>, String> {
    resample(samples, speed_rate(speed, sr), sr)
}

/// Soft target of a clip placed with its first sample at `start` (samples,
/// may be negative) in a window of `window` samples: the share of the clip's
/// energy inside the window relative to the most any window holds, mapped
/// linearly from 0 at 20 % to 1 at 50 %.
pub fn target_of(clip: &PoolClip, start: i64, window: usize) -> f32 {
    let n = clip.samples.len() as i64;
    let lo = (-start).clamp(0, n) as usize;
    let hi = (window as i64 - start).clamp(0, n) as usize;
    if hi <= lo || clip.best_window <= 0.0 {
        return 0.0;
    }
    let share = (clip.energy[hi] - clip.energy[lo]) / clip.best_window;
    ((share as f32 - 0.2) / 0.3).clamp(0.0, 1.0)
}

#[cfg(test)]
mod tests {
    use super::super::tests::pool;
    use super::*;

    #[test]
    fn targets_follow_the_share_of_energy_inside() {
        let p = pool();
        let burst = &p.clips[0].versions[0];
        assert_eq!(target_of(burst, 0, 16_000), 1.0, "whole burst inside");
        assert_eq!(
            target_of(burst, 16_000, 16_000),
            0.0,
            "starts after the window"
        );
        assert_eq!(
            target_of(burst, -3200, 16_000),
            0.0,
            "ended before the window"
        );
        // Only the last 10 % of the burst's samples (≈ 1 % of its energy) inside.
        assert_eq!(target_of(burst, -2880, 16_000), 0.0);
        // The 2 s tone: any whole window holds the most a window can, so 1;
        // a window holding a third of that holds 33 % → (0.33 − 0.2) / 0.3.
        let tone = &p.clips[1].versions[0];
        assert_eq!(target_of(tone, -8000, 16_000), 1.0);
        let t = target_of(tone, 16_000 - 16_000 / 3, 16_000);
        assert!((t - (1.0 / 3.0 - 0.2) / 0.3).abs() < 0.01, "{t}");
    }

    #[test]
    fn a_faster_version_is_shorter_and_higher() {
        let sr = 16_000;
        let tone: Vec<f32> = (0..sr)
            .map(|i| 0.5 * (2.0 * std::f32::consts::PI * 500.0 * i as f32 / sr as f32).sin())
            .collect();
        let fast = played_at(&tone, 1.25, sr as u32).unwrap();
        assert_eq!(fast.len(), 12_800, "1 s at 1.25× lasts 0.8 s");
        // Upward zero crossings per second give the frequency: 500 Hz × 1.25.
        // Away from the resampler's edge transients the count is exact to
        // one crossing (the window's phase).
        let mid = &fast[1_600..11_200];
        let ups = mid.windows(2).filter(|w| w[0] < 0.0 && w[1] >= 0.0).count();
        let hz = ups as f32 / (mid.len() as f32 / sr as f32);
        assert!((hz - 625.0).abs() <= 1.0 / 0.6 + 1e-3, "{hz} Hz");
        let slow = played_at(&tone, 0.8, sr as u32).unwrap();
        assert_eq!(slow.len(), 20_000);
    }

    #[test]
    fn versions_are_drawn_uniformly() {
        let short = vec![0.5f32; 1000];
        let long = vec![0.5f32; 3000];
        let p = ClipPool::new(vec![(vec![short, long], vec![0])], 1, 16_000);
        let mut rng = Rng::new(7);
        let longs = (0..1000)
            .filter(|_| p.version(0, &mut rng).samples.len() == 3000)
            .count();
        // Binomial(1000, 0.5): 5 standard deviations are ±79.
        assert!((421..=579).contains(&longs), "{longs} of 1000");
    }
}
