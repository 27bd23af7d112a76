//! Train/test splits for the probe, always by group: a group (near-duplicates:
//! takes of one sound, one program's pitches, one kit, one source recording)
//! never has clips on both sides.
//!
//! Which splits ([`plan`]): `--folds K` forces K group folds; otherwise a given
//! `split` column is used as given (one split); otherwise the data set's folds
//! (leave one fold out); otherwise 5 group folds. Group folds are stratified:
//! groups are dealt, label by label, to the fold with the fewest clips of that
//! label. Validation sets for early stopping ([`validation`]) are carved out of
//! the training side the same way, by group.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::dataset::{DataError, Dataset, Split};

/// Default number of group folds when a data set has neither folds nor a split.
pub const DEFAULT_FOLDS: usize = 5;
/// Share of the training side held out for early stopping.
pub const VALIDATION_FRACTION: f64 = 0.15;

/// One train/test split: indices into [`Dataset::clips`].
#[derive(Debug, Clone, PartialEq)]
pub struct SplitIndices {
    /// Name for reports (`given`, `fold 3`, `group fold 2/5`).
    pub name: String,
    /// Training side (validation included unless `val` is set).
    pub train: Vec<usize>,
    /// Validation clips given by the data set (`split = val`); else empty.
    pub val: Vec<usize>,
    /// Test side.
    pub test: Vec<usize>,
}

/// 64-bit FNV-1a: a stable hash for seeded orders and cache keys.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ b as u64).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The splits the probe runs on (see the module docs).
pub fn plan(ds: &Dataset, folds: Option<usize>, seed: u64) -> Result<Vec<SplitIndices>, DataError> {
    let all: Vec<usize> = (0..ds.clips.len()).collect();
    let too_small = |reason: String| DataError::TooSmall {
        path: ds.source.clone(),
        reason,
    };
    if let Some(k) = folds {
        return group_folds(ds, &all, k, seed)
            .map_err(too_small)
            .map(|f| folds_to_splits(&f, k, "group fold"));
    }
    if ds.clips.iter().any(|c| c.split.is_some()) {
        let side = |s: Split| -> Vec<usize> {
            all.iter()
                .copied()
                .filter(|&i| ds.clips[i].split == Some(s))
                .collect()
        };
        let (train, val, test) = (side(Split::Train), side(Split::Val), side(Split::Test));
        if train.is_empty() || test.is_empty() {
            return Err(too_small(format!(
                "the split column gives {} train and {} test clips; both are needed",
                train.len(),
                test.len()
            )));
        }
        return Ok(vec![SplitIndices {
            name: "given".into(),
            train,
            val,
            test,
        }]);
    }
    let given: BTreeSet<u32> = ds.clips.iter().filter_map(|c| c.fold).collect();
    if given.len() >= 2 {
        return Ok(given
            .iter()
            .map(|&f| SplitIndices {
                name: format!("fold {f}"),
                train: all
                    .iter()
                    .copied()
                    .filter(|&i| ds.clips[i].fold != Some(f))
                    .collect(),
                val: Vec::new(),
                test: all
                    .iter()
                    .copied()
                    .filter(|&i| ds.clips[i].fold == Some(f))
                    .collect(),
            })
            .collect());
    }
    let groups: BTreeSet<&str> = ds.clips.iter().map(|c| c.group.as_str()).collect();
    let k = DEFAULT_FOLDS.min(groups.len());
    group_folds(ds, &all, k, seed)
        .map_err(too_small)
        .map(|f| folds_to_splits(&f, k, "group fold"))
}

fn folds_to_splits(fold_of: &[(usize, usize)], k: usize, what: &str) -> Vec<SplitIndices> {
    (0..k)
        .map(|f| SplitIndices {
            name: format!("{what} {}/{k}", f + 1),
            train: fold_of
                .iter()
                .filter(|&&(_, g)| g != f)
                .map(|&(i, _)| i)
                .collect(),
            val: Vec::new(),
            test: fold_of
                .iter()
                .filter(|&&(_, g)| g == f)
                .map(|&(i, _)| i)
                .collect(),
        })
        .collect()
}

/// Deals the groups of `subset` into `k` folds, stratified by each group's most
/// frequent label: returns `(clip index, fold)` for every clip of `subset`.
pub fn group_folds(
    ds: &Dataset,
    subset: &[usize],
    k: usize,
    seed: u64,
) -> Result<Vec<(usize, usize)>, String> {
    // group → its clips, in first-seen order.
    let mut members: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for &i in subset {
        members
            .entry(ds.clips[i].group.as_str())
            .or_default()
            .push(i);
    }
    if k < 2 || members.len() < k {
        return Err(format!(
            "{} group(s) cannot make {k} folds (at least 2 folds, one group each)",
            members.len()
        ));
    }
    let mut by_label: BTreeMap<usize, Vec<(&str, usize)>> = BTreeMap::new();
    for (g, clips) in &members {
        let mut count: HashMap<usize, usize> = HashMap::new();
        for &i in clips {
            for &l in &ds.clips[i].labels {
                *count.entry(l).or_default() += 1;
            }
        }
        let main = count
            .iter()
            .max_by_key(|&(&l, &n)| (n, std::cmp::Reverse(l)))
            .map_or(0, |(&l, _)| l);
        by_label.entry(main).or_default().push((g, clips.len()));
    }
    let seed_bytes = seed.to_le_bytes();
    let mut per_fold_total = vec![0usize; k];
    let mut fold_of_group: HashMap<&str, usize> = HashMap::new();
    for groups in by_label.values_mut() {
        // Largest groups first; ties in a seeded pseudo-random order.
        groups.sort_by_key(|&(g, n)| {
            let h = fnv1a(&[&seed_bytes[..], g.as_bytes()].concat());
            (std::cmp::Reverse(n), h)
        });
        let mut per_fold = vec![0usize; k];
        for &(g, n) in groups.iter() {
            let f = (0..k)
                .min_by_key(|&f| (per_fold[f], per_fold_total[f], f))
                .expect("k ≥ 2");
            per_fold[f] += n;
            per_fold_total[f] += n;
            fold_of_group.insert(g, f);
        }
    }
    if let Some(f) = (0..k).find(|&f| per_fold_total[f] == 0) {
        return Err(format!("group fold {} is empty", f + 1));
    }
    Ok(subset
        .iter()
        .map(|&i| (i, fold_of_group[ds.clips[i].group.as_str()]))
        .collect())
}

/// Group folds of a training side for choosing hyper-parameters: `k` (at most
/// the number of groups) pairs of (fit, validation) clip indices, every group
/// in exactly one validation part. Empty with fewer than two groups.
pub fn selection_folds(
    ds: &Dataset,
    train: &[usize],
    k: usize,
    seed: u64,
) -> Vec<(Vec<usize>, Vec<usize>)> {
    let groups: BTreeSet<&str> = train.iter().map(|&i| ds.clips[i].group.as_str()).collect();
    let k = k.min(groups.len());
    let Ok(fold_of) = group_folds(ds, train, k, seed ^ 0x7365_6c65_6374) else {
        return Vec::new();
    };
    (0..k)
        .map(|f| {
            let side = |val: bool| {
                fold_of
                    .iter()
                    .filter(|&&(_, g)| (g == f) == val)
                    .map(|&(i, _)| i)
                    .collect()
            };
            (side(false), side(true))
        })
        .collect()
}

/// Splits a training side into (fit, validation) by group, about
/// [`VALIDATION_FRACTION`] of the clips in validation, stratified by label.
/// With fewer than two groups the validation set is the training set itself
/// (early stopping then watches the training loss).
pub fn validation(ds: &Dataset, train: &[usize], seed: u64) -> (Vec<usize>, Vec<usize>) {
    let groups: BTreeSet<&str> = train.iter().map(|&i| ds.clips[i].group.as_str()).collect();
    if groups.len() < 2 {
        return (train.to_vec(), train.to_vec());
    }
    let k = ((1.0 / VALIDATION_FRACTION).round() as usize).clamp(2, groups.len());
    match group_folds(ds, train, k, seed ^ 0x7661_6c69_6461_7465) {
        Ok(folds) => {
            let fit = folds.iter().filter(|f| f.1 != 0).map(|f| f.0).collect();
            let val = folds.iter().filter(|f| f.1 == 0).map(|f| f.0).collect();
            (fit, val)
        }
        Err(_) => (train.to_vec(), train.to_vec()),
    }
}

/// The first group found on both sides of a split, if any.
pub fn crossing_group<'a>(ds: &'a Dataset, a: &[usize], b: &[usize]) -> Option<&'a str> {
    let left: BTreeSet<&str> = a.iter().map(|&i| ds.clips[i].group.as_str()).collect();
    b.iter()
        .map(|&i| ds.clips[i].group.as_str())
        .find(|g| left.contains(g))
}
