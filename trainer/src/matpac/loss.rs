//! The two MATPAC losses, per masked token, and the teacher centre.

use burn::tensor::activation::{log_softmax, softmax};
use burn::tensor::{Device, Tensor, TensorData};

use super::config::CentreMode;
use super::heads::l2_normalize;

/// Masked latent prediction: `2 − 2·cos(pred, target)` per token, `[B, N, D] → [B, N]`.
/// Targets are the teacher's final-LayerNorm outputs as they are (no extra standardisation).
pub fn latent_loss(pred: Tensor<3>, target: Tensor<3>) -> Tensor<2> {
    let p = l2_normalize(pred, 1e-12);
    let t = l2_normalize(target, 1e-12);
    (p * t)
        .sum_dim(2)
        .squeeze_dim::<2>(2)
        .mul_scalar(-2.0)
        .add_scalar(2.0)
}

/// Teacher probabilities `softmax((logits − c) / τ_t)`, `[B, N, K]`.
pub fn teacher_probs(logits: Tensor<3>, centre: Tensor<1>, temp: f64) -> Tensor<3> {
    let c = centre.unsqueeze::<3>();
    softmax((logits - c).div_scalar(temp), 2)
}

/// Classification loss: cross-entropy `−Σ_k p_t · log softmax(s / τ_s)` per token, `[B, N]`.
pub fn cls_loss(
    student_logits: Tensor<3>,
    teacher_probs: Tensor<3>,
    student_temp: f64,
) -> Tensor<2> {
    let log_p = log_softmax(student_logits.div_scalar(student_temp), 2);
    (teacher_probs * log_p).sum_dim(2).squeeze_dim::<2>(2).neg()
}

/// The teacher centre `c` (`[K]`), its momentum and what it averages.
///
/// As the reference (`Cls_Loss`), the centre used at step `t` is
/// `c_t = m·c_{t−1} + (1 − m)·mean(p_{t−1})` where `p_{t−1}` are the previous
/// step's teacher probabilities (after centring and softmax): computed at the
/// end of one step, applied at the next. `CentreMode::Logits` averages the
/// teacher logits instead (DINO).
#[derive(Debug, Clone)]
pub struct Centre {
    /// Current value, `[K]`.
    pub value: Vec<f32>,
    /// Momentum `m` (0.9).
    pub momentum: f64,
    /// What is averaged.
    pub mode: CentreMode,
}

impl Centre {
    /// Zero centre of `k` classes.
    pub fn new(k: usize, momentum: f64, mode: CentreMode) -> Self {
        Self {
            value: vec![0.0; k],
            momentum,
            mode,
        }
    }

    /// The centre as a tensor.
    pub fn tensor(&self, device: &Device) -> Tensor<1> {
        Tensor::from_data(
            TensorData::new(self.value.clone(), [self.value.len()]),
            device,
        )
    }

    /// Folds in one batch: `batch` are the teacher's logits or probabilities
    /// (per `mode`), `[B, N, K]`; the mean is over all B·N tokens.
    pub fn update(&mut self, batch: Tensor<3>) {
        let [b, n, k] = batch.dims();
        let mean: Vec<f32> = batch
            .reshape([b * n, k])
            .mean_dim(0)
            .into_data()
            .try_to_vec()
            .expect("f32 centre");
        let m = self.momentum;
        for (c, x) in self.value.iter_mut().zip(mean) {
            *c = (*c as f64 * m + x as f64 * (1.0 - m)) as f32;
        }
    }
}

/// Entropy (nats) of the mean of a batch of distributions `[B, N, K]`: how many
/// pseudo-classes the teacher uses overall (ln K at most; 0 when collapsed).
pub fn mean_entropy(probs: &[f32], k: usize) -> f64 {
    let rows = probs.len() / k;
    let mut mean = vec![0.0f64; k];
    for row in probs.chunks_exact(k) {
        mean.iter_mut().zip(row).for_each(|(m, &p)| *m += p as f64);
    }
    mean.iter()
        .map(|&m| m / rows as f64)
        .filter(|&p| p > 0.0)
        .map(|p| -p * p.ln())
        .sum()
}

/// Number of distinct arg-max classes among the rows of `[rows, K]`.
pub fn distinct_argmax(probs: &[f32], k: usize) -> usize {
    let mut used = vec![false; k];
    for row in probs.chunks_exact(k) {
        let best = row
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .map_or(0, |(i, _)| i);
        used[best] = true;
    }
    used.iter().filter(|&&u| u).count()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// f32 arithmetic on values of order 1: a few ulps.
    const TOL: f32 = 1e-5;

    fn t3(v: Vec<f32>, s: [usize; 3]) -> Tensor<3> {
        Tensor::from_data(TensorData::new(v, s), &Device::flex())
    }
    fn vec2(t: Tensor<2>) -> Vec<f32> {
        t.into_data().try_to_vec().unwrap()
    }

    #[test]
    fn latent_loss_by_hand() {
        // Token 1: same direction → 0. Token 2: orthogonal → 2. Token 3: opposite → 4.
        // Token 4: pred (1,1)/√2·3, target (1,0) → cos = 1/√2 → 2 − √2.
        let pred = t3(vec![2., 0., 0., 1., -1., 0., 3., 3.], [1, 4, 2]);
        let target = t3(vec![5., 0., 1., 0., 1., 0., 1., 0.], [1, 4, 2]);
        let got = vec2(latent_loss(pred, target));
        let want = [0.0, 2.0, 4.0, 2.0 - 2f32.sqrt()];
        for (g, w) in got.iter().zip(want) {
            assert!((g - w).abs() < TOL, "{got:?} vs {want:?}");
        }
    }

    #[test]
    fn teacher_probs_and_cls_loss_by_hand() {
        // K = 2, logits (1, 3), centre (1, 0), τ_t = 0.5: softmax((0, 3)/0.5) = softmax(0, 6).
        let p = teacher_probs(
            t3(vec![1., 3.], [1, 1, 2]),
            Tensor::from_data([1.0f32, 0.0], &Device::flex()),
            0.5,
        );
        let p: Vec<f32> = p.into_data().try_to_vec().unwrap();
        let e6 = 6f64.exp();
        let (p0, p1) = (1.0 / (1.0 + e6), e6 / (1.0 + e6));
        assert!(
            (p[0] as f64 - p0).abs() < 1e-7 && (p[1] as f64 - p1).abs() < 1e-7,
            "{p:?}"
        );
        // Student logits (0.2, 0.1), τ_s = 0.1 → log softmax(2, 1) = (2, 1) − ln(e² + e).
        let s = t3(vec![0.2, 0.1], [1, 1, 2]);
        let lse = (2f64.exp() + 1f64.exp()).ln();
        let want = -(p0 * (2.0 - lse) + p1 * (1.0 - lse));
        let got = vec2(cls_loss(s, t3(p.clone(), [1, 1, 2]), 0.1))[0];
        assert!((got as f64 - want).abs() < 1e-5, "{got} vs {want}");
    }

    #[test]
    fn centre_momentum_update() {
        let mut c = Centre::new(2, 0.9, CentreMode::Probabilities);
        // Batch mean over 2 tokens: ((0.2+0.6)/2, (0.8+0.4)/2) = (0.4, 0.6).
        c.update(t3(vec![0.2, 0.8, 0.6, 0.4], [1, 2, 2]));
        assert!(
            (c.value[0] - 0.04).abs() < 1e-7 && (c.value[1] - 0.06).abs() < 1e-7,
            "{:?}",
            c.value
        );
        c.update(t3(vec![1.0, 0.0], [1, 1, 2]));
        // 0.9·0.04 + 0.1·1 = 0.136; 0.9·0.06 + 0 = 0.054.
        assert!(
            (c.value[0] - 0.136).abs() < 1e-7 && (c.value[1] - 0.054).abs() < 1e-7,
            "{:?}",
            c.value
        );
    }

    #[test]
    fn entropy_and_argmax_counts() {
        let uniform = [0.25f32; 8]; // 2 rows of K = 4
        assert!((mean_entropy(&uniform, 4) - 4f64.ln()).abs() < 1e-9);
        let collapsed = [1.0f32, 0., 0., 0., 1., 0., 0., 0.];
        assert_eq!(mean_entropy(&collapsed, 4), 0.0);
        assert_eq!(distinct_argmax(&collapsed, 4), 1);
        assert_eq!(
            distinct_argmax(&[0.1, 0.9, 0.0, 0.0, 0.7, 0.1, 0.1, 0.1], 4),
            2
        );
    }
}
