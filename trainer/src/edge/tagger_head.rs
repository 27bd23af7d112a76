//! The multi-label tagger: the student trained end to end with a sigmoid
//! head (binary cross-entropy per class) on labelled windows, and per-class
//! thresholds chosen on validation windows (the F1-maximising score).

use super::minibatch::{Minibatches, cosine_lr};
use super::student::{Student, StudentConfig};
use burn::module::Module;
use burn::optim::{AdamWConfig, GradientsParams};
use burn::tensor::activation::{log_sigmoid, sigmoid};
use burn::tensor::{Device, Tensor, TensorData};
use serde::{Deserialize, Serialize};

/// Standardised `[T·M]` windows with multi-hot targets.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LabelledWindows {
    /// Windows.
    pub x: Vec<Vec<f32>>,
    /// Targets `[n_classes]` in {0, 1}.
    pub y: Vec<Vec<f32>>,
}

/// Training settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TaggerTrainConfig {
    /// Passes over the training windows.
    pub epochs: usize,
    /// Windows per update.
    pub batch: usize,
    /// Peak learning rate (cosine decay to 0 over all updates).
    pub lr: f64,
    /// AdamW weight decay.
    pub weight_decay: f64,
    /// Shuffling and initialisation seed.
    pub seed: u64,
}

impl Default for TaggerTrainConfig {
    fn default() -> Self {
        Self {
            epochs: 30,
            batch: 32,
            lr: 3e-3,
            weight_decay: 1e-4,
            seed: 0,
        }
    }
}

/// One epoch's figures.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EpochReport {
    /// Epoch (from 1).
    pub epoch: usize,
    /// Mean training loss.
    pub train_loss: f64,
    /// Validation loss (NaN without validation data).
    pub val_loss: f64,
}

fn batch_tensor(rows: &[&Vec<f32>], dims: [usize; 4], device: &Device) -> Tensor<4> {
    let data: Vec<f32> = rows.iter().flat_map(|r| r.iter().copied()).collect();
    Tensor::from_data(TensorData::new(data, dims), device)
}

/// Mean binary cross-entropy of `logits` against `targets`.
pub fn bce_with_logits(logits: Tensor<2>, targets: Tensor<2>) -> Tensor<1> {
    let pos = log_sigmoid(logits.clone()).mul(targets.clone());
    let neg = log_sigmoid(logits.neg()).mul(targets.neg().add_scalar(1.0));
    pos.add(neg).neg().mean()
}

/// Sigmoid scores of `windows` (inference, batches of 64).
pub fn scores(
    student: &Student,
    config: &StudentConfig,
    windows: &[Vec<f32>],
    device: &Device,
) -> Vec<Vec<f32>> {
    let mut out = Vec::with_capacity(windows.len());
    for chunk in windows.chunks(64) {
        let rows: Vec<&Vec<f32>> = chunk.iter().collect();
        let x = batch_tensor(
            &rows,
            [rows.len(), 1, config.n_frames, config.n_mels],
            device,
        );
        let s = sigmoid(student.forward(x))
            .into_data()
            .try_to_vec::<f32>()
            .expect("f32 scores");
        out.extend(s.chunks(config.n_outputs).map(<[f32]>::to_vec));
    }
    out
}

/// Trains `config`'s student with a sigmoid head. `device` must have autodiff.
/// Returns the inference copy of the model (BatchNorm in eval mode) and
/// per-epoch figures.
pub fn train(
    config: &StudentConfig,
    tc: &TaggerTrainConfig,
    train: &LabelledWindows,
    val: &LabelledWindows,
    device: &Device,
    on_epoch: impl FnMut(&EpochReport),
) -> (Student, Vec<EpochReport>) {
    device.seed(tc.seed);
    let model = config.init(device);
    fine_tune(model, config, tc, train, val, device, on_epoch)
}

/// As [`train`], starting from `model` (e.g. a distilled student, whose
/// head [`with_new_head`] replaced). `model` must live on `device`.
pub fn fine_tune(
    mut model: Student,
    config: &StudentConfig,
    tc: &TaggerTrainConfig,
    train: &LabelledWindows,
    val: &LabelledWindows,
    device: &Device,
    mut on_epoch: impl FnMut(&EpochReport),
) -> (Student, Vec<EpochReport>) {
    device.seed(tc.seed);
    let mut optim = AdamWConfig::new()
        .with_weight_decay(tc.weight_decay as f32)
        .init();
    let n = train.x.len();
    let steps_per_epoch = n.div_ceil(tc.batch.max(1));
    let total = (steps_per_epoch * tc.epochs).max(1);
    let mut batches = Minibatches::new(n, tc.seed);
    let mut reports = Vec::new();
    let mut step = 0usize;
    for epoch in 1..=tc.epochs {
        let mut loss_sum = 0f64;
        for idx in batches.epoch(tc.batch) {
            let rows: Vec<&Vec<f32>> = idx.iter().map(|&i| &train.x[i]).collect();
            let x = batch_tensor(
                &rows,
                [rows.len(), 1, config.n_frames, config.n_mels],
                device,
            );
            let y: Vec<f32> = idx
                .iter()
                .flat_map(|&i| train.y[i].iter().copied())
                .collect();
            let y =
                Tensor::<2>::from_data(TensorData::new(y, [idx.len(), config.n_outputs]), device);
            let loss = bce_with_logits(model.forward(x), y);
            let grads = loss.backward();
            let value: f32 = loss.into_scalar();
            loss_sum += f64::from(value) * idx.len() as f64;
            let grads = GradientsParams::from_grads(grads, &model);
            model = optim.step(cosine_lr(tc.lr, step, total), model, grads);
            step += 1;
        }
        let val_loss = if val.x.is_empty() {
            f64::NAN
        } else {
            let s = scores(&model.valid(), config, &val.x, &device.clone().inner());
            mean_bce(&s, &val.y)
        };
        let r = EpochReport {
            epoch,
            train_loss: loss_sum / n.max(1) as f64,
            val_loss,
        };
        on_epoch(&r);
        reports.push(r);
    }
    (model.valid(), reports)
}

/// `model` with a freshly initialised `embedding → n_outputs` head on `device`.
pub fn with_new_head(mut model: Student, config: &StudentConfig, device: &Device) -> Student {
    model.head = burn::nn::LinearConfig::new(config.embedding_dim(), config.n_outputs).init(device);
    model
}

/// Mean binary cross-entropy of probabilities (clamped to 1e-7).
pub fn mean_bce(scores: &[Vec<f32>], targets: &[Vec<f32>]) -> f64 {
    let (mut sum, mut n) = (0f64, 0usize);
    for (s, t) in scores.iter().zip(targets) {
        for (&p, &y) in s.iter().zip(t) {
            let p = f64::from(p).clamp(1e-7, 1.0 - 1e-7);
            sum -= f64::from(y) * p.ln() + (1.0 - f64::from(y)) * (1.0 - p).ln();
            n += 1;
        }
    }
    sum / n.max(1) as f64
}

/// Default clamp of the per-class thresholds (see [`choose_thresholds`]).
pub const THRESHOLD_RANGE: (f32, f32) = (0.2, 0.9);

/// Per class, the score threshold that maximises F1 on `(scores, targets)`
/// (midpoint between the chosen score and the next lower one; 0.5 for a
/// class without positives), clamped to `range`: with a handful of
/// validation clips per class the F1 optimum can sit near 0 (seen on the
/// bundled set: 0.010–0.03), which fires on everything in a real scene.
pub fn choose_thresholds(scores: &[Vec<f32>], targets: &[Vec<f32>], range: (f32, f32)) -> Vec<f32> {
    let n_classes = targets.first().map_or(0, Vec::len);
    (0..n_classes)
        .map(|c| {
            let mut pairs: Vec<(f32, bool)> = scores
                .iter()
                .zip(targets)
                .map(|(s, t)| (s[c], t[c] > 0.5))
                .collect();
            let positives = pairs.iter().filter(|p| p.1).count();
            if positives == 0 {
                return 0.5;
            }
            pairs.sort_by(|a, b| b.0.total_cmp(&a.0));
            let (mut tp, mut best, mut best_t) = (0usize, -1f64, 0.5f32);
            for (i, &(s, pos)) in pairs.iter().enumerate() {
                tp += usize::from(pos);
                // Predict positive for the first i + 1 (score ≥ s).
                let f1 = 2.0 * tp as f64 / (i + 1 + positives) as f64;
                let next = pairs.get(i + 1).map_or(0.0, |p| p.0);
                if f1 > best && next < s {
                    best = f1;
                    best_t = 0.5 * (s + next);
                }
            }
            best_t.clamp(range.0, range.1)
        })
        .collect()
}

/// Micro-averaged F1 of thresholded scores.
pub fn micro_f1(scores: &[Vec<f32>], targets: &[Vec<f32>], thresholds: &[f32]) -> f64 {
    let (mut tp, mut fp, mut fn_) = (0usize, 0usize, 0usize);
    for (s, t) in scores.iter().zip(targets) {
        for ((&p, &y), &th) in s.iter().zip(t).zip(thresholds) {
            match (p >= th, y > 0.5) {
                (true, true) => tp += 1,
                (true, false) => fp += 1,
                (false, true) => fn_ += 1,
                _ => {}
            }
        }
    }
    2.0 * tp as f64 / (2 * tp + fp + fn_).max(1) as f64
}

/// Top-1 accuracy: the highest-scoring class is one of the window's labels.
pub fn top1(scores: &[Vec<f32>], targets: &[Vec<f32>]) -> f64 {
    let hits = scores
        .iter()
        .zip(targets)
        .filter(|(s, t)| {
            let best = (0..s.len())
                .max_by(|&a, &b| s[a].total_cmp(&s[b]))
                .unwrap_or(0);
            t.get(best).is_some_and(|&y| y > 0.5)
        })
        .count();
    hits as f64 / scores.len().max(1) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_separate_a_separable_class() {
        let scores = vec![vec![0.9], vec![0.7], vec![0.4], vec![0.2]];
        let targets = vec![vec![1.0], vec![1.0], vec![0.0], vec![0.0]];
        let t = choose_thresholds(&scores, &targets, (0.0, 1.0));
        assert!((t[0] - 0.55).abs() < 1e-6, "{t:?}");
        assert_eq!(choose_thresholds(&scores, &targets, (0.6, 0.9)), [0.6]);
        assert_eq!(micro_f1(&scores, &targets, &t), 1.0);
        assert_eq!(top1(&scores, &targets), 0.5);
    }

    #[test]
    fn a_few_updates_lower_the_loss_on_a_learnable_toy_problem() {
        let config = StudentConfig {
            n_frames: 16,
            n_mels: 16,
            ..StudentConfig::tiny(2)
        };
        // Class 0: bright upper half; class 1: bright lower half.
        let mk = |c: usize, k: usize| -> Vec<f32> {
            (0..256)
                .map(|i| {
                    if (i % 16 >= 8) == (c == 0) {
                        1.0 + (k % 3) as f32 * 0.1
                    } else {
                        -1.0
                    }
                })
                .collect()
        };
        let mut data = LabelledWindows::default();
        for k in 0..32 {
            let c = k % 2;
            data.x.push(mk(c, k));
            data.y.push(if c == 0 {
                vec![1.0, 0.0]
            } else {
                vec![0.0, 1.0]
            });
        }
        let tc = TaggerTrainConfig {
            epochs: 8,
            batch: 8,
            lr: 1e-2,
            ..Default::default()
        };
        let (model, reports) = train(
            &config,
            &tc,
            &data,
            &data,
            &Device::flex().autodiff(),
            |_| {},
        );
        assert!(
            reports.last().unwrap().val_loss < reports[0].val_loss * 0.7,
            "{reports:?}"
        );
        let s = scores(&model, &config, &data.x, &Device::flex());
        assert_eq!(top1(&s, &data.y), 1.0);
    }
}
