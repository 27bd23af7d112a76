//! Data sets with numbered classes and folds: ESC-50 and UrbanSound8K.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use super::table::Table;
use super::{finish, name_of};
use crate::data::dataset::{Clip, DataError, Dataset, Layout};

/// Reads a numbered-class table (ESC-50 `target,category`, UrbanSound8K
/// `classID,class`): the id and the name must agree on every row.
fn numbered_labels(
    t: &Table,
    c_id: usize,
    c_name: usize,
) -> Result<(Vec<String>, Vec<usize>), DataError> {
    let mut by_id: BTreeMap<u32, (String, usize)> = BTreeMap::new();
    let mut ids = Vec::with_capacity(t.rows.len());
    for (row, f) in &t.rows {
        let id: u32 = f[c_id].parse().map_err(|_| {
            t.bad(
                *row,
                format!("class id `{}` is not a whole number", f[c_id]),
            )
        })?;
        let name = &f[c_name];
        if name.is_empty() {
            return Err(t.bad(*row, "empty class name"));
        }
        match by_id.get(&id) {
            Some((n, first)) if n != name => {
                return Err(DataError::UnknownLabel {
                    file: t.file.clone(),
                    row: *row,
                    label: name.clone(),
                    reason: format!("class id {id} is `{n}` at row {first}"),
                });
            }
            Some(_) => {}
            None => {
                if let Some((other, (_, first))) = by_id.iter().find(|(_, (n, _))| n == name) {
                    return Err(DataError::UnknownLabel {
                        file: t.file.clone(),
                        row: *row,
                        label: name.clone(),
                        reason: format!("it has class id {other} at row {first}, here {id}"),
                    });
                }
                by_id.insert(id, (name.clone(), *row));
            }
        }
        ids.push(id);
    }
    let order: HashMap<u32, usize> = by_id.keys().enumerate().map(|(i, &id)| (id, i)).collect();
    let labels = by_id.into_values().map(|(n, _)| n).collect();
    Ok((labels, ids.iter().map(|id| order[id]).collect()))
}

/// ESC-50: `meta/esc50.csv` (`filename,fold,target,category,…,src_file,…`),
/// clips in `audio/`; the five folds are the splits, `src_file` is the group.
pub fn read_esc50(root: &Path) -> Result<Dataset, DataError> {
    let file = root.join("meta/esc50.csv");
    let t = Table::read(&file)?;
    let c_file = t.require(&["filename"])?;
    let c_fold = t.require(&["fold"])?;
    let c_target = t.require(&["target"])?;
    let c_cat = t.require(&["category"])?;
    let c_src = t.column(&["src_file"]);
    let (labels, idx) = numbered_labels(&t, c_target, c_cat)?;
    let audio = root.join("audio");
    let mut clips = Vec::with_capacity(t.rows.len());
    for ((row, f), label) in t.rows.iter().zip(idx) {
        clips.push(Clip {
            path: t.existing(*row, &audio, &f[c_file])?,
            labels: vec![label],
            group: c_src.map_or_else(|| f[c_file].clone(), |c| format!("src:{}", f[c])),
            fold: Some(t.fold(*row, &f[c_fold])?),
            split: None,
            row: *row,
        });
    }
    finish(name_of(root), root, Layout::Esc50, labels, clips)
}

/// UrbanSound8K: `metadata/UrbanSound8K.csv`
/// (`slice_file_name,fsID,start,end,salience,fold,classID,class`), clips in
/// `audio/foldN/`; the ten folds are the splits, the Freesound id is the group.
pub fn read_urbansound8k(root: &Path) -> Result<Dataset, DataError> {
    let file = root.join("metadata/UrbanSound8K.csv");
    let t = Table::read(&file)?;
    let c_file = t.require(&["slice_file_name"])?;
    let c_fold = t.require(&["fold"])?;
    let c_id = t.require(&["classid"])?;
    let c_class = t.require(&["class"])?;
    let c_fs = t.column(&["fsid"]);
    let (labels, idx) = numbered_labels(&t, c_id, c_class)?;
    let mut clips = Vec::with_capacity(t.rows.len());
    for ((row, f), label) in t.rows.iter().zip(idx) {
        let fold = t.fold(*row, &f[c_fold])?;
        let dir = root.join("audio").join(format!("fold{fold}"));
        clips.push(Clip {
            path: t.existing(*row, &dir, &f[c_file])?,
            labels: vec![label],
            group: c_fs.map_or_else(|| f[c_file].clone(), |c| format!("fs:{}", f[c])),
            fold: Some(fold),
            split: None,
            row: *row,
        });
    }
    finish(name_of(root), root, Layout::UrbanSound8k, labels, clips)
}
