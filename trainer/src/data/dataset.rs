//! A labelled data set as the probe sees it: clips with labels, groups and,
//! where the data set has them, folds or a given train/test split.

use std::path::{Path, PathBuf};

/// Which side of a given split a clip is on (`split` column).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Split {
    /// Training side.
    Train,
    /// Validation side (used for early stopping only).
    Val,
    /// Test side.
    Test,
}

impl Split {
    /// Parses `train`, `val`/`valid`/`validation`/`dev` or `test` (any case).
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "train" | "training" => Some(Self::Train),
            "val" | "valid" | "validation" | "dev" => Some(Self::Val),
            "test" | "eval" | "evaluation" => Some(Self::Test),
            _ => None,
        }
    }
}

/// The on-disk layout a data set was read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// `ROOT/<class>/…/<clip>.{wav,flac,ogg}`.
    FolderPerClass,
    /// ESC-50: `ROOT/meta/esc50.csv`, clips in `ROOT/audio/`.
    Esc50,
    /// UrbanSound8K: `ROOT/metadata/UrbanSound8K.csv`, clips in `ROOT/audio/foldN/`.
    UrbanSound8k,
    /// A CSV with a header: `path,label[;label…]` and optional `split`, `group`, `fold`.
    Csv,
}

/// One labelled clip.
#[derive(Debug, Clone, PartialEq)]
pub struct Clip {
    /// Audio file (resolved, exists).
    pub path: PathBuf,
    /// Indices into [`Dataset::labels`]; one for single-label data, sorted and distinct.
    pub labels: Vec<usize>,
    /// Near-duplicate group: clips of one group always stay on one side of a split.
    pub group: String,
    /// Fold number from the data set (ESC-50, UrbanSound8K, a `fold` column).
    pub fold: Option<u32>,
    /// Given split (`split` column).
    pub split: Option<Split>,
    /// Line of the CSV it came from (the header is line 1); 0 for folder layouts.
    pub row: usize,
}

/// A labelled data set.
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    /// Short name (folder or CSV stem), for tables.
    pub name: String,
    /// Where it was read from (folder or CSV file).
    pub source: PathBuf,
    /// Layout it was read as.
    pub layout: Layout,
    /// Label names; a clip's labels index this list.
    pub labels: Vec<String>,
    /// Clips in file order.
    pub clips: Vec<Clip>,
}

impl Dataset {
    /// Whether any clip has more than one label (probe with sigmoids and report mAP).
    pub fn is_multi_label(&self) -> bool {
        self.clips.iter().any(|c| c.labels.len() > 1)
    }

    /// Clip paths in order.
    pub fn paths(&self) -> Vec<PathBuf> {
        self.clips.iter().map(|c| c.path.clone()).collect()
    }

    /// Label lists in clip order.
    pub fn label_sets(&self) -> Vec<Vec<usize>> {
        self.clips.iter().map(|c| c.labels.clone()).collect()
    }
}

/// Why a data set could not be read. Row errors give the CSV line (header = line 1).
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// A file or folder could not be read.
    #[error("{path}: {source}")]
    Io {
        /// File or folder.
        path: PathBuf,
        /// OS error.
        source: std::io::Error,
    },
    /// Not a data set layout we read.
    #[error(
        "{path}: not a data set: expected a CSV file, a folder with meta/esc50.csv, \
         metadata/UrbanSound8K.csv or manifest.csv, or a folder of class folders"
    )]
    NotADataset {
        /// What was given.
        path: PathBuf,
    },
    /// A required column is missing from the header.
    #[error("{file}: line 1: the header has no `{column}` column (header: `{header}`)")]
    MissingColumn {
        /// CSV file.
        file: PathBuf,
        /// Column name(s) looked for.
        column: String,
        /// The header as read.
        header: String,
    },
    /// A malformed row.
    #[error("{file}: row {row}: {reason}")]
    BadRow {
        /// CSV file.
        file: PathBuf,
        /// Line number (header = 1).
        row: usize,
        /// What is wrong.
        reason: String,
    },
    /// A row names an audio file that does not exist.
    #[error("{file}: row {row}: audio file `{clip}` not found (looked for {resolved})")]
    MissingFile {
        /// CSV file.
        file: PathBuf,
        /// Line number (header = 1).
        row: usize,
        /// The path as written.
        clip: String,
        /// Where it was looked for.
        resolved: PathBuf,
    },
    /// A label that the rest of the data set does not allow.
    #[error("{file}: row {row}: unknown label `{label}`: {reason}")]
    UnknownLabel {
        /// CSV file.
        file: PathBuf,
        /// Line number (header = 1).
        row: usize,
        /// The label.
        label: String,
        /// Why it is unknown.
        reason: String,
    },
    /// A group has clips on both sides of a given split.
    #[error(
        "{file}: row {row}: group `{group}` is on both sides of the split (it is also {other})"
    )]
    GroupCrossesSplit {
        /// CSV file.
        file: PathBuf,
        /// Line number (header = 1).
        row: usize,
        /// The group.
        group: String,
        /// The other side.
        other: String,
    },
    /// Too little data to probe.
    #[error("{path}: {reason}")]
    TooSmall {
        /// Data set.
        path: PathBuf,
        /// What is missing.
        reason: String,
    },
}

/// `path` relative to `base` unless absolute.
pub fn resolve(base: &Path, path: &str) -> PathBuf {
    let p = Path::new(path);
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        base.join(p)
    }
}
