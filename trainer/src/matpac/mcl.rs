//! MATPAC++'s multiple-choice prediction (`docs/matpac-plus-plus.md`): the
//! latent loss of every hypothesis, the annealed winner-takes-all assignment
//! that trains them, and the choice of the hypothesis that feeds the
//! classification task. As the reference implementation: per masked token,
//! `ℓ_h = 2 − 2·cos(pred_h, target)`; while the temperature τ is above its end
//! value the loss is `Σ_h q_h ℓ_h` with `q = softmax(−ℓ / τ)` treated as a
//! constant, then `min_h ℓ_h`; the classification head sees the hypothesis
//! with the smallest `ℓ_h`.

use burn::tensor::activation::softmax;
use burn::tensor::{Int, Tensor};

use super::heads::l2_normalize;
use super::loss::latent_loss;

/// Per-hypothesis latent loss, `[B, N, H, D]` predictions against `[B, N, D]`
/// targets → `[B, N, H]`. With one hypothesis this is exactly [`latent_loss`].
pub fn hypothesis_losses(hyps: Tensor<4>, target: Tensor<3>) -> Tensor<3> {
    let [b, n, h, d] = hyps.dims();
    if h == 1 {
        return latent_loss(hyps.reshape([b, n, d]), target).unsqueeze_dim(2);
    }
    let p = l2_normalize(hyps, 1e-12);
    let t = l2_normalize(target, 1e-12).unsqueeze_dim::<4>(2);
    (p * t)
        .sum_dim(3)
        .squeeze_dim::<3>(3)
        .mul_scalar(-2.0)
        .add_scalar(2.0)
}

/// The training loss per token, `[B, N, H] → [B, N]`: soft assignment at
/// `temperature` (`Some`, weights without gradient), or the minimum (`None`:
/// the gradient reaches only the winning hypothesis).
pub fn assigned_loss(losses: Tensor<3>, temperature: Option<f64>) -> Tensor<2> {
    let [b, n, h] = losses.dims();
    if h == 1 {
        return losses.reshape([b, n]);
    }
    match temperature {
        Some(tau) => {
            let q = softmax(losses.clone().detach().div_scalar(-tau), 2);
            (q * losses).sum_dim(2).squeeze_dim::<2>(2)
        }
        None => losses.min_dim(2).squeeze_dim::<2>(2),
    }
}

/// Index of the best hypothesis per token, `[B, N, H] → [B, N, 1]`.
pub fn best_hypothesis(losses: Tensor<3>) -> Tensor<3, Int> {
    losses.detach().argmin(2)
}

/// The chosen hypothesis per token: `[B, N, H, D]` and `[B, N, 1]` indices → `[B, N, D]`.
pub fn select(hyps: Tensor<4>, best: Tensor<3, Int>) -> Tensor<3> {
    let [b, n, h, d] = hyps.dims();
    if h == 1 {
        return hyps.reshape([b, n, d]);
    }
    let index = best.unsqueeze_dim::<4>(3).expand([b, n, 1, d]);
    hyps.gather(2, index).reshape([b, n, d])
}

/// Share of tokens won by the most frequent hypothesis (`1/H` when all win
/// equally often, 1 when one hypothesis wins everything: collapse).
pub fn top_share(best: Tensor<3, Int>, hypotheses: usize) -> f64 {
    let idx: Vec<i64> = best
        .into_data()
        .convert::<i64>()
        .try_to_vec()
        .unwrap_or_default();
    let mut counts = vec![0usize; hypotheses.max(1)];
    for &i in &idx {
        if let Some(c) = counts.get_mut(i as usize) {
            *c += 1;
        }
    }
    counts.iter().copied().max().unwrap_or(0) as f64 / idx.len().max(1) as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::{Device, TensorData};

    fn dev() -> Device {
        Device::flex().autodiff()
    }

    /// Two hypotheses for one token in 2-D: h0 = (1, 0) (cos 1 with the target
    /// (1, 0): ℓ = 0), h1 = (0, 1) (cos 0: ℓ = 2).
    fn two() -> (Tensor<4>, Tensor<3>) {
        let hyps = Tensor::<4>::from_data(
            TensorData::new(vec![1.0f32, 0.0, 0.0, 1.0], [1, 1, 2, 2]),
            &dev(),
        )
        .require_grad();
        let target = Tensor::<3>::from_data(TensorData::new(vec![1.0f32, 0.0], [1, 1, 2]), &dev());
        (hyps, target)
    }

    fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
        t.into_data().try_to_vec::<f32>().unwrap()
    }

    #[test]
    fn losses_per_hypothesis_by_hand() {
        let (hyps, target) = two();
        let l = values(hypothesis_losses(hyps, target));
        assert!(
            (l[0] - 0.0).abs() < 1e-6 && (l[1] - 2.0).abs() < 1e-6,
            "{l:?}"
        );
    }

    #[test]
    fn hard_assignment_is_the_minimum_and_only_the_winner_gets_a_gradient() {
        let (hyps, target) = two();
        let loss = assigned_loss(hypothesis_losses(hyps.clone(), target), None).sum();
        assert!(values(loss.clone()).iter().all(|v| v.abs() < 1e-6));
        // Move h0 off the target so its gradient is non-zero.
        let hyps2 = Tensor::<4>::from_data(
            TensorData::new(vec![1.0f32, 0.5, 0.0, 1.0], [1, 1, 2, 2]),
            &dev(),
        )
        .require_grad();
        let target = Tensor::<3>::from_data(TensorData::new(vec![1.0f32, 0.0], [1, 1, 2]), &dev());
        let loss = assigned_loss(hypothesis_losses(hyps2.clone(), target), None).sum();
        let grads = loss.backward();
        let g = values(hyps2.grad(&grads).unwrap());
        assert!(g[0].abs() + g[1].abs() > 1e-3, "winner's gradient {g:?}");
        assert_eq!(&g[2..], &[0.0, 0.0], "the loser gets no gradient");
    }

    #[test]
    fn soft_assignment_weights_by_softmax_of_minus_loss_over_tau() {
        let (hyps, target) = two();
        let tau = 0.5;
        let loss = values(assigned_loss(hypothesis_losses(hyps, target), Some(tau)))[0] as f64;
        // q = softmax(−(0, 2)/0.5) = (1, e^-4)/(1 + e^-4); loss = 2 q1.
        let q1 = (-4.0f64).exp() / (1.0 + (-4.0f64).exp());
        assert!((loss - 2.0 * q1).abs() < 1e-6, "{loss} vs {}", 2.0 * q1);
    }

    #[test]
    fn soft_gradient_is_each_hypothesis_weight_times_its_own_gradient() {
        // ℓ_h depends on its own hypothesis only and q is a constant, so
        // dL/dh1 = q1 · dℓ1/dh1. For h1 = (0, 1) against (1, 0):
        // dℓ/dh = −2 (t − cos·h)/|h| = (−2, 0).
        let (hyps, target) = two();
        let tau = 1.0;
        let loss = assigned_loss(hypothesis_losses(hyps.clone(), target), Some(tau)).sum();
        let grads = loss.backward();
        let g = values(hyps.grad(&grads).unwrap());
        let q1 = ((-2.0f64).exp() / (1.0 + (-2.0f64).exp())) as f32;
        assert!(
            (g[2] - (-2.0 * q1)).abs() < 1e-5 && g[3].abs() < 1e-6,
            "{g:?}"
        );
    }

    #[test]
    fn the_best_hypothesis_is_selected_and_counted() {
        let (hyps, target) = two();
        let losses = hypothesis_losses(hyps.clone(), target);
        let best = best_hypothesis(losses);
        assert_eq!(best.dims(), [1, 1, 1]);
        assert_eq!(values(select(hyps, best.clone())), vec![1.0, 0.0]);
        assert_eq!(top_share(best, 2), 1.0);
    }

    #[test]
    fn one_hypothesis_is_plain_matpac() {
        let dev = Device::flex();
        let hyps = Tensor::<4>::from_data(
            TensorData::new(vec![0.3f32, -0.2, 0.9, 0.1, 0.4, -0.7], [1, 2, 1, 3]),
            &dev,
        );
        let target = Tensor::<3>::from_data(
            TensorData::new(vec![0.5f32, 0.5, -0.1, 0.2, 0.1, 0.3], [1, 2, 3]),
            &dev,
        );
        let plain = values(latent_loss(hyps.clone().reshape([1, 2, 3]), target.clone()));
        let mcl = values(assigned_loss(hypothesis_losses(hyps, target), Some(0.1)));
        assert_eq!(plain, mcl);
    }
}
