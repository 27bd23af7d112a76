//! The probe over all splits of a data set: for each split, the probe's L2
//! strength chosen on group folds of the training side (or on the data set's
//! own validation clips), the probe refitted on the whole training side, test
//! metrics; the confusion matrices of all splits summed.

use super::EvalError;
use super::probe::{Fold, ProbeConfig, ProbeData, Task, mean_std, train};
use crate::data::dataset::Dataset;
use crate::data::splits::{SplitIndices, crossing_group, selection_folds};

/// Group folds of the training side that choose the probe's L2 strength.
pub const SELECTION_FOLDS: usize = 5;

/// What one split gave.
#[derive(Debug, Clone, PartialEq)]
pub struct SplitOutcome {
    /// Split name.
    pub name: String,
    /// Clips the final probe was fitted on (the whole training side).
    pub n_fit: usize,
    /// Folds that chose the L2 strength (0: the grid's middle value).
    pub n_folds: usize,
    /// Test clips.
    pub n_test: usize,
    /// Test accuracy.
    pub accuracy: f64,
    /// Test mAP (multi-label).
    pub map: Option<f64>,
    /// The L2 strength chosen.
    pub l2: f64,
}

/// What the probe gave on a data set.
#[derive(Debug, Clone, PartialEq)]
pub struct ProbeOutcome {
    /// Single- or multi-label.
    pub task: Task,
    /// One per split.
    pub splits: Vec<SplitOutcome>,
    /// Confusion matrix summed over splits.
    pub confusion: Vec<Vec<u32>>,
}

impl ProbeOutcome {
    /// Accuracies of the splits.
    pub fn accuracies(&self) -> Vec<f64> {
        self.splits.iter().map(|s| s.accuracy).collect()
    }

    /// mAPs of the splits (empty for single-label).
    pub fn maps(&self) -> Vec<f64> {
        self.splits.iter().filter_map(|s| s.map).collect()
    }

    /// `accuracy MEAN ± STD over K splits` (percent).
    pub fn summary(&self) -> String {
        let (m, s) = mean_std(&self.accuracies());
        format!(
            "accuracy {:.2} ± {:.2} over {} split{}",
            100.0 * m,
            100.0 * s,
            self.splits.len(),
            if self.splits.len() == 1 { "" } else { "s" }
        )
    }
}

/// Probes embeddings `x` (`[clips, width]`, in `ds.clips` order) on `splits`.
/// Fails if a group has clips on two sides (fit, validation, test) of a split.
pub fn probe_dataset(
    ds: &Dataset,
    x: &[f32],
    width: usize,
    splits: &[SplitIndices],
    cfg: &ProbeConfig,
) -> Result<ProbeOutcome, EvalError> {
    let labels = ds.label_sets();
    let task = if ds.is_multi_label() {
        Task::MultiLabel
    } else {
        Task::SingleLabel
    };
    let data = ProbeData {
        x,
        d: width,
        labels: &labels,
        n_classes: ds.labels.len(),
        task,
    };
    let c = ds.labels.len();
    let mut confusion = vec![vec![0u32; c]; c];
    let mut out = Vec::with_capacity(splits.len());
    for (k, s) in splits.iter().enumerate() {
        let fail = |reason: String| EvalError::Split {
            split: s.name.clone(),
            reason,
        };
        if s.train.is_empty() || s.test.is_empty() {
            return Err(fail("an empty train or test side".into()));
        }
        for (a, b, what) in [
            (&s.train, &s.test, "train and test"),
            (&s.val, &s.test, "validation and test"),
            (&s.train, &s.val, "train and validation"),
        ] {
            if let Some(g) = crossing_group(ds, a, b) {
                return Err(fail(format!("group `{g}` is in both {what}")));
            }
        }
        let (train_rows, folds): (Vec<usize>, Vec<Fold>) = if s.val.is_empty() {
            let folds = selection_folds(
                ds,
                &s.train,
                SELECTION_FOLDS,
                cfg.seed.wrapping_add(k as u64),
            );
            for (fit, val) in &folds {
                if let Some(g) = crossing_group(ds, fit, val) {
                    return Err(fail(format!("group `{g}` is in both fit and validation")));
                }
            }
            let folds = folds
                .into_iter()
                .map(|(fit, val)| Fold { fit, val })
                .collect();
            (s.train.clone(), folds)
        } else {
            let fold = Fold {
                fit: s.train.clone(),
                val: s.val.clone(),
            };
            ([&s.train[..], &s.val[..]].concat(), vec![fold])
        };
        let probe = train(&data, &train_rows, &folds, cfg).map_err(|e| fail(e.to_string()))?;
        let m = probe.evaluate(x, &labels, &s.test);
        for (row, add) in confusion.iter_mut().zip(&m.confusion) {
            row.iter_mut().zip(add).for_each(|(a, b)| *a += b);
        }
        out.push(SplitOutcome {
            name: s.name.clone(),
            n_fit: train_rows.len(),
            n_folds: folds.len(),
            n_test: s.test.len(),
            accuracy: m.accuracy,
            map: m.map,
            l2: probe.l2,
        });
    }
    Ok(ProbeOutcome {
        task,
        splits: out,
        confusion,
    })
}
