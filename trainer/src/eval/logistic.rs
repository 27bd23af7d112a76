//! L2-regularised logistic regression, softmax or per-class sigmoids, solved
//! to convergence by L-BFGS (the `argmin` crate): the optimiser behind the
//! linear probe (`eval/probe.rs`). The objective is the mean loss over the
//! rows plus λ/2 ‖W‖² (bias unpenalised); its two matrix products per
//! evaluation go through ndarray.

use std::cell::RefCell;

use argmin::core::{CostFunction, Executor, Gradient, State};
use argmin::solver::linesearch::MoreThuenteLineSearch;
use argmin::solver::quasinewton::LBFGS;
use ndarray::{Array2, ArrayView1, ArrayView2, Axis};

/// Single-label (softmax) or multi-label (sigmoids).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Task {
    /// One label per clip.
    SingleLabel,
    /// Any number of labels per clip.
    MultiLabel,
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

/// Minimises the objective of `x` (`[rows, d]`, standardised) with
/// `labels` at strength `l2` by L-BFGS, from `init` (`[W (classes × d), b
/// (classes)]`); returns the parameters and the final gradient's largest
/// absolute entry, or a one-line reason.
pub fn fit(
    x: &[f32],
    d: usize,
    labels: Vec<&[usize]>,
    task: Task,
    l2: f64,
    init: Vec<f64>,
    max_iters: u64,
) -> Result<(Vec<f64>, f64), String> {
    let objective = Objective::new(x, d, labels, task, l2);
    let err = |e: argmin::core::Error| format!("the L-BFGS solver failed ({e})");
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
        return Err("the L-BFGS solver reached non-finite parameters".into());
    }
    let mut g = vec![0.0; p.len()];
    objective.eval(&p, Some(&mut g));
    let gmax = g.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    Ok((p, gmax))
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
            for l2 in [1e-1, 1e-3] {
                let rows = labels.iter().map(Vec::as_slice).collect();
                let (_, gmax) = fit(&x, d, rows, task, l2, vec![0.0; c * (d + 1)], 500).unwrap();
                assert!(gmax < 1e-5, "{task:?} λ {l2}: |gradient| {gmax}");
            }
        }
    }
}
