//! Linear probe on frozen embeddings (`docs/architecture.md`, "Clip
//! embedding"): L2-regularised logistic regression, the standard linear
//! evaluation. Features are standardised with the fitting rows' mean and
//! standard deviation; one linear layer; softmax + cross-entropy for
//! single-label data, per-class sigmoids + binary cross-entropy for
//! multi-label data. The objective (mean loss + λ/2 ‖W‖², bias unpenalised)
//! is convex and solved to convergence by L-BFGS (the `argmin` crate), so the
//! result does not depend on a learning rate, an epoch budget or the order of
//! minibatches. λ is chosen from a grid by the mean validation accuracy over
//! the selection folds the caller gives (group-disjoint parts of the
//! training side), then the probe is refitted on all training rows with it.

use std::cell::RefCell;

use argmin::core::{CostFunction, Executor, Gradient, State};
use argmin::solver::linesearch::MoreThuenteLineSearch;
use argmin::solver::quasinewton::LBFGS;
use ndarray::{Array2, ArrayView1, ArrayView2, Axis};

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

/// Parameters with the cost and gradient there.
type Evaluated = (Vec<f64>, f64, Vec<f64>);

/// The regularised logistic loss of standardised rows, as a function of the
/// parameters `[W (classes × d, row-major), b (classes)]`, in f64. The two
/// products per evaluation go through ndarray's matrix multiply.
struct Objective<'a> {
    /// `[rows, d]`, standardised.
    x: Array2<f64>,
    labels: Vec<&'a [usize]>,
    task: Task,
    l2: f64,
    /// The last parameters evaluated with their cost and gradient: the line
    /// search asks for both at the same point, one pass computes them.
    last: RefCell<Option<Evaluated>>,
}

impl<'a> Objective<'a> {
    /// The objective of `rows` (`[rows, d]`, standardised, row-major) with
    /// their labels.
    fn new(x: &[f32], d: usize, labels: Vec<&'a [usize]>, task: Task, l2: f64) -> Self {
        let x = Array2::from_shape_fn((labels.len(), d), |(i, j)| f64::from(x[i * d + j]));
        Self {
            x,
            labels,
            task,
            l2,
            last: RefCell::new(None),
        }
    }

    /// Cost and gradient at `p`, from the cache when `p` was the last point.
    fn cost_and_gradient(&self, p: &[f64]) -> (f64, Vec<f64>) {
        if let Some((q, cost, g)) = self.last.borrow().as_ref()
            && q.as_slice() == p
        {
            return (*cost, g.clone());
        }
        let mut g = vec![0.0; p.len()];
        let cost = self.eval(p, Some(&mut g));
        *self.last.borrow_mut() = Some((p.to_vec(), cost, g.clone()));
        (cost, g)
    }

    /// Mean loss + λ/2 ‖W‖² and, when `grad` is given, its gradient.
    fn eval(&self, p: &[f64], grad: Option<&mut [f64]>) -> f64 {
        let (n, d) = self.x.dim();
        let c = p.len() / (d + 1);
        let (w, b) = p.split_at(c * d);
        let w = ArrayView2::from_shape((c, d), w).expect("p holds [W, b]");
        // Logits [n, c], then d loss / d logits in place.
        let mut z = self.x.dot(&w.t()) + ArrayView1::from(b);
        let mut loss = 0.0f64;
        for (mut row, labels) in z.rows_mut().into_iter().zip(&self.labels) {
            let row = row.as_slice_mut().expect("row-major");
            loss += row_loss_grad(self.task, row, labels);
        }
        let scale = 1.0 / n.max(1) as f64;
        if let Some(g) = grad {
            let (gw, gb) = g.split_at_mut(c * d);
            let gw_mat = z.t().dot(&self.x) * scale + &w * self.l2;
            gw.iter_mut().zip(gw_mat.iter()).for_each(|(a, &v)| *a = v);
            gb.iter_mut()
                .zip(z.sum_axis(Axis(0)).iter())
                .for_each(|(a, &v)| *a = v * scale);
        }
        loss * scale + 0.5 * self.l2 * w.iter().map(|v| v * v).sum::<f64>()
    }
}

/// Turns logits `z` into `d loss / d z` in place and returns the row's loss.
fn row_loss_grad(task: Task, z: &mut [f64], labels: &[usize]) -> f64 {
    match task {
        Task::SingleLabel => {
            let max = z.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let sum: f64 = z
                .iter_mut()
                .map(|v| {
                    *v = (*v - max).exp();
                    *v
                })
                .sum();
            z.iter_mut().for_each(|v| *v /= sum);
            let target = labels.first().copied().unwrap_or(0);
            let loss = -z[target].max(1e-300).ln();
            z[target] -= 1.0;
            loss
        }
        Task::MultiLabel => {
            let mut loss = 0.0f64;
            for (c, v) in z.iter_mut().enumerate() {
                let y = if labels.contains(&c) { 1.0 } else { 0.0 };
                // log(1 + e^{-|v|}) + max(v, 0) − y·v, stable.
                let x = *v;
                loss += x.max(0.0) - y * x + (-x.abs()).exp().ln_1p();
                *v = 1.0 / (1.0 + (-x).exp()) - y;
            }
            loss
        }
    }
}

impl CostFunction for &Objective<'_> {
    type Param = Vec<f64>;
    type Output = f64;

    fn cost(&self, p: &Self::Param) -> Result<f64, argmin::core::Error> {
        Ok(self.cost_and_gradient(p).0)
    }
}

impl Gradient for &Objective<'_> {
    type Param = Vec<f64>;
    type Gradient = Vec<f64>;

    fn gradient(&self, p: &Self::Param) -> Result<Vec<f64>, argmin::core::Error> {
        Ok(self.cost_and_gradient(p).1)
    }
}

/// Minimises the objective of rows `rows` at strength `l2`, from `init`
/// (`[W, b]`); returns the parameters and the final gradient's largest
/// absolute entry.
fn solve(
    data: &ProbeData,
    standardiser: &Standardiser,
    rows: &[usize],
    l2: f64,
    init: Vec<f64>,
    max_iters: u64,
) -> Result<(Vec<f64>, f64), ProbeError> {
    let xs = standardiser.apply(data.x, rows);
    let labels = rows.iter().map(|&i| data.labels[i].as_slice()).collect();
    let objective = Objective::new(&xs, data.d, labels, data.task, l2);
    let err = |e: argmin::core::Error| ProbeError(e.to_string());
    let solver = LBFGS::new(MoreThuenteLineSearch::new(), 10)
        .with_tolerance_grad(1e-6)
        .map_err(err)?
        .with_tolerance_cost(1e-10)
        .map_err(err)?;
    let fallback = init.clone();
    let result = Executor::new(&objective, solver)
        .configure(|s| s.param(init).max_iters(max_iters))
        .run()
        .map_err(err)?;
    let p = result.state().get_best_param().cloned().unwrap_or(fallback);
    if p.iter().any(|v| !v.is_finite()) {
        return Err(ProbeError("non-finite parameters".into()));
    }
    let mut g = vec![0.0; p.len()];
    objective.eval(&p, Some(&mut g));
    let gmax = g.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    Ok((p, gmax))
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
            // Strongest first, each fit warm-started from the previous one.
            let mut p = zeros.clone();
            for (acc, &l) in mean_acc.iter_mut().zip(&grid) {
                p = solve(data, &standardiser, &fold.fit, l, p, cfg.max_iters)?.0;
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
    let (p, _) = solve(data, &standardiser, train_rows, l2, zeros, cfg.max_iters)?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matpac::rng::Rng;

    /// `n` rows of `d` standard-normal features, labels from a noisy linear rule.
    fn problem(
        n: usize,
        d: usize,
        c: usize,
        multi: bool,
        seed: u64,
    ) -> (Vec<f32>, Vec<Vec<usize>>) {
        let mut rng = Rng::new(seed);
        let x: Vec<f32> = (0..n * d).map(|_| rng.normal() as f32).collect();
        let labels = (0..n)
            .map(|i| {
                let first = (x[i * d].abs() * c as f32) as usize % c;
                let second = (first + 1 + rng.below(c as u64 - 1) as usize) % c;
                if multi && rng.next_f64() < 0.3 {
                    vec![first, second]
                } else {
                    vec![first]
                }
            })
            .collect();
        (x, labels)
    }

    /// The analytic gradient equals central differences of the objective.
    /// Step 1e-5 in f64: truncation and rounding errors stay below 1e-7, so
    /// 1e-6 catches any wrong term (they are of order 1e-2 here).
    #[test]
    fn gradient_matches_finite_differences() {
        for (task, multi) in [(Task::SingleLabel, false), (Task::MultiLabel, true)] {
            let (n, d, c) = (40, 3, 4);
            let (x, labels) = problem(n, d, c, multi, 7);
            let objective = Objective::new(
                &x,
                d,
                labels.iter().map(Vec::as_slice).collect(),
                task,
                0.05,
            );
            let mut rng = Rng::new(3);
            let p: Vec<f64> = (0..c * (d + 1)).map(|_| 0.5 * rng.normal()).collect();
            let mut g = vec![0.0; p.len()];
            objective.eval(&p, Some(&mut g));
            for k in 0..p.len() {
                let h = 1e-5;
                let (mut up, mut down) = (p.clone(), p.clone());
                up[k] += h;
                down[k] -= h;
                let numeric = (objective.eval(&up, None) - objective.eval(&down, None)) / (2.0 * h);
                assert!(
                    (numeric - g[k]).abs() < 1e-6,
                    "{task:?} parameter {k}: analytic {} numeric {numeric}",
                    g[k]
                );
            }
        }
    }

    /// L-BFGS reaches the optimum of the convex objective: the gradient there
    /// is zero to within the solver's tolerance (1e-6, checked at 1e-5 since
    /// the solver may stop on the cost tolerance first).
    #[test]
    fn solver_reaches_a_stationary_point() {
        for (task, multi) in [(Task::SingleLabel, false), (Task::MultiLabel, true)] {
            let (n, d, c) = (300, 8, 5);
            let (x, labels) = problem(n, d, c, multi, 11);
            let data = ProbeData {
                x: &x,
                d,
                labels: &labels,
                n_classes: c,
                task,
            };
            let rows: Vec<usize> = (0..n).collect();
            let standardiser = Standardiser::fit(&x, d, &rows);
            for l2 in [1e-1, 1e-3] {
                let (_, gmax) =
                    solve(&data, &standardiser, &rows, l2, vec![0.0; c * (d + 1)], 500).unwrap();
                assert!(gmax < 1e-5, "{task:?} λ {l2}: |gradient| {gmax}");
            }
        }
    }
}
