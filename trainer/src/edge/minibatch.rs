//! Minibatch order and learning rate shared by the edge trainers
//! (distillation and the tagger head): a seeded shuffle ([`Rng::shuffle`])
//! each epoch and a cosine decay to 0 over all updates.

use crate::matpac::rng::Rng;

/// Reshuffled window indices, one epoch at a time.
#[derive(Debug, Clone)]
pub struct Minibatches {
    rng: Rng,
    order: Vec<usize>,
}

impl Minibatches {
    /// `n` windows, shuffled from `seed`.
    pub fn new(n: usize, seed: u64) -> Self {
        Self {
            rng: Rng::new(seed),
            order: (0..n).collect(),
        }
    }

    /// Reshuffles, then yields this epoch's batches of at most `batch` indices.
    pub fn epoch(&mut self, batch: usize) -> std::slice::Chunks<'_, usize> {
        self.rng.shuffle(&mut self.order);
        self.order.chunks(batch.max(1))
    }
}

/// Learning rate of update `step` of `total`: `peak · ½(1 + cos(π · step / total))`.
pub fn cosine_lr(peak: f64, step: usize, total: usize) -> f64 {
    peak * 0.5 * (1.0 + (std::f64::consts::PI * step as f64 / total as f64).cos())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_epoch_is_a_permutation_and_the_order_changes() {
        let mut m = Minibatches::new(10, 3);
        let first: Vec<usize> = m.epoch(4).flatten().copied().collect();
        assert_eq!(m.epoch(4).count(), 3, "10 windows in batches of 4");
        let third: Vec<usize> = m.epoch(4).flatten().copied().collect();
        for e in [&first, &third] {
            let mut sorted = e.clone();
            sorted.sort_unstable();
            assert_eq!(sorted, (0..10).collect::<Vec<_>>());
        }
        assert_ne!(first, third);
        let again: Vec<usize> = Minibatches::new(10, 3)
            .epoch(4)
            .flatten()
            .copied()
            .collect();
        assert_eq!(first, again, "same seed, same order");
    }

    #[test]
    fn cosine_goes_from_peak_to_zero() {
        assert_eq!(cosine_lr(2.0, 0, 10), 2.0);
        assert!((cosine_lr(2.0, 5, 10) - 1.0).abs() < 1e-12);
        assert!(cosine_lr(2.0, 10, 10).abs() < 1e-12);
    }
}
