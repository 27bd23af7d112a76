//! Linear probe on frozen embeddings (`docs/architecture.md`, "Clip embedding"): features
//! standardised with the fitting set's mean and standard deviation, one linear
//! layer, softmax + cross-entropy for single-label data or per-class sigmoid +
//! binary cross-entropy for multi-label data, minibatch Adam with decoupled
//! weight decay, and early stopping on the validation set (the weights of the epoch
//! with the best validation accuracy, ties to the lower loss, are kept). Plain f32 Rust: the layers are small.

use crate::matpac::rng::Rng;

/// Hyper-parameters of the probe.
#[derive(Debug, Clone, PartialEq)]
pub struct ProbeConfig {
    /// Adam learning rate.
    pub lr: f32,
    /// Decoupled weight decay (AdamW), per update, times `lr`.
    pub weight_decay: f32,
    /// Minibatch size.
    pub batch_size: usize,
    /// Upper bound on epochs.
    pub max_epochs: usize,
    /// Stop after this many epochs without a better validation score.
    pub patience: usize,
    /// Shuffling seed.
    pub seed: u64,
}

impl Default for ProbeConfig {
    fn default() -> Self {
        Self {
            lr: 1e-3,
            weight_decay: 1e-4,
            batch_size: 64,
            max_epochs: 500,
            patience: 30,
            seed: 0,
        }
    }
}

/// Single-label (softmax) or multi-label (sigmoids).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Task {
    /// One label per clip.
    SingleLabel,
    /// Any number of labels per clip.
    MultiLabel,
}

/// Per-feature standardisation fitted on the training rows.
#[derive(Debug, Clone, PartialEq)]
pub struct Standardiser {
    /// Feature means.
    pub mean: Vec<f32>,
    /// Feature standard deviations (1 where a feature is constant).
    pub std: Vec<f32>,
}

impl Standardiser {
    /// Fits on rows `rows` of `x` (`[n, d]` row-major).
    pub fn fit(x: &[f32], d: usize, rows: &[usize]) -> Self {
        let n = rows.len().max(1) as f64;
        let mut mean = vec![0.0f64; d];
        for &r in rows {
            mean.iter_mut()
                .zip(&x[r * d..(r + 1) * d])
                .for_each(|(m, &v)| *m += v as f64);
        }
        mean.iter_mut().for_each(|m| *m /= n);
        let mut var = vec![0.0f64; d];
        for &r in rows {
            for ((s, &v), m) in var.iter_mut().zip(&x[r * d..(r + 1) * d]).zip(&mean) {
                *s += (v as f64 - m).powi(2);
            }
        }
        Self {
            mean: mean.iter().map(|&m| m as f32).collect(),
            std: var
                .iter()
                .map(|&v| {
                    let s = (v / n).sqrt();
                    if s > 1e-8 { s as f32 } else { 1.0 }
                })
                .collect(),
        }
    }

    /// Standardised copy of the rows `rows` of `x`.
    pub fn apply(&self, x: &[f32], rows: &[usize]) -> Vec<f32> {
        let d = self.mean.len();
        let mut out = Vec::with_capacity(rows.len() * d);
        for &r in rows {
            out.extend(
                x[r * d..(r + 1) * d]
                    .iter()
                    .zip(self.mean.iter().zip(&self.std))
                    .map(|(&v, (m, s))| (v - m) / s),
            );
        }
        out
    }
}

/// A trained probe.
#[derive(Debug, Clone)]
pub struct LinearProbe {
    /// Standardisation of the inputs.
    pub standardiser: Standardiser,
    /// Weights `[classes, d]`.
    pub weight: Vec<f32>,
    /// Biases `[classes]`.
    pub bias: Vec<f32>,
    /// Output type.
    pub task: Task,
    /// Epochs run.
    pub epochs: usize,
    /// Epoch (1-based) whose weights were kept.
    pub best_epoch: usize,
    /// Validation loss of that epoch.
    pub best_val_loss: f64,
    /// Validation accuracy of that epoch.
    pub best_val_accuracy: f64,
}

/// Scores and metrics of a probe on a test set.
#[derive(Debug, Clone, PartialEq)]
pub struct Metrics {
    /// Share of clips whose top-scoring class is (one of) their label(s).
    pub accuracy: f64,
    /// Mean over classes with a positive test clip of the average precision
    /// (multi-label only).
    pub map: Option<f64>,
    /// `[true][predicted top-1]` counts; a multi-label clip counts once per label.
    pub confusion: Vec<Vec<u32>>,
}

fn logits(w: &[f32], b: &[f32], row: &[f32], out: &mut [f32]) {
    let d = row.len();
    for (c, o) in out.iter_mut().enumerate() {
        *o = b[c]
            + w[c * d..(c + 1) * d]
                .iter()
                .zip(row)
                .map(|(a, x)| a * x)
                .sum::<f32>();
    }
}

/// Turns logits into `d loss / d logits` in place and returns the loss of one row.
fn loss_grad(task: Task, z: &mut [f32], labels: &[usize]) -> f64 {
    match task {
        Task::SingleLabel => {
            let max = z.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            let sum: f32 = z
                .iter_mut()
                .map(|v| {
                    *v = (*v - max).exp();
                    *v
                })
                .sum();
            z.iter_mut().for_each(|v| *v /= sum);
            let loss = -(z[labels[0]].max(1e-12) as f64).ln();
            z[labels[0]] -= 1.0;
            loss
        }
        Task::MultiLabel => {
            let mut loss = 0.0f64;
            for (c, v) in z.iter_mut().enumerate() {
                let y = if labels.contains(&c) { 1.0 } else { 0.0 };
                // log(1 + e^{-|v|}) + max(v, 0) − y·v, stable.
                let x = *v as f64;
                loss += x.max(0.0) - y * x + (-x.abs()).exp().ln_1p();
                *v = (1.0 / (1.0 + (-x).exp())) as f32 - y as f32;
            }
            loss
        }
    }
}

/// Mean loss and top-1 accuracy of rows `x` (standardised).
fn val_score(task: Task, w: &[f32], b: &[f32], x: &[f32], labels: &[&[usize]]) -> (f64, f64) {
    let c = b.len();
    let d = w.len() / c;
    let mut z = vec![0.0f32; c];
    let (mut loss, mut hits) = (0.0f64, 0usize);
    for (i, l) in labels.iter().enumerate() {
        logits(w, b, &x[i * d..(i + 1) * d], &mut z);
        let top = z
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .map_or(0, |(k, _)| k);
        hits += usize::from(l.contains(&top));
        loss += loss_grad(task, &mut z, l);
    }
    let n = labels.len().max(1) as f64;
    (loss / n, hits as f64 / n)
}

/// Embeddings and their labels.
#[derive(Debug, Clone, Copy)]
pub struct ProbeData<'a> {
    /// `[n, d]` row-major.
    pub x: &'a [f32],
    /// Embedding width.
    pub d: usize,
    /// Classes of each row (indices below `n_classes`).
    pub labels: &'a [Vec<usize>],
    /// Number of classes.
    pub n_classes: usize,
    /// Softmax or sigmoids.
    pub task: Task,
}

/// Trains a probe on rows `fit` of the data, stopping early on rows `val`.
pub fn train(data: &ProbeData, fit: &[usize], val: &[usize], cfg: &ProbeConfig) -> LinearProbe {
    let ProbeData {
        x,
        d,
        labels,
        n_classes,
        task,
    } = *data;
    assert_eq!(x.len(), labels.len() * d, "x is [n, d]");
    let standardiser = Standardiser::fit(x, d, fit);
    let xf = standardiser.apply(x, fit);
    let xv = standardiser.apply(x, val);
    let yf: Vec<&[usize]> = fit.iter().map(|&i| labels[i].as_slice()).collect();
    let yv: Vec<&[usize]> = val.iter().map(|&i| labels[i].as_slice()).collect();
    let c = n_classes;
    let (mut w, mut b) = (vec![0.0f32; c * d], vec![0.0f32; c]);
    let (mut mw, mut vw) = (vec![0.0f32; c * d], vec![0.0f32; c * d]);
    let (mut mb, mut vb) = (vec![0.0f32; c], vec![0.0f32; c]);
    let (b1, b2, eps) = (0.9f32, 0.999f32, 1e-8f32);
    // Best epoch: highest validation accuracy, ties to the lower loss.
    let mut best = (
        f64::NEG_INFINITY,
        f64::INFINITY,
        0usize,
        w.clone(),
        b.clone(),
    );
    let mut rng = Rng::new(cfg.seed ^ 0x70_726f_6265);
    let mut order: Vec<usize> = (0..fit.len()).collect();
    let (mut gw, mut gb, mut z) = (vec![0.0f32; c * d], vec![0.0f32; c], vec![0.0f32; c]);
    let mut t = 0i32;
    let mut epochs = 0;
    for epoch in 1..=cfg.max_epochs {
        epochs = epoch;
        rng.shuffle(&mut order);
        for batch in order.chunks(cfg.batch_size.max(1)) {
            gw.fill(0.0);
            gb.fill(0.0);
            for &i in batch {
                let row = &xf[i * d..(i + 1) * d];
                logits(&w, &b, row, &mut z);
                loss_grad(task, &mut z, yf[i]);
                for (k, &g) in z.iter().enumerate() {
                    gb[k] += g;
                    gw[k * d..(k + 1) * d]
                        .iter_mut()
                        .zip(row)
                        .for_each(|(a, &x)| *a += g * x);
                }
            }
            let scale = 1.0 / batch.len() as f32;
            t += 1;
            let (c1, c2) = (1.0 - b1.powi(t), 1.0 - b2.powi(t));
            let step = |p: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32], decay: f32| {
                for j in 0..p.len() {
                    let g = g[j] * scale;
                    m[j] = b1 * m[j] + (1.0 - b1) * g;
                    v[j] = b2 * v[j] + (1.0 - b2) * g * g;
                    p[j] -= cfg.lr * ((m[j] / c1) / ((v[j] / c2).sqrt() + eps) + decay * p[j]);
                }
            };
            step(&mut w, &gw, &mut mw, &mut vw, cfg.weight_decay);
            step(&mut b, &gb, &mut mb, &mut vb, 0.0);
        }
        let (loss, acc) = val_score(task, &w, &b, &xv, &yv);
        if acc > best.0 || (acc == best.0 && loss < best.1) {
            best = (acc, loss, epoch, w.clone(), b.clone());
        } else if epoch - best.2 >= cfg.patience {
            break;
        }
    }
    LinearProbe {
        standardiser,
        weight: best.3,
        bias: best.4,
        task,
        epochs,
        best_epoch: best.2,
        best_val_loss: best.1,
        best_val_accuracy: best.0,
    }
}

impl LinearProbe {
    /// Number of classes.
    pub fn n_classes(&self) -> usize {
        self.bias.len()
    }

    /// Logits `[rows, classes]` for rows `rows` of `x`.
    pub fn scores(&self, x: &[f32], rows: &[usize]) -> Vec<f32> {
        let d = self.standardiser.mean.len();
        let xs = self.standardiser.apply(x, rows);
        let c = self.n_classes();
        let mut out = vec![0.0f32; rows.len() * c];
        for (i, o) in out.chunks_exact_mut(c).enumerate() {
            logits(&self.weight, &self.bias, &xs[i * d..(i + 1) * d], o);
        }
        out
    }

    /// Accuracy, mAP (multi-label) and confusion matrix on rows `rows`.
    pub fn evaluate(&self, x: &[f32], labels: &[Vec<usize>], rows: &[usize]) -> Metrics {
        let c = self.n_classes();
        let scores = self.scores(x, rows);
        let mut confusion = vec![vec![0u32; c]; c];
        let mut hits = 0usize;
        for (i, &r) in rows.iter().enumerate() {
            let s = &scores[i * c..(i + 1) * c];
            let top = s
                .iter()
                .enumerate()
                .max_by(|a, b| a.1.total_cmp(b.1))
                .map_or(0, |(k, _)| k);
            hits += usize::from(labels[r].contains(&top));
            for &l in &labels[r] {
                confusion[l][top] += 1;
            }
        }
        let map = (self.task == Task::MultiLabel).then(|| {
            let aps: Vec<f64> = (0..c)
                .filter_map(|k| {
                    let col: Vec<(f32, bool)> = rows
                        .iter()
                        .enumerate()
                        .map(|(i, &r)| (scores[i * c + k], labels[r].contains(&k)))
                        .collect();
                    average_precision(&col)
                })
                .collect();
            aps.iter().sum::<f64>() / aps.len().max(1) as f64
        });
        Metrics {
            accuracy: hits as f64 / rows.len().max(1) as f64,
            map,
            confusion,
        }
    }
}

/// Average precision of `(score, positive)` pairs (the mean of the precision at
/// each positive, ranking by descending score; ties ranked pessimistically);
/// `None` without positives.
pub fn average_precision(items: &[(f32, bool)]) -> Option<f64> {
    let positives = items.iter().filter(|i| i.1).count();
    if positives == 0 {
        return None;
    }
    let mut sorted = items.to_vec();
    // Descending score; among equal scores negatives first (pessimistic).
    sorted.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    let (mut seen, mut sum) = (0usize, 0.0f64);
    for (rank, &(_, pos)) in sorted.iter().enumerate() {
        if pos {
            seen += 1;
            sum += seen as f64 / (rank + 1) as f64;
        }
    }
    Some(sum / positives as f64)
}

/// Mean and sample standard deviation (n − 1; 0 for one value).
pub fn mean_std(v: &[f64]) -> (f64, f64) {
    let n = v.len();
    if n == 0 {
        return (f64::NAN, f64::NAN);
    }
    let mean = v.iter().sum::<f64>() / n as f64;
    let var = if n > 1 {
        v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64
    } else {
        0.0
    };
    (mean, var.sqrt())
}
