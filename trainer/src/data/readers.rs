//! Readers for the layouts users already have: folder-per-class, ESC-50,
//! UrbanSound8K, and a generic CSV with a header (our corpus manifests are
//! generic CSVs with `split` and `group` columns).
//!
//! [`open`] picks the layout: a `.csv` file is read as a generic CSV; a folder
//! with `meta/esc50.csv` as ESC-50, with `metadata/UrbanSound8K.csv` as
//! UrbanSound8K, with `manifest.csv` as that CSV; any other folder as
//! folder-per-class. Errors name the CSV line (header = line 1).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use super::dataset::{Clip, DataError, Dataset, Layout, Split, resolve};

/// Audio file extensions the folder reader picks up.
pub const AUDIO_EXTENSIONS: [&str; 3] = ["wav", "flac", "ogg"];

/// Opens a data set, detecting its layout.
pub fn open(path: &Path) -> Result<Dataset, DataError> {
    if path.is_file() {
        return read_csv(path);
    }
    if !path.is_dir() {
        return Err(DataError::Io {
            path: path.to_path_buf(),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "no such file or folder"),
        });
    }
    if path.join("meta/esc50.csv").is_file() {
        read_esc50(path)
    } else if path.join("metadata/UrbanSound8K.csv").is_file() {
        read_urbansound8k(path)
    } else if path.join("manifest.csv").is_file() {
        read_csv(&path.join("manifest.csv"))
    } else {
        read_folder_per_class(path)
    }
}

/// Splits one CSV line into fields (RFC 4180 quoting: `"a,b"`, `""` inside quotes).
pub fn split_csv_line(line: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut field = String::new();
    let mut chars = line.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            (true, '"') => quoted = false,
            (false, '"') if field.is_empty() => quoted = true,
            (false, ',') => out.push(std::mem::take(&mut field)),
            (_, c) => field.push(c),
        }
    }
    if quoted {
        return Err("unterminated quoted field".into());
    }
    out.push(field);
    Ok(out)
}

/// A CSV read into a header and numbered rows (blank lines skipped).
struct Table {
    file: PathBuf,
    header: Vec<String>,
    rows: Vec<(usize, Vec<String>)>,
}

impl Table {
    fn read(file: &Path) -> Result<Self, DataError> {
        let text = std::fs::read_to_string(file).map_err(|source| DataError::Io {
            path: file.to_path_buf(),
            source,
        })?;
        let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
        let mut lines = text.lines().enumerate().map(|(i, l)| (i + 1, l));
        let bad = |row, reason: String| DataError::BadRow {
            file: file.to_path_buf(),
            row,
            reason,
        };
        let header = loop {
            match lines.next() {
                Some((_, l)) if l.trim().is_empty() => continue,
                Some((row, l)) => {
                    break split_csv_line(l)
                        .map_err(|e| bad(row, e))?
                        .into_iter()
                        .map(|h| h.trim().to_ascii_lowercase())
                        .collect::<Vec<_>>();
                }
                None => {
                    return Err(DataError::TooSmall {
                        path: file.to_path_buf(),
                        reason: "empty CSV (a header row and at least one clip are needed)".into(),
                    });
                }
            }
        };
        let mut rows = Vec::new();
        for (row, l) in lines.filter(|(_, l)| !l.trim().is_empty()) {
            let fields = split_csv_line(l).map_err(|e| bad(row, e))?;
            if fields.len() != header.len() {
                return Err(bad(
                    row,
                    format!(
                        "{} fields, the header has {} (`{}`)",
                        fields.len(),
                        header.len(),
                        l.trim()
                    ),
                ));
            }
            rows.push((
                row,
                fields.into_iter().map(|f| f.trim().to_string()).collect(),
            ));
        }
        Ok(Self {
            file: file.to_path_buf(),
            header,
            rows,
        })
    }

    /// Index of the first header name in `names`.
    fn column(&self, names: &[&str]) -> Option<usize> {
        names
            .iter()
            .find_map(|n| self.header.iter().position(|h| h == n))
    }

    fn require(&self, names: &[&str]) -> Result<usize, DataError> {
        self.column(names).ok_or_else(|| DataError::MissingColumn {
            file: self.file.clone(),
            column: names.join("` or `"),
            header: self.header.join(","),
        })
    }

    fn bad(&self, row: usize, reason: impl Into<String>) -> DataError {
        DataError::BadRow {
            file: self.file.clone(),
            row,
            reason: reason.into(),
        }
    }

    fn existing(&self, row: usize, base: &Path, clip: &str) -> Result<PathBuf, DataError> {
        if clip.is_empty() {
            return Err(self.bad(row, "empty path"));
        }
        let p = resolve(base, clip);
        if p.is_file() {
            Ok(p)
        } else {
            Err(DataError::MissingFile {
                file: self.file.clone(),
                row,
                clip: clip.to_string(),
                resolved: p,
            })
        }
    }

    fn fold(&self, row: usize, s: &str) -> Result<u32, DataError> {
        s.parse()
            .map_err(|_| self.bad(row, format!("fold `{s}` is not a whole number")))
    }
}

fn name_of(path: &Path) -> String {
    path.file_stem()
        .unwrap_or(path.as_os_str())
        .to_string_lossy()
        .into_owned()
}

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

/// Folder per class: every audio file under `ROOT/<class>/` (recursively) is
/// labelled `<class>`; files directly in `ROOT` are ignored. Each file is its own
/// group unless the class folder has subfolders, which then are the groups
/// (e.g. one folder per recording session).
pub fn read_folder_per_class(root: &Path) -> Result<Dataset, DataError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| DataError::Io { path, source }
    };
    let mut classes: Vec<PathBuf> = std::fs::read_dir(root)
        .map_err(io(root))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    classes.sort();
    let mut labels = Vec::new();
    let mut clips = Vec::new();
    for dir in classes {
        let mut files = Vec::new();
        walk(&dir, &mut files).map_err(io(&dir))?;
        if files.is_empty() {
            continue;
        }
        files.sort();
        let label = labels.len();
        labels.push(name_of_dir(&dir));
        for path in files {
            let rel = path.strip_prefix(&dir).unwrap_or(&path);
            let group = match rel.parent().filter(|p| !p.as_os_str().is_empty()) {
                Some(sub) => format!("{}/{}", labels[label], sub.display()),
                None => format!("{}/{}", labels[label], rel.display()),
            };
            clips.push(Clip {
                path,
                labels: vec![label],
                group,
                fold: None,
                split: None,
                row: 0,
            });
        }
    }
    if clips.is_empty() {
        return Err(DataError::NotADataset {
            path: root.to_path_buf(),
        });
    }
    finish(
        name_of_dir(root),
        root,
        Layout::FolderPerClass,
        labels,
        clips,
    )
}

fn name_of_dir(dir: &Path) -> String {
    dir.file_name()
        .unwrap_or(dir.as_os_str())
        .to_string_lossy()
        .into_owned()
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            walk(&path, out)?;
        } else if path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| AUDIO_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
        {
            out.push(path);
        }
    }
    Ok(())
}

fn finish(
    name: String,
    source: &Path,
    layout: Layout,
    labels: Vec<String>,
    clips: Vec<Clip>,
) -> Result<Dataset, DataError> {
    if clips.is_empty() {
        return Err(DataError::TooSmall {
            path: source.to_path_buf(),
            reason: "no clips".into(),
        });
    }
    if labels.len() < 2 {
        return Err(DataError::TooSmall {
            path: source.to_path_buf(),
            reason: format!(
                "{} label(s) ({}); a classifier needs at least two",
                labels.len(),
                labels.join(", ")
            ),
        });
    }
    Ok(Dataset {
        name,
        source: source.to_path_buf(),
        layout,
        labels,
        clips,
    })
}
