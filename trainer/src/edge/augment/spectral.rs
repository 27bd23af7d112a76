//! Augmentations of the log-mel itself: a random frequency response and
//! SpecAugment-style masks.

use super::{AugmentConfig, uniform};
use crate::matpac::rng::Rng;

/// to every frame of the `[T·M]` log-mel `x` (natural-log power units).
pub(super) fn equalise(x: &mut [f32], n_frames: usize, eq_db: f32, rng: &mut Rng) {
    if x.is_empty() || n_frames == 0 {
        return;
    }
    let n_mels = x.len() / n_frames;
    let to_ln = std::f32::consts::LN_10 / 10.0;
    let tilt = uniform(rng, (-eq_db, eq_db)) * to_ln;
    let bump = uniform(rng, (-eq_db, eq_db)) * to_ln;
    let centre = uniform(rng, (0.0, n_mels as f32));
    let width = uniform(rng, (n_mels as f32 / 16.0, n_mels as f32 / 4.0));
    let curve: Vec<f32> = (0..n_mels)
        .map(|m| {
            let pos = m as f32 / (n_mels.max(2) - 1) as f32;
            tilt * (2.0 * pos - 1.0) + bump * (-((m as f32 - centre) / width).powi(2)).exp()
        })
        .collect();
    for frame in x.chunks_exact_mut(n_mels) {
        frame.iter_mut().zip(&curve).for_each(|(v, c)| *v += c);
    }
}

/// SpecAugment: `cfg.time_masks` runs of up to `.1` frames and `cfg.mel_masks`
/// runs of up to `.1` bands set to the window's mean.
pub(super) fn mask(x: &mut [f32], n_frames: usize, cfg: &AugmentConfig, rng: &mut Rng) {
    if x.is_empty() || n_frames == 0 {
        return;
    }
    let n_mels = x.len() / n_frames;
    let mean = x.iter().sum::<f32>() / x.len() as f32;
    for _ in 0..cfg.time_masks.0 {
        let w = rng.below(cfg.time_masks.1 as u64 + 1) as usize;
        let t0 = rng.below((n_frames - w.min(n_frames) + 1) as u64) as usize;
        for t in t0..(t0 + w).min(n_frames) {
            x[t * n_mels..(t + 1) * n_mels].fill(mean);
        }
    }
    for _ in 0..cfg.mel_masks.0 {
        let w = rng.below(cfg.mel_masks.1 as u64 + 1) as usize;
        let m0 = rng.below((n_mels - w.min(n_mels) + 1) as u64) as usize;
        for t in 0..n_frames {
            x[t * n_mels + m0..t * n_mels + (m0 + w).min(n_mels)].fill(mean);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_frequency_response_is_one_curve_within_its_bounds() {
        let (t, m) = (5, 80);
        let mut x: Vec<f32> = (0..t * m).map(|i| i as f32 * 0.01).collect();
        let before = x.clone();
        equalise(&mut x, t, 6.0, &mut Rng::new(3));
        let delta: Vec<f32> = x.iter().zip(&before).map(|(a, b)| a - b).collect();
        // Every frame gets the same curve (f32 additions: 1e-5).
        for frame in delta.chunks(m) {
            for (a, b) in frame.iter().zip(&delta[..m]) {
                assert!((a - b).abs() < 1e-5);
            }
        }
        // Tilt and bump each within ±6 dB: the sum within ±12 dB in ln units.
        let bound = 12.0 * std::f32::consts::LN_10 / 10.0;
        assert!(delta.iter().all(|d| d.abs() <= bound + 1e-5));
        assert!(
            delta.iter().any(|d| d.abs() > 0.01),
            "the curve is not flat zero"
        );
    }
}
