//! Linear probe on frozen embeddings (`docs/architecture.md`, "Clip
//! embedding"): L2-regularised logistic regression, the standard linear
//! evaluation. Features are standardised with the fitting rows' mean and
//! standard deviation; one linear layer; softmax + cross-entropy for
//! single-label data, per-class sigmoids + binary cross-entropy for
//! multi-label data. The objective (mean loss + λ/2 ‖W‖², bias unpenalised)
//! is convex and solved to convergence ([`super::logistic`]), so the result
//! does not depend on a learning rate, an epoch budget or the order of
//! minibatches. λ is chosen from a grid by the mean validation accuracy over
//! the selection folds the caller gives (group-disjoint parts of the
//! training side), then the probe is refitted on all training rows with it.

pub use super::logistic::Task;
use super::logistic::fit;

/// Hyper-parameters of the probe.
#[derive(Debug, Clone, PartialEq)]
pub struct ProbeConfig {
    /// Candidate L2 strengths λ (per row: the objective is the mean loss plus
    /// λ/2 ‖W‖²), tried from the strongest down; the one with the best mean
    /// validation accuracy over the folds wins, ties to the stronger.
    pub l2_grid: Vec<f64>,
    /// Cap on L-BFGS iterations per fit.
    pub max_iters: u64,
    /// Seed of the group folds that choose λ.
    pub seed: u64,
}

/// λ grid of the default probe: 1e-4 … 1 in half-decade steps (weaker
/// regularisation lets a few hundred clips be fitted exactly and only slows
/// the solver down).
pub const L2_GRID: [f64; 9] = [1.0, 0.3, 0.1, 0.03, 0.01, 3e-3, 1e-3, 3e-4, 1e-4];

impl Default for ProbeConfig {
    fn default() -> Self {
        Self {
            l2_grid: L2_GRID.to_vec(),
            max_iters: 300,
            seed: 0,
        }
    }
}

/// The probe's solver failed.
#[derive(Debug, thiserror::Error)]
#[error(
    "linear probe: the L-BFGS solver failed ({0}); check the embeddings for NaN or infinite values"
)]
pub struct ProbeError(String);

/// Rows to fit on and rows to validate on, disjoint.
#[derive(Debug, Clone, PartialEq)]
pub struct Fold {
    /// Fitting rows.
    pub fit: Vec<usize>,
    /// Validation rows.
    pub val: Vec<usize>,
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
    /// The L2 strength λ used.
    pub l2: f64,
    /// Mean validation accuracy of that λ over the selection folds (`None`
    /// without folds: then λ is the grid's middle value).
    pub selection_accuracy: Option<f64>,
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

/// Index of the largest value (the first on ties).
fn argmax(v: &[f32]) -> usize {
    v.iter()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(b.1).then(b.0.cmp(&a.0)))
        .map_or(0, |(k, _)| k)
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

/// The rows `rows` standardised by `standardiser`, with their labels: what
/// [`fit`] is given for every λ of one fold.
fn fitting_rows<'a>(
    data: &ProbeData<'a>,
    standardiser: &Standardiser,
    rows: &[usize],
) -> (Vec<f32>, Vec<&'a [usize]>) {
    let labels = rows.iter().map(|&i| data.labels[i].as_slice()).collect();
    (standardiser.apply(data.x, rows), labels)
}

/// [`fit`] of `rows` (from [`fitting_rows`]) at strength `l2`, from `init`.
fn solve(
    data: &ProbeData,
    rows: &(Vec<f32>, Vec<&[usize]>),
    l2: f64,
    init: Vec<f64>,
    max_iters: u64,
) -> Result<Vec<f64>, ProbeError> {
    let (xs, labels) = rows;
    let (p, _) =
        fit(xs, data.d, labels.clone(), data.task, l2, init, max_iters).map_err(ProbeError)?;
    Ok(p)
}

/// Top-1 accuracy of rows `rows` under parameters `p` (`[W, b]`).
fn accuracy_of(data: &ProbeData, standardiser: &Standardiser, p: &[f64], rows: &[usize]) -> f64 {
    let probe = LinearProbe::from_params(data, standardiser.clone(), p, 0.0, None);
    probe.evaluate(data.x, data.labels, rows).accuracy
}

/// Trains a probe on rows `train_rows`; λ is chosen by the mean validation
/// accuracy over `folds` (ties to the stronger λ), or is the grid's middle
/// value without folds.
pub fn train(
    data: &ProbeData,
    train_rows: &[usize],
    folds: &[Fold],
    cfg: &ProbeConfig,
) -> Result<LinearProbe, ProbeError> {
    let ProbeData {
        x,
        d,
        labels,
        n_classes,
        ..
    } = *data;
    assert_eq!(x.len(), labels.len() * d, "x is [n, d]");
    let zeros = vec![0.0f64; n_classes * (d + 1)];
    let mut grid = cfg.l2_grid.clone();
    grid.sort_by(|a, b| b.total_cmp(a));
    let (mut l2, mut selection_accuracy) =
        (grid.get(grid.len() / 2).copied().unwrap_or(1e-3), None);
    if !folds.is_empty() && !grid.is_empty() {
        let mut mean_acc = vec![0.0f64; grid.len()];
        for fold in folds {
            let standardiser = Standardiser::fit(x, d, &fold.fit);
            let rows = fitting_rows(data, &standardiser, &fold.fit);
            // Strongest first, each fit warm-started from the previous one.
            let mut p = zeros.clone();
            for (acc, &l) in mean_acc.iter_mut().zip(&grid) {
                p = solve(data, &rows, l, p, cfg.max_iters)?;
                *acc += accuracy_of(data, &standardiser, &p, &fold.val) / folds.len() as f64;
            }
        }
        let best =
            mean_acc.iter().enumerate().fold(
                0usize,
                |best, (k, &a)| if a > mean_acc[best] { k } else { best },
            );
        l2 = grid[best];
        selection_accuracy = Some(mean_acc[best]);
    }
    let standardiser = Standardiser::fit(x, d, train_rows);
    let rows = fitting_rows(data, &standardiser, train_rows);
    let p = solve(data, &rows, l2, zeros, cfg.max_iters)?;
    Ok(LinearProbe::from_params(
        data,
        standardiser,
        &p,
        l2,
        selection_accuracy,
    ))
}

impl LinearProbe {
    /// A probe from solver parameters `[W (classes × d), b (classes)]`.
    fn from_params(
        data: &ProbeData,
        standardiser: Standardiser,
        p: &[f64],
        l2: f64,
        selection_accuracy: Option<f64>,
    ) -> Self {
        let (w, b) = p.split_at(data.n_classes * data.d);
        Self {
            standardiser,
            weight: w.iter().map(|&v| v as f32).collect(),
            bias: b.iter().map(|&v| v as f32).collect(),
            task: data.task,
            l2,
            selection_accuracy,
        }
    }

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
            let top = argmax(&scores[i * c..(i + 1) * c]);
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
