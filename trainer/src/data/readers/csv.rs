//! Generic CSV with a header (our corpus manifests included).

use std::collections::{BTreeSet, HashMap};
use std::path::Path;

use super::table::Table;
use super::{finish, name_of};
use crate::data::dataset::{Clip, DataError, Dataset, Layout, Split};

/// Generic CSV with a header: a path column (`path`, `filename`, `file`), a label
/// column (`label`, `labels`, `category`, `class`; several labels joined by `;`),
/// and optional `split` (`train`/`val`/`test`), `group` and `fold` columns; other
/// columns are ignored. Relative paths are resolved against the CSV's folder.
///
/// With a `split` column every row needs a split, a test or validation label must
/// also occur on the training side, and a group may not cross the split.
pub fn read_csv(file: &Path) -> Result<Dataset, DataError> {
    let t = Table::read(file)?;
    let base = file.parent().unwrap_or(Path::new("."));
    let c_path = t.require(&["path", "filename", "file", "slice_file_name"])?;
    let c_label = t.require(&["label", "labels", "category", "class"])?;
    let (c_split, c_group, c_fold) = (
        t.column(&["split"]),
        t.column(&["group"]),
        t.column(&["fold"]),
    );
    let mut names = BTreeSet::new();
    let mut raw = Vec::with_capacity(t.rows.len());
    for (row, f) in &t.rows {
        let row = *row;
        let path = t.existing(row, base, &f[c_path])?;
        let labels: Vec<&str> = f[c_label].split(';').map(str::trim).collect();
        if labels.iter().any(|l| l.is_empty()) {
            return Err(t.bad(
                row,
                format!("empty label in `{}` (labels are joined by `;`)", f[c_label]),
            ));
        }
        let split = match c_split {
            Some(c) => Some(Split::parse(&f[c]).ok_or_else(|| {
                t.bad(
                    row,
                    format!("split `{}` is not one of train, val, test", f[c]),
                )
            })?),
            None => None,
        };
        let fold = match c_fold {
            Some(c) => Some(t.fold(row, &f[c])?),
            None => None,
        };
        let group = match c_group {
            Some(c) if f[c].is_empty() => return Err(t.bad(row, "empty group")),
            Some(c) => f[c].clone(),
            None => f[c_path].clone(),
        };
        names.extend(labels.iter().map(|l| l.to_string()));
        let labels: Vec<String> = labels.iter().map(|l| l.to_string()).collect();
        raw.push((row, path, labels, group, fold, split));
    }
    let labels: Vec<String> = names.into_iter().collect();
    let index: HashMap<&str, usize> = labels
        .iter()
        .enumerate()
        .map(|(i, l)| (l.as_str(), i))
        .collect();
    let clips: Vec<Clip> = raw
        .into_iter()
        .map(|(row, path, ls, group, fold, split)| {
            let mut labels: Vec<usize> = ls.iter().map(|l| index[l.as_str()]).collect();
            labels.sort_unstable();
            labels.dedup();
            Clip {
                path,
                labels,
                group,
                fold,
                split,
                row,
            }
        })
        .collect();
    if c_split.is_some() {
        check_given_split(file, &labels, &clips)?;
    }
    let name = if file.file_name().is_some_and(|n| n == "manifest.csv") {
        base.file_name()
            .map_or_else(|| name_of(file), |n| n.to_string_lossy().into_owned())
    } else {
        name_of(file)
    };
    finish(name, file, Layout::Csv, labels, clips)
}

/// A given split must train on every label it tests and keep groups on one side.
fn check_given_split(file: &Path, labels: &[String], clips: &[Clip]) -> Result<(), DataError> {
    let trained: BTreeSet<usize> = clips
        .iter()
        .filter(|c| c.split == Some(Split::Train))
        .flat_map(|c| c.labels.iter().copied())
        .collect();
    for c in clips.iter().filter(|c| c.split != Some(Split::Train)) {
        if let Some(&l) = c.labels.iter().find(|l| !trained.contains(l)) {
            return Err(DataError::UnknownLabel {
                file: file.to_path_buf(),
                row: c.row,
                label: labels[l].clone(),
                reason: "it has no clip in the train split, so the probe cannot learn it".into(),
            });
        }
    }
    let mut side: HashMap<&str, (bool, usize)> = HashMap::new();
    for c in clips {
        let test = c.split == Some(Split::Test);
        match side.get(c.group.as_str()) {
            Some(&(t, row)) if t != test => {
                return Err(DataError::GroupCrossesSplit {
                    file: file.to_path_buf(),
                    row: c.row,
                    group: c.group.clone(),
                    other: format!("{} at row {row}", if t { "test" } else { "train/val" }),
                });
            }
            Some(_) => {}
            None => {
                side.insert(&c.group, (test, c.row));
            }
        }
    }
    Ok(())
}
