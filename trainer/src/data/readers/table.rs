//! CSV text: RFC 4180 fields (read with the `csv` crate), a header and
//! numbered rows, and the row checks every reader shares (file exists, fold is
//! a number).

use std::path::{Path, PathBuf};

use crate::data::dataset::{DataError, resolve};
use crate::io::{RecordsError, csv_record, read_records};

/// A CSV read into a header and numbered rows (blank lines skipped).
pub(super) struct Table {
    pub(super) file: PathBuf,
    pub(super) header: Vec<String>,
    pub(super) rows: Vec<(usize, Vec<String>)>,
}

impl Table {
    /// Reads `file`: the first non-blank row is the header (names trimmed and
    /// lower-cased), every other row must have as many fields (trimmed), and
    /// a row is one line (a quoted field may not span lines).
    pub(super) fn read(file: &Path) -> Result<Self, DataError> {
        let bad = |row: u64, reason: String| DataError::BadRow {
            file: file.to_path_buf(),
            row: row as usize,
            reason,
        };
        let mut reader = csv::ReaderBuilder::new();
        reader.has_headers(false).flexible(true);
        let records = read_records(file, &reader).map_err(|e| match e {
            RecordsError::Io(source) => DataError::Io {
                path: file.to_path_buf(),
                source,
            },
            RecordsError::Record { line, reason } => bad(line, reason),
        })?;
        let mut header: Option<Vec<String>> = None;
        let mut rows = Vec::new();
        for (row, record) in records {
            if record.iter().any(|f| f.contains(['\n', '\r'])) {
                return Err(bad(
                    row,
                    "unterminated quoted field (a row is one line)".into(),
                ));
            }
            let fields = record.iter().map(|f| f.trim().to_string());
            let Some(names) = &header else {
                header = Some(fields.map(|h| h.to_ascii_lowercase()).collect());
                continue;
            };
            if record.len() != names.len() {
                return Err(bad(
                    row,
                    format!(
                        "{} fields, the header has {} (`{}`)",
                        record.len(),
                        names.len(),
                        csv_record(&record)
                    ),
                ));
            }
            rows.push((row as usize, fields.collect()));
        }
        let Some(header) = header else {
            return Err(DataError::TooSmall {
                path: file.to_path_buf(),
                reason: "empty CSV (a header row and at least one clip are needed)".into(),
            });
        };
        Ok(Self {
            file: file.to_path_buf(),
            header,
            rows,
        })
    }

    /// Index of the first header name in `names`.
    pub(super) fn column(&self, names: &[&str]) -> Option<usize> {
        names
            .iter()
            .find_map(|n| self.header.iter().position(|h| h == n))
    }

    pub(super) fn require(&self, names: &[&str]) -> Result<usize, DataError> {
        self.column(names).ok_or_else(|| DataError::MissingColumn {
            file: self.file.clone(),
            column: names.join("` or `"),
            header: self.header.join(","),
        })
    }

    pub(super) fn bad(&self, row: usize, reason: impl Into<String>) -> DataError {
        DataError::BadRow {
            file: self.file.clone(),
            row,
            reason: reason.into(),
        }
    }

    pub(super) fn existing(
        &self,
        row: usize,
        base: &Path,
        clip: &str,
    ) -> Result<PathBuf, DataError> {
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

    pub(super) fn fold(&self, row: usize, s: &str) -> Result<u32, DataError> {
        s.parse()
            .map_err(|_| self.bad(row, format!("fold `{s}` is not a whole number")))
    }
}
