//! Readers for the layouts users already have: folder-per-class, ESC-50,
//! UrbanSound8K, and a generic CSV with a header (our corpus manifests are
//! generic CSVs with `split` and `group` columns).
//!
//! [`open`] picks the layout: a `.csv` file is read as a generic CSV; a folder
//! with `meta/esc50.csv` as ESC-50, with `metadata/UrbanSound8K.csv` as
//! UrbanSound8K, with `manifest.csv` as that CSV; any other folder as
//! folder-per-class. Errors name the CSV line (header = line 1).
//!
//! One file per layout: [`csv`] (generic CSV and manifests), [`numbered`]
//! (ESC-50, UrbanSound8K), [`folder`] (folder per class); [`table`] reads CSV text.

mod csv;
mod folder;
pub use folder::walk_audio;
mod numbered;
mod table;

use std::path::Path;

pub use csv::read_csv;
pub use folder::read_folder_per_class;
pub use numbered::{read_esc50, read_urbansound8k};

use super::dataset::{Clip, DataError, Dataset, Layout};

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

pub(super) fn name_of(path: &Path) -> String {
    path.file_stem()
        .unwrap_or(path.as_os_str())
        .to_string_lossy()
        .into_owned()
}

pub(super) fn finish(
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
