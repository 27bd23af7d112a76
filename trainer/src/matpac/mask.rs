//! Random unstructured masking, per sample (MATPAC / M2D `random_unstructured_mask`).
//!
//! Each sample draws uniform noise per patch and sorts it: the first
//! `⌊L · (1 − ratio)⌋` patches of that order are visible (student encoder), the
//! rest are masked (teacher encoder, predictor targets). Order matters: the
//! reference keeps tokens in the shuffled order, so the predictor's outputs
//! and the teacher's targets are both in `shuffle[n_visible..]` order.

use super::rng::Rng;

/// The masks of one batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mask {
    batch: usize,
    n_tokens: usize,
    n_visible: usize,
    /// `[batch, n_tokens]`: per sample, token indices in shuffled order.
    shuffle: Vec<usize>,
}

impl Mask {
    /// Number of visible tokens of `n_tokens` at `ratio`, as the reference:
    /// `int(L * (1 - ratio))` (190 × 0.3 → 57).
    pub fn n_visible_for(n_tokens: usize, ratio: f64) -> usize {
        (n_tokens as f64 * (1.0 - ratio)).floor() as usize
    }

    /// A fresh random mask for each of `batch` samples.
    pub fn random(batch: usize, n_tokens: usize, ratio: f64, rng: &mut Rng) -> Self {
        let n_visible = Self::n_visible_for(n_tokens, ratio);
        let mut shuffle = Vec::with_capacity(batch * n_tokens);
        let mut noise = vec![0.0f64; n_tokens];
        for _ in 0..batch {
            noise.iter_mut().for_each(|x| *x = rng.next_f64());
            let mut order: Vec<usize> = (0..n_tokens).collect();
            order.sort_by(|&a, &b| noise[a].total_cmp(&noise[b]));
            shuffle.extend(order);
        }
        Self::from_shuffle(batch, n_tokens, n_visible, shuffle)
    }

    /// A mask from explicit per-sample orders (each a permutation of `0..n_tokens`).
    ///
    /// # Panics
    /// If an order is not a permutation or `n_visible > n_tokens`.
    pub fn from_shuffle(
        batch: usize,
        n_tokens: usize,
        n_visible: usize,
        shuffle: Vec<usize>,
    ) -> Self {
        assert_eq!(shuffle.len(), batch * n_tokens, "mask order length");
        assert!(n_visible <= n_tokens);
        for b in 0..batch {
            let mut seen = vec![false; n_tokens];
            for &i in &shuffle[b * n_tokens..(b + 1) * n_tokens] {
                assert!(
                    i < n_tokens && !seen[i],
                    "mask order of sample {b} is not a permutation"
                );
                seen[i] = true;
            }
        }
        Self {
            batch,
            n_tokens,
            n_visible,
            shuffle,
        }
    }

    /// Batch size.
    pub fn batch(&self) -> usize {
        self.batch
    }
    /// Tokens per sample (without CLS).
    pub fn n_tokens(&self) -> usize {
        self.n_tokens
    }
    /// Visible tokens per sample.
    pub fn n_visible(&self) -> usize {
        self.n_visible
    }
    /// Masked tokens per sample.
    pub fn n_masked(&self) -> usize {
        self.n_tokens - self.n_visible
    }
    /// Shuffled order of sample `b`.
    pub fn order(&self, b: usize) -> &[usize] {
        &self.shuffle[b * self.n_tokens..(b + 1) * self.n_tokens]
    }
    /// Visible token indices of sample `b`, in shuffled order.
    pub fn visible(&self, b: usize) -> &[usize] {
        &self.order(b)[..self.n_visible]
    }
    /// Masked token indices of sample `b`, in shuffled order.
    pub fn masked(&self, b: usize) -> &[usize] {
        &self.order(b)[self.n_visible..]
    }

    /// Rows of a `[batch · n_tokens, D]` matrix holding the visible tokens, sample-major.
    pub fn visible_rows(&self) -> Vec<i64> {
        self.rows(|b| self.visible(b))
    }

    /// Rows of a `[batch · n_tokens, D]` matrix holding the masked tokens, sample-major.
    pub fn masked_rows(&self) -> Vec<i64> {
        self.rows(|b| self.masked(b))
    }

    /// Rows that put a per-sample sequence laid out as `[visible…, masked…]`
    /// (shuffled order) back into token order: output row `b·L + p` takes input
    /// row `b·L + rank(p)` where `rank` inverts the shuffle (`ids_restore`).
    pub fn restore_rows(&self) -> Vec<i64> {
        let l = self.n_tokens;
        let mut out = vec![0i64; self.batch * l];
        for b in 0..self.batch {
            for (rank, &p) in self.order(b).iter().enumerate() {
                out[b * l + p] = (b * l + rank) as i64;
            }
        }
        out
    }

    fn rows<'a>(&'a self, pick: impl Fn(usize) -> &'a [usize]) -> Vec<i64> {
        (0..self.batch)
            .flat_map(|b| pick(b).iter().map(move |&i| (b * self.n_tokens + i) as i64))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paper_shape_is_57_visible_133_masked() {
        assert_eq!(Mask::n_visible_for(190, 0.7), 57);
        let mut rng = Rng::new(0);
        let m = Mask::random(4, 190, 0.7, &mut rng);
        for b in 0..4 {
            assert_eq!(m.visible(b).len(), 57);
            assert_eq!(m.masked(b).len(), 133);
            let mut all: Vec<usize> = m.visible(b).iter().chain(m.masked(b)).copied().collect();
            all.sort_unstable();
            assert_eq!(
                all,
                (0..190).collect::<Vec<_>>(),
                "visible ∪ masked = all, disjoint"
            );
        }
        assert_ne!(m.order(0), m.order(1), "masks are drawn per sample");
    }

    #[test]
    fn masking_is_uniform_over_positions() {
        // Each position is masked with probability 133/190 = 0.7. Over n = 4000 masks the
        // count per position is Binomial(n, 0.7): sd = sqrt(n·0.7·0.3) = 29. Allow 5 sd per
        // position (190 positions: a false alarm has probability < 1e-4), and check the
        // chi-square statistic over positions against its mean (189 dof: mean 189, sd 19.4)
        // plus 6 sd, ignoring the slight negative correlation between positions.
        let n = 4000;
        let mut rng = Rng::new(42);
        let mut counts = [0usize; 190];
        for _ in 0..n / 8 {
            let m = Mask::random(8, 190, 0.7, &mut rng);
            for b in 0..8 {
                m.masked(b).iter().for_each(|&i| counts[i] += 1);
            }
        }
        let expect = n as f64 * 0.7;
        let sd = (n as f64 * 0.7 * 0.3).sqrt();
        let mut chi2 = 0.0;
        for (i, &c) in counts.iter().enumerate() {
            let z = (c as f64 - expect) / sd;
            assert!(
                z.abs() < 5.0,
                "position {i}: masked {c} times, expected {expect:.0} ± {sd:.0}"
            );
            chi2 += z * z;
        }
        assert!(
            chi2 < 189.0 + 6.0 * 19.4,
            "chi2 {chi2:.1} over 190 positions"
        );
    }

    #[test]
    fn index_rows_are_consistent() {
        let m = Mask::from_shuffle(2, 4, 1, vec![2, 0, 3, 1, 1, 3, 0, 2]);
        assert_eq!(m.visible_rows(), vec![2, 5]);
        assert_eq!(m.masked_rows(), vec![0, 3, 1, 7, 4, 6]);
        // Sample 0, order [2,0,3,1]: ranks of positions 0..4 are [1,3,0,2].
        assert_eq!(m.restore_rows(), vec![1, 3, 0, 2, 4 + 2, 4, 4 + 3, 4 + 1]);
    }
}
