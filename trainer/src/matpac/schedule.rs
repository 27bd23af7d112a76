//! Schedules, all counted in optimiser updates (the step index `t` is the
//! number of updates already applied, as fairseq's `num_updates`).

/// Linear interpolation from `start` (t = 0) to `end` (t ≥ `total`), as the
/// reference's `get_annealed_rate` (without its unused warm-up argument).
pub fn annealed(start: f64, end: f64, t: u64, total: u64) -> f64 {
    if total == 0 || t >= total {
        return end;
    }
    let remaining = 1.0 - t as f64 / total as f64;
    end - (end - start) * remaining
}

/// Learning rate: linear warm-up from 0 to `peak` over `warmup` updates, then
/// half-cosine to 0 at `total` updates (fairseq `cosine` with `warmup_init_lr = 0`
/// and `min_lr = 0`). The warm-up counts `t + 1` so the first update is not wasted.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LrSchedule {
    /// Peak learning rate (after the linear batch-size scaling).
    pub peak: f64,
    /// Warm-up updates.
    pub warmup: u64,
    /// Total updates.
    pub total: u64,
}

impl LrSchedule {
    /// Learning rate of update `t`.
    pub fn at(&self, t: u64) -> f64 {
        if t < self.warmup {
            return self.peak * (t + 1) as f64 / self.warmup as f64;
        }
        if t >= self.total {
            return 0.0;
        }
        let span = (self.total - self.warmup).max(1) as f64;
        let progress = (t - self.warmup) as f64 / span;
        self.peak * 0.5 * (1.0 + (std::f64::consts::PI * progress).cos())
    }
}

/// EMA decay of update `t` for a linear `start → end` schedule over `total`
/// updates, or `None` when the reference skips the EMA step: at `t = 0` (the
/// teacher keeps its initial weights for the first update) and once the decay
/// reaches 1 (a frozen teacher).
pub fn ema_decay(start: f64, end: f64, t: u64, total: u64) -> Option<f64> {
    if t == 0 {
        return None;
    }
    let d = if start == end {
        start
    } else {
        annealed(start, end, t, total)
    };
    (d < 1.0).then_some(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    const EPS: f64 = 1e-12;

    #[test]
    fn teacher_temperature_warms_up_linearly_then_holds() {
        // Paper: 0.04 → 0.07 over 9,827 updates.
        let temp = |t| annealed(0.04, 0.07, t, 9827);
        assert!((temp(0) - 0.04).abs() < EPS);
        assert!((temp(9827 / 2) - (0.04 + 0.03 * (9827 / 2) as f64 / 9827.0)).abs() < EPS);
        assert!((temp(9827) - 0.07).abs() < EPS);
        assert!((temp(200_000) - 0.07).abs() < EPS);
        for t in 1..100u64 {
            assert!(
                temp(t * 98) > temp((t - 1) * 98),
                "strictly increasing during warm-up"
            );
        }
    }

    #[test]
    fn ema_decay_schedules() {
        let total = 294_816;
        assert_eq!(
            ema_decay(0.99995, 0.99999, 0, total),
            None,
            "no EMA at update 0"
        );
        let d1 = ema_decay(0.99995, 0.99999, 1, total).unwrap();
        assert!((d1 - (0.99995 + 0.00004 / total as f64)).abs() < EPS);
        let mid = ema_decay(0.99995, 0.99999, total / 2, total).unwrap();
        assert!((mid - 0.99997).abs() < 1e-10);
        assert!((ema_decay(0.99995, 0.99999, total, total).unwrap() - 0.99999).abs() < EPS);
        // Head: 0.998 → 1.0; at the end the decay is 1 and the step is skipped.
        assert!((ema_decay(0.998, 1.0, total / 4, total).unwrap() - 0.9985).abs() < 1e-12);
        assert_eq!(ema_decay(0.998, 1.0, total, total), None);
    }

    #[test]
    fn lr_warmup_then_cosine() {
        let s = LrSchedule {
            peak: 1.0,
            warmup: 10,
            total: 110,
        };
        assert!((s.at(0) - 0.1).abs() < EPS);
        assert!((s.at(9) - 1.0).abs() < EPS);
        assert!((s.at(10) - 1.0).abs() < EPS);
        assert!((s.at(60) - 0.5).abs() < EPS, "half-way through the cosine");
        assert!(s.at(109) > 0.0 && s.at(109) < 1e-3);
        assert_eq!(s.at(110), 0.0);
        for t in 11..110 {
            assert!(s.at(t) < s.at(t - 1), "monotone decay after warm-up");
        }
    }
}
