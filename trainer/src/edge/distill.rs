//! Distillation of the student from a frozen teacher's per-window targets:
//! cosine loss between the teacher's clip embedding and the student's pooled
//! embedding through a learned projection (`C → D`), plus KL divergence from
//! the teacher's pseudo-class distribution (`K` classes) to a learned
//! student classifier's softmax. The targets are precomputed (one row per
//! window), so this module does not depend on the teacher's code.

use super::minibatch::{Minibatches, cosine_lr};
use super::student::{Student, StudentConfig};
use super::tagger_head::EpochReport;
use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::optim::{AdamWConfig, GradientsParams};
use burn::tensor::activation::log_softmax;
use burn::tensor::{Device, Tensor, TensorData};
use serde::{Deserialize, Serialize};

/// Teacher targets, one row per window.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DistillTargets {
    /// Teacher clip embeddings `[D]`.
    pub embedding: Vec<Vec<f32>>,
    /// Teacher pseudo-class probabilities `[K]` (rows sum to 1), if used.
    pub probs: Option<Vec<Vec<f32>>>,
}

/// Distillation settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DistillConfig {
    /// Passes over the windows.
    pub epochs: usize,
    /// Windows per update.
    pub batch: usize,
    /// Peak learning rate (cosine to 0).
    pub lr: f64,
    /// AdamW weight decay.
    pub weight_decay: f64,
    /// Weight of the cosine loss.
    pub cosine_weight: f64,
    /// Weight of the KL loss.
    pub kl_weight: f64,
    /// Student softmax temperature for the KL term.
    pub temperature: f64,
    /// Seed.
    pub seed: u64,
}

impl Default for DistillConfig {
    fn default() -> Self {
        Self {
            epochs: 30,
            batch: 32,
            lr: 3e-3,
            weight_decay: 1e-4,
            cosine_weight: 1.0,
            kl_weight: 1.0,
            temperature: 0.1,
            seed: 0,
        }
    }
}

/// The student with its distillation heads.
#[derive(Module, Debug)]
pub struct DistillModel {
    /// The student (its own head is not trained here).
    pub student: Student,
    /// Projection of the pooled embedding to the teacher's width.
    pub proj: Linear,
    /// Pseudo-class classifier.
    pub cls: Option<Linear>,
}

/// Losses of one batch: total, cosine, KL.
fn losses(
    m: &DistillModel,
    x: Tensor<4>,
    emb: Tensor<2>,
    probs: Option<Tensor<2>>,
    dc: &DistillConfig,
) -> (Tensor<1>, Tensor<1>, Option<Tensor<1>>) {
    let e = m.student.embed(x);
    let z = m.proj.forward(e.clone());
    let dot = z.clone().mul(emb.clone()).sum_dim(1);
    let norms = z
        .powf_scalar(2.0)
        .sum_dim(1)
        .sqrt()
        .mul(emb.powf_scalar(2.0).sum_dim(1).sqrt())
        .clamp_min(1e-8);
    let cosine = dot.div(norms).neg().add_scalar(1.0).mean();
    let mut total = cosine.clone().mul_scalar(dc.cosine_weight);
    let kl = match (&m.cls, probs) {
        (Some(cls), Some(p)) => {
            let logq = log_softmax(cls.forward(e).div_scalar(dc.temperature), 1);
            let logp = p.clone().clamp_min(1e-12).log();
            let kl = p.mul(logp.sub(logq)).sum_dim(1).mean();
            total = total.add(kl.clone().mul_scalar(dc.kl_weight));
            Some(kl)
        }
        _ => None,
    };
    (total, cosine, kl)
}

fn rows(rows: &[&Vec<f32>], device: &Device) -> Tensor<2> {
    let width = rows.first().map_or(0, |r| r.len());
    let data: Vec<f32> = rows.iter().flat_map(|r| r.iter().copied()).collect();
    Tensor::from_data(TensorData::new(data, [rows.len(), width]), device)
}

/// Distils `config`'s student on standardised `windows` towards `targets`.
/// `device` must have autodiff. Returns the trained student (inference copy)
/// and per-epoch figures (`train_loss` = weighted total; `val_loss` = mean
/// cosine distance on the training windows at the epoch's end).
pub fn distill(
    config: &StudentConfig,
    dc: &DistillConfig,
    windows: &[Vec<f32>],
    targets: &DistillTargets,
    device: &Device,
    mut on_epoch: impl FnMut(&EpochReport),
) -> (Student, Vec<EpochReport>) {
    assert_eq!(
        windows.len(),
        targets.embedding.len(),
        "one teacher embedding per window"
    );
    device.seed(dc.seed);
    let d = targets.embedding.first().map_or(1, Vec::len);
    let c = config.embedding_dim();
    let cls = targets
        .probs
        .as_ref()
        .and_then(|p| p.first())
        .map(|p| LinearConfig::new(c, p.len()).init(device));
    let mut model = DistillModel {
        student: config.init(device),
        proj: LinearConfig::new(c, d).init(device),
        cls,
    };
    let mut optim = AdamWConfig::new()
        .with_weight_decay(dc.weight_decay as f32)
        .init();
    let n = windows.len();
    let total_steps = (n.div_ceil(dc.batch.max(1)) * dc.epochs).max(1);
    let mut batches = Minibatches::new(n, dc.seed);
    let mut reports = Vec::new();
    let mut step = 0usize;
    for epoch in 1..=dc.epochs {
        let (mut sum, mut cos_sum) = (0f64, 0f64);
        for idx in batches.epoch(dc.batch) {
            let xs: Vec<&Vec<f32>> = idx.iter().map(|&i| &windows[i]).collect();
            let data: Vec<f32> = xs.iter().flat_map(|r| r.iter().copied()).collect();
            let x = Tensor::<4>::from_data(
                TensorData::new(data, [idx.len(), 1, config.n_frames, config.n_mels]),
                device,
            );
            let emb = rows(
                &idx.iter()
                    .map(|&i| &targets.embedding[i])
                    .collect::<Vec<_>>(),
                device,
            );
            let probs = targets
                .probs
                .as_ref()
                .map(|p| rows(&idx.iter().map(|&i| &p[i]).collect::<Vec<_>>(), device));
            let (loss, cosine, _) = losses(&model, x, emb, probs, dc);
            let grads = loss.backward();
            let (l, cs): (f32, f32) = (loss.into_scalar(), cosine.into_scalar());
            sum += f64::from(l) * idx.len() as f64;
            cos_sum += f64::from(cs) * idx.len() as f64;
            let grads = GradientsParams::from_grads(grads, &model);
            model = optim.step(cosine_lr(dc.lr, step, total_steps), model, grads);
            step += 1;
        }
        let r = EpochReport {
            epoch,
            train_loss: sum / n.max(1) as f64,
            val_loss: cos_sum / n.max(1) as f64,
        };
        on_epoch(&r);
        reports.push(r);
    }
    (model.valid().student, reports)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_student_learns_to_point_at_the_teacher_embedding() {
        let config = StudentConfig {
            n_frames: 16,
            n_mels: 16,
            ..StudentConfig::tiny(2)
        };
        // Two kinds of windows; the "teacher" maps them to orthogonal
        // embeddings and to opposite pseudo-class distributions.
        let (mut windows, mut targets) = (
            Vec::new(),
            DistillTargets {
                probs: Some(Vec::new()),
                ..Default::default()
            },
        );
        for k in 0..32 {
            let c = k % 2;
            windows.push(
                (0..256)
                    .map(|i| {
                        if (i % 16 >= 8) == (c == 0) {
                            1.0 + (k % 3) as f32 * 0.1
                        } else {
                            -1.0
                        }
                    })
                    .collect(),
            );
            targets.embedding.push(if c == 0 {
                vec![1.0, 0.0, 0.0]
            } else {
                vec![0.0, 1.0, 0.0]
            });
            targets.probs.as_mut().unwrap().push(if c == 0 {
                vec![0.9, 0.1]
            } else {
                vec![0.1, 0.9]
            });
        }
        let dc = DistillConfig {
            epochs: 10,
            batch: 8,
            lr: 1e-2,
            ..Default::default()
        };
        let (_, reports) = distill(
            &config,
            &dc,
            &windows,
            &targets,
            &Device::flex().autodiff(),
            |_| {},
        );
        let (first, last) = (&reports[0], reports.last().unwrap());
        assert!(last.train_loss < 0.6 * first.train_loss, "{reports:?}");
        assert!(
            last.val_loss < 0.2,
            "mean cosine distance {}",
            last.val_loss
        );
    }
}
