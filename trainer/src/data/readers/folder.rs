//! Folder per class.

use std::path::{Path, PathBuf};

use super::{AUDIO_EXTENSIONS, finish};
use crate::data::dataset::{Clip, DataError, Dataset, Layout};

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
        walk_audio(&dir, &mut files).map_err(io(&dir))?;
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

/// Appends every WAV/FLAC/OGG file under `dir` (recursive, any case of extension) to `out`.
pub fn walk_audio(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            walk_audio(&path, out)?;
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
