//! The probe over all splits of a data set: for each split, a validation set
//! carved out of the training side by group (unless the data set gives one),
//! a probe trained with early stopping, test metrics; the confusion matrices
//! of all splits summed.

use super::EvalError;
use super::probe::{ProbeConfig, ProbeData, Task, mean_std, train};
use crate::data::dataset::Dataset;
use crate::data::splits::{SplitIndices, crossing_group, validation};

/// What one split gave.
#[derive(Debug, Clone, PartialEq)]
pub struct SplitOutcome {
    /// Split name.
    pub name: String,
    /// Clips the probe was fitted on.
    pub n_fit: usize,
    /// Validation clips (early stopping).
    pub n_val: usize,
    /// Test clips.
    pub n_test: usize,
    /// Test accuracy.
    pub accuracy: f64,
    /// Test mAP (multi-label).
    pub map: Option<f64>,
    /// Epochs run / epoch kept.
    pub epochs: (usize, usize),
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
        let (fit, val) = if s.val.is_empty() {
            validation(ds, &s.train, cfg.seed.wrapping_add(k as u64))
        } else {
            (s.train.clone(), s.val.clone())
        };
        for (a, b, what) in [
            (&s.train, &s.test, "train and test"),
            (&s.val, &s.test, "validation and test"),
        ] {
            if let Some(g) = crossing_group(ds, a, b) {
                return Err(fail(format!("group `{g}` is in both {what}")));
            }
        }
        if fit != val
            && let Some(g) = crossing_group(ds, &fit, &val)
        {
            return Err(fail(format!("group `{g}` is in both fit and validation")));
        }
        let probe = train(&data, &fit, &val, cfg);
        let m = probe.evaluate(x, &labels, &s.test);
        for (row, add) in confusion.iter_mut().zip(&m.confusion) {
            row.iter_mut().zip(add).for_each(|(a, b)| *a += b);
        }
        out.push(SplitOutcome {
            name: s.name.clone(),
            n_fit: fit.len(),
            n_val: val.len(),
            n_test: s.test.len(),
            accuracy: m.accuracy,
            map: m.map,
            epochs: (probe.epochs, probe.best_epoch),
        });
    }
    Ok(ProbeOutcome {
        task,
        splits: out,
        confusion,
    })
}
